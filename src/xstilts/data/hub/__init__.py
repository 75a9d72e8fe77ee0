"""The `hub` source: real datasets from the Hugging Face hub at pinned revisions, converted into the canonical
schema (`xstilts.data.schema`).

Every dataset is a `HubSpec` in `REGISTRY` (one entry per dataset key: intermediate tasks, XTREME and XTREME-R
targets) with a converter from the hub's exact schema to canonical rows. `load_split` is the single code path:
from the hub at a pinned revision, or — for tests and offline mirrors — from local files in the hub's exact
schema via `datasets.load_dataset("parquet"/"json", data_files=...)`; the converter is the same either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


class HubError(RuntimeError):
    """A dataset cannot be loaded or used (missing, unreachable, placeholder labels, licence-gated)."""


@dataclass(frozen=True)
class HubSpec:
    key: str  # our dataset key (e.g. "mnli", "xnli", "panx")
    path: str  # hub id, e.g. "nyu-mll/glue"
    config: str | None  # hub config name; may contain "{lang}" for per-language configs
    revision: str  # default pinned revision (commit SHA where known, else a branch name flagged unverified)
    format: str  # canonical format (pair, mc, span, tagging, retrieval)
    convert: Callable[..., pd.DataFrame]  # (hf dataset, *, split, lang) -> canonical DataFrame
    licence: str = ""
    splits: dict[str, str] = field(default_factory=dict)  # our split name -> hub split name
    notes: str = ""


REGISTRY: dict[str, HubSpec] = {}


def register(spec: HubSpec) -> HubSpec:
    if spec.key in REGISTRY:
        raise ValueError(f"hub dataset {spec.key!r} registered twice")
    REGISTRY[spec.key] = spec
    return spec


def get(key: str) -> HubSpec:
    if key not in REGISTRY:
        raise KeyError(f"unknown hub dataset {key!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key]


def _builder_for(files: list[str]) -> str:
    ext = {Path(f).suffix.lower() for f in files}
    if ext <= {".parquet"}:
        return "parquet"
    if ext <= {".json", ".jsonl"}:
        return "json"
    if ext <= {".csv", ".tsv"}:
        return "csv"
    raise HubError(f"local files {files}: expected .parquet, .json/.jsonl or .csv files")


def load_split(spec: HubSpec, split: str, *, lang: str | None = None, revision: str | None = None,
               data_files: list[str | Path] | None = None, **load_kwargs):
    """One split of one dataset as a `datasets.Dataset`.

    With `data_files`, the files (in the hub's exact schema) are read through `datasets.load_dataset` with the
    matching builder; otherwise the hub dataset `spec.path`/`spec.config` at `revision` (default: the pinned
    `spec.revision`). Offline (HF_HUB_OFFLINE=1) or unreachable hub -> HubError naming dataset, revision and the
    offline switch, at once (no retry loop).
    """
    import datasets

    hub_split = spec.splits.get(split, split)
    if data_files is not None:
        files = [str(f) for f in data_files]
        missing = [f for f in files if not Path(f).exists()]
        if missing:
            raise HubError(f"{spec.key}: local data files not found: {missing}")
        return datasets.load_dataset(_builder_for(files), data_files={hub_split: files}, split=hub_split,
                                     **load_kwargs)
    rev = revision or spec.revision
    config = spec.config.format(lang=lang) if spec.config and "{lang}" in spec.config else spec.config
    where = f"{spec.path}" + (f" (config {config})" if config else "") + f" at revision {rev}"
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        cached = _try_cached(datasets, spec.path, config, hub_split, rev, load_kwargs)
        if cached is not None:
            return cached
        raise HubError(f"{spec.key}: {where} is not in the local cache and HF_HUB_OFFLINE=1 forbids downloading it; "
                       f"unset HF_HUB_OFFLINE (with network access) or pre-fetch it with `datasets`")
    try:
        return datasets.load_dataset(spec.path, config, split=hub_split, revision=rev, **load_kwargs)
    except Exception as exc:  # connection errors, missing revisions, gated repos
        raise HubError(f"{spec.key}: could not load {where} split {hub_split!r}: {type(exc).__name__}: {exc}. "
                       f"Set HF_HUB_OFFLINE=1 to work from the local cache only.") from exc


def _try_cached(datasets, path, config, split, rev, kwargs):
    try:
        return datasets.load_dataset(path, config, split=split, revision=rev, **kwargs)
    except Exception:
        return None


def require_gold(df: pd.DataFrame, column: str, key: str, split: str, placeholder=(-1, "", None)) -> pd.DataFrame:
    """Refuse splits whose labels are placeholders (e.g. test splits without public gold labels)."""
    values = df[column]
    bad = values.isna() | values.isin([p for p in placeholder if p is not None])
    if bad.all():
        raise HubError(f"{key}: split {split!r} has no gold labels in column {column!r} (placeholders only); "
                       f"evaluate on a split with gold labels instead")
    return df.loc[~bad].reset_index(drop=True)


from . import corpus, intermediate, targets  # noqa: E402,F401  (registration)
