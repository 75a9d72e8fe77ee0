"""PAWS-style word swap (Zhang et al. 2019; PAWS-X, Yang et al. 2019): the hypothesis of an entailed (or
paraphrase) pair gets two of its words swapped, so the pair keeps exactly the same bag of words while its meaning
changes ("the doctor helped alice" -> "alice helped the doctor"). Gold label: entailment -> neutral,
paraphrase -> different.

* With role hints (`meta.swap`: the subject and object spans; the synthetic benchmark gives them in every
  language, or null for an entailed pair without two swappable roles, which is then skipped) the two roles are
  swapped, which changes the meaning by construction.
* On real data (no hints) two distinct words of the hypothesis that both also occur in the premise are swapped
  (punctuation stays in place; function words, i.e. units in more than 10% of the file's texts, never move; in
  unspaced scripts the "words" are the longest pieces shared with the premise); the new label is then an
  assumption, as in PAWS before its human ratings: a swap of two different content words of one sentence rarely
  keeps its meaning, but it can."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd

from . import meta_of, register
from .labels import positive_negative
from .text import clusters, units, unspaced

_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)
MIN_CHARS = 3  # a swapped word has at least this many characters (skips particles, digits alone)
STOP_SHARE = 0.1  # a unit in more than this share of the file's pairs is a function word, never swapped


def swap_roles(words: list[str], spans) -> list[str]:
    (a0, a1), (b0, b1) = sorted(spans)
    return words[:a0] + words[b0:b1] + words[a1:b0] + words[a0:a1] + words[b1:]


def _chunks(core: str, premise: str) -> list[str]:
    """An unspaced-script token cut into the longest pieces that also occur in the premise, left to right (a
    segmenter-free stand-in for words: "银行家给艺术家打了电话" against "艺术家昨天给银行家打了电话" gives
    银行家 | 给 | 艺术家 | 打了电话); combining marks stay with their base."""
    cl = clusters(core)
    out, i = [], 0
    while i < len(cl):
        j = len(cl)
        while j > i + 1 and "".join(cl[i:j]) not in premise:
            j -= 1
        out.append("".join(cl[i:j]))
        i = j
    return out


def frequent_units(texts: list[str], share: float = STOP_SHARE) -> set[str]:
    """Units in more than `share` of the texts (and more than 5): the file's function words, found without a list."""
    df: Counter = Counter()
    for t in texts:
        df.update(set(units(t)))
    limit = max(5, share * len(texts))
    return {u for u, n in df.items() if n > limit}


def swap_shared_words(hypothesis: str, premise: str, rng, stop: set[str] = frozenset()) -> str | None:
    """Swap two distinct words of `hypothesis` that are not function words (`stop`), preferring words the premise
    contains too; in unspaced scripts the "words" are the pieces of `_chunks` of at least two characters."""
    pieces: list[list[str]] = []  # per space-separated token: [prefix, word..., suffix]
    cand: list[tuple[int, int]] = []
    for t, token in enumerate(hypothesis.split(" ")):
        pre, core, post = _CORE.match(token).groups()
        parts = _chunks(core, premise) if any(unspaced(c) for c in core) else [core]
        pieces.append([pre, *parts, post])
        for k, part in enumerate(parts, start=1):
            if len(part) >= (2 if len(parts) > 1 else MIN_CHARS) and not part.isdigit() \
                    and not set(units(part)) <= stop:
                cand.append((t, k))
    premise_units = set(units(premise))
    shared = [c for c in cand if set(units(pieces[c[0]][c[1]])) <= premise_units]
    for pool in (shared, cand):
        pairs = [(a, b) for n, a in enumerate(pool) for b in pool[n + 1:]
                 if pieces[a[0]][a[1]].casefold() != pieces[b[0]][b[1]].casefold()]
        if pairs:
            (ta, ka), (tb, kb) = pairs[int(rng.integers(len(pairs)))]
            new = [list(p) for p in pieces]
            new[ta][ka], new[tb][kb] = pieces[tb][kb], pieces[ta][ka]
            return " ".join("".join(p) for p in new)
    return None


@register("word_swap", ("pair",),
          "entailed/paraphrase pairs whose hypothesis gets two words swapped (role spans from meta.swap where "
          "given, else two distinct words shared with the premise)",
          label="entailment -> neutral, paraphrase -> different (exact with role hints, assumed on real data)")
def word_swap(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    pos, neg = positive_negative(labels, "word_swap")
    stop = frequent_units(df["text_a"].tolist() + df["text_b"].tolist())
    rows = []
    for row in df.itertuples(index=False):
        if row.label != pos:
            continue
        meta = meta_of(row.meta)
        if "swap" in meta:  # the source's hint: role spans, or null when no swap changes the meaning
            spans = meta["swap"]
            if spans is None or None in spans:
                continue
            words = row.text_b.split(" ")
            swapped = swap_roles(words, spans)
            new = " ".join(swapped) if swapped != words else None
        else:
            new = swap_shared_words(row.text_b, row.text_a, rng, stop)
        if new is None or new == row.text_b:
            continue
        rows.append({**row._asdict(), "text_b": new, "label": neg})
    return pd.DataFrame(rows, columns=df.columns)
