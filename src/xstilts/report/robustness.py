"""Robustness separated from clean accuracy: the pre-specified secondary measures beside the primary absolute
degradation (:mod:`xstilts.analysis.robustness` holds the arithmetic).

* **label-matched degradation**: for the perturbations that change the gold label (``word_swap``: entailment ->
  neutral), the adversarial score is compared with the model's clean score on clean examples of the adversarial
  set's gold labels (the evaluate stage's ``label_matched_clean_score``) instead of its entailed sources, so a
  model that always predicts "neutral" shows no robustness; the pooled key is recomputed with it;
* **effective robustness** (Taori et al. 2020): per target x adversary, logit(adversarial score) is fitted on
  logit(clean score) across the models of the analysis (intermediate arms and controls); a model's residual,
  averaged over target x adversary, is its effective robustness (logit units; positive = more robust than its
  clean score predicts). Its within-task slope on log2 size is reported; note that higher effective robustness
  means *less* degradation, so its sign is opposite to a degradation slope;
* **the within-task slope with the clean score as a covariate**: pooled degradation on log2 size with the model's
  pooled matched clean score and task intercepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import robustness as rob
from ..analysis import stats
from .constants import (
    CELL_KEYS,
    CLEAN,
    CONTROL_ARMS,
    MODEL_KEYS,
    POOLED,
    TRAINING_LANGUAGE,
)
from .correlate import correlation_points
from .tables import model_degradation, seed_mean


def label_changing_adversaries(names) -> list[str]:
    """The perturbations whose adversarial examples get a different gold label than their sources."""
    from ..adversaries import PERTURBATION, REGISTRY

    return sorted(n for n in names if n in REGISTRY and REGISTRY[n].kind == PERTURBATION
                  and REGISTRY[n].label != "kept")


def label_matched(results: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The results with the label-changing adversaries' clean reference replaced by the label-matched one."""
    changed = label_changing_adversaries(set(results["subset"]) - {CLEAN})
    df = results.copy()
    rows = df["subset"].isin(changed)
    df.loc[rows, "clean_score"] = df.loc[rows, "label_matched_clean_score"]
    return df, changed


def _fe(means: pd.DataFrame, key: str = POOLED, measure: str = "absolute") -> dict[str, Any]:
    x, y, g, _ = correlation_points(means, key, measure, "within")
    return stats.fixed_effects_fit(x, y, g)


def zero_shot_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, target task and adversary: the zero-shot mean adversarial score and matched clean score."""
    adv = results[(results["subset"] != CLEAN) & (results["language"] != TRAINING_LANGUAGE)]
    return (adv.groupby([*MODEL_KEYS, "target_task", "subset"], sort=True)
            .agg(score=("score", "mean"), clean_score=("clean_score", "mean")).reset_index())


def effective_robustness(results: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """``(per-model effective robustness as a means-like table with key "pooled", the fits per pair)``."""
    zs = zero_shot_scores(results)
    parts, fits = [], []
    for (target, subset), rows in zs.groupby(["target_task", "subset"], sort=True):
        resid, fit = rob.effective_robustness(rows["clean_score"].to_numpy(), rows["score"].to_numpy())
        parts.append(rows.assign(er=resid))
        fits.append({"target_task": target, "adversary": subset, **fit})
    if not parts:
        return pd.DataFrame(columns=[*CELL_KEYS, "key", "absolute"]), fits
    per_model = pd.concat(parts).groupby(MODEL_KEYS, sort=True)["er"].mean().reset_index()
    cells = per_model.groupby(CELL_KEYS, sort=True)["er"].mean().reset_index()
    return cells.rename(columns={"er": "absolute"}).assign(key=POOLED), fits


def _pooled_clean(results: pd.DataFrame) -> pd.Series:
    """Per (task, size) cell: the matched clean score averaged over target x adversary, languages and seeds."""
    zs = zero_shot_scores(results)
    return (zs.groupby(MODEL_KEYS, sort=True)["clean_score"].mean().reset_index()
            .groupby(CELL_KEYS, sort=True)["clean_score"].mean())


def clean_covariate(results: pd.DataFrame, means: pd.DataFrame) -> dict[str, Any]:
    """The within-task slope of pooled degradation on log2 size with the pooled matched clean score."""
    clean = _pooled_clean(results)
    x, y, g, cells = correlation_points(means, POOLED, "absolute", "within")
    cov = np.array([clean.get(c, np.nan) for c in cells], dtype=np.float64)
    return rob.covariate_fit(x, cov, y, g)


def clean_slope(results: pd.DataFrame) -> dict[str, Any]:
    """The within-task slope of the pooled matched clean score itself on log2 size (points per doubling)."""
    clean = _pooled_clean(results).rename("absolute").reset_index().assign(key=POOLED)
    return _fe(clean)


def secondary(results: pd.DataFrame, rp: Mapping[str, Any]) -> dict[str, Any]:
    """Every secondary measure's within-task slope per doubling (``results``: the primary analysis' models)."""
    means = seed_mean(model_degradation(results))
    lm_results, changed = label_matched(results)
    lm_means = seed_mean(model_degradation(lm_results))
    er_means, er_fits = effective_robustness(results)
    out: dict[str, Any] = {
        "label_changing_adversaries": changed,
        "label_matched_pooled": {"unit": "points per doubling", **_fe(lm_means)},
        "label_matched_keys": {},
        "effective_robustness": {"unit": "logit per doubling (higher = more robust)", **_fe(er_means)},
        "effective_robustness_fits": er_fits,
        "clean_covariate": {"unit": "points per doubling", **clean_covariate(results, means)},
        "clean_score": {"unit": "points of matched clean score per doubling", **clean_slope(results)},
    }
    for name in changed:
        for key in sorted(k for k in set(lm_means["key"]) if k.count("/") == 1 and k.endswith("/" + name)):
            out["label_matched_keys"][key] = {"raw": _fe(means, key), "label_matched": _fe(lm_means, key)}
    controls = er_means[er_means["arm"].isin(CONTROL_ARMS)]
    out["effective_robustness_controls"] = {a: float(v) for a, v in zip(controls["arm"], controls["absolute"],
                                                                       strict=True)}
    return out
