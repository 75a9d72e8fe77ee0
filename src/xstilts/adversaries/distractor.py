"""AddOneSent-style distractor (Jia & Liang 2017): a sentence that resembles the question but does not answer it
is appended to the context, after its last sentence, so every gold answer offset and text stays valid.

Language-agnostic: where the source gives no hint, the distractor is the sentence of *another* context of the
same test file (same language) that shares the most question units (words; characters in unspaced scripts)
with the question, ignoring units frequent enough to be function words (in more than `STOP_SHARE` of the
sentences) and never containing any gold answer of the question. The synthetic benchmark's hint
(`meta.distractor`, a question-like sentence about another entity) is used where present."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd

from . import meta_of, register
from .text import sentences, units

STOP_SHARE = 0.05


class _Index:
    """Inverted index unit -> sentences over the distinct contexts of one file."""

    def __init__(self, contexts: list[str]):
        self.sentences: list[str] = []
        self.context_of: list[int] = []
        self.contexts = {c: i for i, c in enumerate(dict.fromkeys(contexts))}
        for ctx, ci in self.contexts.items():
            for s in sentences(ctx):
                self.sentences.append(s)
                self.context_of.append(ci)
        self.units = [set(units(s)) for s in self.sentences]
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, us in enumerate(self.units):
            for u in us:
                self.postings[u].append(i)
        limit = max(2, int(STOP_SHARE * len(self.sentences)))
        self.stop = {u for u, p in self.postings.items() if len(p) > limit}
        self.folded = [s.casefold() for s in self.sentences]
        self.context_of_arr = np.array(self.context_of)

    def best(self, question: str, context: str, answers: list[str], rng: np.random.Generator) -> str | None:
        own = self.contexts[context]
        answers = [a.casefold() for a in answers if a]
        counts: Counter = Counter()
        for u in set(units(question)) - self.stop:
            counts.update(self.postings.get(u, ()))
        ok = [i for i in counts if self.context_of[i] != own and not any(a in self.folded[i] for a in answers)]
        if ok:
            top = max(counts[i] for i in ok)
            pool = sorted(i for i in ok if counts[i] == top)
        else:  # nothing shares a unit with the question: any foreign sentence without the answer (AddAny-like)
            pool = [i for i in np.flatnonzero(self.context_of_arr != own).tolist()
                    if not any(a in self.folded[i] for a in answers)]
        if not pool:
            return None
        return self.sentences[pool[int(rng.integers(len(pool)))]]


@register("distractor", ("span",),
          "appends a question-like sentence from another context of the same language (or meta.distractor); "
          "answers unchanged")
def distractor(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    index = None
    rows = []
    for row in df.itertuples(index=False):
        extra = meta_of(row.meta).get("distractor")
        if not extra:
            if index is None:
                index = _Index(df["context"].tolist())
            extra = index.best(row.question, row.context, list(row.answers_text), rng)
        if not extra:
            continue
        rows.append({**row._asdict(), "context": row.context + " " + extra})
    return pd.DataFrame(rows, columns=df.columns)
