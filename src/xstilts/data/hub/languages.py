"""Language lists of the XTREME and XTREME-R target tasks, as data, plus the tables that turn our ISO 639-1 codes
into `google/xtreme` config names.

Sources: `XTREME_TASK2LANGS` (XTREME) and `XTREME_R_TASK2LANGS` (XTREME-R) in google-research/xtreme's
`evaluate.py` (github.com/google-research/xtreme), and the config names of the `google/xtreme` dataset on the
Hugging Face hub. Lists are sorted ISO 639-1 codes.
"""

from __future__ import annotations

XTREME: dict[str, list[str]] = {
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh".split(),
    "pawsx": "de en es fr ja ko zh".split(),
    "udpos": ("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo "
              "zh").split(),
    "panx": ("af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te "
             "th tl tr ur vi yo zh").split(),
    "xquad": "ar de el en es hi ru th tr vi zh".split(),
    "mlqa": "ar de en es hi vi zh".split(),
    "tydiqa": "ar bn en fi id ko ru sw te".split(),
    "bucc2018": "de fr ru zh".split(),  # each vs English
    # 36 in XTREME's code (33 in the XTREME paper's table); each vs English
    "tatoeba": ("af ar bg bn de el es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr nl pt ru sw ta te th tl tr "
                "ur vi zh").split(),
}

XTREME_R: dict[str, list[str]] = {
    "xnli": list(XTREME["xnli"]),
    "xcopa": "et ht id it qu sw ta th tr vi zh".split(),
    "udpos": sorted(XTREME["udpos"] + "lt pl ro uk wo".split()),  # 38
    "panx": sorted(XTREME["panx"] + "az gu lt pa pl qu ro uk".split()),  # 48
    "xquad": sorted(XTREME["xquad"] + ["ro"]),  # 12
    "mlqa": list(XTREME["mlqa"]),
    "tydiqa": list(XTREME["tydiqa"]),
    "tatoeba": sorted(XTREME["tatoeba"] + "az lt pl ro uk".split()),  # 41
    "mewslix": "ar de en es fa ja pl ro ta tr uk".split(),
    # LAReQA = XQuAD-R over the 11 XQuAD languages (XTREME's evaluate.py lists `lareqa: []`)
    "lareqa": list(XTREME["xquad"]),
}

VERSIONS: dict[str, dict[str, list[str]]] = {"xtreme": XTREME, "xtreme-r": XTREME_R}

# UD-POS configs on google/xtreme are `udpos.<English name>`. The 33 XTREME names are the `_UD_POS_LANG` list of
# huggingface/datasets `datasets/xtreme/xtreme.py` (checked). The 5 XTREME-R extras have no google/xtreme config;
# their names are the UD treebank language names, given for completeness (unverified as config names).
UDPOS_NAMES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
    # XTREME-R only, not configs of google/xtreme (unverified)
    "lt": "Lithuanian", "pl": "Polish", "ro": "Romanian", "uk": "Ukrainian", "wo": "Wolof",
}

# Tatoeba configs on google/xtreme are `tatoeba.<ISO 639-3>`; the 36 codes are those of the reference §4.2 (LASER's
# Tatoeba file names: macrolanguage members for fa -> pes, sw -> swh, zh -> cmn).
ISO3: dict[str, str] = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
    # XTREME-R only, not configs of google/xtreme; LASER file codes unverified
    "az": "aze", "lt": "lit", "pl": "pol", "ro": "ron", "uk": "ukr",
}

# TyDiQA-GoldP ids start with the language's English name ("english-...") [U in the reference: prefix checked only
# against the GoldP release's naming].
TYDIQA_PREFIXES: dict[str, str] = {
    "arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id", "korean": "ko",
    "russian": "ru", "swahili": "sw", "telugu": "te",
}


def languages(task: str, version: str = "xtreme-r") -> list[str]:
    """The languages of `task` in benchmark `version` ("xtreme" or "xtreme-r"), as ISO 639-1 codes."""
    table = VERSIONS.get(version.lower())
    if table is None:
        raise KeyError(f"unknown benchmark version {version!r} (asked for task {task!r}); "
                       f"known versions: {', '.join(VERSIONS)}")
    if task not in table:
        raise KeyError(f"task {task!r} is not part of benchmark version {version!r}; "
                       f"its tasks: {', '.join(table)}")
    return list(table[task])
