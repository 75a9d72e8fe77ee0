"""Correlation statistics for the size-vs-degradation analysis (pure functions on arrays).

Two analyses are supported:

* **across** groups: an ordinary correlation of ``y`` on ``x`` (one point per intermediate task);
* **within** groups (task fixed effects): Pearson, Spearman and the OLS slope are computed on ``x`` and ``y``
  demeaned inside each group; Kendall's tau-b counts only the pairs of points *inside* the same group
  (stratified Kendall); the permutation test shuffles ``x`` inside each group only.

The resampling statistics (:func:`pearson_stat`, :func:`spearman_stat`, :func:`kendall_stat`,
:func:`slope_stat`) are vectorised over leading axes: they take arrays whose *last* axis holds the sample and
return one value per leading index, so thousands of bootstrap or permutation replicates are evaluated in one
call. Confidence intervals are percentile intervals of the statistic over replicate ``y`` vectors that the
caller draws with the study's design (seeds and paired test examples, see :mod:`xstilts.analysis.paired`);
:func:`analyse` never resamples the points themselves as if they were independent.

Model-based inference uses statsmodels: :func:`ols_fit` (across), :func:`fixed_effects_fit` (OLS with one
intercept per task) and :func:`mixed_fit` (random intercept per task); :func:`adjust_pvalues` applies Holm or
Benjamini-Hochberg (checked against statsmodels in the tests). Degenerate input (fewer than :data:`MIN_N`
points, zero variance, non-finite values) gives NaN plus a reason string, never an exception or a runtime
warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Stat = Callable[[FloatArray, FloatArray], FloatArray]

MIN_N = 3
"""Fewest points for which a correlation is reported."""

CI_LEVEL = 0.95
"""Coverage of the percentile bootstrap intervals."""

ZERO_TOL = 1e-9
"""A sample whose spread is below ``ZERO_TOL * max(1, max|v|)`` counts as constant (zero variance)."""

NAN = float("nan")


# --------------------------------------------------------------------------------------------- helpers


def _as_1d(values: npt.ArrayLike) -> FloatArray:
    """``values`` as a 1-D float array."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D sample, got shape {arr.shape}")
    return arr


def _check_lengths(*arrays: np.ndarray | None) -> None:
    """Raise ValueError unless all given (non-None) arrays have the same length."""
    sizes = {len(a) for a in arrays if a is not None}
    if len(sizes) > 1:
        raise ValueError(f"x, y and groups must have the same length, got {sorted(sizes)}")


def group_codes(groups: npt.ArrayLike) -> tuple[IntArray, int]:
    """Integer codes ``0..k-1`` of the group labels (sorted label order) and the number of groups ``k``."""
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(f"groups must be 1-D, got shape {labels.shape}")
    uniques, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.intp).reshape(-1), int(uniques.size)


def _group_positions(groups: npt.ArrayLike) -> list[IntArray]:
    """Positions of the members of each group, in sorted label order."""
    codes, k = group_codes(groups)
    return [np.flatnonzero(codes == g) for g in range(k)]


def _sum_sq_tolerance(centred: FloatArray) -> FloatArray:
    """Sum of squares below which a centred sample (last axis) is treated as constant."""
    scale = np.maximum(1.0, np.max(np.abs(centred), axis=-1)) if centred.shape[-1] else 1.0
    return (ZERO_TOL * scale) ** 2 * max(centred.shape[-1], 1)


def is_constant(values: npt.ArrayLike) -> bool:
    """True when a 1-D sample has (numerically) zero variance."""
    arr = _as_1d(values)
    if arr.size == 0:
        return True
    return bool(np.ptp(arr) <= ZERO_TOL * max(1.0, float(np.max(np.abs(arr)))))


def finite_pairs(
    x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, np.ndarray | None]:
    """Drop the points where ``x`` or ``y`` is NaN or infinite (the matching groups go too)."""
    xa, ya = _as_1d(x), _as_1d(y)
    ga = None if groups is None else np.asarray(groups)
    _check_lengths(xa, ya, ga)
    keep = np.isfinite(xa) & np.isfinite(ya)
    return xa[keep], ya[keep], None if ga is None else ga[keep]


def degenerate_reason(x: npt.ArrayLike, y: npt.ArrayLike) -> str | None:
    """Why no correlation can be computed for this sample, or None when it can."""
    xa, ya = _as_1d(x), _as_1d(y)
    _check_lengths(xa, ya)
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        return "non-finite values"
    if xa.size < MIN_N:
        return f"n={xa.size} < {MIN_N}"
    if is_constant(xa):
        return "x has zero variance"
    if is_constant(ya):
        return "y has zero variance"
    return None


# ------------------------------------------------------------------------------- vectorised statistics


def pearson_stat(x: FloatArray, y: FloatArray) -> FloatArray:
    """Pearson r along the last axis (broadcasting over leading axes); NaN where a side is constant."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    sxx = (xc * xc).sum(axis=-1)
    syy = (yc * yc).sum(axis=-1)
    sxy = (xc * yc).sum(axis=-1)
    ok = (sxx > _sum_sq_tolerance(xc)) & (syy > _sum_sq_tolerance(yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def spearman_stat(x: FloatArray, y: FloatArray) -> FloatArray:
    """Spearman rho along the last axis: Pearson r of the average-tie ranks."""
    return pearson_stat(sps.rankdata(x, axis=-1), sps.rankdata(y, axis=-1))


def slope_stat(x: FloatArray, y: FloatArray) -> FloatArray:
    """OLS slope of ``y`` on ``x`` (with intercept) along the last axis; NaN where ``x`` is constant."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    sxx = (xc * xc).sum(axis=-1)
    sxy = (xc * yc).sum(axis=-1)
    ok = sxx > _sum_sq_tolerance(xc)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = sxy / sxx
    return np.where(ok, b, np.nan)


def _pair_signs(v: FloatArray) -> FloatArray:
    """``sign(v_j - v_i)`` for every ordered pair, shape ``(..., n, n)``."""
    return np.sign(v[..., None, :] - v[..., :, None])


def kendall_stat(x: FloatArray, y: FloatArray, pair_mask: np.ndarray | None = None) -> FloatArray:
    """Kendall's tau-b along the last axis (scipy's default variant, ties handled); NaN where a side is constant.

    With ``pair_mask`` (an ``(n, n)`` boolean array) only the masked pairs count: the within-task analysis
    passes "same task" so that tau-b is computed over the pairs of models of the same intermediate task.
    """
    sx, sy = _pair_signs(np.asarray(x, dtype=np.float64)), _pair_signs(np.asarray(y, dtype=np.float64))
    n = sx.shape[-1]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    mask = upper if pair_mask is None else upper & np.asarray(pair_mask, dtype=bool)
    w = mask.astype(np.float64)
    concord = (sx * sy * w).sum(axis=(-2, -1))
    nx = (sx * sx * w).sum(axis=(-2, -1))
    ny = (sy * sy * w).sum(axis=(-2, -1))
    ok = (nx > 0) & (ny > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = concord / np.sqrt(nx * ny)
    return np.where(ok, np.clip(tau, -1.0, 1.0), np.nan)


STATS: dict[str, Stat] = {"pearson": pearson_stat, "spearman": spearman_stat, "kendall": kendall_stat,
                          "slope": slope_stat}
"""The statistics reported by :func:`analyse`, by name."""

RANK_TESTS = ("pearson", "spearman", "kendall")
"""The statistics that get a permutation p-value (the slope's equals Pearson's)."""


def demean(values: npt.ArrayLike, groups: npt.ArrayLike) -> FloatArray:
    """Subtract each group's mean along the last axis (leading axes are independent replicates)."""
    out = np.array(values, dtype=np.float64, copy=True)
    labels = np.asarray(groups)
    if out.ndim == 0 or out.shape[-1] != labels.shape[0]:
        raise ValueError(f"values (shape {out.shape}) and groups (length {labels.shape[0]}) do not match")
    for pos in _group_positions(labels):
        out[..., pos] -= out[..., pos].mean(axis=-1, keepdims=True)
    return out


def within_task(
    x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Task fixed effects: ``x`` and ``y`` demeaned within each group.

    The within-task correlation is the correlation of these arrays and the pooled within-task OLS slope
    (y on x with one intercept per task) is the slope of the demeaned ``y`` on the demeaned ``x``.
    """
    xa, ya = _as_1d(x), _as_1d(y)
    _check_lengths(xa, ya, np.asarray(groups))
    return demean(xa, groups), demean(ya, groups)


def same_group(groups: npt.ArrayLike) -> np.ndarray:
    """``(n, n)`` boolean matrix: True where two points belong to the same group."""
    codes, _ = group_codes(groups)
    return codes[:, None] == codes[None, :]


def within(stat: Stat, groups: npt.ArrayLike) -> Stat:
    """Wrap ``stat`` so that it is computed within ``groups``.

    Kendall's tau counts only same-group pairs; every other statistic is computed on data demeaned within
    ``groups``. The wrapped statistic is valid for replicates that keep every point in its group's position,
    which is what :func:`permutation_pvalue` (with the same ``groups``) and the replicate ``y`` vectors of
    :func:`analyse` produce.
    """
    labels = np.asarray(groups)
    if stat is kendall_stat:
        mask = same_group(labels)

        def within_stat(x: FloatArray, y: FloatArray) -> FloatArray:
            return kendall_stat(x, y, mask)
    else:
        def within_stat(x: FloatArray, y: FloatArray) -> FloatArray:
            return stat(demean(x, labels), demean(y, labels))

    within_stat.__name__ = f"within_{getattr(stat, '__name__', 'stat')}"
    return within_stat


# ------------------------------------------------------------------------------------------ inference


def correlation(x: npt.ArrayLike, y: npt.ArrayLike) -> dict[str, Any]:
    """Pearson r, Spearman rho and Kendall tau-b (with scipy's parametric p-values) of two samples.

    Returns ``{"n", "pearson", "pearson_p", "spearman", "spearman_p", "kendall", "kendall_p", "reason"}``; on
    degenerate input every statistic is NaN and ``reason`` says why (otherwise ``reason`` is None).
    """
    xa, ya = _as_1d(x), _as_1d(y)
    _check_lengths(xa, ya)
    out: dict[str, Any] = {"n": int(xa.size), "reason": degenerate_reason(xa, ya)}
    for name in RANK_TESTS:
        out[name] = out[f"{name}_p"] = NAN
    if out["reason"] is not None:
        return out
    for name, res in (("pearson", sps.pearsonr(xa, ya)), ("spearman", sps.spearmanr(xa, ya)),
                      ("kendall", sps.kendalltau(xa, ya))):
        out[name], out[f"{name}_p"] = float(res.statistic), float(res.pvalue)
    return out


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """``(n_boot, n)`` counts: how often each of ``n`` items is drawn in each of ``n_boot`` bootstrap samples.

    Each row is one ordinary bootstrap sample (``n`` draws with replacement) summarised as a multinomial count
    vector, so that a resampled sum of per-item values is a matrix product ``counts @ values``.
    """
    if n < 1 or n_boot < 1:
        return np.zeros((max(n_boot, 0), max(n, 0)), dtype=np.int64)
    idx = rng.integers(0, n, size=(n_boot, n))
    flat = (idx + (np.arange(n_boot, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)


def percentile_ci(replicates: npt.ArrayLike, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile interval of the finite replicate values; ``(nan, nan)`` when there are none."""
    reps = np.asarray(replicates, dtype=np.float64).ravel()
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return NAN, NAN
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def permuted_x(
    x: FloatArray, n_perm: int, rng: np.random.Generator, groups: npt.ArrayLike | None = None
) -> FloatArray:
    """``(n_perm, n)`` independent permutations of ``x``; with ``groups``, values only move within a group."""
    tiled = np.tile(x, (n_perm, 1))
    if groups is None:
        return rng.permuted(tiled, axis=1)
    for pos in _group_positions(groups):
        tiled[:, pos] = rng.permuted(tiled[:, pos], axis=1)
    return tiled


def permutation_pvalue(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    stat: Stat,
    n_perm: int,
    seed: int,
    groups: npt.ArrayLike | None = None,
) -> float:
    """Two-sided Monte-Carlo permutation p-value ``(count + 1) / (n_perm + 1)``.

    ``count`` is the number of permutations of ``x`` (within each group when ``groups`` is given) whose
    statistic is at least as large in absolute value as the observed one. NaN on degenerate input.
    """
    xa, ya = _as_1d(x), _as_1d(y)
    ga = None if groups is None else np.asarray(groups)
    _check_lengths(xa, ya, ga)
    if n_perm < 1 or degenerate_reason(xa, ya) is not None:
        return NAN
    observed = float(np.asarray(stat(xa, ya)))
    if not np.isfinite(observed):
        return NAN
    null = np.asarray(stat(permuted_x(xa, n_perm, np.random.default_rng(seed), ga), ya), dtype=np.float64)
    tol = 1e-12 * max(1.0, abs(observed))
    count = int(np.sum(np.abs(null) >= abs(observed) - tol))
    return (count + 1) / (n_perm + 1)


def _maybe_within(stat: Stat, groups: np.ndarray | None) -> Stat:
    """``stat`` itself for the across analysis, ``within(stat, groups)`` for the within analysis."""
    return stat if groups is None else within(stat, groups)


def _replicates_for(y_reps: npt.ArrayLike | None, n_all: int, keep: np.ndarray) -> FloatArray | None:
    """The replicate rows restricted to the kept points; rows with a non-finite kept value are dropped."""
    if y_reps is None:
        return None
    reps = np.asarray(y_reps, dtype=np.float64)
    if reps.ndim != 2 or reps.shape[1] != n_all:
        raise ValueError(f"y_reps must have shape (n_boot, {n_all}), got {reps.shape}")
    reps = reps[:, keep]
    return reps[np.all(np.isfinite(reps), axis=1)]


def analyse(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_perm: int,
    seed: int,
    groups: npt.ArrayLike | None = None,
    y_reps: npt.ArrayLike | None = None,
    level: float = CI_LEVEL,
) -> dict[str, Any]:
    """Full across-task (``groups=None``) or within-task analysis of ``y`` on ``x``.

    Non-finite pairs are dropped first. Returns ``{"analysis", "n", "n_groups", "reason", "n_replicates",
    "<stat>", "<stat>_ci": [lo, hi]}`` for every statistic in :data:`STATS` and ``"<stat>_p"`` (two-sided
    permutation p-value) for every one in :data:`RANK_TESTS`. For the within analysis the statistics are
    computed within ``groups`` (see :func:`within`) and the permutation test shuffles ``x`` within groups.
    ``slope`` is the OLS slope (the pooled fixed-effects slope in the within case) in units of y per unit of
    x; its permutation p-value equals that of Pearson r (the within-group spreads are permutation invariant).

    ``y_reps`` (``(n_boot, len(y))``, aligned with ``y``) are replicate ``y`` vectors drawn with the study's
    design (seeds and paired test examples); ``x`` is fixed by design. The CI of each statistic is the
    percentile interval of its value over the replicates; without ``y_reps`` the CIs are NaN.
    """
    xa_all, ya_all = _as_1d(x), _as_1d(y)
    ga_all = None if groups is None else np.asarray(groups)
    _check_lengths(xa_all, ya_all, ga_all)
    keep = np.isfinite(xa_all) & np.isfinite(ya_all)
    xa, ya = xa_all[keep], ya_all[keep]
    ga = None if ga_all is None else ga_all[keep]
    reps = _replicates_for(y_reps, xa_all.size, keep)
    if ga is None:
        wx, wy, n_groups = xa, ya, None
    else:
        wx, wy = within_task(xa, ya, ga)
        n_groups = group_codes(ga)[1]
    reason = degenerate_reason(wx, wy)
    if ga is not None and reason is None and xa.size - n_groups < MIN_N - 1:
        reason = f"n={xa.size} points in {n_groups} groups: < {MIN_N - 1} within-group degrees of freedom"
    elif ga is not None and reason is not None:
        reason = f"within groups: {reason}"
    out: dict[str, Any] = {"analysis": "across" if ga is None else "within", "n": int(xa.size),
                           "n_groups": n_groups, "reason": reason,
                           "n_replicates": 0 if reps is None or reason else int(reps.shape[0])}
    for name, stat in STATS.items():
        wrapped = _maybe_within(stat, ga)
        out[name] = NAN if reason else float(np.asarray(wrapped(xa, ya)))
        ci = (NAN, NAN)
        if not reason and reps is not None and reps.shape[0]:
            ci = percentile_ci(np.asarray(wrapped(xa, reps)), level)
        out[f"{name}_ci"] = list(ci)
    for name in RANK_TESTS:
        out[f"{name}_p"] = NAN if reason else permutation_pvalue(xa, ya, _maybe_within(STATS[name], ga),
                                                                 n_perm, seed, ga)
    return out


# ------------------------------------------------------------------------------------- model-based fits


def _empty_fit(method: str, n: int, n_groups: int | None, reason: str) -> dict[str, Any]:
    return {"method": method, "n": n, "n_groups": n_groups, "slope": NAN, "se": NAN, "ci": [NAN, NAN],
            "p": NAN, "df_resid": NAN, "reason": reason, "notes": []}


def _ols_slope(y: FloatArray, design: FloatArray, column: int, level: float, method: str, n_groups: int | None
               ) -> dict[str, Any]:
    """statsmodels OLS; the coefficient of ``design[:, column]`` with its t-based CI and p-value."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.OLS(y, design).fit()
        ci = np.asarray(fit.conf_int(alpha=1.0 - level))[column]
        out = {"method": method, "n": int(y.size), "n_groups": n_groups, "slope": float(fit.params[column]),
               "se": float(fit.bse[column]), "ci": [float(ci[0]), float(ci[1])], "p": float(fit.pvalues[column]),
               "df_resid": float(fit.df_resid), "reason": None, "notes": []}
    if out["se"] == 0.0 or not np.isfinite(out["se"]):
        out["notes"].append("exact fit: zero residual variance")
    return out


def ols_fit(x: npt.ArrayLike, y: npt.ArrayLike, level: float = CI_LEVEL) -> dict[str, Any]:
    """OLS ``y = a + b x`` (statsmodels): ``slope`` b with its standard error, t-based CI and p-value."""
    xa, ya, _ = finite_pairs(x, y)
    method = "OLS"
    reason = degenerate_reason(xa, ya)
    if reason is None and xa.size < MIN_N:
        reason = f"n={xa.size} < {MIN_N}"
    if reason:
        return _empty_fit(method, int(xa.size), None, reason)
    return _ols_slope(ya, np.column_stack([np.ones_like(xa), xa]), 1, level, method, None)


def fixed_effects_fit(x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike, level: float = CI_LEVEL
                      ) -> dict[str, Any]:
    """OLS with one intercept per group (task fixed effects; statsmodels): the common slope of ``y`` on ``x``.

    The design is ``[x, 1{group = g} for every group]``; the slope equals the within (demeaned) OLS slope,
    its standard error uses ``n - k - 1`` residual degrees of freedom and the CI is t-based.
    """
    xa, ya, ga = finite_pairs(x, y, groups)
    codes, k = group_codes(ga)
    method = "OLS with task fixed effects"
    wx, wy = within_task(xa, ya, ga)
    reason = degenerate_reason(wx, wy)
    reason = f"within groups: {reason}" if reason else None
    if reason is None and xa.size - k - 1 < 1:
        reason = f"n={xa.size} points in {k} groups: no residual degrees of freedom"
    if reason:
        return _empty_fit(method, int(xa.size), k, reason)
    dummies = (codes[:, None] == np.arange(k)[None, :]).astype(np.float64)
    return _ols_slope(ya, np.column_stack([xa, dummies]), 0, level, method, k)


MIN_MIXED_GROUPS = 3
"""Fewest groups for which a random-intercept variance is estimated."""


def mixed_fit(x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike, level: float = CI_LEVEL
              ) -> dict[str, Any]:
    """Linear mixed model ``y = a + b x + u_group + e`` with a random intercept per group (statsmodels MixedLM,
    REML). Returns the slope b with its Wald (normal) CI and p-value, the random-intercept and residual
    variances, and any warnings statsmodels raised (``notes``; e.g. a boundary fit with zero group variance).

    Unlike :func:`fixed_effects_fit` it assumes the group intercepts are independent of ``x``; when larger
    natural datasets belong to tasks with different intercepts that assumption fails and the slope mixes
    within- and between-task variation, so the fixed-effects slope is the primary estimate.
    """
    xa, ya, ga = finite_pairs(x, y, groups)
    codes, k = group_codes(ga)
    method = "MixedLM (random intercept per task, REML)"
    reason = degenerate_reason(xa, ya)
    if reason is None and k < MIN_MIXED_GROUPS:
        reason = f"{k} groups < {MIN_MIXED_GROUPS}"
    if reason is None and is_constant(within_task(xa, ya, ga)[0]):
        reason = "within groups: x has zero variance"
    if reason:
        return {**_empty_fit(method, int(xa.size), k, reason), "group_var": NAN, "resid_var": NAN,
                "converged": None}
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            fit = sm.MixedLM(ya, np.column_stack([np.ones_like(xa), xa]), groups=codes).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return {**_empty_fit(method, int(xa.size), k, f"fit failed: {type(exc).__name__}: {exc}"),
                    "group_var": NAN, "resid_var": NAN, "converged": False}
        ci = np.asarray(fit.conf_int(alpha=1.0 - level))[1]
        out = {"method": method, "n": int(xa.size), "n_groups": k, "slope": float(fit.params[1]),
               "se": float(fit.bse[1]), "ci": [float(ci[0]), float(ci[1])], "p": float(fit.pvalues[1]),
               "df_resid": NAN, "reason": None, "group_var": float(np.asarray(fit.cov_re)[0, 0]),
               "resid_var": float(fit.scale), "converged": bool(fit.converged)}
    out["notes"] = sorted({str(w.message).strip().splitlines()[0] for w in caught})
    if not np.isfinite(out["slope"]):
        out["reason"] = "fit gave a non-finite slope"
    return out


CORRECTIONS = ("holm", "bh")
"""Multiple-comparison corrections: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate)."""


def adjust_pvalues(pvalues: npt.ArrayLike, method: str) -> FloatArray:
    """Holm- or Benjamini-Hochberg-adjusted p-values (equal to statsmodels ``multipletests`` "holm" /
    "fdr_bh"); NaN entries stay NaN and are not counted in the family size."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; allowed: {', '.join(CORRECTIONS)}")
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    if method == "holm":  # step-down: max over j <= i of (m - j + 1) p_(j)
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:  # step-up: min over j >= i of m p_(j) / j
        adjusted = np.minimum.accumulate((m * ranked / np.arange(1, m + 1))[::-1])[::-1]
    out[order] = np.minimum(adjusted, 1.0)
    return out


def ci_excludes_zero(ci: tuple[float | None, float | None] | list[float | None]) -> bool | None:
    """True if a finite interval lies strictly on one side of 0, False if it contains 0, None if undefined."""
    if ci[0] is None or ci[1] is None:
        return None
    lo, hi = float(ci[0]), float(ci[1])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return bool(lo > 0.0 or hi < 0.0)
