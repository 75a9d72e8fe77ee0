"""The data and settings of the paper's intermediate-training variants (Phang et al. 2020; `variants` in
params.yaml), built from the files the earlier stages wrote: which tasks, examples and learning rate each trains
on, and what "size" means for it.

- `multitask`: every intermediate task's subsample at `variants.size`; size = their total, each task's share
  recorded. One learning rate for the shared optimizer: the geometric mean of the tasks' tuned rates (jiant uses
  one rate for a multi-task run; the paper does not say how it was chosen).
- `mlm`: one task's subsample plus the masked-LM sentences of every study language; size = the task's labelled
  examples (the sentences are counted apart); the task's tuned rate.
- `translated`: one task's subsample plus the translations of exactly those rows into each listed language
  (matched by id); size = English + translated examples, both counted; the task's tuned rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..core import paths, tasks
from ..core.io import read_parquet
from ..data import schema
from .common import Dataset, load_dataset, tuned_lr


@dataclass
class Plan:
    """What one variant arm trains on."""

    arm: str
    tasks: list[str]
    train: dict[str, Dataset]  # per task (translated: English + translations, one Dataset)
    dev: dict[str, Dataset]
    learning_rate: float
    tune_runs: dict[str, str]
    shares: dict[str, int]  # labelled training examples per task (what `train_size` sums)
    counts: dict[str, int] = field(default_factory=dict)  # english / translated examples, mlm sentences
    languages: list[str] = field(default_factory=list)  # translated: the translations' languages

    @property
    def train_size(self) -> int:
        return int(sum(self.shares.values()))


def variant_tasks(params: dict, arm: str) -> list[str]:
    va = params["variants"]
    if arm == "multitask":
        return list(params["study"]["intermediate_tasks"])
    if arm in ("mlm", "translated"):
        return [va[arm]["task"]]
    raise ValueError(f"unknown variant arm {arm!r}; known: {', '.join(tasks.VARIANTS)}")


def geometric_mean(values: list[float]) -> float:
    return float(math.exp(sum(math.log(v) for v in values) / len(values)))


def translated_dataset(root: Path, english: Dataset, languages: list[str]) -> tuple[Dataset, dict[str, int]]:
    """English rows plus, per language, the translations of exactly those rows (same id; suffixed `~<lang>` so ids
    stay unique). ValueError naming the file when a translation is missing for a row."""
    task = english.task.name
    frames, counts = [english.df], {"english": len(english.df)}
    md5s = [english.md5]
    for lang in languages:
        path = paths.translated_path(root, task, lang)
        ds = load_dataset(task, path)
        rows = ds.df.set_index("id", drop=False)
        missing = sorted(set(english.df["id"]) - set(rows.index))
        if missing:
            raise ValueError(f"{path}: no translation of {len(missing)} English training rows of {task} "
                             f"(e.g. {missing[0]!r}); the translations must share the English rows' ids")
        picked = rows.loc[english.df["id"]].reset_index(drop=True)
        picked["id"] = picked["id"] + f"~{lang}"
        frames.append(picked)
        counts[f"translated.{lang}"] = len(picked)
        md5s.append(ds.md5)
    df = schema.check(pd.concat(frames, ignore_index=True), english.task.format, "translated training set")
    import hashlib

    md5 = hashlib.md5(" ".join(md5s).encode()).hexdigest()
    counts["translated"] = sum(v for k, v in counts.items() if k.startswith("translated."))
    return replace(english, df=df, path=paths.translated_path(root, task, languages[0]).parent, md5=md5), counts


def plan(root: Path, params: dict, arm: str) -> Plan:
    """Every input of one variant arm, read and checked (before any training)."""
    va = params["variants"]
    label = str(va["size"])
    names = variant_tasks(params, arm)
    train = {t: load_dataset(t, paths.subsample_path(root, t, label)) for t in names}
    dev = {t: load_dataset(t, paths.split_path(root, t, "dev")) for t in names}
    tuned = {t: tuned_lr(root, t) for t in names}
    lr = geometric_mean([tuned[t][0] for t in names])
    counts: dict[str, int] = {}
    languages: list[str] = []
    if arm == "translated":
        languages = list(va["translated"]["languages"])
        train[names[0]], counts = translated_dataset(root, train[names[0]], languages)
    shares = {t: len(train[t].df) for t in names}
    return Plan(arm, names, train, dev, lr, {t: tuned[t][1] for t in names}, shares, counts, languages)


def mlm_sentences(root: Path, params: dict) -> dict[str, list[str]]:
    """The masked-LM text of each of `variants.mlm.languages`, its first `variants.mlm.max_lines` lines (0 = all): the
    pretraining corpus (`variants.mlm.corpus: pretrain`) or what `prepare` wrote from the hub's Wikipedia or the
    user's folder (data/prepared/variants/mlm/<lang>.parquet)."""
    out = {}
    cap = params["variants"]["mlm"]["max_lines"] or None
    for lang in params["variants"]["mlm"]["languages"]:
        path = (paths.pretrain_corpus_dir(root) / f"{lang}.parquet" if params["variants"]["mlm"]["corpus"] == "pretrain"
                else paths.mlm_corpus_path(root, lang))
        if not path.exists():
            raise FileNotFoundError(f"{path}: the masked-LM text of {lang} is missing (variants.mlm.corpus); run "
                                    f"`dvc repro prepare`")
        out[lang] = [t for t in read_parquet(path)["text"].tolist() if t.strip()][:cap]
    return out
