"""The canonical on-disk schema: one parquet layout per task format, shared by every source.

    pair       id, lang, text_a, text_b, label:int, meta
    mc         id, lang, context, choices:list[str], label:int, meta
    span       id, lang, context, question, answers_text:list[str], answers_start:list[int], meta
    tagging    id, lang, tokens:list[str], tags:list[int], meta
    retrieval  id, lang, text, pair_id[, side]

`meta` is a JSON string ("" when empty) carrying source-specific hints for adversaries. A retrieval file holds its
queries and their candidate pool; the optional `side` column ("query" / "candidate") says which row is which, and
without it the non-English rows are the queries and the English ones the candidates (Tatoeba). A query's `pair_id` is
one group; a candidate's may list several, separated by single spaces (`candidate_groups`: a LAReQA sentence that
answers several questions), or be "" (a distractor). Adversarial sets add `source_id` (the clean example they came
from) and `adversary`.

Layout (xstilts.core.paths): data/prepared/<role>/<task>/ (role: intermediate | targets): task.json, train.parquet
and dev.parquet (English), test/<lang>.parquet and adversarial/<adversary>/<lang>.parquet (target tasks);
data/prepared/pretrain/; data/prepared/dictionaries/ (generated MUSE dictionaries); model-based subsets in
data/<adversary>/<task>/<lang>.parquet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import paths

COLUMNS: dict[str, dict[str, str]] = {
    "pair": {"id": "str", "lang": "str", "text_a": "str", "text_b": "str", "label": "int", "meta": "str"},
    "mc": {"id": "str", "lang": "str", "context": "str", "choices": "list", "label": "int", "meta": "str"},
    "span": {"id": "str", "lang": "str", "context": "str", "question": "str", "answers_text": "list",
             "answers_start": "list", "meta": "str"},
    "tagging": {"id": "str", "lang": "str", "tokens": "list", "tags": "list", "meta": "str"},
    "retrieval": {"id": "str", "lang": "str", "text": "str", "pair_id": "str"},
}
ADVERSARIAL_COLUMNS = {"source_id": "str", "adversary": "str"}


def check(df: pd.DataFrame, fmt: str, where: str | Path, adversarial: bool = False) -> pd.DataFrame:
    """Raise ValueError naming the file and column if `df` does not follow the canonical schema of `fmt`."""
    expected = dict(COLUMNS[fmt])
    if adversarial:
        expected.update(ADVERSARIAL_COLUMNS)
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: not in the canonical {fmt!r} schema; missing columns {missing} "
                         f"(expected {list(expected)})")
    for col, kind in expected.items():
        if df.empty:
            break
        value = df[col].iloc[0]
        ok = {"str": isinstance(value, str), "int": pd.api.types.is_integer_dtype(df[col]),
              "list": hasattr(value, "__len__") and not isinstance(value, str)}[kind]
        if not ok:
            raise ValueError(f"{where}: column {col!r} must hold {kind} values, found {type(value).__name__}")
    if df["id"].duplicated().any():
        dup = df.loc[df["id"].duplicated(), "id"].iloc[0]
        raise ValueError(f"{where}: duplicate id {dup!r}")
    if fmt == "retrieval" and "side" in df.columns and not df["side"].isin(SIDES).all():
        bad = df.loc[~df["side"].isin(SIDES), "side"].iloc[0]
        raise ValueError(f"{where}: column 'side' must be one of {', '.join(SIDES)}, found {bad!r}")
    return df


SIDES = ("query", "candidate")


def retrieval_queries(df: pd.DataFrame) -> pd.Series:
    """The query rows of a retrieval file (a boolean mask): side "query", or without a `side` column the
    non-English rows (Tatoeba: non-English sentences query the English ones)."""
    from ..core.tasks import TRAINING_LANGUAGE

    if "side" in df.columns:
        return df["side"] == "query"
    return df["lang"] != TRAINING_LANGUAGE


def candidate_groups(pair_id: str) -> list[str]:
    """The groups a retrieval candidate belongs to: its `pair_id` split at spaces ([] for "")."""
    return str(pair_id).split(" ") if pair_id else []


def write(df: pd.DataFrame, path: Path, fmt: str, adversarial: bool = False) -> None:
    """Check `df` against the canonical schema of `fmt`, then write it (a `prepare` source writes into a
    temporary directory that the stage renames into place)."""
    check(df, fmt, path, adversarial=adversarial)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False, compression="zstd")


def write_task_json(task: str, params: dict, out: Path, extra: dict | None = None) -> None:
    """<out>/<role>/<task>/task.json: format, metric, labels and source of a prepared task, plus `extra`."""
    import json

    from ..core.tasks import get

    info = get(task)
    meta = {"task": task, "format": info.format, "metric": info.metric, "labels": list(info.labels),
            "mirrors": info.mirrors, "source": params["study"]["source"], "role": info.role, **(extra or {})}
    d = paths.task_dir(None, task, prepared=out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "task.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
