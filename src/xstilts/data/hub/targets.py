"""XTREME and XTREME-R target datasets: one `HubSpec` per dataset with a converter from the hub's exact schema to
canonical rows (`xstilts.data.schema`). Importing this module registers them in `xstilts.data.hub.REGISTRY`.

Every converter has the signature `convert(ds, *, split, lang) -> pd.DataFrame` (our split names: train, dev,
test; `lang` an ISO 639-1 code) and returns a frame with exactly `schema.COLUMNS[fmt]`, `lang` set, unique string
ids and `meta` "". Schemas and configs: each dataset's card and files on the Hugging Face hub at the pinned
revision (`xstilts.data.hub.revisions`), and google-research/xtreme's task and language tables.

Per-language configs: `spec.config` holds "{lang}", filled by `load_split` with the *hub's* language string
(`hub_lang(key, lang)`: full English name for UD-POS, ISO 639-3 for Tatoeba, ISO 639-1 elsewhere). `load_target`
does both steps (hub language for the config, ISO code for the rows).

Retrieval layout (Tatoeba, BUCC gold pairs): ONE frame holding both sides; rows that are translations of each other
share `pair_id`; the English side has `lang == "en"`. Mewsli-X (`load_mewslix`) and LAReQA (`xstilts.data.hub.lareqa`)
mark each row's `side` ("query" / "candidate"), since both have English queries.

Not on the hub or not usable from it: BUCC 2018 mining (no distractor pool: `load_bucc_pool`), Mewsli-X (not
officially on the hub: `load_mewslix` reads a user-built folder). LAReQA's hub rows lack sentence breaks:
`xstilts.data.hub.lareqa` splits them by its own rule, or reads LAReQA's released files, which have them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ...core.tasks import NER_LABELS, NLI_LABELS, PAWSX_LABELS, UPOS_LABELS  # noqa: F401 (re-exported)
from .. import schema
from . import HubError, HubSpec, get, load_split, register, require_gold
from .languages import ISO3, TYDIQA_PREFIXES, UDPOS_NAMES, XTREME
from .revisions import PINS

# google/xtreme: commit that added the parquet files (2024-02-22), reference §4.2 [V]. Pinned here.
XTREME_REPO = "google/xtreme"
XTREME_REVISION = PINS[XTREME_REPO]
_PINNED = f"revision pinned to {XTREME_REVISION} (the google/xtreme commit that added parquet, 2024-02-22)"

# UPOS_LABELS (tasks.py): the 17 Universal POS tags, alphabetical; tags are always mapped by NAME, so a different
# ClassLabel order on the hub cannot mislabel.

# XCOPA question words -> the English phrase appended to the premise (same template for English COPA training).
COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}

BUCC_INSTRUCTIONS = (
    "BUCC 2018 on the hub (google/xtreme `bucc18.*`) holds only the gold pairs, not the ~100k+ distractor sentences "
    "per language, so bitext mining on it is not the BUCC task and its F1 is not comparable. Get the full data from "
    "the BUCC 2018 site https://comparable.limsi.fr/bucc2018/ (files bucc2018-<lang>-en.{sample,training}-gold.tar.bz2,"
    " unpacked into one folder) or google-research/xtreme `scripts/download_data.sh` (its `bucc2018/` folder, plus "
    "the test gold it deletes) and set `hub.bucc_dir` to that folder (the pipeline target `bucc`; "
    "`load_bucc_pool(root, lang, split)` reads it).")
MEWSLIX_INSTRUCTIONS = (
    "Mewsli-X is not officially on the Hugging Face hub (an unofficial copy, izhx/mewsli-x, exists; its format and "
    "fidelity are unverified, so it is not read). Build it with google-research/google-research "
    "`dense_representations_for_entity_retrieval/mel` (get-mewsli-x.sh; note release mewsli-x_20220518_6 is not "
    "comparable to the XTREME-R paper's numbers), then write, per split, a folder <root>/<split>/ with "
    "`mentions.<lang>.jsonl` (one object per line: {\"id\": str, \"text\": str, \"entity_id\": str}) and "
    "`candidates.jsonl` ({\"entity_id\": str, \"text\": str, optional \"lang\": str, default \"en\"}: the entity "
    "descriptions); entity ids hold no whitespace. Pass <root> to `load_mewslix` (the paper profile: "
    "`hub.mewslix_dir`).")


# ------------------------------------------------------------------------------------------------ helpers


def _rows(ds) -> list[dict]:
    return ds.to_list() if hasattr(ds, "to_list") else list(ds)


def _frame(rows: list[dict], fmt: str, where: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(schema.COLUMNS[fmt]))
    if fmt in ("pair", "mc"):
        df["label"] = df["label"].astype("int64")
    return schema.check(df, fmt, where)


def _need_lang(key: str, lang: str | None) -> str:
    if not lang:
        raise HubError(f"{key}: a language is required (lang=...)")
    return lang


def _class_names(ds, column: str) -> list[str] | None:
    """ClassLabel names of `column` (a ClassLabel or a sequence of ClassLabel), None when it holds no ClassLabel."""
    import datasets

    feature = ds.features[column]
    inner = getattr(feature, "feature", feature)
    return list(inner.names) if isinstance(inner, datasets.ClassLabel) else None


def _tag_mapper(ds, column: str, labels: tuple[str, ...], key: str):
    """A function mapping one row's tags (ClassLabel ints or tag strings) to indices into `labels`, BY NAME."""
    index = {name: i for i, name in enumerate(labels)}
    names = _class_names(ds, column)
    if names is not None:
        unknown = [n for n in names if n not in index]
        if unknown:
            raise HubError(f"{key}: column {column!r} has labels {unknown} outside {list(labels)}")
        table = [index[n] for n in names]
        return lambda tags: [table[t] for t in tags]

    def by_string(tags):
        try:
            return [index[t] for t in tags]
        except (KeyError, TypeError):
            raise HubError(f"{key}: column {column!r} holds neither ClassLabel ids nor tag names from "
                           f"{list(labels)} (found {tags[:5]!r}); cannot map tags by name") from None
    return by_string


def _answers(ans) -> tuple[list[str], list[int]]:
    """SQuAD-style answers: a dict of lists (Sequence of dict) or a list of dicts."""
    if isinstance(ans, dict):
        return [str(t) for t in ans["text"]], [int(s) for s in ans["answer_start"]]
    return [str(a["text"]) for a in ans], [int(a["answer_start"]) for a in ans]


def _span_rows(records, key: str, lang_of) -> tuple[list[dict], int]:
    """Canonical span rows; rows with no answer or any answer whose offset does not match the context are dropped."""
    rows, dropped = [], 0
    for r in records:
        texts, starts = _answers(r["answers"])
        ctx = r["context"]
        if not texts or len(texts) != len(starts) or any(
                s < 0 or ctx[s:s + len(t)] != t for t, s in zip(texts, starts)):
            dropped += 1
            continue
        rows.append({"id": str(r["id"]), "lang": lang_of(r), "context": ctx, "question": r["question"],
                     "answers_text": texts, "answers_start": starts, "meta": ""})
    return rows, dropped


def _span_frame(records, key: str, split: str, lang_of) -> pd.DataFrame:
    rows, dropped = _span_rows(records, key, lang_of)
    df = _frame(rows, "span", f"{key}/{split}")
    df.attrs["dropped"] = dropped
    return df


# ------------------------------------------------------------------------------------------------ converters


def convert_xnli(ds, *, split: str, lang: str | None) -> pd.DataFrame:
    """XNLI (`google/xtreme` config XNLI: all 15 languages in one config, column `language`).

    gold_label is a STRING mapped by name onto tasks.NLI_LABELS; rows of `lang` only (all when lang is None).
    """
    index = {name: i for i, name in enumerate(NLI_LABELS)}
    records = _rows(ds)
    df = pd.DataFrame({
        "id": [f"xnli.{split}.{i}" for i in range(len(records))],
        "lang": [r["language"] for r in records],
        "text_a": [r["sentence1"] for r in records],
        "text_b": [r["sentence2"] for r in records],
        "gold": [(r["gold_label"] or "").strip() for r in records],
    })
    if lang is not None:
        df = df.loc[df["lang"] == lang].reset_index(drop=True)
        if df.empty:
            raise HubError(f"xnli: no rows for language {lang!r} in split {split!r} "
                           f"(languages present: {sorted({r['language'] for r in records})})")
    df = require_gold(df, "gold", "xnli", split)
    unknown = sorted(set(df["gold"]) - set(index))
    if unknown:
        raise HubError(f"xnli: unknown gold_label values {unknown}; expected {list(NLI_LABELS)}")
    df["label"] = df.pop("gold").map(index).astype("int64")
    df["meta"] = ""
    return schema.check(df[list(schema.COLUMNS["pair"])], "pair", f"xnli/{split}/{lang}")


def convert_pawsx(ds, *, split: str, lang: str) -> pd.DataFrame:
    """PAWS-X (`PAWS-X.{lang}`): label is a STRING "0"/"1" (PAWSX_LABELS). Non-English train is machine-translated
    and refused: zero-shot transfer trains on English only."""
    lang = _need_lang("pawsx", lang)
    if split == "train" and lang != "en":
        raise HubError(f"pawsx: the {lang!r} train split on the hub is machine-translated from English (translate-"
                       f"train), not zero-shot; train on lang='en' and evaluate on {lang!r} dev/test")
    records = _rows(ds)
    df = pd.DataFrame({
        "id": [f"pawsx.{lang}.{split}.{r.get('id', i)}" for i, r in enumerate(records)],
        "lang": lang,
        "text_a": [r["sentence1"] for r in records],
        "text_b": [r["sentence2"] for r in records],
        "gold": [str(r["label"]).strip() if r["label"] is not None else "" for r in records],
    })
    df = require_gold(df, "gold", "pawsx", split, placeholder=("", "-1", None))
    bad = sorted(set(df["gold"]) - {"0", "1"})
    if bad:
        raise HubError(f"pawsx: unknown label values {bad}; expected '0'/'1'")
    df["label"] = df.pop("gold").astype("int64")
    df["meta"] = ""
    return schema.check(df[list(schema.COLUMNS["pair"])], "pair", f"pawsx/{split}/{lang}")


def _tagging(ds, *, key: str, split: str, lang: str, column: str, labels) -> pd.DataFrame:
    lang = _need_lang(key, lang)
    to_idx = _tag_mapper(ds, column, labels, key)
    rows = [{"id": f"{key}.{lang}.{split}.{i}", "lang": lang, "tokens": list(r["tokens"]),
             "tags": to_idx(list(r[column])), "meta": ""} for i, r in enumerate(_rows(ds))]
    for r in rows:
        if len(r["tokens"]) != len(r["tags"]):
            raise HubError(f"{key}: {r['id']} has {len(r['tokens'])} tokens but {len(r['tags'])} tags")
    return _frame(rows, "tagging", f"{key}/{split}/{lang}")


def convert_udpos(ds, *, split: str, lang: str) -> pd.DataFrame:
    """UD-POS v2.5 (`udpos.{Name}`): pos_tags (ClassLabel, 17 UPOS) mapped by name into UPOS_LABELS."""
    return _tagging(ds, key="udpos", split=split, lang=lang, column="pos_tags", labels=UPOS_LABELS)


def convert_panx(ds, *, split: str, lang: str) -> pd.DataFrame:
    """PAN-X / WikiANN (`PAN-X.{lang}`): ner_tags mapped by name into tasks.NER_LABELS (`langs` column ignored)."""
    return _tagging(ds, key="panx", split=split, lang=lang, column="ner_tags", labels=NER_LABELS)


def convert_xquad(ds, *, split: str, lang: str) -> pd.DataFrame:
    """XQuAD (`XQuAD.{lang}`, validation only = our test)."""
    lang = _need_lang("xquad", lang)
    return _span_frame(_rows(ds), "xquad", split, lambda r: lang)


def convert_mlqa(ds, *, split: str, lang: str) -> pd.DataFrame:
    """MLQA (`MLQA.{lang}.{lang}`: context and question in the same language, the zero-shot setting)."""
    lang = _need_lang("mlqa", lang)
    return _span_frame(_rows(ds), "mlqa", split, lambda r: lang)


def tydiqa_lang(example_id: str) -> str | None:
    """ISO code of a TyDiQA-GoldP id ("english-123..." -> "en"); None for an unknown prefix."""
    return TYDIQA_PREFIXES.get(str(example_id).split("-", 1)[0].lower())


def convert_tydiqa(ds, *, split: str, lang: str | None) -> pd.DataFrame:
    """TyDiQA-GoldP (`tydiqa`: one config, all languages mixed). The language comes from the id prefix; `lang`
    keeps that language's rows (English train = the mixed train split filtered to `english-`); None keeps all."""
    records = [r for r in _rows(ds) if lang is None or tydiqa_lang(r["id"]) == lang]
    if lang is not None and not records:
        raise HubError(f"tydiqa: no rows with id prefix for {lang!r} in split {split!r}")
    unknown = [r["id"] for r in records if tydiqa_lang(r["id"]) is None]
    if unknown:
        raise HubError(f"tydiqa: ids with unknown language prefix, e.g. {unknown[0]!r}")
    return _span_frame(records, "tydiqa", split, lambda r: tydiqa_lang(r["id"]))


def convert_bucc2018(ds, *, split: str, lang: str, gold_pairs_only: bool = False) -> pd.DataFrame:
    """BUCC 2018 (`bucc18.{lang}`): refused by default (HubError with instructions: the hub copy lacks the
    distractor pool). With gold_pairs_only=True, the gold pairs as retrieval rows (NOT a mining benchmark).
    `source_lang`/`target_lang` hold sentence ids (xtreme.py); pair_id = "<source id>|<target id>"."""
    lang = _need_lang("bucc2018", lang)
    if not gold_pairs_only:
        raise HubError(f"bucc2018 ({lang}): refusing the hub copy by default. {BUCC_INSTRUCTIONS} Pass "
                       f"gold_pairs_only=True to get the gold pairs alone (not usable for mining).")
    rows = []
    for i, r in enumerate(_rows(ds)):
        sid, tid = str(r["source_lang"]), str(r["target_lang"])
        pair = f"{sid}|{tid}"
        rows.append({"id": f"bucc2018.{lang}.{split}.{i}.src", "lang": lang,
                     "text": r["source_sentence"].rstrip("\r\n"), "pair_id": pair})
        rows.append({"id": f"bucc2018.{lang}.{split}.{i}.en", "lang": "en",
                     "text": r["target_sentence"].rstrip("\r\n"), "pair_id": pair})
    return _frame(rows, "retrieval", f"bucc2018/{split}/{lang}")


def convert_tatoeba(ds, *, split: str, lang: str) -> pd.DataFrame:
    """Tatoeba (`tatoeba.{iso3}`, validation = our test): one frame, source (non-English, lang) and target (English,
    lang "en") rows share pair_id `tatoeba.<lang>.<i>`; trailing newlines stripped."""
    lang = _need_lang("tatoeba", lang)
    rows = []
    for i, r in enumerate(_rows(ds)):
        pair = f"tatoeba.{lang}.{i}"
        rows.append({"id": f"{pair}.src", "lang": lang, "text": r["source_sentence"].rstrip("\r\n"),
                     "pair_id": pair})
        rows.append({"id": f"{pair}.en", "lang": "en", "text": r["target_sentence"].rstrip("\r\n"),
                     "pair_id": pair})
    return _frame(rows, "retrieval", f"tatoeba/{split}/{lang}")


def convert_xcopa(ds, *, split: str, lang: str, key: str = "xcopa") -> pd.DataFrame:
    """XCOPA (config = lang): context = premise + " " + COPA_QUESTIONS[question], choices [choice1, choice2]."""
    lang = _need_lang(key, lang)
    records = _rows(ds)
    bad = sorted({r["question"] for r in records} - set(COPA_QUESTIONS))
    if bad:
        raise HubError(f"{key}: unknown question values {bad}; expected {list(COPA_QUESTIONS)}")
    df = pd.DataFrame({
        "id": [f"{key}.{lang}.{split}.{r.get('idx', i)}" for i, r in enumerate(records)],
        "lang": lang,
        "context": [f"{r['premise']} {COPA_QUESTIONS[r['question']]}" for r in records],
        "choices": [[r["choice1"], r["choice2"]] for r in records],
        "label": [-1 if r["label"] is None else int(r["label"]) for r in records],
        "meta": "",
    })
    df = require_gold(df, "label", key, split)
    if not df["label"].isin([0, 1]).all():
        raise HubError(f"{key}: labels must be 0 or 1")
    df["label"] = df["label"].astype("int64")
    return schema.check(df, "mc", f"{key}/{split}/{lang}")


def convert_copa(ds, *, split: str, lang: str | None = None) -> pd.DataFrame:
    """English COPA (`aps/super_glue`, config `copa`): XCOPA's schema, so XCOPA's converter with lang "en"."""
    return convert_xcopa(ds, split=split, lang=lang or "en", key="copa")


def convert_lareqa(ds, *, split: str, lang: str) -> pd.DataFrame:
    """LAReQA = XQuAD-R (config = lang, SQuAD schema) as span rows, one language (rows whose answer offset does not
    match the context are dropped). The retrieval target's files need every language at once and the raw rows:
    `xstilts.data.hub.lareqa.build_pools` (what `prepare` runs)."""
    lang = _need_lang("lareqa", lang)
    return _span_frame(_rows(ds), "lareqa", split, lambda r: lang)


# ------------------------------------------------------------------------------------------------ registry

_XTREME_SPLITS = {"train": "train", "dev": "validation", "test": "test"}

SPECS = [
    HubSpec("xnli", XTREME_REPO, "XNLI", XTREME_REVISION, "pair", convert_xnli, "CC BY-NC 4.0",
            {"dev": "validation", "test": "test"},
            f"{_PINNED}. One config, 15 languages in column `language`; gold_label is a string. No train split: "
            f"English training comes from MNLI (nyu-mll/glue mnli)."),
    HubSpec("pawsx", XTREME_REPO, "PAWS-X.{lang}", XTREME_REVISION, "pair", convert_pawsx,
            "see dataset card (PAWS-X: free use with attribution)", dict(_XTREME_SPLITS),
            f"{_PINNED}. Label is a string '0'/'1'. Non-English train is machine-translated: refused. English train "
            f"49,175 rows here vs 49,401 in XTREME."),
    HubSpec("udpos", XTREME_REPO, "udpos.{lang}", XTREME_REVISION, "tagging", convert_udpos,
            "see dataset card (UD v2.5, per-treebank licences)", dict(_XTREME_SPLITS),
            f"{_PINNED}. Config uses the English language name (languages.UDPOS_NAMES). Zero-shot trains on "
            f"English only; Thai, Tagalog, Yoruba, Kazakh have test (Kazakh also train) only."),
    HubSpec("panx", XTREME_REPO, "PAN-X.{lang}", XTREME_REVISION, "tagging", convert_panx,
            "see dataset card (WikiANN, ODC-BY [U])", dict(_XTREME_SPLITS),
            f"{_PINNED}. XTREME-R extras az gu lt pa pl qu ro uk are absent (see unimelb-nlp/wikiann [U])."),
    HubSpec("xquad", XTREME_REPO, "XQuAD.{lang}", XTREME_REVISION, "span", convert_xquad, "CC BY-SA 4.0",
            {"test": "validation"},
            f"{_PINNED}. Only a validation split (our test); English training is SQuAD v1.1. 'ro' (XTREME-R) absent."),
    HubSpec("mlqa", XTREME_REPO, "MLQA.{lang}.{lang}", XTREME_REVISION, "span", convert_mlqa, "CC BY-SA 3.0",
            {"dev": "validation", "test": "test"},
            f"{_PINNED}. Zero-shot = MLQA.xx.xx; English training is SQuAD v1.1."),
    HubSpec("tydiqa", XTREME_REPO, "tydiqa", XTREME_REVISION, "span", convert_tydiqa, "Apache 2.0",
            {"train": "train", "test": "validation"},
            f"{_PINNED}. One config, all languages mixed; language from the id prefix. English train (3,696) is the "
            f"mixed train split filtered to `english-`. The GoldP dev set is XTREME's evaluation set (our test)."),
    HubSpec("bucc2018", XTREME_REPO, "bucc18.{lang}", XTREME_REVISION, "retrieval", convert_bucc2018,
            "see dataset card", {"dev": "validation", "test": "test"},
            f"{_PINNED}. Gold pairs only (no distractors): the converter refuses by default; see load_bucc_pool."),
    HubSpec("tatoeba", XTREME_REPO, "tatoeba.{lang}", XTREME_REVISION, "retrieval", convert_tatoeba,
            "CC BY 2.0 FR (Tatoeba) [U]", {"test": "validation"},
            f"{_PINNED}. Config uses ISO 639-3 (languages.ISO3). Only a validation split: it is the evaluation set. "
            f"source_sentence non-English, target_sentence English."),
    HubSpec("xcopa", "cambridgeltl/xcopa", "{lang}", PINS["cambridgeltl/xcopa"], "mc", convert_xcopa, "CC BY 4.0",
            {"dev": "validation", "test": "test"},
            "Per-language configs, validation 100 / test 500. XTREME-R's baseline trains on SIQA then English COPA; "
            "here the English training data is COPA (`copa`) and SocialIQA is one of the intermediate arms."),
    HubSpec("copa", "aps/super_glue", "copa", PINS["aps/super_glue"], "mc", convert_copa,
            "BSD 2-Clause (COPA); see dataset card", {"train": "train", "dev": "validation", "test": "test"},
            "English COPA (SuperGLUE; train 400 / validation 100), XCOPA's schema: the English training data of "
            "the xcopa target. Test labels are -1 and are refused."),
    HubSpec("lareqa", "google-research-datasets/xquad_r", "{lang}", PINS["google-research-datasets/xquad_r"], "span",
            convert_lareqa, "CC BY-SA 4.0", {"test": "validation"},
            "Revision UNPINNED: no full SHA of the main branch's parquet conversion was found; the paper profile "
            "needs hub.revisions.lareqa (or hub.lareqa_dir). No sentence breaks on the hub: the retrieval pools "
            "(xstilts.data.hub.lareqa) split contexts by their own rule, so scores are not XTREME-R's."),
]
for _spec in SPECS:
    register(_spec)

# languages that exist as configs of the hub dataset (XTREME-R extras of UD-POS, PAN-X, XQuAD, Tatoeba do not)
HUB_LANGS: dict[str, list[str]] = {k: XTREME[k] for k in
                                   ("pawsx", "udpos", "panx", "xquad", "mlqa", "bucc2018", "tatoeba")}


def hub_lang(key: str, lang: str) -> str:
    """The language string substituted into `spec.config` for our ISO 639-1 `lang`."""
    if key in HUB_LANGS and lang not in HUB_LANGS[key]:
        raise HubError(f"{key}: language {lang!r} is not a config of {get(key).path} "
                       f"(available: {' '.join(HUB_LANGS[key])})")
    if key == "udpos":
        return UDPOS_NAMES[lang]
    if key == "tatoeba":
        return ISO3[lang]
    return lang


def load_target(key: str, split: str, lang: str, *, revision: str | None = None,
                data_files: list[str | Path] | None = None, **convert_kwargs) -> pd.DataFrame:
    """Load one split of one target dataset for one language and convert it to canonical rows."""
    spec = get(key)
    if split not in spec.splits:
        hint = " (English training comes from MNLI)" if key == "xnli" else ""
        raise HubError(f"{key}: no {split!r} split on the hub; available: {sorted(spec.splits)}{hint}")
    if key == "pawsx" and split == "train" and lang != "en":
        convert_pawsx(None, split=split, lang=lang)  # raises before any download
    if key == "bucc2018" and not convert_kwargs.get("gold_pairs_only"):
        convert_bucc2018(None, split=split, lang=lang)  # raises with instructions
    ds = load_split(spec, split, lang=hub_lang(key, lang), revision=revision, data_files=data_files)
    return spec.convert(ds, split=split, lang=lang, **convert_kwargs)


# ------------------------------------------------------------------------------------------------ off-hub data


BUCC_FILE_SPLITS = {"dev": ("dev", "sample"), "test": ("test", "training")}
"""Our split -> its file names: XTREME's `download_data.sh` renames BUCC's sample set to dev and its training set
to test (and deletes the test gold, which the BUCC 2018 training-gold archive still has)."""


def load_bucc_pool(root: str | Path | None, lang: str, split: str = "test") -> pd.DataFrame:
    """BUCC 2018 with its full sentence pools from a local folder: XTREME's `download_data.sh` output `bucc2018/`
    (<lang>-en.<dev|test>.<lang|en|gold>) or the BUCC 2018 archives bucc2018-<lang>-en.{sample,training}-gold
    unpacked (<lang>-en.<sample|training>.<lang|en|gold>); lines "<sentence id>\t<sentence>", gold
    "<src id>\t<en id>".

    Returns retrieval rows for every sentence (ids are BUCC sentence ids, lang <lang> or "en"); gold pairs share
    pair_id "<src id>|<en id>", non-gold sentences have pair_id "". The hub copy cannot be used: HubError.
    """
    if lang not in XTREME["bucc2018"]:
        raise HubError(f"bucc2018: unknown language {lang!r} (BUCC 2018: {' '.join(XTREME['bucc2018'])})")
    names = BUCC_FILE_SPLITS.get(split)
    if names is None:
        raise HubError(f"bucc2018: split must be 'dev' or 'test', not {split!r}")
    if root is None:
        raise HubError(f"bucc2018: no local BUCC folder given. {BUCC_INSTRUCTIONS}")
    root = Path(root)
    layouts = [{side: root / f"{lang}-en.{name}.{side}" for side in (lang, "en", "gold")} for name in names]
    paths = next((lay for lay in layouts if all(p.exists() for p in lay.values())), None)
    if paths is None:
        missing = [str(p) for p in layouts[0].values() if not p.exists()]
        hint = (f" XTREME's download_data.sh deletes the test gold: copy {lang}-en.training.gold from "
                f"bucc2018-{lang}-en.training-gold.tar.bz2 as {layouts[0]['gold'].name}."
                if split == "test" and missing == [str(layouts[0]["gold"])] else "")
        raise HubError(f"bucc2018: missing files {missing} (or their BUCC names "
                       f"{[str(p) for p in layouts[1].values()]}).{hint} {BUCC_INSTRUCTIONS}")

    def read(path):
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a, b = line.split("\t", 1)
                out.append((a.strip(), b.rstrip("\r\n")))
        return out

    gold = read(paths["gold"])
    src_pair = {s: f"{s}|{t}" for s, t in gold}
    en_pair = {t: f"{s}|{t}" for s, t in gold}
    rows = [{"id": sid, "lang": lang, "text": text, "pair_id": src_pair.get(sid, "")}
            for sid, text in read(paths[lang])]
    rows += [{"id": sid, "lang": "en", "text": text, "pair_id": en_pair.get(sid, "")}
             for sid, text in read(paths["en"])]
    return _frame(rows, "retrieval", f"bucc2018/{split}/{lang}")


def load_mewslix(path: str | Path | None, lang: str, split: str = "test") -> pd.DataFrame:
    """Mewsli-X from a user-supplied folder (format: MEWSLIX_INSTRUCTIONS). Retrieval rows: mentions (side "query",
    lang `lang`, id "<lang>.<mention id>") and entity descriptions (side "candidate", lang from the file, default
    "en", id "entity.<entity id>"); a mention and its entity share pair_id = entity id. Candidates no mention links
    to stay in (pair_id = entity id) as distractors. Missing folder/files -> HubError with instructions."""
    if path is None:
        raise HubError(f"mewslix: no local folder given. {MEWSLIX_INSTRUCTIONS}")
    folder = Path(path) / split
    mentions, candidates = folder / f"mentions.{lang}.jsonl", folder / "candidates.jsonl"
    missing = [str(p) for p in (mentions, candidates) if not p.exists()]
    if missing:
        raise HubError(f"mewslix: missing files {missing}. {MEWSLIX_INSTRUCTIONS}")

    def read(p):
        return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]

    rows = [{"id": f"{lang}.{m['id']}", "lang": lang, "text": m["text"], "pair_id": str(m["entity_id"]),
             "side": "query"} for m in read(mentions)]
    rows += [{"id": f"entity.{c['entity_id']}", "lang": c.get("lang") or "en", "text": c["text"],
              "pair_id": str(c["entity_id"]), "side": "candidate"} for c in read(candidates)]
    spaced = next((r["pair_id"] for r in rows if not r["pair_id"] or any(ch.isspace() for ch in r["pair_id"])), None)
    if spaced is not None:
        raise HubError(f"mewslix: entity id {spaced!r} in {folder} is empty or holds whitespace")
    df = pd.DataFrame(rows, columns=[*schema.COLUMNS["retrieval"], "side"])
    return schema.check(df, "retrieval", f"mewslix/{split}/{lang}")
