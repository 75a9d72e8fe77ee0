"""Evaluation metrics (pure functions, tested on tiny inputs with known answers).

- accuracy
- SQuAD v1.1 EM/F1 with English normalisation for every language, as XTREME's evaluate_squad.py does
- entity-level F1 over BIO tags (conlleval/seqeval default semantics: an I- tag after O or another type starts
  a new entity)
"""

from __future__ import annotations

import re
import string
from collections import Counter

_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_f1(prediction: str, truth: str) -> float:
    p, t = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = Counter(p) & Counter(t)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def best_over_truths(fn, prediction: str, truths: list[str]) -> float:
    return max(fn(prediction, t) for t in truths)


def entities(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) chunks of a BIO sequence."""
    out = set()
    kind, start = None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        begins = prefix == "B" or (prefix == "I" and t != kind)
        if kind is not None and (prefix == "O" or begins):
            out.add((kind, start, i))
            kind = None
        if begins:
            kind, start = t, i
    return out


def entity_f1(gold: list[list[str]], pred: list[list[str]]) -> float:
    tp = n_gold = n_pred = 0
    for g, p in zip(gold, pred):
        eg, ep = entities(g), entities(p)
        tp += len(eg & ep)
        n_gold += len(eg)
        n_pred += len(ep)
    if tp == 0:
        return 0.0
    precision, recall = tp / n_pred, tp / n_gold
    return 2 * precision * recall / (precision + recall)
