"""The report files: :func:`build_report` computes the report (:func:`xstilts.report.compute.compute_report`),
renders the markdown, the HTML, the figures and the plots CSV, and writes every file atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import paired as paired_mod
from ..core.io import atomic_write_bytes
from . import html as report_html
from . import variants as variants_mod
from .compute import TABLES, compute_report
from .constants import FIGURES, HEADLINE, HEADLINE_KEYS, HTML, PLOTS_CSV
from .figures import (
    degradation_figure,
    health_figure,
    heatmap_figure,
    png_bytes,
    seed_spread_figure,
    sensitivity_figure,
)
from .format import dumps, plots_csv
from .markdown import render_markdown


def build_report(
    results: pd.DataFrame,
    provenance: dict[str, Any],
    params: dict[str, Any],
    out_dir: Path,
    *,
    predictions: pd.DataFrame | None = None,
    gold: paired_mod.GoldLoader | None = None,
    reference: pd.DataFrame | None = None,
    variants: tuple[pd.DataFrame, dict] | None = None,
) -> dict[str, Any]:
    """Compute every table and statistic, write the report files into ``out_dir``, return the report.

    ``predictions`` (the per-example predictions of every arm) lets the bootstrap resample paired test
    examples; ``gold`` supplies gold tags for seqeval-F1 targets; ``reference`` is the published-numbers table
    (:func:`xstilts.report.published.load_reference`; None = an empty comparison); ``variants`` is (the variant
    arms' results, each arm's metrics/variant record) for the section on the paper's variants. The returned dict is
    exactly what
    ``correlation.json`` holds (after JSON conversion): ``schema``, ``params``, ``inputs``, ``design``,
    ``answer``, ``baseline``, ``baseline_checks``, ``adversaries``, ``comparison``, ``variants``, ``degradation``,
    ``correlations``
    (``{key: {measure: {analysis: ...}}}``), ``families``, ``metrics``, ``figures`` and ``provenance``.
    """
    out_dir = Path(out_dir)
    report = compute_report(results, predictions, gold, reference, params=params, provenance=provenance,
                            variants=variants)
    tables = report.pop(TABLES)
    section = report["variants"]
    df, ctrl, model_deg, means = tables["results"], tables["ctrl"], tables["model_deg"], tables["means"]
    images = {
        FIGURES["scatter"]: png_bytes(degradation_figure(means)),
        FIGURES["heatmap"]: png_bytes(heatmap_figure(df)),
        FIGURES["seeds"]: png_bytes(seed_spread_figure(model_deg, df)),
        FIGURES["sensitivity"]: png_bytes(sensitivity_figure(report["sensitivity"], report["secondary"],
                                                                 report["params"]["alpha"])),
        FIGURES["health"]: png_bytes(health_figure(tables["health"])),
        FIGURES["variants"]: png_bytes(variants_mod.figure(tables["variant_results"], section)),
    }
    markdown = render_markdown(report, ctrl, means)
    extra = variants_mod.markdown(section)
    if extra:  # after the comparison with the published numbers (always: the section says when it has no arm)
        head, sep, tail = markdown.partition("\n## Degradation\n")
        markdown = head + "\n" + "\n".join(extra) + sep + tail if sep else markdown + "\n" + "\n".join(extra)
    for name, data in images.items():
        atomic_write_bytes(out_dir / name, data)
    atomic_write_bytes(out_dir / PLOTS_CSV, plots_csv(means))
    atomic_write_bytes(out_dir / "correlation.md", markdown.encode())
    atomic_write_bytes(out_dir / HTML, report_html.render(markdown, images,
                                                          title="xstilts: size vs zero-shot degradation").encode())
    atomic_write_bytes(out_dir / "metrics.json", dumps(report["metrics"]).encode())
    headline = {short: report["metrics"][key] for short, key in HEADLINE_KEYS.items() if key in report["metrics"]}
    atomic_write_bytes(out_dir / HEADLINE, dumps(headline).encode())
    atomic_write_bytes(out_dir / "correlation.json", dumps(report).encode())
    return report
