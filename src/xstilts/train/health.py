"""Is a fine-tuned model degenerate? One rule, fixed in params.yaml before any test data is seen, applied to a
model's predictions on a labelled set: the training stages apply it to the English dev set after every
fine-tuning (a degenerate run is restarted from a new seed, see :mod:`xstilts.pipeline.cellrun`), the report applies
it to the clean English test predictions for its model-health section.

A model is **degenerate** when

* its score is not above ``max(chance, majority-class score) + margin`` points (``finetune.degenerate_margin``),
  where the majority-class score is what the format's own metric gives a constant predictor of the set's most
  frequent gold label (tagging: every token gets the most frequent tag; span QA: the empty answer, 0), or
* it **collapses**: its most frequent predicted label takes more than ``g + collapse x (1 - g)`` of its
  predictions (``finetune.degenerate_collapse``: 0 = no more than that label's gold share, 1 = constant), where
  g is that label's share of the gold labels (1/k on a balanced set of k labels or choices), for the formats
  whose predictions are labels (pair classification, multiple choice); for span QA the most frequent predicted
  answer text counts (no gold share: the threshold is ``collapse`` itself). Tagging has no collapse check: "O"
  rightly dominates NER predictions.

Pure functions of a frame, predictions and the rule; nothing here trains or reads files.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Rule:
    margin: float  # points above max(chance, majority-class score)
    collapse: float  # 0..1 of the way from a uniform to a constant prediction distribution

    @classmethod
    def from_params(cls, params: dict) -> Rule:
        ft = params["finetune"]
        return cls(float(ft["degenerate_margin"]), float(ft["degenerate_collapse"]))


@dataclass(frozen=True)
class Health:
    score: float
    chance: float  # uniform guessing (0 where not defined: span QA, tagging F1)
    majority: float  # the metric of a constant majority-class predictor on this set
    top_share: float | None  # share of the most frequent prediction (None: not checked for this format)
    top_limit: float | None  # the collapse threshold it is compared with
    entropy: float | None  # normalised entropy of the predicted labels (1 = uniform, 0 = constant)
    degenerate: bool
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = "; ".join(self.reasons)
        return d


def _labels_and_k(fmt: str, df: pd.DataFrame, preds: Sequence[Any], labels: Sequence[str]
                  ) -> tuple[list[Any], list[Any], int | None]:
    """(gold labels, predicted labels, k) for the formats with a collapse check; k None: unbounded."""
    if fmt == "pair":
        return list(df["label"]), list(preds), max(2, len(labels))
    if fmt == "mc":
        k = int(pd.Series([len(c) for c in df["choices"]]).mode().iloc[0]) if "choices" in df else 2
        return list(df["label"]), list(preds), max(2, k)
    if fmt == "span":
        texts = [str(ctx[int(a):int(b)]).strip().lower() for (a, b), ctx in zip(preds, df["context"], strict=True)]
        return [], texts, None
    return [], [], 0


def constant_predictions(fmt: str, df: pd.DataFrame) -> list[Any]:
    """The majority-class predictor's predictions for every row of `df`."""
    if fmt in ("pair", "mc"):
        top = Counter(int(v) for v in df["label"]).most_common(1)[0][0]
        return [top] * len(df)
    if fmt == "tagging":
        top = Counter(int(t) for tags in df["tags"] for t in tags).most_common(1)[0][0]
        return [[top] * len(tags) for tags in df["tags"]]
    if fmt == "span":
        return [(0, 0)] * len(df)
    raise ValueError(f"no majority-class predictor for format {fmt!r}")


def chance_score(fmt: str, metric: str, df: pd.DataFrame, labels: Sequence[str]) -> float:
    """Expected score of uniform guessing (points): 100/k for classification and multiple choice, else 0."""
    if fmt == "pair":
        return 100.0 / max(1, len(labels))
    if fmt == "mc" and "choices" in df:
        return 100.0 * float(sum(1.0 / max(1, len(c)) for c in df["choices"]) / max(1, len(df)))
    if fmt == "tagging" and metric == "accuracy":
        return 100.0 / max(1, len(labels))
    return 0.0


def collapse_limit(gold_share: float | None, collapse: float) -> float:
    """The share of the most frequent prediction above which a model has collapsed, given that label's share of
    the gold labels (None: answers without a gold inventory, span QA)."""
    if gold_share is None:
        return collapse
    return gold_share + collapse * (1.0 - gold_share)


def assess(fmt_name: str, score_fn, metric: str, labels: Sequence[str], df: pd.DataFrame, preds: Sequence[Any],
           score: float, rule: Rule) -> Health:
    """The health of one model on one labelled set. `score_fn(df, preds, metric, labels) -> (score, per_example)`
    is the format's own scorer (it scores the majority-class predictor too)."""
    if len(df) == 0:
        return Health(score, 0.0, 0.0, None, None, None, True, ("empty evaluation set",))
    chance = chance_score(fmt_name, metric, df, labels)
    majority = float(score_fn(df, constant_predictions(fmt_name, df), metric, tuple(labels))[0])
    floor = max(chance, majority)
    reasons = []
    if not math.isfinite(score) or score <= floor + rule.margin:
        reasons.append(f"score {score:.1f} is not above max(chance {chance:.1f}, majority {majority:.1f}) "
                       f"+ margin {rule.margin:g}")
    gold, predicted, k = _labels_and_k(fmt_name, df, preds, labels)
    top_share = limit = entropy = None
    if predicted and k != 0:
        counts = Counter(predicted)
        top, n_top = counts.most_common(1)[0]
        top_share = n_top / len(predicted)
        limit = collapse_limit(gold.count(top) / len(gold) if k is not None else None, rule.collapse)
        if k is not None:
            probs = [c / len(predicted) for c in counts.values()]
            entropy = float(-sum(p * math.log(p) for p in probs) / math.log(k))
        if top_share > limit:
            reasons.append(f"{top_share:.0%} of predictions are one {'answer' if k is None else 'label'} "
                           f"(collapse limit {limit:.0%})")
    return Health(float(score), chance, majority, top_share, limit, entropy, bool(reasons), tuple(reasons))
