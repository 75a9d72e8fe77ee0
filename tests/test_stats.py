"""Tests of xstilts.stats against scipy and designs with known answers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from xstilts import stats as S

RNG_SEED = 12345


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    """A fixed, moderately correlated sample with ties in x."""
    rng = np.random.default_rng(RNG_SEED)
    x = np.round(rng.normal(size=25), 1)
    y = 0.6 * x + rng.normal(scale=0.8, size=25)
    return x, y


def intercept_design() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three groups whose x and y share group intercepts (0, 10, 20) but are independent inside groups."""
    rng = np.random.default_rng(7)
    groups = np.repeat(np.array(["anli", "mnli", "qqp"]), 12)
    offset = np.repeat([0.0, 10.0, 20.0], 12)
    return offset + rng.normal(size=36), offset + rng.normal(size=36), groups


def test_correlation_matches_scipy(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    res = S.correlation(x, y)
    assert res["n"] == 25 and res["reason"] is None
    assert res["pearson"] == pytest.approx(sps.pearsonr(x, y).statistic, abs=1e-12)
    assert res["pearson_p"] == pytest.approx(sps.pearsonr(x, y).pvalue, rel=1e-9)
    assert res["spearman"] == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)
    assert res["spearman_p"] == pytest.approx(sps.spearmanr(x, y).pvalue, rel=1e-9)


def test_vectorised_stats_match_scipy_row_by_row(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    rng = np.random.default_rng(1)
    xs = np.stack([x, rng.permutation(x), np.round(rng.normal(size=25), 0)])
    r = S.pearson_stat(xs, y)
    rho = S.spearman_stat(xs, y)
    b = S.slope_stat(xs, y)
    for i, row in enumerate(xs):
        assert r[i] == pytest.approx(sps.pearsonr(row, y).statistic, abs=1e-12)
        assert rho[i] == pytest.approx(sps.spearmanr(row, y).statistic, abs=1e-12)
        assert b[i] == pytest.approx(sps.linregress(row, y).slope, abs=1e-12)


def test_exact_line_has_known_slope_and_degenerate_ci() -> None:
    x = np.arange(10.0)
    y = 2.0 * x + 1.0
    assert float(S.slope_stat(x, y)) == pytest.approx(2.0)
    assert float(S.pearson_stat(x, y)) == pytest.approx(1.0)
    lo, hi = S.bootstrap_ci(x, y, S.slope_stat, n_boot=300, seed=3)
    assert lo == pytest.approx(2.0) and hi == pytest.approx(2.0)


def test_planted_correlation_is_significant_and_independent_is_not() -> None:
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=30)
    strong = x + rng.normal(scale=0.3, size=30)
    independent = rng.normal(size=30)
    assert S.permutation_pvalue(x, strong, S.pearson_stat, n_perm=999, seed=1) < 0.05
    assert S.permutation_pvalue(x, strong, S.spearman_stat, n_perm=999, seed=1) < 0.05
    assert abs(S.correlation(x, independent)["pearson"]) < 0.3
    assert S.permutation_pvalue(x, independent, S.pearson_stat, n_perm=999, seed=1) > 0.05


def test_permutation_pvalue_formula_and_floor() -> None:
    x = np.arange(8.0)
    # a perfect correlation is matched by essentially no permutation of 8 points (2 of 8! orders)
    assert S.permutation_pvalue(x, 3.0 * x, S.pearson_stat, n_perm=99, seed=0) == pytest.approx(1 / 100)


def test_permutation_pvalue_agrees_with_scipy_permutation_test(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    y = y + np.random.default_rng(2).normal(scale=2.0, size=y.size)  # weaken: p in the interesting range
    ours = S.permutation_pvalue(x, y, S.pearson_stat, n_perm=4000, seed=5)
    ref = sps.permutation_test(
        (x, y), lambda a, b, axis: S.pearson_stat(a, b), permutation_type="pairings", vectorized=True,
        n_resamples=4000, alternative="two-sided", rng=np.random.default_rng(6),
    ).pvalue
    assert 0.01 < ref < 0.9
    assert ours == pytest.approx(ref, abs=0.03)


def test_bootstrap_is_deterministic_and_seed_dependent(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    a = S.bootstrap_ci(x, y, S.pearson_stat, n_boot=500, seed=11)
    b = S.bootstrap_ci(x, y, S.pearson_stat, n_boot=500, seed=11)
    c = S.bootstrap_ci(x, y, S.pearson_stat, n_boot=500, seed=12)
    assert a == b
    assert a != c
    r = S.correlation(x, y)["pearson"]
    assert a[0] < r < a[1]


def test_stratified_bootstrap_keeps_every_point_in_its_group() -> None:
    groups = np.array(["b", "a", "b", "c", "a", "b"])
    idx = S.bootstrap_indices(groups.size, 200, np.random.default_rng(0), groups)
    assert idx.shape == (200, 6)
    assert np.all(groups[idx] == groups)
    # every group keeps its size, and all its members do get drawn over the replicates
    for g in "abc":
        pos = np.flatnonzero(groups == g)
        assert set(np.unique(idx[:, pos])) == set(pos)


def test_within_group_permutation_only_moves_values_inside_groups() -> None:
    x, _, groups = intercept_design()
    perms = S.permuted_x(x, 50, np.random.default_rng(0), groups)
    for g in np.unique(groups):
        pos = groups == g
        assert np.allclose(np.sort(perms[:, pos], axis=1), np.sort(x[pos])[None, :])
    assert not np.allclose(perms, x[None, :])


def test_within_task_removes_group_intercepts() -> None:
    x, y, groups = intercept_design()
    naive = S.correlation(x, y)["pearson"]
    assert naive > 0.9
    assert S.permutation_pvalue(x, y, S.pearson_stat, n_perm=999, seed=1) < 0.01

    wx, wy = S.within_task(x, y, groups)
    for g in np.unique(groups):
        assert wx[groups == g].mean() == pytest.approx(0.0, abs=1e-12)
        assert wy[groups == g].mean() == pytest.approx(0.0, abs=1e-12)
    res = S.analyse(x, y, n_boot=500, n_perm=999, seed=1, groups=groups)
    assert res["analysis"] == "within" and res["n"] == 36 and res["n_groups"] == 3
    assert abs(res["pearson"]) < 0.3
    assert res["pearson_p"] > 0.2
    assert res["pearson_ci"][0] < 0.0 < res["pearson_ci"][1]
    assert S.ci_excludes_zero(res["pearson_ci"]) is False


def test_within_slope_equals_fixed_effects_ols() -> None:
    rng = np.random.default_rng(3)
    groups = np.repeat(np.array([0, 1, 2, 3]), 5)
    x = rng.normal(size=20) + groups
    y = 1.7 * x + 5.0 * groups + rng.normal(scale=0.2, size=20)
    design = np.column_stack([x, (groups[:, None] == np.arange(4)[None, :]).astype(float)])
    beta = np.linalg.lstsq(design, y, rcond=None)[0][0]
    res = S.analyse(x, y, n_boot=400, n_perm=199, seed=2, groups=groups)
    assert res["slope"] == pytest.approx(beta, abs=1e-10)
    assert res["slope_ci"][0] < 1.7 < res["slope_ci"][1]
    assert res["pearson_p"] == pytest.approx(1 / 200)


def test_analyse_is_deterministic() -> None:
    x, y, groups = intercept_design()
    assert S.analyse(x, y, n_boot=200, n_perm=199, seed=4, groups=groups) == S.analyse(
        x, y, n_boot=200, n_perm=199, seed=4, groups=groups
    )


@pytest.mark.parametrize(
    ("x", "y", "groups", "reason"),
    [
        ([1.0, 2.0], [1.0, 3.0], None, "n=2 < 3"),
        ([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0], None, "x has zero variance"),
        ([1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0], None, "y has zero variance"),
        ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 4.0, 3.0], ["a", "b", "c", "d"], "within groups: x has zero variance"),
        ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 4.0, 3.0], ["a", "a", "b", "c"], "within-group degrees of freedom"),
    ],
)
def test_degenerate_input_gives_nan_and_reason_without_warnings(
    x: list[float], y: list[float], groups: list[str] | None, reason: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = S.analyse(x, y, n_boot=50, n_perm=49, seed=0, groups=groups)
        if groups is None:
            corr = S.correlation(x, y)
            assert corr["reason"] == reason and math.isnan(corr["pearson"]) and math.isnan(corr["spearman"])
            assert math.isnan(S.permutation_pvalue(x, y, S.pearson_stat, 49, 0))
            assert all(math.isnan(v) for v in S.bootstrap_ci(x, y, S.pearson_stat, 50, 0))
    assert reason in res["reason"]
    for name in ("pearson", "spearman", "slope", "pearson_p", "spearman_p"):
        assert math.isnan(res[name])
    assert all(math.isnan(v) for v in res["slope_ci"])


def test_non_finite_pairs_are_dropped() -> None:
    x = [1.0, 2.0, np.nan, 4.0, 5.0]
    y = [2.0, 4.1, 1.0, 8.2, np.inf]
    res = S.analyse(x, y, n_boot=50, n_perm=49, seed=0)
    assert res["n"] == 3
    assert res["pearson"] == pytest.approx(sps.pearsonr([1.0, 2.0, 4.0], [2.0, 4.1, 8.2]).statistic)
    assert S.correlation(x, y)["reason"] == "non-finite values"


def test_ci_excludes_zero() -> None:
    assert S.ci_excludes_zero((0.1, 0.5)) is True
    assert S.ci_excludes_zero([-0.5, -0.1]) is True
    assert S.ci_excludes_zero((-0.1, 0.5)) is False
    assert S.ci_excludes_zero((float("nan"), 0.5)) is None
    assert S.ci_excludes_zero([None, None]) is None


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="same length"):
        S.bootstrap_ci([1.0, 2.0, 3.0], [1.0, 2.0], S.pearson_stat, 10, 0)
