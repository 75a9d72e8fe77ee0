"""Language-agnostic text units shared by the adversaries: words where the script separates them with spaces
(Latin, Cyrillic, Greek, Arabic, Devanagari, Hangul, ...), characters for Han and kana, letter-cluster bigrams for
the unspaced alphabets (Thai, Lao, Khmer, Myanmar, Tibetan); and sentence splitting on the sentence-final marks of
every script in the XTREME-R language tables (and on spaces between Thai/Lao/Khmer/Myanmar text)."""

from __future__ import annotations

import re
import unicodedata

_UNSPACED = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")
_LOGOGRAPHIC = ("CJK", "HIRAGANA", "KATAKANA")  # a character is a morpheme or syllable: unigrams
# the other unspaced scripts are alphabets (a Thai letter means nothing alone): bigrams of letter clusters
# . ! ? and their full-width / script-specific forms: CJK 。！？, Devanagari danda । ॥, Arabic ؟ ۔, Armenian ։,
# Ethiopic ።, Myanmar ။.
# Thai, Lao, Khmer and Myanmar separate sentences (and clauses) with a space, not a mark
_SPACE_ENDS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？।॥؟۔։።။])\s+|(?<=[。！？])"
                           rf"|(?<=[{_SPACE_ENDS}])\s+(?=[{_SPACE_ENDS}])")


def unspaced(ch: str) -> bool:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return False
    return name.startswith(_UNSPACED)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def words(text: str) -> list[str]:
    """Maximal runs of letters, digits and combining marks (a regex \\w+ would cut Devanagari at its vowel
    signs and viramas, which are marks, not letters)."""
    out, buf = [], ""
    for ch in text:
        if _is_word_char(ch):
            buf += ch
        elif buf:
            out.append(buf)
            buf = ""
    if buf:
        out.append(buf)
    return out


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ")[0]
    except ValueError:
        return ""


def _runs(word: str) -> list[tuple[str, str]]:
    """(kind, text) runs of one word: "spaced" text, "logo" (one CJK/kana character + its marks) or "alpha"
    (a run of Thai/Lao/Khmer/Myanmar/Tibetan letter clusters)."""
    out: list[tuple[str, str]] = []
    for ch in word:
        if unicodedata.category(ch).startswith("M") and out:
            out[-1] = (out[-1][0], out[-1][1] + ch)  # a mark stays with its base
            continue
        kind = ("logo" if _script(ch).startswith(_LOGOGRAPHIC) else "alpha") if unspaced(ch) else "spaced"
        if out and out[-1][0] == kind and kind != "logo":
            out[-1] = (kind, out[-1][1] + ch)
        else:
            out.append((kind, ch))
    return out


def clusters(text: str) -> list[str]:
    """Grapheme-like clusters: a base character followed by its combining marks (shared by every adversary that
    cuts or edits text below the word, so that no mark is separated from its base)."""
    out: list[str] = []
    for ch in text:
        if out and unicodedata.category(ch).startswith("M"):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def units(text: str) -> list[str]:
    """Case-folded comparison units: words; single characters of logographic scripts (Han, kana); bigrams of
    letter clusters in the unspaced alphabets (Thai, Lao, Khmer, Myanmar, Tibetan), whose single letters mean
    nothing. Combining marks stay with their base (Thai vowel and tone marks, Devanagari matras)."""
    out: list[str] = []
    for word in words(text.casefold()):
        for kind, run in _runs(word):
            if kind != "alpha":
                out.append(run)
                continue
            cl = clusters(run)
            out += ["".join(cl[i:i + 2]) for i in range(len(cl) - 1)] if len(cl) > 1 else cl
    return out


def overlap(hypothesis: str, premise: str) -> float:
    """Share of the hypothesis's units (with repetition) that occur in the premise (HANS's lexical overlap)."""
    h = units(hypothesis)
    if not h:
        return 0.0
    p = set(units(premise))
    return sum(u in p for u in h) / len(h)


def sentences(text: str) -> list[str]:
    """Sentences of `text`, split after sentence-final punctuation of any script; whitespace trimmed."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
