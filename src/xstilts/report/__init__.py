"""The final report: does the intermediate-task training-set size correlate with zero-shot degradation?

:func:`build_report` turns the results table (one row per model x target task x language x subset) and the
per-example predictions into

* ``correlation.json`` - every table and statistic below, machine readable (NaN is written as null);
* ``metrics.json`` - a flat ``{name: float}`` of headline numbers for ``dvc metrics show``;
* ``correlation.md`` and ``correlation.html`` (the same text, figures inline as base64 PNG) - the generated
  answer, methods, baseline checks, the paper comparison, degradation tables, correlations, models with task
  effects, the multiple-comparison table, figures and provenance;
* ``degradation_vs_size.png``, ``zero_shot_heatmap.png``, ``seed_spread.png`` and
  ``plots/pooled_degradation.csv`` (for ``dvc plots show``).

Definitions. Degradation of a model on an adversarial subset = ``clean_score - score`` (absolute points,
paired with the matched clean source examples); relative degradation = degradation / clean_score. Both are
computed per (arm, size_label, seed, target_task, language, subset) and averaged (unweighted) over the
zero-shot languages (every language but English) for the key ``<target>/<adversary>``; the key
``<target>/<adversary>/<language>`` keeps one language; "pooled" is the per-model mean over all target tasks and
adversaries. Only intermediate-task arms enter the correlations with ln(train_size): *across* tasks uses one
point per task at its natural size ("full", mean over seeds); *within* tasks uses every size of every task (mean
over seeds) with task fixed effects (see :mod:`xstilts.analysis.stats`). Confidence intervals come from a hierarchical
bootstrap over seeds and paired test examples (:mod:`xstilts.analysis.paired`); p-values from permutations that respect
the design (sizes shuffled within task for the within analysis); Holm and Benjamini-Hochberg corrections are
applied across the target task x language x adversary tests.

Every output is written atomically and rendered deterministically (sorted rows and keys, fixed float
formatting, PNGs without software/time metadata).

Modules, each one job, lower ones never importing higher ones: :mod:`~xstilts.report.constants` (names, keys,
file names) < :mod:`~xstilts.report.format` (numbers, JSON, CSV, markdown tables) < :mod:`~xstilts.report.tables`
(validation, degradation tables, baseline checks, adversary catalogue) < :mod:`~xstilts.report.correlate`
(correlations, corrections, headline metrics) < :mod:`~xstilts.report.prose` (generated sentences) <
:mod:`~xstilts.report.markdown` (section renderers); :mod:`~xstilts.report.figures` (PNG figures) and
:mod:`~xstilts.report.html` (``correlation.html``) sit beside them; :mod:`~xstilts.report.compute`
(:func:`compute_report`: the report dict, no I/O) and :mod:`~xstilts.report.writer` (:func:`build_report`: renders
and writes every file) on top.
"""

from __future__ import annotations

from .compute import compute_report, report_params
from .constants import (
    CLEAN,
    CONTROL_ARMS,
    FIGURES,
    HEADLINE_KEYS,
    HTML,
    MEASURES,
    PLOTS_CSV,
    POOLED,
    TRAINING_LANGUAGE,
)
from .format import ci_per_doubling, dumps, fmt, fmt_p, to_jsonable
from .markdown import comparison_markdown, render_markdown
from .prose import verdict
from .tables import (
    adversary_catalogue,
    model_degradation,
    ordered_keys,
    seed_mean,
    validate_results,
)
from .writer import build_report

__all__ = [
    "CLEAN", "CONTROL_ARMS", "FIGURES", "HEADLINE_KEYS", "HTML", "MEASURES", "PLOTS_CSV", "POOLED", "TRAINING_LANGUAGE",
    "adversary_catalogue", "build_report", "ci_per_doubling", "comparison_markdown", "compute_report", "dumps",
    "fmt", "fmt_p", "model_degradation", "ordered_keys", "render_markdown", "report_params", "seed_mean",
    "to_jsonable", "validate_results", "verdict",
]
