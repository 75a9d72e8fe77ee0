"""Model-based hard subset (AFLite-style, Le Bras et al. 2020): the clean examples that a held-out reference
model gets wrong (per-example score below `aflite.max_score`, on a 0-1 scale; at most the `aflite.max_share`
lowest-scoring examples, so that controls remain when a weak reference model fails nearly everything), each
paired with a label-matched control among the examples it did not select. The reference model is none of the
study's models: the `aflite` stage fine-tunes it on the English training data of the target task from the
pretrained encoder with its own seed (`adversaries.aflite.seed`), records its MLflow run id, and passes its
per-example scores here as `options["reference_scores"]` (one per clean row, from `hardness`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import metrics
from . import MODEL, register

DEFAULT_MAX_SCORE = 0.5
DEFAULT_MAX_SHARE = 0.5


def hardness(metric: str, df: pd.DataFrame, predictions: list, per_example: list[float],
             labels: tuple[str, ...]) -> np.ndarray:
    """Per-example reference scores on a 0-1 scale: the metric's own per-example value (accuracy, SQuAD/MLQA
    F1), except for seqeval F1, where a sentence's chunk F1 replaces token accuracy (a NER sentence that misses
    its only entity is mostly "O" tokens, hence accurate, yet wrong)."""
    if metric != "f1":
        return np.asarray(per_example, dtype=float)
    out = []
    for gold, pred in zip(df["tags"], predictions):
        g = set(metrics.seqeval_chunks([[labels[i] for i in gold]]))
        p = set(metrics.seqeval_chunks([[labels[i] for i in pred]]))
        out.append(1.0 if not g and not p else 2 * len(g & p) / (len(g) + len(p)))
    return np.asarray(out, dtype=float)


@register("aflite", ("pair", "mc", "span", "tagging"),
          "clean examples a held-out reference model scores below aflite.max_score (built by the aflite stage)",
          kind=MODEL, label="kept (real examples)")
def aflite(df: pd.DataFrame, labels, rng, options) -> np.ndarray:
    scores = options.get("reference_scores")
    if scores is None:
        raise ValueError("adversary 'aflite' is built by the `aflite` stage from a reference model's per-example "
                         "scores (options['reference_scores']); `prepare` cannot build it")
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (len(df),):
        raise ValueError(f"adversary 'aflite': {scores.size} reference scores for {len(df)} clean examples")
    opts = options.get("aflite") or {}
    max_score = float(opts.get("max_score", DEFAULT_MAX_SCORE))
    max_share = float(opts.get("max_share", DEFAULT_MAX_SHARE))
    hard = scores < max_score
    cap = int(max_share * len(df))
    if hard.sum() > cap:  # a weak reference model fails most examples: keep the hardest, leave controls
        order = np.lexsort((rng.permutation(len(df)), scores))  # lowest score first, ties in random order
        hard = np.zeros(len(df), dtype=bool)
        hard[order[:cap]] = True
    return hard
