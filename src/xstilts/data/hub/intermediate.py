"""Intermediate-task datasets from the Hugging Face hub (and CCGbank from a local copy), converted to canonical rows.

One `HubSpec` per dataset is registered on import: mnli, qqp, squad_v1, squad_v2, hellaswag, anli, snli (only
for jiant's "ANLI+MNLI+SNLI" composition), cosmosqa, commonsenseqa, socialiqa. Every converter has the signature
`convert(ds, *, split, lang=None) -> pd.DataFrame`, takes a `datasets.Dataset` in the hub's exact schema and
returns rows in the canonical schema (`xstilts.data.schema.COLUMNS[fmt]`, checked with `schema.check`).
Rows dropped by a converter (no gold label, unanswerable) are counted in `df.attrs["dropped"]`.

Rules shared by the converters:
- class labels are mapped **by name** through the dataset's own `ClassLabel` names (never by integer order);
  a `-1` ("no gold label") is dropped; a split with placeholder labels only (hub test splits) is refused with
  `HubError` (via `require_gold`);
- `lang` is always "en" (English intermediate data); `meta` is ""; `id` is a unique string.

CCGbank is licensed (LDC2005T13) and never downloaded: `load_ccgbank(path, split)` reads a user-supplied copy in
a simple parallel-file format (see its docstring) and returns `(df, labels)`.

Revisions: every spec pins a commit SHA (`revisions.PINS`, with where each SHA was seen). No network was available
here, so a SHA is known to exist and to hold parquet data from third-party code that loads it, not from a load
made here; the first real run records what it loaded (prepare metrics).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ...core.tasks import NLI_LABELS
from .. import schema
from . import HubError, HubSpec, register, require_gold
from .revisions import PINS

QQP_LABELS = ("not_duplicate", "duplicate")
CCG_LICENCE = "LDC2005T13"


# ---- helpers ------------------------------------------------------------------------------------------------------
def _check_lang(key: str, lang: str | None) -> str:
    if lang not in (None, "en"):
        raise HubError(f"{key}: English-only intermediate dataset; got lang={lang!r}")
    return "en"


def _frame(ds) -> pd.DataFrame:
    """The dataset as a DataFrame (works for `datasets.Dataset` and, for convenience, a DataFrame)."""
    return ds.copy() if isinstance(ds, pd.DataFrame) else ds.to_pandas()


def _features(ds) -> Mapping:
    return getattr(ds, "features", None) or {}


def _unique_ids(values: Iterable) -> list[str]:
    """String ids; a repeated id gets a `#k` suffix so ids stay unique."""
    seen: dict[str, int] = {}
    out = []
    for v in values:
        s = str(v)
        if s in seen:
            seen[s] += 1
            s = f"{s}#{seen[s]}"
        else:
            seen[s] = 0
        out.append(s)
    return out


def _label_by_name(ds, df: pd.DataFrame, column: str, inventory: Sequence[str], key: str) -> pd.Series:
    """Map the hub's label column to indices into `inventory` by label NAME; placeholders (-1, "", None) -> -1.

    With a `ClassLabel` feature the dataset's own `names` are used (so a different integer order is harmless);
    a string column is read as names directly; a plain integer column cannot be mapped by name -> HubError.
    """
    feat = _features(ds).get(column)
    names = getattr(feat, "names", None)
    ours = {name: i for i, name in enumerate(inventory)}
    values = df[column]
    if names is not None:
        unknown = [n for n in names if n not in ours]
        if unknown:
            raise HubError(f"{key}: label names {unknown} of column {column!r} are not in {list(inventory)}")
        lookup = {i: ours[n] for i, n in enumerate(names)}
        return values.map(lambda v: -1 if pd.isna(v) or int(v) < 0 else lookup[int(v)]).astype("int64")
    if pd.api.types.is_string_dtype(values) or values.map(lambda v: isinstance(v, str) or v is None).all():
        def conv(v):
            if v is None or (not isinstance(v, str) and pd.isna(v)) or str(v).strip() == "":
                return -1
            if str(v).strip() not in ours:
                raise HubError(f"{key}: label {v!r} of column {column!r} is not in {list(inventory)}")
            return ours[str(v).strip()]
        return values.map(conv).astype("int64")
    raise HubError(f"{key}: column {column!r} has no ClassLabel names (feature {feat!r}); cannot map labels by "
                   f"name. Load the hub's parquet files (their schema metadata carries the ClassLabel).")


def _int_label(values: pd.Series, offset: int, n: int, key: str, column: str) -> pd.Series:
    """String/int labels ("0".."3", "1".."3", int32) -> index (value - offset); empty/None/-1 -> -1."""
    def conv(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return -1
        s = str(v).strip()
        if s == "" or s == "-1":
            return -1
        try:
            i = int(s) - offset
        except ValueError:
            raise HubError(f"{key}: label {v!r} in column {column!r} is not an integer") from None
        if not 0 <= i < n:
            raise HubError(f"{key}: label {v!r} in column {column!r} is out of range for {n} choices")
        return i
    return values.map(conv).astype("int64")


def _gold(df: pd.DataFrame, key: str, split: str, fmt: str) -> pd.DataFrame:
    """Drop rows without gold labels (refuse a split with none), count them, check the canonical schema."""
    n = len(df)
    if n:
        df = require_gold(df, "label", key, split)
    df = df[list(schema.COLUMNS[fmt])].reset_index(drop=True)
    df.attrs["dropped"] = n - len(df)
    return schema.check(df, fmt, f"hub:{key}/{split}")


def _pair(ds, *, key, split, lang, a, b, inventory, id_col=None) -> pd.DataFrame:
    lang = _check_lang(key, lang)
    src = _frame(ds)
    ids = src[id_col] if id_col else pd.Series(range(len(src)))
    df = pd.DataFrame({
        "id": _unique_ids(f"{split}-{i}" if id_col != "uid" else i for i in ids),
        "lang": lang,
        "text_a": src[a].astype(str).tolist(),
        "text_b": src[b].astype(str).tolist(),
        "label": _label_by_name(ds, src, "label", inventory, key).tolist(),
        "meta": "",
    })
    df["label"] = df["label"].astype("int64")
    return _gold(df, key, split, "pair")


def _mc(key, split, lang, ids, contexts, choices, labels) -> pd.DataFrame:
    lang = _check_lang(key, lang)
    df = pd.DataFrame({"id": _unique_ids(ids), "lang": lang, "context": [str(c) for c in contexts],
                       "choices": [[str(x) for x in ch] for ch in choices], "label": list(labels), "meta": ""})
    df["label"] = df["label"].astype("int64")
    return _gold(df, key, split, "mc")


# ---- pair: MNLI, QQP, ANLI, SNLI ----------------------------------------------------------------------------------
def convert_mnli(ds, *, split, lang=None) -> pd.DataFrame:
    """glue/mnli: premise, hypothesis, label ClassLabel[entailment, neutral, contradiction], idx int32."""
    return _pair(ds, key="mnli", split=split, lang=lang, a="premise", b="hypothesis", inventory=NLI_LABELS,
                 id_col="idx")


def convert_qqp(ds, *, split, lang=None) -> pd.DataFrame:
    """glue/qqp: question1, question2, label ClassLabel[not_duplicate, duplicate], idx int32."""
    return _pair(ds, key="qqp", split=split, lang=lang, a="question1", b="question2", inventory=QQP_LABELS,
                 id_col="idx")


def convert_anli(ds, *, split, lang=None) -> pd.DataFrame:
    """facebook/anli: uid, premise, hypothesis, label ClassLabel[entailment, neutral, contradiction], reason."""
    return _pair(ds, key="anli", split=split, lang=lang, a="premise", b="hypothesis", inventory=NLI_LABELS,
                 id_col="uid")


def convert_snli(ds, *, split, lang=None) -> pd.DataFrame:
    """stanfordnlp/snli: premise, hypothesis, label ClassLabel[entailment, neutral, contradiction]; -1 dropped."""
    return _pair(ds, key="snli", split=split, lang=lang, a="premise", b="hypothesis", inventory=NLI_LABELS)


ANLI_ROUNDS = ("r1", "r2", "r3")


def anli_rounds(ds_by_round: Mapping[str, object], *, split: str = "train",
                rounds: Sequence[str] = ANLI_ROUNDS) -> pd.DataFrame:
    """ANLI over a subset of rounds: `ds_by_round` maps "r1"/"r2"/"r3" to that round's hub split (e.g. the
    datasets for train_r1, train_r2, train_r3); the converted rounds are concatenated in `rounds` order with ids
    prefixed by round ("r2:<uid>"). `split` is our split name (train/dev/test)."""
    bad = [r for r in rounds if r not in ANLI_ROUNDS]
    if bad or not rounds:
        raise HubError(f"anli: rounds must be a non-empty subset of {ANLI_ROUNDS}; got {tuple(rounds)}")
    missing = [r for r in rounds if r not in ds_by_round]
    if missing:
        raise HubError(f"anli: no data given for rounds {missing} (have {sorted(ds_by_round)})")
    parts, dropped = [], 0
    for r in rounds:
        part = convert_anli(ds_by_round[r], split=f"{split}_{r}")
        dropped += part.attrs.get("dropped", 0)
        part = part.assign(id=[f"{r}:{i}" for i in part["id"]])
        parts.append(part)
    df = pd.concat(parts, ignore_index=True)
    df.attrs = {"dropped": dropped, "rounds": list(rounds)}
    return schema.check(df, "pair", f"hub:anli/{split}[{'+'.join(rounds)}]")


def compose_anli_plus(anli_df: pd.DataFrame, mnli_df: pd.DataFrame, snli_df: pd.DataFrame) -> pd.DataFrame:
    """jiant's "full ANLI" training set = SNLI + MNLI + ANLI R1-R3 (jiant `guides/tasks/task_specific.md`).

    Concatenates the three canonical pair frames (all with NLI_LABELS indices) with ids prefixed by source
    ("anli:", "mnli:", "snli:"). jiant samples the sources proportionally to their sizes, which is what uniform
    sampling over this concatenation does. `df.attrs["sources"]` holds the row count per source. Whether the
    paper's ANLI arm used this composition or ANLI alone is not known (paper body not available).
    """
    parts = []
    for name, df in (("anli", anli_df), ("mnli", mnli_df), ("snli", snli_df)):
        schema.check(df, "pair", f"compose_anli_plus:{name}")
        parts.append(df[list(schema.COLUMNS["pair"])].assign(id=[f"{name}:{i}" for i in df["id"]]))
    out = pd.concat(parts, ignore_index=True)
    out["label"] = out["label"].astype("int64")
    out.attrs = {"sources": {"anli": len(anli_df), "mnli": len(mnli_df), "snli": len(snli_df)}}
    return schema.check(out, "pair", "compose_anli_plus")


# ---- span: SQuAD v1.1 / v2.0 --------------------------------------------------------------------------------------
def _squad(ds, *, key, split, lang, keep_unanswerable=False) -> pd.DataFrame:
    lang = _check_lang(key, lang)
    src = _frame(ds)
    texts = [[str(t) for t in a["text"]] for a in src["answers"]]
    starts = [[int(s) for s in a["answer_start"]] for a in src["answers"]]
    df = pd.DataFrame({"id": _unique_ids(src["id"]), "lang": lang, "context": src["context"].astype(str).tolist(),
                       "question": src["question"].astype(str).tolist(), "answers_text": texts,
                       "answers_start": starts, "meta": ""})
    n = len(df)
    if not keep_unanswerable:
        df = df[[len(t) > 0 for t in texts]].reset_index(drop=True)
    df = df[list(schema.COLUMNS["span"])]
    df.attrs["dropped"] = n - len(df)
    return schema.check(df, "span", f"hub:{key}/{split}")


def convert_squad_v1(ds, *, split, lang=None) -> pd.DataFrame:
    """rajpurkar/squad: id, title, context, question, answers{text: [str], answer_start: [int32]}."""
    return _squad(ds, key="squad_v1", split=split, lang=lang)


def convert_squad_v2(ds, *, split, lang=None, keep_unanswerable: bool = False) -> pd.DataFrame:
    """rajpurkar/squad_v2: as v1.1; unanswerable questions (empty answers) are dropped by default — the canonical
    span format and our SQuAD-F1 head are extractive-only — and counted in `df.attrs["dropped"]`;
    `keep_unanswerable=True` keeps them with empty answer lists."""
    return _squad(ds, key="squad_v2", split=split, lang=lang, keep_unanswerable=keep_unanswerable)


# ---- multiple choice ----------------------------------------------------------------------------------------------
def convert_hellaswag(ds, *, split, lang=None) -> pd.DataFrame:
    """Rowan/hellaswag: ind, activity_label, ctx_a, ctx_b, ctx, endings [str], source_id, split, split_type,
    label STRING "0".."3" ("" in test -> refused). context = ctx (= ctx_a + " " + ctx_b; rebuilt if ctx is empty)."""
    src = _frame(ds)
    ctx = [c if isinstance(c, str) and c.strip() else f"{a} {b}".strip()
           for c, a, b in zip(src["ctx"], src["ctx_a"], src["ctx_b"])]
    return _mc("hellaswag", split, lang, (f"{split}-{i}" for i in src["ind"]), ctx, src["endings"],
               _int_label(src["label"], 0, 4, "hellaswag", "label"))


def convert_cosmosqa(ds, *, split, lang=None) -> pd.DataFrame:
    """allenai/cosmos_qa: id, context, question, answer0..answer3, label int32. context = context + " " + question."""
    src = _frame(ds)
    ctx = [f"{c} {q}" for c, q in zip(src["context"], src["question"])]
    choices = list(zip(*(src[f"answer{i}"] for i in range(4))))
    return _mc("cosmosqa", split, lang, src["id"], ctx, choices, _int_label(src["label"], 0, 4, "cosmosqa", "label"))


def convert_commonsenseqa(ds, *, split, lang=None) -> pd.DataFrame:
    """tau/commonsense_qa: id, question, question_concept, choices{label: ["A".."E"], text: [str]}, answerKey str
    (empty in test -> refused). label = position of answerKey in choices.label."""
    src = _frame(ds)
    labels = []
    for key_letter, ch in zip(src["answerKey"], src["choices"]):
        letters = [str(x) for x in ch["label"]]
        k = "" if key_letter is None or (not isinstance(key_letter, str) and pd.isna(key_letter)) else key_letter
        k = k.strip()
        if not k:
            labels.append(-1)
        elif k in letters:
            labels.append(letters.index(k))
        else:
            raise HubError(f"commonsenseqa: answerKey {k!r} not among choice labels {letters}")
    return _mc("commonsenseqa", split, lang, src["id"], src["question"], (ch["text"] for ch in src["choices"]),
               labels)


def convert_socialiqa(ds, *, split, lang=None) -> pd.DataFrame:
    """allenai/social_i_qa: context, question, answerA/B/C, label STRING "1".."3" -> 0..2.
    context = context + " " + question (as for Cosmos QA); no id column on the hub -> "<split>-<row>"."""
    src = _frame(ds)
    ctx = [f"{c} {q}" for c, q in zip(src["context"], src["question"])]
    choices = list(zip(src["answerA"], src["answerB"], src["answerC"]))
    return _mc("socialiqa", split, lang, (f"{split}-{i}" for i in range(len(src))), ctx, choices,
               _int_label(src["label"], 1, 3, "socialiqa", "label"))


# ---- CCGbank (local, licensed) ------------------------------------------------------------------------------------
CCG_SPLITS = ("train", "dev", "test")


def load_ccgbank(path: str | Path | None, split: str = "train", *,
                 labels: Sequence[str] | None = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """CCG supertagging rows from a user-supplied CCGbank export; returns `(df, labels)`.

    CCGbank (LDC2005T13) is licensed by the LDC and is never downloaded. Expected layout of `path` (a directory):

        <split>.tokens      one sentence per line, tokens separated by single spaces
        <split>.tags        the parallel file: one line per sentence, one CCG supertag per token, space-separated
        tags_to_id.json     optional: {"<supertag>": id, ...} (jiant's inventory file); ids 0..K-1

    `split` is train | dev | test (the usual sections: train 02-21, dev 00, test 23). The label inventory is, in
    order of precedence, `labels`, then tags_to_id.json (ordered by id), else the sorted set of supertags in
    `train.tags`. `tags` in the rows are indices into that inventory (it differs from the synthetic CCG_LABELS,
    hence returned alongside); a supertag outside the inventory -> HubError. Blank lines are skipped.
    """
    if path is None or not Path(path).is_dir():
        raise HubError(
            f"ccg: CCGbank is licensed (LDC {CCG_LICENCE}, https://catalog.ldc.upenn.edu/{CCG_LICENCE}) and is never "
            f"downloaded; got path={None if path is None else str(path)!r}. Export it as <split>.tokens / "
            f"<split>.tags (+ optional tags_to_id.json) into a directory and point the ccg data path in params.yaml "
            f"(paper/hub profile) at that directory.")
    root = Path(path)
    if split not in CCG_SPLITS:
        raise HubError(f"ccg: unknown split {split!r}; expected one of {CCG_SPLITS}")

    def read(name: str) -> list[list[str]]:
        f = root / name
        if not f.exists():
            raise HubError(f"ccg: {f} not found (expected <split>.tokens and <split>.tags in {root})")
        return [line.split() for line in f.read_text(encoding="utf-8").splitlines()]

    if labels is None:
        inv_file = root / "tags_to_id.json"
        if inv_file.exists():
            mapping = json.loads(inv_file.read_text(encoding="utf-8"))
            labels = tuple(sorted(mapping, key=mapping.__getitem__))
            if [mapping[t] for t in labels] != list(range(len(labels))):
                raise HubError(f"ccg: {inv_file} ids must be 0..{len(labels) - 1} without gaps")
        else:
            labels = tuple(sorted({t for sent in read("train.tags") for t in sent}))
    labels = tuple(labels)
    index = {t: i for i, t in enumerate(labels)}

    tokens, tags = read(f"{split}.tokens"), read(f"{split}.tags")
    if len(tokens) != len(tags):
        raise HubError(f"ccg: {split}.tokens has {len(tokens)} lines but {split}.tags has {len(tags)}")
    rows = []
    for n, (tok, tag) in enumerate(zip(tokens, tags), start=1):
        if not tok and not tag:
            continue
        if len(tok) != len(tag):
            raise HubError(f"ccg: {split} line {n}: {len(tok)} tokens but {len(tag)} supertags")
        unknown = [t for t in tag if t not in index]
        if unknown:
            raise HubError(f"ccg: {split} line {n}: supertags {unknown} not in the label inventory")
        rows.append({"id": f"{split}-{n}", "lang": "en", "tokens": tok, "tags": [index[t] for t in tag],
                     "meta": ""})
    df = pd.DataFrame(rows, columns=list(schema.COLUMNS["tagging"]))
    df.attrs["dropped"] = 0
    return schema.check(df, "tagging", f"ccg:{root}/{split}"), labels


# ---- registry -----------------------------------------------------------------------------------------------------
_TRAIN_DEV = {"train": "train", "dev": "validation"}

SPECS = {
    spec.key: register(spec)
    for spec in [
        HubSpec("mnli", "nyu-mll/glue", "mnli", PINS["nyu-mll/glue"], "pair", convert_mnli,
                licence="mixed (OANC / CC BY-SA 3.0 parts); see dataset card",
                splits={"train": "train", "dev": "validation_matched", "dev_mismatched": "validation_mismatched",
                        "test": "test_matched"},
                notes="Test splits carry label -1 only and are refused."),
        HubSpec("qqp", "nyu-mll/glue", "qqp", PINS["nyu-mll/glue"], "pair", convert_qqp,
                licence="Quora terms (non-commercial); see dataset card",
                splits={**_TRAIN_DEV, "test": "test"},
                notes="Test labels are -1 only and are refused."),
        HubSpec("squad_v1", "rajpurkar/squad", "plain_text", PINS["rajpurkar/squad"], "span", convert_squad_v1,
                licence="CC BY-SA 4.0", splits=dict(_TRAIN_DEV)),
        HubSpec("squad_v2", "rajpurkar/squad_v2", None, PINS["rajpurkar/squad_v2"], "span", convert_squad_v2,
                licence="CC BY-SA 4.0", splits=dict(_TRAIN_DEV),
                notes="Config left to the repo default (one config, parquet under squad_v2/). Unanswerable rows "
                      "dropped by default (count in df.attrs['dropped'])."),
        HubSpec("hellaswag", "Rowan/hellaswag", None, PINS["Rowan/hellaswag"], "mc", convert_hellaswag,
                licence="MIT; see dataset card", splits={**_TRAIN_DEV, "test": "test"},
                notes="Parquet on main at the pinned commit (data/<split>-00000-of-00001.parquet; label is a string). "
                      "Test labels are empty strings and are refused."),
        HubSpec("anli", "facebook/anli", "plain_text", PINS["facebook/anli"], "pair", convert_anli,
                licence="CC BY-NC 4.0; see dataset card",
                splits={"train": "train_r1+train_r2+train_r3", "dev": "dev_r1+dev_r2+dev_r3",
                        "test": "test_r1+test_r2+test_r3",
                        **{f"{s}_{r}": f"{s}_{r}" for s in ("train", "dev", "test") for r in ANLI_ROUNDS}},
                notes="train/dev/test = all three rounds via split arithmetic (hub only; with local "
                      "data_files load per round, e.g. 'train_r1', and combine with anli_rounds). jiant's 'full "
                      "ANLI' = compose_anli_plus(anli, mnli, snli)."),
        HubSpec("snli", "stanfordnlp/snli", None, PINS["stanfordnlp/snli"], "pair", convert_snli,
                licence="CC BY-SA 4.0; see dataset card", splits={**_TRAIN_DEV, "test": "test"},
                notes="Used only in compose_anli_plus; label -1 (no gold "
                      "label) rows dropped."),
        HubSpec("cosmosqa", "allenai/cosmos_qa", None, PINS["allenai/cosmos_qa"], "mc", convert_cosmosqa,
                licence="CC BY 4.0; see dataset card", splits={**_TRAIN_DEV, "test": "test"},
                notes="main is a loading script only, which datasets>=4 cannot run: the pin is a commit of the hub's "
                      "parquet conversion branch refs/convert/parquet (default/<split>/0000.parquet). Test labels "
                      "are placeholders and are refused."),
        HubSpec("commonsenseqa", "tau/commonsense_qa", None, PINS["tau/commonsense_qa"], "mc", convert_commonsenseqa,
                licence="MIT; see dataset card", splits={**_TRAIN_DEV, "test": "test"},
                notes="Test answerKey is empty and is refused."),
        HubSpec("socialiqa", "allenai/social_i_qa", None, PINS["allenai/social_i_qa"], "mc", convert_socialiqa,
                licence="see dataset card", splits=dict(_TRAIN_DEV),
                notes="main is a loading script only: the pin is a commit of refs/convert/parquet (default/<split>/"
                      "0000.parquet). No test split."),
    ]
}

