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
           "sensitivity": "sensitivity.png", "health": "model_health.png"}
PLOTS_CSV = "plots/pooled_degradation.csv"
HEADLINE = "headline.json"
HEADLINE_KEYS = (
    "pooled.within.fe_slope_per_doubling", "pooled.within.fe_slope_per_doubling_ci_low",
    "pooled.within.fe_slope_per_doubling_ci_high", "pooled.within.fe_slope_p",
    "primary.within.cluster_bootstrap_ci_low", "primary.within.cluster_bootstrap_ci_high", "pooled.within.n",
    "health.models_excluded", "secondary.clean_covariate.fe_slope_per_doubling", "secondary.clean_covariate.fe_slope_p",
    "secondary.effective_robustness.fe_slope_logit_per_doubling", "secondary.effective_robustness.fe_slope_p",
    "baseline.zero_shot.clean", "baseline.zero_shot.degradation",
)
"""The study's headline numbers (`reports/headline.json`, the one DVC metrics file, so `dvc metrics show` is one
short table): the primary within-task slope of degradation on log2 size with its CI, p and cluster-bootstrap CI,
the cells it rests on, the models excluded, the clean-score-adjusted slope and effective robustness, and the
baseline's zero-shot clean score and degradation. Every number is in `metrics.json`."""
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
