"""Code-switching (PolyGloss-style word-level substitution, Tan & Joty 2021): a `code_switch.rate` share (at
least one) of the translatable words of an example are replaced by their translation into another language of
`code_switch.into`, chosen per word, through bilingual MUSE dictionaries (`dictionaries.py`; pivot English).
Unlike PolyGloss, the words and languages are drawn at random, not searched to maximise the model's loss, so the
subset does not depend on any model. Gold labels are kept (a word-for-word translation keeps the meaning up to
dictionary ambiguity). In unspaced scripts (Chinese, Japanese, Thai, ...) the words inside a token are found by
greedy longest match against the dictionary. For span QA only the question is switched so answer offsets stay
valid; for tagging the substitution is token for token (multi-word translations are skipped) so tags stay
aligned; for retrieval only the non-English queries are switched."""

from __future__ import annotations

import re

import pandas as pd

from ..data.schema import retrieval_queries
from . import register
from .dictionaries import Dictionaries
from .text import unspaced

_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)
DEFAULT_RATE = 0.3


def _options(options: dict) -> tuple[float, list[str], Dictionaries]:
    cs = options.get("code_switch") or {}
    dictionaries = options.get("dictionaries")
    if not isinstance(dictionaries, Dictionaries):
        raise ValueError("adversary 'code_switch' needs bilingual dictionaries (options['dictionaries']): the "
                         "prepare stage loads them from `adversaries.code_switch.dictionaries`")
    into = list(cs.get("into") or [])
    if not into:
        raise ValueError("adversary 'code_switch': `adversaries.code_switch.into` lists no language to switch into")
    return float(cs.get("rate", DEFAULT_RATE)), into, dictionaries


def _slots(core: str, lang: str, dicts: Dictionaries) -> list[tuple[int, int]]:
    """Switchable spans of one word: the whole word, or, in unspaced scripts (Chinese, Japanese, Thai, ...),
    the dictionary words found by greedy longest match from the left (the classic maximum-matching segmenter)."""
    if not any(unspaced(c) for c in core):
        return [(0, len(core))]
    longest = dicts.longest(lang)
    spans, i = [], 0
    while i < len(core):
        for n in range(min(longest, len(core) - i), 0, -1):
            if dicts.known(core[i:i + n], lang):
                spans.append((i, i + n))
                i += n
                break
        else:
            i += 1
    return spans


def switch_words(words: list[str], lang: str, rate: float, into: list[str], dicts: Dictionaries, rng,
                 single_token: bool = False) -> list[str]:
    """Replace a `rate` share (at least one) of the translatable words (dictionary words inside unspaced-script
    tokens count as words); punctuation around a word stays."""
    targets = [m for m in into if m != lang]
    slots: list[tuple[int, int, int, list[str]]] = []  # (token, start, end, translations)
    for i, w in enumerate(words):
        pre, core, _ = _CORE.match(w).groups()
        for a, b in _slots(core, lang, dicts):
            word = core[a:b]
            found = []
            for m in targets:
                t = dicts.translate(word, lang, m)
                if t and t.casefold() != word.casefold() and not (single_token and " " in t):
                    found.append(t)
            if found:
                slots.append((i, len(pre) + a, len(pre) + b, found))
    if not slots:
        return list(words)
    k = max(1, int(round(rate * len(slots))))
    chosen = sorted(rng.choice(len(slots), size=min(k, len(slots)), replace=False).tolist())
    out = list(words)
    for n in reversed(chosen):  # right to left: earlier offsets in a token stay valid
        i, a, b, found = slots[n]
        t = found[int(rng.integers(len(found)))]
        if out[i][a:a + 1].isupper() and t[:1].islower():
            t = t[:1].upper() + t[1:]
        out[i] = out[i][:a] + t + out[i][b:]
    return out


def switch_text(text: str, lang: str, rate: float, into: list[str], dicts: Dictionaries, rng) -> str:
    return " ".join(switch_words(text.split(" "), lang, rate, into, dicts, rng))


@register("code_switch", ("pair", "mc", "span", "tagging", "retrieval"),
          "a code_switch.rate share of translatable words replaced by their MUSE-dictionary translation into "
          "another language of code_switch.into")
def code_switch(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    rate, into, dicts = _options(options)
    if "pair_id" in df.columns:  # retrieval: switched queries, searched against the clean candidates
        df = df[retrieval_queries(df)].reset_index(drop=True)
    text_cols = sorted({"text_a", "text_b", "context", "question", "text"} & set(df.columns))
    if "answers_start" in df.columns:
        text_cols = ["question"]
    rows = []
    for row in df.to_dict("records"):
        new = dict(row)
        lang = row["lang"]
        for col in text_cols:
            new[col] = switch_text(row[col], lang, rate, into, dicts, rng)
        if "choices" in row:
            new["choices"] = [switch_text(c, lang, rate, into, dicts, rng) for c in row["choices"]]
        if "tokens" in row:
            new["tokens"] = switch_words(list(row["tokens"]), lang, rate, into, dicts, rng, single_token=True)
        changed = any(new[c] != row[c] for c in text_cols)
        changed |= "choices" in row and list(new["choices"]) != list(row["choices"])
        changed |= "tokens" in row and list(new["tokens"]) != list(row["tokens"])
        if changed:
            rows.append(new)
    return pd.DataFrame(rows, columns=df.columns)
