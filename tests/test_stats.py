"""Tests of xstilts.analysis.stats against scipy, statsmodels and numpy on fixed inputs, and designs with known
answers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from xstilts.analysis import stats as S

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


def panel(seed: int = 3, k: int = 6, per: int = 4, slope: float = 1.7, x_shift: float = 0.5
          ) -> tuple[np.ndarray, ...]:
    """k groups of ``per`` points with group intercepts 2 g and a common slope; x rises by ``x_shift`` per group."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(k), per)
    x = rng.normal(size=k * per) + x_shift * groups
    y = slope * x + 2.0 * groups + rng.normal(scale=0.5, size=k * per)
    return x, y, groups


# ---- correlations ---------------------------------------------------------------------------------


def test_correlation_matches_scipy(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    res = S.correlation(x, y)
    assert res["n"] == 25 and res["reason"] is None
    for name, ref in (("pearson", sps.pearsonr(x, y)), ("spearman", sps.spearmanr(x, y)),
                      ("kendall", sps.kendalltau(x, y))):
        assert res[name] == pytest.approx(ref.statistic, abs=1e-12)
        assert res[f"{name}_p"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_vectorised_stats_match_scipy_row_by_row(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    rng = np.random.default_rng(1)
    xs = np.stack([x, rng.permutation(x), np.round(rng.normal(size=25), 0)])
    r, rho, tau, b = (S.pearson_stat(xs, y), S.spearman_stat(xs, y), S.kendall_stat(xs, y),
                      S.slope_stat(xs, y))
    for i, row in enumerate(xs):
        assert r[i] == pytest.approx(sps.pearsonr(row, y).statistic, abs=1e-12)
        assert rho[i] == pytest.approx(sps.spearmanr(row, y).statistic, abs=1e-12)
        assert tau[i] == pytest.approx(sps.kendalltau(row, y).statistic, abs=1e-12)  # tau-b with ties
        assert b[i] == pytest.approx(sps.linregress(row, y).slope, abs=1e-12)
    # replicate y vectors broadcast against a fixed x as well
    ys = np.stack([y, y[::-1]])
    assert S.kendall_stat(x, ys)[1] == pytest.approx(sps.kendalltau(x, y[::-1]).statistic, abs=1e-12)


def test_within_kendall_counts_only_same_group_pairs() -> None:
    x = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 2.0, 3.0, 9.0, 8.0, 10.0])  # group a concordant (3 pairs), group b: 2 of 3 concordant
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    tau = float(S.within(S.kendall_stat, groups)(x, y))
    assert tau == pytest.approx((3 + 1) / 6)  # (3 - 0) + (2 - 1) over 6 untied same-group pairs
    one = float(S.within(S.kendall_stat, np.zeros(6))(x, y))
    assert one == pytest.approx(sps.kendalltau(x, y).statistic, abs=1e-12)


# ---- permutation tests ----------------------------------------------------------------------------


def test_planted_correlation_is_significant_and_independent_is_not() -> None:
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=30)
    strong = x + rng.normal(scale=0.3, size=30)
    independent = rng.normal(size=30)
    for stat in (S.pearson_stat, S.spearman_stat, S.kendall_stat):
        assert S.permutation_pvalue(x, strong, stat, n_perm=999, seed=1) < 0.05
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


def test_within_group_permutation_only_moves_values_inside_groups() -> None:
    x, _, groups = intercept_design()
    perms = S.permuted_x(x, 50, np.random.default_rng(0), groups)
    for g in np.unique(groups):
        pos = groups == g
        assert np.allclose(np.sort(perms[:, pos], axis=1), np.sort(x[pos])[None, :])
    assert not np.allclose(perms, x[None, :])


# ---- analyse: within-task, replicate CIs ----------------------------------------------------------


def test_within_task_removes_group_intercepts() -> None:
    x, y, groups = intercept_design()
    assert S.correlation(x, y)["pearson"] > 0.9
    assert S.permutation_pvalue(x, y, S.pearson_stat, n_perm=999, seed=1) < 0.01
    wx, wy = S.within_task(x, y, groups)
    for g in np.unique(groups):
        assert wx[groups == g].mean() == pytest.approx(0.0, abs=1e-12)
        assert wy[groups == g].mean() == pytest.approx(0.0, abs=1e-12)
    res = S.analyse(x, y, n_perm=999, seed=1, groups=groups)
    assert res["analysis"] == "within" and res["n"] == 36 and res["n_groups"] == 3
    assert abs(res["pearson"]) < 0.3 and abs(res["kendall"]) < 0.3
    assert res["pearson_p"] > 0.2 and res["kendall_p"] > 0.2
    assert all(math.isnan(v) for v in res["pearson_ci"]) and res["n_replicates"] == 0  # no replicates given


def test_replicate_cis_are_percentiles_of_the_statistic() -> None:
    x, y, groups = panel()
    rng = np.random.default_rng(9)
    reps = y[None, :] + rng.normal(scale=0.3, size=(400, y.size))
    res = S.analyse(x, y, n_perm=99, seed=0, groups=groups, y_reps=reps)
    assert res["n_replicates"] == 400
    for name in ("pearson", "spearman", "kendall", "slope"):
        stat = S.within(S.STATS[name], groups)
        expected = np.quantile(stat(x, reps), [0.025, 0.975])
        assert res[f"{name}_ci"] == pytest.approx(list(expected), abs=1e-12)
    # a replicate with a non-finite value is dropped, not propagated
    reps[0, 0] = np.nan
    assert S.analyse(x, y, n_perm=9, seed=0, groups=groups, y_reps=reps)["n_replicates"] == 399
    with pytest.raises(ValueError, match="y_reps must have shape"):
        S.analyse(x, y, n_perm=9, seed=0, y_reps=reps[:, :-1])


def test_analyse_slope_equals_fixed_effects_ols_and_is_deterministic() -> None:
    x, y, groups = panel(k=4, per=5)
    design = np.column_stack([x, (groups[:, None] == np.arange(4)[None, :]).astype(float)])
    beta = np.linalg.lstsq(design, y, rcond=None)[0][0]
    res = S.analyse(x, y, n_perm=199, seed=2, groups=groups)
    assert res["slope"] == pytest.approx(beta, abs=1e-10)
    assert res["pearson_p"] == pytest.approx(1 / 200)
    assert res == S.analyse(x, y, n_perm=199, seed=2, groups=groups)


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
    reps = np.tile(np.asarray(y), (20, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = S.analyse(x, y, n_perm=49, seed=0, groups=groups, y_reps=reps)
        if groups is None:
            corr = S.correlation(x, y)
            assert corr["reason"] == reason and math.isnan(corr["pearson"]) and math.isnan(corr["kendall"])
            assert math.isnan(S.permutation_pvalue(x, y, S.pearson_stat, 49, 0))
            assert S.ols_fit(x, y)["reason"] is not None
        else:
            assert S.fixed_effects_fit(x, y, groups)["reason"] is not None
    assert reason in res["reason"]
    for name in ("pearson", "spearman", "kendall", "slope", "pearson_p", "spearman_p", "kendall_p"):
        assert math.isnan(res[name])
    assert all(math.isnan(v) for v in res["slope_ci"])


def test_non_finite_pairs_are_dropped() -> None:
    x = [1.0, 2.0, np.nan, 4.0, 5.0]
    y = [2.0, 4.1, 1.0, 8.2, np.inf]
    res = S.analyse(x, y, n_perm=49, seed=0)
    assert res["n"] == 3
    assert res["pearson"] == pytest.approx(sps.pearsonr([1.0, 2.0, 4.0], [2.0, 4.1, 8.2]).statistic)
    assert S.correlation(x, y)["reason"] == "non-finite values"


# ---- model-based fits -----------------------------------------------------------------------------


def test_fixed_effects_fit_equals_numpy_least_squares() -> None:
    x, y, groups = panel()
    res = S.fixed_effects_fit(x, y, groups)
    k, n = 6, y.size
    design = np.column_stack([x, (groups[:, None] == np.arange(k)[None, :]).astype(float)])
    coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
    df = n - k - 1
    wx = x - pd.Series(x).groupby(groups).transform("mean").to_numpy()
    se = math.sqrt(rss[0] / df / np.sum(wx ** 2))
    t = sps.t.ppf(0.975, df)
    assert res["slope"] == pytest.approx(coef[0], abs=1e-10)
    assert res["se"] == pytest.approx(se, rel=1e-9)
    assert res["ci"] == pytest.approx([coef[0] - t * se, coef[0] + t * se], rel=1e-9)
    assert res["p"] == pytest.approx(2 * sps.t.sf(abs(coef[0] / se), df), rel=1e-7)
    assert res["df_resid"] == df and res["n_groups"] == k and res["reason"] is None
    # the within (demeaned) slope of analyse is the same number
    assert S.analyse(x, y, n_perm=9, seed=0, groups=groups)["slope"] == pytest.approx(res["slope"], abs=1e-10)


def test_ols_fit_equals_scipy_linregress(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    res, ref = S.ols_fit(x, y), sps.linregress(x, y)
    assert res["slope"] == pytest.approx(ref.slope, abs=1e-12)
    assert res["se"] == pytest.approx(ref.stderr, rel=1e-9)
    assert res["p"] == pytest.approx(ref.pvalue, rel=1e-7)
    t = sps.t.ppf(0.975, x.size - 2)
    assert res["ci"] == pytest.approx([ref.slope - t * ref.stderr, ref.slope + t * ref.stderr], rel=1e-9)


def test_mixed_fit_equals_statsmodels_formula_api() -> None:
    x, y, groups = panel(seed=4, k=8, per=4, x_shift=0.0)  # intercepts independent of x: the model holds
    res = S.mixed_fit(x, y, groups)
    ref = smf.mixedlm("y ~ x", pd.DataFrame({"x": x, "y": y, "g": groups}), groups="g").fit(reml=True)
    assert res["slope"] == pytest.approx(ref.params["x"], rel=1e-6)
    assert res["se"] == pytest.approx(ref.bse["x"], rel=1e-5)
    assert res["ci"] == pytest.approx(list(ref.conf_int().loc["x"]), rel=1e-5)
    assert res["group_var"] == pytest.approx(float(ref.cov_re.iloc[0, 0]), rel=1e-4)
    assert res["converged"] is True and res["reason"] is None
    assert abs(res["slope"] - 1.7) < 4 * res["se"]


def test_mixed_fit_needs_three_groups_and_within_variation() -> None:
    x, y, groups = panel(k=2, per=5)
    assert S.mixed_fit(x, y, groups)["reason"] == "2 groups < 3"
    x, y, groups = panel(k=4, per=3)
    assert S.mixed_fit(np.repeat([1.0, 2.0, 3.0, 4.0], 3), y, groups)["reason"] == "within groups: x has zero variance"


@pytest.mark.parametrize("method, ref", [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_pvalues_equals_statsmodels(method: str, ref: str) -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.5, 0.001, 0.04, 0.9])
    assert S.adjust_pvalues(p, method) == pytest.approx(multipletests(p, method=ref)[1], abs=1e-15)
    with_nan = np.insert(p, 2, np.nan)
    adjusted = S.adjust_pvalues(with_nan, method)
    assert math.isnan(adjusted[2])
    assert np.delete(adjusted, 2) == pytest.approx(multipletests(p, method=ref)[1], abs=1e-15)
    assert np.all(np.isnan(S.adjust_pvalues([np.nan], method)))
    with pytest.raises(ValueError, match="unknown correction"):
        S.adjust_pvalues(p, "bonferroni")


# ---- resampling helpers ---------------------------------------------------------------------------


def test_resample_counts_are_bootstrap_samples() -> None:
    counts = S.resample_counts(7, 4000, np.random.default_rng(0))
    assert counts.shape == (4000, 7) and np.all(counts.sum(axis=1) == 7) and counts.min() >= 0
    # each item is drawn Binomial(7, 1/7) times: mean 1, variance 6/7
    assert counts.mean() == pytest.approx(1.0, abs=0.02)
    assert counts.var() == pytest.approx(6 / 7, abs=0.05)
    again = S.resample_counts(7, 4000, np.random.default_rng(0))
    assert np.array_equal(counts, again)


def test_percentile_ci_and_ci_excludes_zero() -> None:
    reps = np.concatenate([np.linspace(-1.0, 3.0, 401), [np.nan, np.inf]])
    assert S.percentile_ci(reps) == pytest.approx((-0.9, 2.9))
    assert all(math.isnan(v) for v in S.percentile_ci([np.nan]))
    assert S.ci_excludes_zero((0.1, 0.5)) is True
    assert S.ci_excludes_zero([-0.5, -0.1]) is True
    assert S.ci_excludes_zero((-0.1, 0.5)) is False
    assert S.ci_excludes_zero((float("nan"), 0.5)) is None
    assert S.ci_excludes_zero([None, None]) is None


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="same length"):
        S.analyse([1.0, 2.0, 3.0], [1.0, 2.0], n_perm=9, seed=0)
