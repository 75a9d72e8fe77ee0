"""How much the within-task slope depends on single models and tasks (pure functions on arrays).

* :func:`leave_one_out`: the task-fixed-effects slope refitted without each model, or each task, in turn;
* :func:`cooks_distance`: each model's influence on that fit (Cook's distance of the fixed-effects OLS);
* :func:`cluster_bootstrap`: a percentile interval of the slope that resamples the models *within each task*
  (between-model variance) on top of the seed and test-example replicates of :mod:`xstilts.analysis.paired`
  (measurement noise), so that it carries every source of variance the design has;
* :func:`summarise`: the range of a set of refits and how many keep the sign and the significance.

Slopes are per unit of ``x`` (the report's x is ln(size); it multiplies by ln 2 to give points per doubling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm

from . import stats


def leave_one_out(x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike, labels: Sequence[str],
                  by: str = "model") -> list[dict[str, Any]]:
    """``[{"left_out", "slope", "ci", "p", "n"}]``: the fixed-effects fit without each model (``labels[i]`` names
    point i) or without each task (``by="task"``: every point of one group)."""
    xa, ya, ga = (np.asarray(v) for v in (x, y, groups))
    xa, ya = xa.astype(np.float64), ya.astype(np.float64)
    units = list(labels) if by == "model" else sorted(set(ga.tolist()))
    out = []
    for unit in units:
        keep = np.array([lab != unit for lab in labels]) if by == "model" else ga != unit
        fit = stats.fixed_effects_fit(xa[keep], ya[keep], ga[keep])
        out.append({"left_out": str(unit), "slope": fit["slope"], "ci": fit["ci"], "p": fit["p"], "n": fit["n"],
                    "reason": fit["reason"]})
    return out


def cooks_distance(x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike) -> np.ndarray:
    """Cook's distance of every point in the task-fixed-effects OLS (NaN where it is undefined)."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    codes, k = stats.group_codes(groups)
    design = np.column_stack([xa, (codes[:, None] == np.arange(k)[None, :]).astype(np.float64)])
    if xa.size - k - 1 < 1:
        return np.full(xa.size, np.nan)
    with np.errstate(all="ignore"):
        fit = sm.OLS(ya, design).fit()
        d = np.asarray(fit.get_influence().cooks_distance[0], dtype=np.float64)
    return np.where(np.isfinite(d), d, np.nan)


def within_slopes(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The within-task OLS slope of every row of ``y`` (shape [B, n]) on ``x`` (shape [B, n] or [n])."""
    x = np.broadcast_to(x, y.shape).astype(np.float64)
    codes, k = stats.group_codes(groups)
    onehot = (codes[:, None] == np.arange(k)[None, :]).astype(np.float64)  # [n, k]
    counts = onehot.sum(axis=0)
    mean_x = (x @ onehot) / np.where(counts > 0, counts, 1.0)
    mean_y = (y @ onehot) / np.where(counts > 0, counts, 1.0)
    dx, dy = x - mean_x @ onehot.T, y - mean_y @ onehot.T
    sxx = (dx * dx).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sxx > 1e-12, (dx * dy).sum(axis=-1) / sxx, np.nan)


def cluster_bootstrap(x: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike, n_boot: int, seed: int,
                      y_reps: npt.ArrayLike | None = None) -> tuple[tuple[float, float], np.ndarray]:
    """Percentile CI of the within-task slope, resampling the models of every task with replacement (each
    task keeps its number of models; x travels with its model) and, when ``y_reps`` [B, n] is given, taking
    replicate b's degradation values (seeds and paired test examples resampled) for replicate b."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ga = np.asarray(groups)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(ga == g) for g in sorted(set(ga.tolist()))]
    idx = np.concatenate([rng.choice(m, size=(n_boot, m.size), replace=True) for m in members], axis=1)
    order = np.concatenate(members)
    base = np.asarray(y_reps, dtype=np.float64) if y_reps is not None else np.broadcast_to(ya, (n_boot, ya.size))
    rows = base[np.arange(n_boot) % base.shape[0]]
    yb = np.take_along_axis(rows, idx, axis=1)
    slopes = within_slopes(xa[idx], yb, ga[order])
    return stats.percentile_ci(slopes), slopes


def summarise(fits: Sequence[dict[str, Any]], reference_slope: float, alpha: float) -> dict[str, Any]:
    """Range of the refitted slopes, and how many keep the reference's sign and stay significant (p < alpha)."""
    slopes = np.array([f["slope"] for f in fits], dtype=np.float64)
    ps = np.array([f["p"] for f in fits], dtype=np.float64)
    ok = np.isfinite(slopes)
    if not ok.any():
        return {"n": len(fits), "min": float("nan"), "max": float("nan"), "same_sign": 0, "significant": 0,
                "min_left_out": None, "max_left_out": None}
    sign = np.sign(reference_slope)
    lo, hi = int(np.nanargmin(slopes)), int(np.nanargmax(slopes))
    return {"n": int(ok.sum()), "min": float(slopes[lo]), "max": float(slopes[hi]),
            "same_sign": int((np.sign(slopes[ok]) == sign).sum()),
            "significant": int(((ps[ok] < alpha) & (np.sign(slopes[ok]) == sign)).sum()),
            "min_left_out": fits[lo]["left_out"], "max_left_out": fits[hi]["left_out"]}
