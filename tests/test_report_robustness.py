"""A reviewer's checks, on tiny tables with known answers: a collapsed model among healthy ones with a null
effect is flagged and excluded (the primary slope recovers the null, the sensitivity analysis shows the collapsed
model's pull), effective robustness equals a hand computation, the clean-score covariate fit recovers a planted
slope, the bootstrap over models reduces to the fixed-effects slope, and the wording of a non-significant result
makes no claim."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xstilts import report as R
from xstilts.analysis import robustness, sensitivity, stats
from xstilts.report import prose

TARGET, ADVERSARY = "xnli", "char_noise"
SIZES = (("100", 100), ("1000", 1000), ("full", 10000))
ZIGZAG = (0.5, -1.0, 0.5)  # deviations uncorrelated with log size: every healthy task has slope exactly 0
TASKS = {"anli": 10.0, "mnli": 20.0, "socialiqa": 15.0, "squad": 12.0}
PARAMS = {"study": {"source": "synthetic"},
          "report": {"seed": 1, "n_bootstrap": 50, "n_permutations": 99, "alpha": 0.05, "correction": "holm",
                     "exclude_degenerate": True}}


def _rows(arm, label, size, degradation, clean=70.0, collapsed=False):
    common = {"arm": arm, "train_size": size, "size_label": label, "seed": 1, "target_task": TARGET,
              "metric": "accuracy", "chance": 100 / 3, "n": 50, "target_run_id": f"t-{arm}-{label}",
              "intermediate_run_id": "" if arm == "baseline" else f"i-{arm}-{label}"}
    out = []
    for lang in ("en", "ea"):
        health = {"health_degenerate": collapsed and lang == "en", "health_top_share": 1.0 if collapsed else 0.34,
                  "health_majority": 34.0, "health_reasons": "100% of predictions are one label" if collapsed else ""}
        out.append({**common, **health, "language": lang, "subset": "clean", "score": clean, "clean_score": clean})
        out.append({**common, "language": lang, "subset": ADVERSARY, "score": clean - degradation,
                    "clean_score": clean})
    return out


def planted() -> pd.DataFrame:
    rows = _rows("baseline", "-", 0, 12.0)
    for task, intercept in TASKS.items():
        for (label, size), dev in zip(SIZES, ZIGZAG, strict=True):
            rows += _rows(task, label, size, intercept + dev)
    # qqp: flat at small sizes, then a collapsed full-size model whose degradation is -60 (it predicts one class)
    rows += _rows("qqp", "100", 100, 5.0) + _rows("qqp", "1000", 1000, 5.0)
    rows += _rows("qqp", "full", 10000, -60.0, clean=34.0, collapsed=True)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def report() -> dict:
    return R.compute_report(planted(), params=PARAMS)


def test_the_collapsed_model_is_flagged_and_excluded(report):
    health = report["health"]
    assert [f["model"] for f in health["flagged"]] == ["qqp/full-s1"]
    assert health["excluded"] == ["qqp/full-s1"]
    assert "English test" in health["flagged"][0]["reasons"][0]


def test_the_primary_slope_recovers_the_null(report):
    fe = report["correlations"]["pooled"]["absolute"]["within"]["model"]
    assert fe["n"] == 14 and fe["slope"] == pytest.approx(0.0, abs=1e-9)
    assert fe["ci"][0] < 0 < fe["ci"][1]
    assert report["answer"].startswith("No relation is detectable at α = 0.05")
    assert "1 flagged model excluded by the declared rule (qqp/full-s1)" in report["answer"]


def test_the_sensitivity_analysis_shows_the_collapsed_models_pull(report):
    sens = report["sensitivity"]
    every = next(v for v in sens["variants"] if v["label"] == "every model included")
    assert every["n"] == 15 and every["slope"] < -1.5  # the one collapsed model alone makes a negative slope
    top = sens["influence_all_models"][0]
    assert top["model"] == "qqp/full" and top["flagged"] is True
    assert top["cooks_distance"] > 1.0 > sens["influence_all_models"][1]["cooks_distance"]
    s = sens["leave_one_task_out"]["summary"]
    assert s["n"] == 5 and s["significant"] == 0
    assert report["metrics"]["health.models_excluded"] == 1.0


def test_without_the_rule_the_collapsed_model_makes_the_answer():
    params = {**PARAMS, "report": {**PARAMS["report"], "exclude_degenerate": False}}
    rep = R.compute_report(planted(), params=params)
    assert rep["health"]["excluded"] == [] and [f["model"] for f in rep["health"]["flagged"]] == ["qqp/full-s1"]
    assert rep["correlations"]["pooled"]["absolute"]["within"]["model"]["slope"] < -1.5


def test_effective_robustness_equals_the_hand_computation():
    # clean logits 0, 1, 2 and adversarial logits -1, 0, 2: the OLS line is -7/6 + 1.5 x, residuals 1/6, -1/3, 1/6
    to_points = lambda logit: 100.0 / (1.0 + math.exp(-logit))  # noqa: E731
    clean = [to_points(v) for v in (0.0, 1.0, 2.0)]
    adv = [to_points(v) for v in (-1.0, 0.0, 2.0)]
    resid, fit = robustness.effective_robustness(clean, adv)
    assert resid == pytest.approx([1 / 6, -1 / 3, 1 / 6], abs=1e-9)
    assert fit["slope"] == pytest.approx(1.5) and fit["intercept"] == pytest.approx(-7 / 6)
    assert robustness.logit([0.0, 100.0]) == pytest.approx([math.log(0.005 / 0.995), math.log(0.995 / 0.005)])


def test_the_clean_covariate_fit_recovers_a_planted_slope():
    x = np.array([1, 2, 3, 1, 2, 3, 1, 2, 3], dtype=float)
    g = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 3)
    clean = np.array([70, 64, 71, 50, 58, 52, 80, 77, 79], dtype=float)
    y = -0.8 * x + 0.3 * clean + np.repeat([1.0, 5.0, -2.0], 3)
    fit = robustness.covariate_fit(x, clean, y, g)
    assert fit["slope"] == pytest.approx(-0.8) and fit["covariate_slope"] == pytest.approx(0.3)
    collinear = robustness.covariate_fit(x, 2 * x + 1, y, g)
    assert collinear["reason"] and math.isnan(collinear["slope"])


def test_the_model_bootstrap_reduces_to_the_fixed_effects_slope():
    rng = np.random.default_rng(0)
    x = np.tile([1.0, 2.0, 3.0, 4.0], 3)
    g = np.repeat(["a", "b", "c"], 4)
    y = 1.5 * x + rng.normal(0, 1, x.size)
    fe = stats.fixed_effects_fit(x, y, g)
    assert sensitivity.within_slopes(x, y[None, :], g)[0] == pytest.approx(fe["slope"])
    (lo, hi), slopes = sensitivity.cluster_bootstrap(x, y, g, 200, 1)
    assert lo < fe["slope"] < hi and slopes.shape == (200,)
    same, _ = sensitivity.cluster_bootstrap(x, y, g, 200, 1)
    assert (lo, hi) == same  # seeded
    loo = sensitivity.leave_one_out(x, y, g, [f"{a}{i}" for i, a in enumerate(g)], by="task")
    assert [f["left_out"] for f in loo] == ["a", "b", "c"] and all(f["n"] == 8 for f in loo)


def test_a_non_significant_result_is_described_without_a_claim():
    res = {"analysis": "across", "n": 9, "n_groups": None, "reason": None, "pearson": -0.34,
           "pearson_ci": [-0.37, -0.32], "pearson_p": 0.409, "spearman": -0.1, "spearman_ci": [-0.2, 0.1],
           "spearman_p": 0.78, "kendall": -0.06, "kendall_ci": [-0.17, 0.06], "kendall_p": 0.91,
           "model": {"method": "OLS", "slope": -5.7, "ci": [-19.7, 8.3], "p": 0.37, "reason": None}}
    text = prose.describe_analysis(res, "absolute", alpha=0.05)
    assert "no significant correlation at α = 0.05" in text
    for word in ("moderate", "strong", "weak", "excludes 0"):
        assert word not in text
    assert "measurement-noise intervals" in text
    significant = prose.describe_analysis({**res, "pearson_p": 0.01}, "absolute", alpha=0.05)
    assert "a significant, moderate negative correlation" in significant
