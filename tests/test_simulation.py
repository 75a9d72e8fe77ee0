"""Planted-effect simulation: the within-task analysis recovers a known slope and keeps its nominal false-positive
rate, while pooled analyses are biased and miscalibrated by task identity.

The design mirrors the study: every intermediate task is subsampled to the same controlled sizes and also used at
its natural ("full") size. Realistically, tasks with larger natural datasets are different kinds of tasks, so
their degradation intercepts rise with the natural size (``GAMMA`` per unit of ln(natural size)). Analyses that
ignore task identity then go wrong: the pooled slope (all points) and the across-task slope (natural sizes) are
biased, the pooled permutation test's p-values are far from uniform under the null (its exchangeability
assumption fails: points of one task share an intercept), and the across-task test "finds" a size effect that is
task type. The within-task analysis (task fixed effects, sizes permuted within task) stays calibrated and
recovers the planted slope. Seeded and fast (a few seconds).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from xstilts.analysis import stats as S

N_SIMS = 400
N_PERM = 199
ALPHA = 0.05
NATURAL = np.round(np.geomspace(600, 40_000, 8)).astype(int)  # 8 tasks, natural sizes 600 .. 40,000
CONTROLLED = (150, 300, 450)
GAMMA = 2.0  # task intercept per unit of ln(natural size): bigger datasets belong to other kinds of tasks
TASK_NOISE = 0.5
NOISE = 1.0


def design() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x = ln(size), task codes, and each point's task's ln(natural size)."""
    sizes, tasks = [], []
    for k, natural in enumerate(NATURAL):
        for s in (*CONTROLLED, natural):
            sizes.append(s)
            tasks.append(k)
    tasks_arr = np.array(tasks)
    return np.log(np.array(sizes, dtype=float)), tasks_arr, np.log(NATURAL[tasks_arr].astype(float))


def simulate(beta: float, seed: int) -> dict[str, np.ndarray]:
    """Per simulated study: p-values, slopes and fixed-effects CIs of the pooled and within-task analyses."""
    x, tasks, log_natural = design()
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {k: [] for k in ("p_within", "p_pooled", "p_across", "slope_fe", "slope_pooled",
                                                    "slope_across", "fe_lo", "fe_hi", "fe_p")}
    full = np.isin(np.exp(x).round().astype(int), NATURAL)
    for i in range(N_SIMS):
        intercept = GAMMA * np.log(NATURAL) + rng.normal(scale=TASK_NOISE, size=NATURAL.size)
        y = intercept[tasks] + beta * x + rng.normal(scale=NOISE, size=x.size)
        out["p_within"].append(S.permutation_pvalue(x, y, S.within(S.pearson_stat, tasks), N_PERM, i, tasks))
        out["p_pooled"].append(S.permutation_pvalue(x, y, S.pearson_stat, N_PERM, i))
        out["p_across"].append(S.permutation_pvalue(x[full], y[full], S.pearson_stat, N_PERM, i))
        fe = S.fixed_effects_fit(x, y, tasks)
        out["slope_fe"].append(fe["slope"])
        out["fe_lo"].append(fe["ci"][0])
        out["fe_hi"].append(fe["ci"][1])
        out["fe_p"].append(fe["p"])
        out["slope_pooled"].append(float(S.slope_stat(x, y)))
        out["slope_across"].append(float(S.slope_stat(x[full], y[full])))
    assert log_natural.shape == x.shape
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def null() -> dict[str, np.ndarray]:
    return simulate(beta=0.0, seed=2024)


@pytest.fixture(scope="module")
def planted() -> dict[str, np.ndarray]:
    return simulate(beta=-1.0, seed=7)


def _rate(p: np.ndarray) -> float:
    return float(np.mean(p < ALPHA))


def test_within_task_tests_keep_the_nominal_false_positive_rate(null: dict[str, np.ndarray]) -> None:
    # binomial sd of a rate of 0.05 over 400 studies is 0.011: accept 0.05 +- 3 sd
    assert 0.017 <= _rate(null["p_within"]) <= 0.083
    assert 0.017 <= _rate(null["fe_p"]) <= 0.083
    coverage = np.mean((null["fe_lo"] <= 0.0) & (0.0 <= null["fe_hi"]))
    assert 0.917 <= coverage <= 0.983
    # and the fixed-effects slope is unbiased (its sd is about 0.2, so the mean's is about 0.01)
    assert abs(null["slope_fe"].mean()) < 0.05
    # the whole p-value distribution is uniform, not just its 5% tail
    assert sps.kstest(null["p_within"], "uniform").pvalue > 0.01


def test_pooled_and_across_task_analyses_are_biased_and_miscalibrated(null: dict[str, np.ndarray]) -> None:
    # no size effect at all, yet ignoring task identity "finds" one: the intercepts rise with natural size
    assert null["slope_pooled"].mean() > 0.3
    assert null["slope_across"].mean() == pytest.approx(GAMMA, abs=0.15)
    # the pooled permutation test is miscalibrated: its null p-values are far from uniform (here too few are
    # small: the shared task intercepts inflate the permutation distribution) ...
    assert sps.kstest(null["p_pooled"], "uniform").pvalue < 1e-6
    assert not 0.017 <= _rate(null["p_pooled"]) <= 0.083
    # ... and the across-task test rejects "no size effect" almost always: it detects task type
    assert _rate(null["p_across"]) > 0.9


def test_within_task_analysis_recovers_a_planted_slope(planted: dict[str, np.ndarray]) -> None:
    beta = -1.0
    assert planted["slope_fe"].mean() == pytest.approx(beta, abs=0.05)
    coverage = np.mean((planted["fe_lo"] <= beta) & (beta <= planted["fe_hi"]))
    assert 0.917 <= coverage <= 0.983
    assert _rate(planted["p_within"]) > 0.8  # power against a slope of -1 per ln(size)
    # the pooled and across-task slopes mix in the intercepts' rise (the across one even flips the sign), and
    # the pooled test loses most of its power
    assert planted["slope_pooled"].mean() - beta > 0.3
    assert planted["slope_across"].mean() == pytest.approx(beta + GAMMA, abs=0.15)
    assert _rate(planted["p_pooled"]) < 0.5
