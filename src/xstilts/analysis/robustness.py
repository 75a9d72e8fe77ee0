"""Robustness measures that separate robustness from clean accuracy (pure functions on arrays).

Raw degradation (clean - adversarial) is confounded with clean accuracy: a model at chance cannot degrade. The
report keeps it primary (the research question asks for it) and adds, pre-specified:

* **effective robustness** (Taori et al. 2020, "Measuring Robustness to Natural Distribution Shifts in Image
  Classification"): per target x adversary, the adversarial score is fitted on the clean score across all models
  on the logit scale, ``logit(adv) = a + b logit(clean)``; a model's effective robustness is its residual (above
  the line = more robust than its clean accuracy predicts), averaged over target x adversary;
* **the within-task slope with the clean score as a covariate** (:func:`covariate_fit`);
* **label-matched degradation** for adversaries that change the gold label (computed in the evaluate stage:
  the clean score re-weighted to the adversarial set's label mix, so a constant predictor shows none).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm

from . import stats

LOGIT_EPS = 0.5
"""Scores (points) are clipped to [LOGIT_EPS, 100 - LOGIT_EPS] before the logit, so 0 and 100 stay finite."""


def logit(points: npt.ArrayLike, eps: float = LOGIT_EPS) -> np.ndarray:
    p = np.clip(np.asarray(points, dtype=np.float64), eps, 100.0 - eps) / 100.0
    return np.log(p / (1.0 - p))


def effective_robustness(clean: npt.ArrayLike, adversarial: npt.ArrayLike) -> tuple[np.ndarray, dict[str, float]]:
    """``(residuals, {"intercept", "slope", "n"})`` of the logit-scale OLS fit of adversarial on clean scores
    (points) across models; NaN residuals where either score is missing, or every residual when fewer than 3
    models have both."""
    c, a = logit(clean), logit(adversarial)
    ok = (np.isfinite(c) & np.isfinite(a) & np.isfinite(np.asarray(clean, float))
          & np.isfinite(np.asarray(adversarial, float)))
    out = np.full(c.shape, np.nan)
    if ok.sum() < stats.MIN_N or stats.is_constant(c[ok]):
        return out, {"intercept": float("nan"), "slope": float("nan"), "n": int(ok.sum())}
    b, a0 = np.polyfit(c[ok], a[ok], 1)
    out[ok] = a[ok] - (a0 + b * c[ok])
    return out, {"intercept": float(a0), "slope": float(b), "n": int(ok.sum())}


def covariate_fit(x: npt.ArrayLike, covariate: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike,
                  level: float = stats.CI_LEVEL) -> dict[str, Any]:
    """OLS ``y = b x + c covariate + task intercepts``: the slope b with its t-based CI and p-value, and c."""
    xa, ca, ya = (np.asarray(v, dtype=np.float64) for v in (x, covariate, y))
    ga = np.asarray(groups)
    ok = np.isfinite(xa) & np.isfinite(ca) & np.isfinite(ya)
    xa, ca, ya, ga = xa[ok], ca[ok], ya[ok], ga[ok]
    codes, k = stats.group_codes(ga)
    method = "OLS with task fixed effects and the clean score as a covariate"
    if xa.size - k - 2 < 1 or stats.is_constant(stats.within_task(xa, ya, ga)[0]):
        return {**stats._empty_fit(method, int(xa.size), k, "too few points or no within-task x variation"),
                "covariate_slope": float("nan")}
    dummies = (codes[:, None] == np.arange(k)[None, :]).astype(np.float64)
    design = np.column_stack([xa, ca, dummies])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return {**stats._empty_fit(method, int(xa.size), k, "size, clean score and task intercepts are collinear"),
                "covariate_slope": float("nan")}
    with np.errstate(all="ignore"):
        fit = sm.OLS(ya, design).fit()
        ci = np.asarray(fit.conf_int(alpha=1.0 - level))[0]
    return {"method": method, "n": int(xa.size), "n_groups": k, "slope": float(fit.params[0]),
            "se": float(fit.bse[0]), "ci": [float(ci[0]), float(ci[1])], "p": float(fit.pvalues[0]),
            "df_resid": float(fit.df_resid), "reason": None, "notes": [], "covariate_slope": float(fit.params[1])}
