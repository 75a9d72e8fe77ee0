"""The degenerate-model rule (xstilts.train.health) on tiny sets with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from xstilts import formats
from xstilts.eval.zeroshot import balanced_score, label_matched_score
from xstilts.train import health

RULE = health.Rule(margin=5.0, collapse=0.5)
PAIR = formats.get("pair")
NLI = ("entailment", "neutral", "contradiction")


def _pair(labels):
    return pd.DataFrame({"id": [str(i) for i in range(len(labels))], "label": labels})


def _assess(df, preds, fmt=PAIR, metric="accuracy", labels=NLI):
    score, _ = fmt.score(df, preds, metric, labels)
    return health.assess(fmt.name, fmt.score, metric, labels, df, preds, score, rule=RULE)


def test_constant_predictor_is_degenerate_and_says_why():
    df = _pair([0, 1, 2] * 10)
    h = _assess(df, [1] * 30)
    assert h.degenerate
    assert h.score == pytest.approx(100 / 3) and h.chance == pytest.approx(100 / 3)
    assert h.top_share == 1.0 and h.top_limit == pytest.approx(2 / 3) and h.entropy == 0.0
    assert len(h.reasons) == 2  # not above chance + margin, and collapsed


def test_healthy_model_passes():
    df = _pair([0, 1, 2] * 10)
    preds = [0, 1, 2] * 8 + [1, 2, 0] * 2  # 80% correct, every label predicted a third of the time
    h = _assess(df, preds)
    assert not h.degenerate and h.reasons == ()
    assert h.top_share == pytest.approx(1 / 3) and h.entropy == pytest.approx(1.0)


def test_majority_class_sets_the_floor_on_an_imbalanced_set():
    df = _pair([1] * 14 + [0] * 3 + [2] * 3)  # 70% neutral: always "neutral" scores 70
    preds = [1] * 14 + [0, 0, 1] + [2, 2, 2]  # 95%: healthy
    assert not _assess(df, preds).degenerate
    assert _assess(df, preds).majority == pytest.approx(70.0)
    h = _assess(df, preds)
    assert h.top_share == pytest.approx(0.75) and h.top_limit == pytest.approx(0.85)  # 75% "neutral" is its gold share
    weak = [1] * 14 + [1, 1, 1] + [1, 1, 2]  # 75%: not above 70 + 5, and 95% "neutral"
    h = _assess(df, weak)
    assert h.degenerate and h.majority == pytest.approx(70.0) and len(h.reasons) == 2


def test_collapse_alone_flags_a_model_above_the_margin():
    df = _pair([0, 1, 2] * 20)
    # 50% accuracy (far above chance) but 5/6 of predictions are "neutral" (limit 2/3)
    preds = [0, 1, 2] * 20
    preds = [1 if i % 4 else p for i, p in enumerate(preds)]
    h = _assess(df, preds)
    assert h.score == pytest.approx(50.0) and h.top_share == pytest.approx(5 / 6)
    assert h.degenerate and "one label" in h.reasons[-1]


def test_collapse_limit():
    assert health.collapse_limit(1 / 3, 0.5) == pytest.approx(2 / 3)  # balanced 3-way: halfway to constant
    assert health.collapse_limit(0.5, 0.5) == pytest.approx(0.75)
    assert health.collapse_limit(0.7, 0.5) == pytest.approx(0.85)  # a label with 70% of the gold labels
    assert health.collapse_limit(None, 0.5) == 0.5  # span answers: no gold label inventory


def test_tagging_floor_is_the_all_majority_tag_f1():
    fmt = formats.get("tagging")
    labels = ("O", "B-PER", "I-PER")
    df = pd.DataFrame({"id": ["a", "b"], "tags": [[0, 1, 2, 0], [1, 0, 0, 0]]})
    h = _assess(df, [[0, 0, 0, 0], [0, 0, 0, 0]], fmt=fmt, metric="f1", labels=labels)
    assert h.majority == 0.0 and h.score == 0.0 and h.degenerate and h.top_share is None
    good = _assess(df, [[0, 1, 2, 0], [1, 0, 0, 0]], fmt=fmt, metric="f1", labels=labels)
    assert good.score == 100.0 and not good.degenerate


def test_span_collapse_counts_answer_texts():
    fmt = formats.get("span")
    df = pd.DataFrame({"id": list("abcd"), "context": ["ann met bob", "cat saw dog", "eve hit fay", "gus ate ham"],
                       "answers_text": [["bob"], ["dog"], ["fay"], ["ham"]], "lang": ["en"] * 4})
    right = [(8, 11), (8, 11), (8, 11), (8, 11)]
    assert not _assess(df, right, fmt=fmt, metric="squad_f1", labels=()).degenerate
    same = [(0, 3)] * 4  # "ann", "cat", "eve", "gus": different texts, all wrong
    h = _assess(df, same, fmt=fmt, metric="squad_f1", labels=())
    assert h.degenerate and h.top_share == 0.25


def test_label_matched_score_gives_a_constant_predictor_no_degradation():
    """word_swap turns entailed pairs into neutral ones: against its entailed sources an always-"neutral" model
    'improves' by 100 points; against the clean neutral examples it shows no change."""
    clean = _pair([0, 1, 2] * 10)
    constant = [1] * 30
    adv = _pair([1] * 10)  # the adversarial set: every gold label is neutral
    matched = label_matched_score(PAIR, clean, constant, adv, "accuracy", NLI)
    adv_score, _ = PAIR.score(adv, [1] * 10, "accuracy", NLI)
    assert matched == pytest.approx(100.0) and adv_score == pytest.approx(100.0)
    assert balanced_score(clean, constant) == pytest.approx(100 / 3)
    # a real model: 90% on clean neutral examples, 40% on the swapped ones -> a 50-point label-matched drop
    preds = [0, 1, 2] * 9 + [0, 0, 0]
    assert label_matched_score(PAIR, clean, preds, adv, "accuracy", NLI) == pytest.approx(90.0)
