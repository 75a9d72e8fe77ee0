"""The report's fixed names: languages, subsets, arms, table keys, output file names and multiple-comparison
families. Every other module of :mod:`xstilts.report` imports from here; this one imports nothing of the report."""

from __future__ import annotations

from ..analysis import paired as paired_mod
from ..core import tasks

TRAINING_LANGUAGE = tasks.TRAINING_LANGUAGE
CLEAN = "clean"
CONTROL_ARMS = tasks.CONTROLS
FULL = "full"
POOLED = paired_mod.POOLED
ALL_TARGETS = paired_mod.ALL_TARGETS
MEASURES = paired_mod.MEASURES
ANALYSES = ("across", "within")
MODEL_KEYS = ["arm", "size_label", "train_size", "seed"]
CELL_KEYS = ["arm", "size_label", "train_size"]
REQUIRED_COLUMNS = (
    "arm", "train_size", "size_label", "seed", "target_task", "language", "subset", "metric", "score",
    "clean_score", "target_run_id", "intermediate_run_id",
)
OPTIONAL_COLUMNS = {
    "chance": float("nan"), "label_matched_clean_score": float("nan"), "balanced_score": float("nan"),
    "health_majority": float("nan"), "health_top_share": float("nan"), "health_entropy": float("nan"),
    "health_degenerate": False, "health_reasons": "", "target_restarts": 0, "target_degenerate": False,
    "target_dev_score": float("nan"), "target_dev_top_share": float("nan"), "intermediate_restarts": 0,
    "intermediate_degenerate": False, "intermediate_dev_score": float("nan"),
}
"""Columns the evaluate stage writes that older or hand-made results tables may lack (filled with these)."""
FIGURES = {"scatter": "degradation_vs_size.png", "heatmap": "zero_shot_heatmap.png", "seeds": "seed_spread.png",
           "sensitivity": "sensitivity.png", "health": "model_health.png", "variants": "variants.png"}
PLOTS_CSV = "plots/pooled_degradation.csv"
HEADLINE = "headline.json"
HEADLINE_KEYS = {
    "slope": "pooled.within.fe_slope_per_doubling", "ci_low": "pooled.within.fe_slope_per_doubling_ci_low",
    "ci_high": "pooled.within.fe_slope_per_doubling_ci_high", "p": "pooled.within.fe_slope_p",
    "boot_low": "primary.within.cluster_bootstrap_ci_low", "boot_high": "primary.within.cluster_bootstrap_ci_high",
    "cells": "pooled.within.n", "excluded": "health.models_excluded",
    "adj_slope": "secondary.clean_covariate.fe_slope_per_doubling", "adj_p": "secondary.clean_covariate.fe_slope_p",
    "eff_rob": "secondary.effective_robustness.fe_slope_logit_per_doubling",
    "eff_rob_p": "secondary.effective_robustness.fe_slope_p",
    "base_clean": "baseline.zero_shot.clean", "base_deg": "baseline.zero_shot.degradation",
}
"""The study's headline numbers under short names (`reports/headline.json`, the one DVC metrics file, so that
`dvc metrics show` prints one short table): the primary within-task slope of degradation per doubling of the
intermediate set with its 95% CI and p, its cluster-bootstrap CI, the (task, size) cells it rests on and the
models excluded; the slope with the clean score as covariate and the effective-robustness slope (logit) with their
p; the baseline's zero-shot clean score and degradation. Short name -> key of `metrics.json`, which has every
number."""
HTML = "correlation.html"
JSON_DIGITS = 10
PNG_DPI = 110
SCHEMA_VERSION = 2
SMALL_N = 6
"""Below this many points the answer warns that percentile intervals and rank statistics are coarse."""
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}
FAMILIES = {"per_language": 2, "per_pair": 1}
"""Multiple-comparison families: the (target task, adversary, language) keys and the (target task, adversary)
keys; each family is corrected for every measure x analysis x statistic separately."""
PRIMARY_FAMILY = "per_language"
