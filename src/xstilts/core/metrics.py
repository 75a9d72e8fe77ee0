"""Evaluation metrics (pure functions, tested on tiny inputs with known answers).

- accuracy
- SQuAD v1.1 EM/F1 with English normalisation for every language, as XTREME's evaluate_squad.py does
- seqeval's chunk F1 as XTREME applies it to every tag set (`seqeval_f1`): on BIO tags the conlleval entity F1
  (an I- tag after O or another type starts a new entity), on UD-POS tags XTREME's POS "F1"
- MLQA's per-language EM/F1 (facebookresearch/MLQA `mlqa_evaluation_v1.py`, XTREME `evaluate_mlqa.py`)
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import lru_cache

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
    """(type, start, end exclusive) chunks of one BIO sequence (seqeval's reading, see `seqeval_chunks`)."""
    return {(kind, first, last + 1) for kind, first, last in seqeval_chunks([list(tags)])}


# ------------------------------------------------------------------------------------------------ seqeval chunks


def _chunk_end(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _chunk_start(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def seqeval_chunks(sequences: list[list[str]]) -> set[tuple[str, int, int]]:
    """(type, first, last) chunks exactly as seqeval 1.x `get_entities` (default IOB mode) finds them in a list of
    sentences: the sentences are concatenated with an "O" after each, and every tag is read as prefix = its first
    character, type = the rest after an optional "-". On BIO tags this is conlleval; on UD-POS tags (no prefix)
    it is what XTREME's POS "F1" measures: e.g. NOUN = prefix "N" + type "OUN", so a run of equal tags is one
    chunk, and tags starting with S (SYM, SCONJ) are single-token chunks."""
    flat = [t for seq in sequences for t in list(seq) + ["O"]]
    prev_tag, prev_type, begin = "O", "", 0
    chunks = set()
    for i, chunk in enumerate(flat + ["O"]):
        tag = chunk[0]
        type_ = chunk[1:].split("-", maxsplit=1)[-1] or "_"
        if _chunk_end(prev_tag, tag, prev_type, type_):
            chunks.add((prev_type, begin, i - 1))
        if _chunk_start(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def seqeval_f1(gold: list[list[str]], pred: list[list[str]]) -> float:
    """Micro chunk F1 as `seqeval.metrics.f1_score(gold, pred)` (XTREME's tagging metric for NER and POS)."""
    if [len(g) for g in gold] != [len(p) for p in pred]:
        raise ValueError("seqeval_f1: gold and predicted sequences differ in length")
    g, p = seqeval_chunks(gold), seqeval_chunks(pred)
    tp = len(g & p)
    if tp == 0:
        return 0.0
    precision, recall = tp / len(p), tp / len(g)
    return 2 * precision * recall / (precision + recall)


# ------------------------------------------------------------------------------------------------ MLQA


@lru_cache(maxsize=1)
def _unicode_punct() -> frozenset[str]:
    return frozenset(chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")) | _PUNCT


_MLQA_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": r"\sال^|ال",
    "hi": None,
    "zh": None,
}
_WHITESPACE_LANGS = ("en", "es", "hi", "vi", "de", "ar")


def _mixed_segmentation(text: str, punct: frozenset[str]) -> list[str]:
    out, buf = [], ""
    for ch in text:
        if re.search("[\u4e00-\u9fa5]", ch) or ch in punct:
            out += buf.split()
            buf = ""
            out.append(ch)
        else:
            buf += ch
    return out + buf.split()


def mlqa_normalize(s: str, lang: str) -> str:
    """MLQA's answer normalisation for `lang`: lowercase, drop every Unicode punctuation character, drop the
    language's articles, then whitespace tokens (mixed segmentation for zh: each CJK character is a token)."""
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA normalisation: unknown language {lang!r} (MLQA: {', '.join(_MLQA_ARTICLES)})")
    punct = _unicode_punct()
    s = "".join(ch for ch in s.lower() if ch not in punct)
    if _MLQA_ARTICLES[lang]:
        s = re.sub(_MLQA_ARTICLES[lang], " ", s)
    tokens = s.split() if lang in _WHITESPACE_LANGS else _mixed_segmentation(s, punct)
    return " ".join(t for t in tokens if t.strip())


def mlqa_f1(prediction: str, truth: str, lang: str) -> float:
    p, t = mlqa_normalize(prediction, lang).split(), mlqa_normalize(truth, lang).split()
    same = sum((Counter(p) & Counter(t)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def mlqa_em(prediction: str, truth: str, lang: str) -> float:
    return float(mlqa_normalize(prediction, lang) == mlqa_normalize(truth, lang))
