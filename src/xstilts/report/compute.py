"""The whole report as one pure computation: :func:`compute_report` turns the results table (and optionally the
per-example predictions, gold tags and published numbers) into the report dict, without reading or writing
files and without drawing figures; :mod:`xstilts.report.writer` renders and writes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import published
from ..analysis import paired as paired_mod
from ..analysis import stats
from .constants import CONTROL_ARMS, FIGURES, SCHEMA_VERSION, TRAINING_LANGUAGE
from .correlate import apply_corrections, correlations, design_data, design_info, headline_metrics
from .format import dumps
from .prose import answer_paragraph
from .tables import (
    adversaries, adversary_catalogue, arm_order, baseline_checks, baseline_summary, control_scores,
    degradation_summary, language_order, model_degradation, seed_mean, validate_results,
)


def report_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The report settings from ``params["report"]`` and ``params["study"]["source"]``."""
    try:
        rep, source = params["report"], params["study"]["source"]
        out = {"n_bootstrap": int(rep["n_bootstrap"]), "n_permutations": int(rep["n_permutations"]),
               "seed": int(rep["seed"]), "alpha": float(rep["alpha"]), "correction": str(rep["correction"]),
               "source": str(source)}
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
) -> dict[str, Any]:
    """Compute every table and statistic of the report; no file is read or written, no figure is drawn.

    Arguments as for :func:`xstilts.report.build_report` (``provenance`` is stored as given). Returns
    exactly what ``correlation.json`` holds (after JSON conversion: NaN as None, floats rounded): ``schema``,
    ``params``, ``inputs``, ``design``, ``answer``, ``baseline``, ``baseline_checks``, ``adversaries``,
    ``comparison``, ``degradation``, ``correlations``, ``families``, ``metrics`` (what ``metrics.json`` holds),
    ``figures`` and ``provenance``; plus, under :data:`TABLES` (``"tables"``), the DataFrames the markdown and
    the figures are drawn from: ``results`` (the validated results table), ``ctrl`` (:func:`control_scores`),
    ``model_deg`` (:func:`model_degradation`) and ``means`` (seed means with each point's bootstrap CI).
    """
    df = validate_results(results)
    rp = report_params(params)
    ctrl = control_scores(df)
    model_deg = model_degradation(df)
    design = design_data(df, predictions, gold)
    corr, means = correlations(seed_mean(model_deg), design, rp)
    families = apply_corrections(corr)
    checks = baseline_checks(ctrl)
    ref = reference if reference is not None else pd.DataFrame(columns=list(published.COLUMNS))
    inter_arms = [a for a in arm_order(df["arm"]) if a not in CONTROL_ARMS]
    comp = published.comparison(df, ref, rp["source"], inter_arms)
    metrics = headline_metrics(corr, families, ctrl, means, comp, rp)
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
        "design": info,
        "answer": answer_paragraph(corr, families, rp, info),
        "baseline": baseline_summary(ctrl),
        "baseline_checks": checks,
        "adversaries": adversary_catalogue(df),
        "comparison": comp,
        "degradation": degradation_summary(means),
        "correlations": corr,
        "families": families,
        "metrics": metrics,
        "figures": dict(sorted(FIGURES.items())),
        "provenance": provenance,
    }
    report = json.loads(dumps(report))
    report[TABLES] = {"results": df, "ctrl": ctrl, "model_deg": model_deg, "means": means}
    return report
