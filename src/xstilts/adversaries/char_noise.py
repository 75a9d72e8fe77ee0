"""Character noise (typos) for any text format, per-script aware: each edited word gets one swap, deletion,
insertion or substitution of a base character, with inserted/substituted characters drawn from the same Unicode
script as the word (never mixing scripts, never separating a combining mark from its base). Gold labels are
unchanged; for span QA only the question is noised so answer offsets stay valid; for retrieval the English
candidates are dropped and only the queries are noised."""

from __future__ import annotations

import unicodedata
from collections import defaultdict

import numpy as np
import pandas as pd

from ..data.schema import retrieval_queries
from . import register
from .text import clusters


def script_of(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ")[0]
    except ValueError:
        return "UNKNOWN"


def _is_base(ch: str) -> bool:
    return ch.isalpha() and not unicodedata.category(ch).startswith("M")


def alphabets(texts: list[str]) -> dict[str, list[str]]:
    by_script: dict[str, set[str]] = defaultdict(set)
    for t in texts:
        for ch in t:
            if _is_base(ch):
                by_script[script_of(ch)].add(ch)
    return {k: sorted(v) for k, v in by_script.items()}


def noise_word(word: str, rng: np.random.Generator, alpha: dict[str, list[str]]) -> str:
    cl = clusters(word)
    bases = [i for i, c in enumerate(cl) if _is_base(c[0])]
    if len(bases) < 2:
        return word
    script = script_of(cl[bases[0]][0])
    pool = alpha.get(script) or [cl[i][0] for i in bases]
    for _ in range(8):
        op = int(rng.integers(4))
        new = list(cl)
        i = bases[int(rng.integers(len(bases)))]
        if op == 0 and i + 1 < len(new) and _is_base(new[i + 1][0]):
            new[i], new[i + 1] = new[i + 1], new[i]
        elif op == 1:
            del new[i]
        elif op == 2:
            new.insert(i + 1, pool[int(rng.integers(len(pool)))])
        else:
            new[i] = pool[int(rng.integers(len(pool)))] + new[i][1:]
        out = "".join(new)
        if out != word:
            return out
    return word


def noise_text(text: str, rate: float, rng: np.random.Generator, alpha: dict[str, list[str]]) -> str:
    return " ".join(noise_words(text.split(" "), rate, rng, alpha))


def noise_words(words: list[str], rate: float, rng: np.random.Generator, alpha: dict[str, list[str]]) -> list[str]:
    """Edit a `rate` share (at least one) of the words that have two or more base characters."""
    words = list(words)
    eligible = [i for i, w in enumerate(words) if sum(_is_base(c) for c in w) >= 2]
    if not eligible:
        return words
    k = max(1, int(round(rate * len(eligible))))
    for i in rng.choice(eligible, size=min(k, len(eligible)), replace=False):
        words[i] = noise_word(words[i], rng, alpha)
    return words


@register("char_noise", ("pair", "mc", "span", "tagging", "retrieval"),
          "one character edit in a `char_noise_rate` share of words (retrieval: of the queries only)")
def char_noise(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    rate = float(options.get("char_noise_rate", 0.3))
    if "pair_id" in df.columns:  # retrieval: noisy queries, searched against the clean candidates
        df = df[retrieval_queries(df)].reset_index(drop=True)
    text_cols = {"text_a", "text_b", "context", "question", "text"} & set(df.columns)
    if "answers_start" in df.columns:
        text_cols = {"question"}
    corpus: list[str] = []
    for col in text_cols:
        corpus += df[col].tolist()
    if "tokens" in df.columns:
        corpus += [" ".join(t) for t in df["tokens"]]
    alpha = alphabets(corpus)
    out = df.copy()
    for col in sorted(text_cols):
        out[col] = [noise_text(t, rate, rng, alpha) for t in df[col]]
    if "choices" in df.columns:
        out["choices"] = [[noise_text(c, rate, rng, alpha) for c in ch] for ch in df["choices"]]
    if "tokens" in df.columns:
        out["tokens"] = [noise_words(list(t), rate, rng, alpha) for t in df["tokens"]]
    return out
