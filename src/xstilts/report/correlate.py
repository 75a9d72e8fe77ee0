"""Correlation of degradation with log2(train size): the points of each analysis, the paired design, the
statistics and models per key (:mod:`xstilts.analysis.stats`) with bootstrap replicates from
:mod:`xstilts.analysis.paired`, the Holm/BH corrections per family, significance, the headline metrics
(``metrics.json``) and what the bootstrap resampled."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import paired as paired_mod
from ..analysis import stats
from .constants import (
    ANALYSES,
    CELL_KEYS,
    CLEAN,
    CONTROL_ARMS,
    FAMILIES,
    FULL,
    MEASURES,
    POOLED,
    TRAINING_LANGUAGE,
)
from .format import _round
from .tables import analysis_keys, is_adversary_key, key_level, ordered_keys


def correlation_points(
    means: pd.DataFrame, key: str, measure: str, analysis: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[tuple[str, str, int]]]:
    """``(x = log2(train_size), y = degradation, groups, cells)`` of the intermediate arms for one analysis
    (every slope on x is therefore per doubling of the training set).

    ``across``: one point per intermediate task at size "full"; ``groups`` is None.
    ``within``: every size of every intermediate task; ``groups`` are the task names.
    ``cells`` names the (arm, size_label, train_size) of every point, in order.
    """
    sel = means[(means["key"] == key) & ~means["arm"].isin(CONTROL_ARMS)]
    if analysis == "across":
        sel = sel[sel["size_label"] == FULL]
    elif analysis != "within":
        raise ValueError(f"unknown analysis {analysis!r}")
    sel = sel.sort_values(["arm", "train_size", "size_label"], kind="stable")
    sizes = sel["train_size"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(sizes > 0, np.log2(np.where(sizes > 0, sizes, 1.0)), np.nan)
    y = sel[measure].to_numpy(dtype=np.float64)
    groups = sel["arm"].to_numpy(dtype=str) if analysis == "within" else None
    cells = [(str(a), str(lab), int(t))
             for a, lab, t in zip(sel["arm"], sel["size_label"], sel["train_size"], strict=True)]
    return x, y, groups, cells


def design_data(results: pd.DataFrame, predictions: pd.DataFrame | None,
                gold: paired_mod.GoldLoader | None) -> paired_mod.PairedData | None:
    """The paired design of the intermediate arms' zero-shot adversarial rows (None without any)."""
    adv = results[(results["subset"] != CLEAN) & (results["language"] != TRAINING_LANGUAGE)
                  & ~results["arm"].isin(CONTROL_ARMS)]
    if adv.empty:
        return None
    if predictions is None:
        return paired_mod.from_results(adv)
    return paired_mod.from_predictions(adv, predictions, gold)


def _analyse_key(means: pd.DataFrame, key: str, measure: str, reps: np.ndarray | None,
                 cell_index: Mapping[tuple[str, str, int], int], rp: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for analysis in ANALYSES:
        x, y, groups, cells = correlation_points(means, key, measure, analysis)
        y_reps = None
        if reps is not None and cells and all(c in cell_index for c in cells):
            y_reps = reps[:, [cell_index[c] for c in cells]]
        res = stats.analyse(x, y, n_perm=rp["n_permutations"], seed=rp["seed"], groups=groups, y_reps=y_reps)
        if analysis == "across":
            res["model"] = stats.ols_fit(x, y)
            res["mixed"] = None
        else:
            res["model"] = stats.fixed_effects_fit(x, y, groups)
            res["mixed"] = stats.mixed_fit(x, y, groups) if key_level(key) < 2 else None
        out[analysis] = res
    return out


def correlations(means: pd.DataFrame, design: paired_mod.PairedData | None, rp: Mapping[str, Any],
                 keep: dict[str, Any] | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """``({key: {measure: {analysis: stats.analyse(...) + "model"/"mixed" fits}}}, means with point CIs)``.

    The replicate ``y`` vectors come from the hierarchical bootstrap of ``design`` (seeds and paired test
    examples); each point's own percentile interval is added to ``means`` as ``<measure>_ci_low/high``.
    """
    corr: dict[str, dict[str, Any]] = {}
    point_ci: dict[tuple[str, str, int, str, str], tuple[float, float]] = {}
    cell_index: dict[tuple[str, str, int], int] = {}
    if design is not None:
        cell_index = {(str(a), str(lab), int(t)): i
                      for i, (a, lab, t) in enumerate(design.cells[CELL_KEYS].itertuples(index=False))}
        for key, measure, reps in paired_mod.replicates(design, rp["n_bootstrap"], rp["seed"]):
            corr.setdefault(key, {})[measure] = _analyse_key(means, key, measure, reps, cell_index, rp)
            if keep is not None and key == POOLED and measure == "absolute":  # for the cluster bootstrap
                keep["reps"], keep["cells"] = reps, list(cell_index)
            for cell, i in cell_index.items():
                point_ci[(*cell, key, measure)] = stats.percentile_ci(reps[:, i])
    for key in analysis_keys(means):
        for measure in MEASURES:
            if measure not in corr.get(key, {}):
                corr.setdefault(key, {})[measure] = _analyse_key(means, key, measure, None, cell_index, rp)
    ordered = {k: {m: corr[k][m] for m in MEASURES} for k in ordered_keys(corr)}
    means = means.copy()
    for measure in MEASURES:
        cis = [point_ci.get((a, lab, int(t), k, measure), (math.nan, math.nan))
               for a, lab, t, k in zip(means["arm"], means["size_label"], means["train_size"], means["key"],
                                       strict=True)]
        means[f"{measure}_ci_low"] = [c[0] for c in cis]
        means[f"{measure}_ci_high"] = [c[1] for c in cis]
    return ordered, means


def apply_corrections(corr: dict[str, Any]) -> dict[str, Any]:
    """Add Holm and BH adjusted p-values (``<stat>_p_holm``, ``<stat>_p_bh``) to every key of each family.

    Families (:data:`FAMILIES`) are corrected separately for every measure x analysis x statistic; the family
    size ``m`` counts the keys with a finite p-value. Returns ``{family: {"keys": [...], "m": {...}}}``.
    """
    families: dict[str, Any] = {}
    for name, level in FAMILIES.items():
        keys = [k for k in corr if key_level(k) == level and not is_adversary_key(k)]
        sizes: dict[str, int] = {}
        for measure in MEASURES:
            for analysis in ANALYSES:
                for stat in stats.RANK_TESTS:
                    p = [corr[k][measure][analysis][f"{stat}_p"] for k in keys]
                    sizes[f"{measure}.{analysis}.{stat}"] = int(np.isfinite(np.asarray(p, dtype=float)).sum())
                    for method in stats.CORRECTIONS:
                        adjusted = stats.adjust_pvalues(p, method) if keys else []
                        for k, v in zip(keys, adjusted, strict=True):
                            corr[k][measure][analysis][f"{stat}_p_{method}"] = float(v)
        families[name] = {"keys": keys, "m": sizes}
    return families


def significant_keys(corr: Mapping[str, Any], family: str, measure: str, analysis: str, stat: str,
                     method: str, alpha: float) -> list[str]:
    """Keys of a family whose adjusted p-value is below ``alpha``."""
    level = FAMILIES[family]
    return [k for k in corr if key_level(k) == level and not is_adversary_key(k)
            and _below(corr[k][measure][analysis].get(f"{stat}_p_{method}"), alpha)]


def _below(p: float | None, level: float) -> bool:
    """``p < level`` for a finite p-value (False for None/NaN)."""
    return p is not None and math.isfinite(p) and p < level


def headline_metrics(corr: Mapping[str, Any], families: Mapping[str, Any], ctrl: pd.DataFrame,
                     means: pd.DataFrame, comparison: Mapping[str, Any], rp: Mapping[str, Any]
                     ) -> dict[str, float]:
    """Flat ``{name: float}`` headline numbers; undefined (NaN) values are left out."""
    out: dict[str, float] = {}
    if POOLED in corr:
        for measure in MEASURES:
            prefix = POOLED if measure == "absolute" else f"{POOLED}.{measure}"
            for analysis in ANALYSES:
                res = corr[POOLED][measure][analysis]
                for name in stats.STATS:  # bootstrap (measurement-noise) CIs; the slope is per doubling
                    label = "slope_per_doubling" if name == "slope" else name
                    out[f"{prefix}.{analysis}.{label}"] = res[name]
                    out[f"{prefix}.{analysis}.{label}_ci_low"] = res[f"{name}_ci"][0]
                    out[f"{prefix}.{analysis}.{label}_ci_high"] = res[f"{name}_ci"][1]
                for name in stats.RANK_TESTS:
                    out[f"{prefix}.{analysis}.{name}_p"] = res[f"{name}_p"]
                out[f"{prefix}.{analysis}.n"] = float(res["n"])
                fits = [("ols" if analysis == "across" else "fe", res["model"]), ("mixed", res["mixed"])]
                for tag, fit in fits:
                    if fit is None:
                        continue
                    out[f"{prefix}.{analysis}.{tag}_slope_per_doubling"] = fit["slope"]
                    out[f"{prefix}.{analysis}.{tag}_slope_per_doubling_ci_low"] = fit["ci"][0]
                    out[f"{prefix}.{analysis}.{tag}_slope_per_doubling_ci_high"] = fit["ci"][1]
                    out[f"{prefix}.{analysis}.{tag}_slope_p"] = fit["p"]
        method, alpha = rp["correction"], rp["alpha"]
        for family in FAMILIES:
            for measure in MEASURES:
                for analysis in ANALYSES:
                    hits = significant_keys(corr, family, measure, analysis, "pearson", method, alpha)
                    m = families[family]["m"][f"{measure}.{analysis}.pearson"]
                    out[f"tests.{family}.{measure}.{analysis}.m"] = float(m)
                    out[f"tests.{family}.{measure}.{analysis}.significant_{method}"] = float(len(hits))
    clean = ctrl[ctrl["subset"] == CLEAN]
    for arm in CONTROL_ARMS:
        rows = clean[clean["arm"] == arm]
        zero = rows[rows["language"] != TRAINING_LANGUAGE]
        out[f"{arm}.zero_shot.clean"] = float(zero["score"].mean()) if len(zero) else math.nan
        out[f"{arm}.en.clean"] = float(rows[rows["language"] == TRAINING_LANGUAGE]["score"].mean())
        for target in sorted(set(rows["target_task"])):
            sel = zero[zero["target_task"] == target]
            out[f"{arm}.{target}.zero_shot.clean"] = float(sel["score"].mean()) if len(sel) else math.nan
        pooled = means[(means["arm"] == arm) & (means["key"] == POOLED)]
        out[f"{arm}.zero_shot.degradation"] = float(pooled["absolute"].mean()) if len(pooled) else math.nan
    out["comparison.mean_best_gain"] = comparison["headline"]["ours"]
    for t in comparison["targets"]:
        out[f"comparison.{t['target']}.best_gain"] = t["best_gain"]
    return {k: _round(float(v)) for k, v in sorted(out.items()) if v is not None and np.isfinite(v)}


def design_info(design: paired_mod.PairedData | None) -> dict[str, Any]:
    """What the bootstrap resampled: tasks, size labels, seeds per cell, test sets and pairs."""
    if design is None:
        return {"n_tasks": 0, "size_labels": [], "seeds_per_cell": [0, 0], "examples_resampled": False,
                "n_test_sets": 0, "n_pairs": 0}
    per_cell = np.bincount(design.cell_of_model, minlength=len(design.cells))
    return {
        "n_tasks": int(design.cells["arm"].nunique()),
        "size_labels": sorted(set(design.cells["size_label"])),
        "seeds_per_cell": [int(per_cell.min()), int(per_cell.max())],
        "examples_resampled": bool(design.examples_resampled),
        "n_test_sets": len(design.sets),
        "n_pairs": int(sum(ts.n for ts in design.sets)) if design.examples_resampled else 0,
    }
