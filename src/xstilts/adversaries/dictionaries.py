"""Bilingual dictionaries in MUSE format (Conneau et al. 2018, facebookresearch/MUSE `dictionaries/en-<xx>.txt`):
one "english_word foreign_word" pair per line, separated by a tab or spaces, several lines per English word when
it has several translations (the first listed is used). The code-switching adversary reads `en-<lang>.txt` for
every language it switches from or into; the embedded benchmark's are generated from its lexicon by `prepare`
(`data/prepared/dictionaries/`), real languages' are user-supplied (`adversaries.code_switch.dictionaries`)."""

from __future__ import annotations

from pathlib import Path

from ..core.io import atomic_path

ENGLISH = "en"


def muse_path(directory: Path, lang: str) -> Path:
    return Path(directory) / f"en-{lang}.txt"


def read_muse(path: Path) -> dict[str, str]:
    """{english: foreign} from one MUSE file (first translation of each word); ValueError naming the line."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{n}: a MUSE dictionary line is 'english_word foreign_word' (2 fields), "
                                 f"got {len(parts)}: {line.rstrip()!r}")
            out.setdefault(parts[0].casefold(), parts[1])
    if not out:
        raise ValueError(f"{path}: empty dictionary")
    return out


def write_muse(path: Path, pairs: dict[str, str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{e}\t{f}\n" for e, f in sorted(pairs.items())), encoding="utf-8")


class Dictionaries:
    """Word translation between any two languages through English (pivot)."""

    def __init__(self, english_to: dict[str, dict[str, str]]):
        self.english_to = {lang: dict(t) for lang, t in english_to.items()}
        self.to_english: dict[str, dict[str, str]] = {}
        for lang, table in self.english_to.items():
            inv: dict[str, str] = {}
            for e, f in table.items():
                inv.setdefault(f.casefold(), e)
            self.to_english[lang] = inv
        self.english_words = {e for t in self.english_to.values() for e in t}
        self._longest = {lang: max(map(len, t), default=1) for lang, t in self.to_english.items()}
        self._longest[ENGLISH] = max(map(len, self.english_words), default=1)

    @classmethod
    def from_dir(cls, directory: Path, languages: list[str], key: str) -> Dictionaries:
        """Read `en-<lang>.txt` for every non-English language; a missing file is an error naming `key`."""
        directory = Path(directory)
        missing = [str(muse_path(directory, lang)) for lang in languages
                   if lang != ENGLISH and not muse_path(directory, lang).is_file()]
        if missing:
            raise FileNotFoundError(f"`{key}`: missing MUSE dictionary file(s) {', '.join(missing)} (one "
                                    f"'english_word foreign_word' pair per line, as facebookresearch/MUSE's "
                                    f"dictionaries/en-<lang>.txt)")
        return cls({lang: read_muse(muse_path(directory, lang)) for lang in languages if lang != ENGLISH})


    def known(self, word: str, lang: str) -> bool:
        w = word.casefold()
        if lang == ENGLISH:
            return w in self.english_words
        return w in self.to_english.get(lang, {})

    def longest(self, lang: str) -> int:
        """Length of the longest dictionary word of `lang` (bounds the longest-match segmenter)."""
        return self._longest.get(lang, 1)

    @property
    def languages(self) -> list[str]:
        return [ENGLISH, *sorted(self.english_to)]

    def translate(self, word: str, src: str, dst: str) -> str | None:
        """`word` of language `src` in language `dst`, or None when a dictionary lacks it."""
        w = word.casefold()
        english = w if src == ENGLISH else self.to_english.get(src, {}).get(w)
        if english is None:
            return None
        if dst == ENGLISH:
            return english
        return self.english_to.get(dst, {}).get(english)
