"""The whole report as one pure computation: :func:`compute_report` turns the results table (and optionally the
per-example predictions, gold tags and published numbers) into the report dict, without reading or writing
files and without drawing figures; :mod:`xstilts.report.writer` renders and writes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import paired as paired_mod
from ..analysis import stats
from . import published
from . import variants as variants_mod
from .constants import CONTROL_ARMS, FIGURES, SCHEMA_VERSION, TRAINING_LANGUAGE
from .correlate import (
    apply_corrections,
    correlations,
    design_data,
    design_info,
    headline_metrics,
)
from .format import dumps
from .health import exclude, flagged_models, health_table
from .health import summary as health_summary
from .prose import answer_paragraph
from .robustness import secondary
from .sensitivity import sensitivity, survives
from .tables import (
    adversaries,
    adversary_catalogue,
    arm_order,
    baseline_checks,
    baseline_summary,
    control_scores,
    degradation_summary,
    language_order,
    model_degradation,
    seed_mean,
    validate_results,
)


def report_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The report settings from ``params["report"]`` and ``params["study"]["source"]``."""
    try:
        rep, source = params["report"], params["study"]["source"]
        out = {"n_bootstrap": int(rep["n_bootstrap"]), "n_permutations": int(rep["n_permutations"]),
               "seed": int(rep["seed"]), "alpha": float(rep["alpha"]), "correction": str(rep["correction"]),
               "exclude_degenerate": bool(rep.get("exclude_degenerate", True)), "source": str(source)}
    except KeyError as exc:
        raise ValueError(f"params.yaml: missing key {exc.args[0]!r} (the report reads report.n_bootstrap, "
                         "report.n_permutations, report.seed, report.alpha, report.correction and study.source)"
                         ) from None
    if out["correction"] not in stats.CORRECTIONS:
        raise ValueError(f"params.yaml: `report.correction` = {out['correction']!r}; allowed: "
                         f"{', '.join(stats.CORRECTIONS)}")
    if not 0.0 < out["alpha"] < 0.5:
        raise ValueError(f"params.yaml: `report.alpha` = {out['alpha']} must be in (0, 0.5)")
    return out


def model_selected_adversaries(names) -> list[str]:
    """The adversaries whose subsets a model selects (``aflite``): the sensitivity analysis leaves them out."""
    from ..adversaries import MODEL, REGISTRY

    return sorted(n for n in names if n in REGISTRY and REGISTRY[n].kind == MODEL)


def robustness_metrics(sens: Mapping[str, Any], second: Mapping[str, Any], health: Mapping[str, Any]
                       ) -> dict[str, float]:
    """Flat headline numbers of the health, sensitivity and secondary sections (slopes per doubling)."""
    out: dict[str, float] = {
        "health.models_flagged": float(len(health["flagged"])),
        "health.models_excluded": float(len(health["excluded"])),
        "health.target_restarts": float(health["target_restarts"]),
        "health.intermediate_restarts": float(health["intermediate_restarts"]),
        "primary.within.cluster_bootstrap_ci_low": sens["cluster_bootstrap_ci"][0],
        "primary.within.cluster_bootstrap_ci_high": sens["cluster_bootstrap_ci"][1],
    }
    for row in sens["variants"]:
        name = {"every model included": "all_models"}.get(row["label"], "without_model_selected")
        out[f"sensitivity.{name}.fe_slope_per_doubling"] = row["slope"]
        out[f"sensitivity.{name}.fe_slope_p"] = row["p"]
    for key, name in (("leave_one_model_out", "loo_model"), ("leave_one_task_out", "loo_task")):
        summ = sens[key]["summary"]
        out[f"sensitivity.{name}.slope_per_doubling_min"] = summ["min"]
        out[f"sensitivity.{name}.slope_per_doubling_max"] = summ["max"]
        out[f"sensitivity.{name}.significant_same_sign"] = float(summ["significant"])
        out[f"sensitivity.{name}.n"] = float(summ["n"])
    for key, name in (("label_matched_pooled", "label_matched"), ("effective_robustness", "effective_robustness"),
                      ("clean_covariate", "clean_covariate")):
        unit = "logit_per_doubling" if name == "effective_robustness" else "per_doubling"
        out[f"secondary.{name}.fe_slope_{unit}"] = second[key]["slope"]
        out[f"secondary.{name}.fe_slope_p"] = second[key]["p"]
    return {k: float(v) for k, v in sorted(out.items()) if v is not None and np.isfinite(v)}


TABLES = "tables"
"""The key of :func:`compute_report`'s result that holds the intermediate DataFrames (not part of the JSON)."""


def compute_report(
    results: pd.DataFrame,
    predictions: pd.DataFrame | None = None,
    gold: paired_mod.GoldLoader | None = None,
    reference: pd.DataFrame | None = None,
    *,
    params: Mapping[str, Any],
    provenance: Mapping[str, Any] | None = None,
    variants: tuple[pd.DataFrame, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Compute every table and statistic of the report; no file is read or written, no figure is drawn.

    Arguments as for :func:`xstilts.report.build_report` (``provenance`` is stored as given). Returns
    exactly what ``correlation.json`` holds (after JSON conversion: NaN as None, floats rounded): ``schema``,
    ``params``, ``inputs``, ``design``, ``answer``, ``baseline``, ``baseline_checks``, ``adversaries``,
    ``comparison``, ``variants`` (the paper's variants: :mod:`xstilts.report.variants`), ``degradation``,
    ``correlations``, ``families``, ``metrics`` (what ``metrics.json`` holds),
    ``figures`` and ``provenance``; plus, under :data:`TABLES` (``"tables"``), the DataFrames the markdown and
    the figures are drawn from: ``results`` (the validated results table), ``ctrl`` (:func:`control_scores`),
    ``model_deg`` (:func:`model_degradation`) and ``means`` (seed means with each point's bootstrap CI).
    """
    df_all = validate_results(results)
    rp = report_params(params)
    ctrl = control_scores(df_all)
    health_rows = health_table(df_all)
    flagged = flagged_models(health_rows)
    excluded = [f for f in flagged if not f["control"]] if rp["exclude_degenerate"] else []
    df = exclude(df_all, excluded)
    if predictions is not None and excluded:
        predictions = exclude(predictions, excluded, cell_column="cell")
    model_deg = model_degradation(df)
    design = design_data(df, predictions, gold)
    keep: dict[str, Any] = {}
    corr, means = correlations(seed_mean(model_deg), design, rp, keep=keep)
    families = apply_corrections(corr)
    checks = baseline_checks(ctrl)
    ref = reference if reference is not None else pd.DataFrame(columns=list(published.COLUMNS))
    inter_arms = [a for a in arm_order(df["arm"]) if a not in CONTROL_ARMS]
    comp = published.comparison(df, ref, rp["source"], inter_arms)
    model_selected = model_selected_adversaries(set(df["subset"]))
    sens = sensitivity(
        means, seed_mean(model_degradation(df_all)),
        seed_mean(model_degradation(df[~df["subset"].isin(model_selected)])) if model_selected else None,
        keep.get("reps"), keep.get("cells"), rp, [f["model"] for f in excluded])
    sens["model_selected_adversaries"] = model_selected
    sens["survives"] = survives(sens)
    second = secondary(df, rp)
    health = health_summary(health_rows, flagged, rp["exclude_degenerate"])
    metrics = headline_metrics(corr, families, ctrl, means, comp, rp)
    metrics.update(robustness_metrics(sens, second, health))
    with_variants = df_all  # the variant arms beside the single-task ones (xstilts.report.variants): never above
    section: dict[str, Any] = variants_mod.empty(params)
    if variants is not None:
        variant_rows = validate_results(variants[0])
        with_variants = pd.concat([df_all, variant_rows], ignore_index=True)
        section = variants_mod.summary(with_variants, params, variants[1], rp)
        metrics = dict(sorted({**metrics, **variants_mod.metrics(section)}.items()))
        # the comparison table's variant rows: its measure, on the models the single-task rows keep
        flagged_variants = ([f for f in flagged_models(health_table(variant_rows)) if not f["control"]]
                            if rp["exclude_degenerate"] else [])
        comp["variants"] = published.variant_comparison(
            pd.concat([df, exclude(variant_rows, flagged_variants)], ignore_index=True), ref, comp,
            section["arms"], {a: params["variants"][a]["task"] for a in ("mlm", "translated") if a in section["arms"]})
        shown = {r["published"]["claim"] for r in comp["variants"] if r["published"]}
        comp["other_claims"] = [o for o in comp["other_claims"] if o["claim"] not in shown]
    info = design_info(design)
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "params": rp,
        "inputs": {
            "n_rows": int(len(df)),
            "n_prediction_rows": int(len(predictions)) if predictions is not None else 0,
            "arms": arm_order(df["arm"]),
            "target_tasks": sorted(set(df["target_task"])),
            "languages": language_order(df["language"]),
            "zero_shot_languages": language_order(set(df["language"]) - {TRAINING_LANGUAGE}),
            "adversaries": adversaries(df),
        },
        "units": {"x": "log2(intermediate training examples)",
                  "slope": "per doubling of the training set: points of degradation (absolute), fraction of the "
                           "clean score (relative; the text shows %), logit (effective robustness)",
                  "measurement_noise_ci": "the bootstrap CIs named slope_ci / pearson_ci / ... resample seeds "
                                          "and test examples only (models fixed); the slope's uncertainty is the "
                                          "model fits' ci and sensitivity.cluster_bootstrap_ci"},
        "design": info,
        "answer": answer_paragraph(corr, families, rp, info, sens=sens, secondary=second, health=health),
        "health": health,
        "sensitivity": sens,
        "secondary": second,
        "baseline": baseline_summary(ctrl),
        "baseline_checks": checks,
        "adversaries": adversary_catalogue(df),
        "comparison": comp,
        "variants": section,
        "degradation": degradation_summary(means),
        "correlations": corr,
        "families": families,
        "metrics": metrics,
        "figures": dict(sorted(FIGURES.items())),
        "provenance": provenance,
    }
    report = json.loads(dumps(report))
    report[TABLES] = {"results": df, "results_all": df_all, "ctrl": ctrl, "model_deg": model_deg, "means": means,
                      "health": health_rows, "variant_results": with_variants}
    return report
