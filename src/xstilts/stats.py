"""Correlation statistics for the size-vs-degradation analysis (numpy/scipy only, pure functions).

Two analyses are supported:

* **across** groups: an ordinary correlation of ``y`` on ``x`` (one point per intermediate task);
* **within** groups (task fixed effects): ``x`` and ``y`` are demeaned inside each group, the correlation
  and the OLS slope are computed on the demeaned values, the bootstrap resamples inside each group and
  the permutation test shuffles ``x`` inside each group only.

The resampling statistics (:func:`pearson_stat`, :func:`spearman_stat`, :func:`slope_stat`) are vectorised
over leading axes: they take arrays whose *last* axis holds the sample and return one value per leading
index, so thousands of bootstrap or permutation replicates are evaluated in one call. Degenerate input
(fewer than :data:`MIN_N` points, zero variance, non-finite values) gives NaN plus a reason string, never
an exception or a runtime warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
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


STATS: dict[str, Stat] = {"pearson": pearson_stat, "spearman": spearman_stat, "slope": slope_stat}
"""The statistics reported by :func:`analyse`, by name."""


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


def within(stat: Stat, groups: npt.ArrayLike) -> Stat:
    """Wrap ``stat`` so that it is computed on data demeaned within ``groups``.

    The wrapped statistic is valid for resamples that keep every point in its group's positions, which is
    what :func:`bootstrap_ci` and :func:`permutation_pvalue` produce when given the same ``groups``.
    """
    labels = np.asarray(groups)

    def within_stat(x: FloatArray, y: FloatArray) -> FloatArray:
        return stat(demean(x, labels), demean(y, labels))

    within_stat.__name__ = f"within_{getattr(stat, '__name__', 'stat')}"
    return within_stat


# ------------------------------------------------------------------------------------------ inference


def correlation(x: npt.ArrayLike, y: npt.ArrayLike) -> dict[str, Any]:
    """Pearson r and Spearman rho (with scipy's parametric p-values) of two samples.

    Returns ``{"n", "pearson", "pearson_p", "spearman", "spearman_p", "reason"}``; on degenerate input
    every statistic is NaN and ``reason`` says why (otherwise ``reason`` is None).
    """
    xa, ya = _as_1d(x), _as_1d(y)
    _check_lengths(xa, ya)
    out: dict[str, Any] = {"n": int(xa.size), "pearson": NAN, "pearson_p": NAN, "spearman": NAN,
                           "spearman_p": NAN, "reason": degenerate_reason(xa, ya)}
    if out["reason"] is not None:
        return out
    pr = sps.pearsonr(xa, ya)
    sr = sps.spearmanr(xa, ya)
    out.update(pearson=float(pr.statistic), pearson_p=float(pr.pvalue),
               spearman=float(sr.statistic), spearman_p=float(sr.pvalue))
    return out


def bootstrap_indices(
    n: int, n_boot: int, rng: np.random.Generator, groups: npt.ArrayLike | None = None
) -> IntArray:
    """``(n_boot, n)`` resampling indices; with ``groups`` each position draws only from its own group."""
    if groups is None:
        return rng.integers(0, n, size=(n_boot, n))
    idx = np.empty((n_boot, n), dtype=np.intp)
    for pos in _group_positions(groups):
        idx[:, pos] = pos[rng.integers(0, pos.size, size=(n_boot, pos.size))]
    return idx


def bootstrap_ci(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    stat: Stat,
    n_boot: int,
    seed: int,
    groups: npt.ArrayLike | None = None,
) -> tuple[float, float]:
    """95% percentile bootstrap interval of ``stat(x, y)``.

    Pairs are resampled with replacement; with ``groups`` the resampling is stratified (each group keeps
    its size and its positions). For a within-task interval pass ``within(stat, groups)``. Replicates
    where the statistic is undefined (e.g. a constant resample) are dropped; if none is left, or the
    input is degenerate, ``(nan, nan)`` is returned.
    """
    xa, ya = _as_1d(x), _as_1d(y)
    ga = None if groups is None else np.asarray(groups)
    _check_lengths(xa, ya, ga)
    if n_boot < 1 or degenerate_reason(xa, ya) is not None:
        return NAN, NAN
    idx = bootstrap_indices(xa.size, n_boot, np.random.default_rng(seed), ga)
    reps = np.asarray(stat(xa[idx], ya[idx]), dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return NAN, NAN
    alpha = (1.0 - CI_LEVEL) / 2.0
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


def analyse(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_boot: int,
    n_perm: int,
    seed: int,
    groups: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Full across-task (``groups=None``) or within-task (task fixed effects) analysis of ``y`` on ``x``.

    Non-finite pairs are dropped first. Returns ``{"analysis", "n", "n_groups", "pearson", "spearman",
    "slope", "<stat>_ci": [lo, hi], "pearson_p", "spearman_p", "reason"}``. For the within analysis the
    statistics are computed on data demeaned within ``groups``; the bootstrap is stratified by group and
    the permutation test shuffles ``x`` within groups. ``slope`` is the OLS slope (the pooled fixed-effects
    slope in the within case), in units of y per unit of x. The permutation p-value of the slope equals
    that of Pearson r (the within-group spreads are permutation invariant), so it is not repeated.
    """
    xa, ya, ga = finite_pairs(x, y, groups)
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
                           "n_groups": n_groups, "reason": reason}
    for name, stat in STATS.items():
        value = NAN if reason else float(stat(wx, wy))
        lo, hi = (NAN, NAN) if reason else bootstrap_ci(xa, ya, _maybe_within(stat, ga), n_boot, seed, ga)
        out[name] = value
        out[f"{name}_ci"] = [lo, hi]
    for name in ("pearson", "spearman"):
        stat = _maybe_within(STATS[name], ga)
        out[f"{name}_p"] = NAN if reason else permutation_pvalue(xa, ya, stat, n_perm, seed, ga)
    return out


def ci_excludes_zero(ci: tuple[float | None, float | None] | list[float | None]) -> bool | None:
    """True if a finite interval lies strictly on one side of 0, False if it contains 0, None if undefined."""
    if ci[0] is None or ci[1] is None:
        return None
    lo, hi = float(ci[0]), float(ci[1])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return bool(lo > 0.0 or hi < 0.0)
