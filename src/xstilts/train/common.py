"""Shared stage plumbing: paths of models and outputs, task data loading with md5s, model construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import formats
from ..core import paths, tasks
from ..core.cells import CONTROL_SIZE_LABEL, cell_name
from ..core.io import md5_file, read_json, read_parquet
from ..data import schema
from . import featcache
from .modeling import TaskModel, load_encoder, load_tokenizer


def tokenizer(root: Path):
    return load_tokenizer(paths.tokenizer_dir(root))


@dataclass
class Dataset:
    task: tasks.Task
    df: pd.DataFrame
    path: Path
    md5: str

    def __post_init__(self) -> None:
        self._features: dict[tuple, list] = {}
        # the frame read from `path` (set by load_dataset); a derived copy (dataclasses.replace, e.g. the tune
        # stage's subsample) gets None here, so its features are never looked up under the file's md5
        self._file_df: pd.DataFrame | None = None

    @property
    def fmt(self) -> formats.Format:
        return formats.get(self.task.format)

    def features(self, tok, max_length: int, train: bool, **options) -> list:
        """Tokenised features, computed once per (tokenizer, max_length, train, encode options: span QA's
        doc_stride) and reused across models; for the file's own rows also cached on disk across processes and
        stages (xstilts.train.featcache, keyed by the file's md5). Do not modify `df` in place."""
        key = (id(tok), max_length, train, tuple(sorted(options.items())))
        if key not in self._features:
            if self._file_df is not None and self._file_df is self.df:
                self._features[key] = featcache.encode(self.fmt, self.df, tok, max_length, train, self.md5, **options)
            else:
                self._features[key] = self.fmt.encode(self.df, tok, max_length, train=train, **options)
        return self._features[key]


def check_labels(df: pd.DataFrame, info: tasks.Task, where: Path) -> None:
    """Every gold label (pair: `label`; tagging: each of `tags`) is an index into the task's label inventory:
    one line naming the file, before any model is built (torch would only say "Target 7 is out of bounds")."""
    k = info.num_labels
    if not k or df.empty:
        return
    col = {"pair": "label", "tagging": "tags"}.get(info.format)
    if col is None or col not in df:
        return
    values = df[col].explode() if info.format == "tagging" else df[col]
    values = pd.to_numeric(values.dropna(), errors="coerce")
    bad = values[(values < 0) | (values >= k) | values.isna()]
    if len(bad):
        row = df.loc[bad.index[0]]
        raise ValueError(f"{where}: {col} {bad.iloc[0]:g} of example {row['id']!r} is outside {info.name}'s "
                         f"{k} labels (0..{k - 1}: {', '.join(info.labels)})")


def load_dataset(task: str, path: Path, adversarial: bool = False) -> Dataset:
    info = tasks.get(task)
    df = schema.check(read_parquet(path), info.format, path, adversarial=adversarial)
    check_labels(df, info, path)
    ds = Dataset(info, df, path, md5_file(path))
    ds._file_df = df
    return ds


def tuned_lr(root: Path, task: str) -> tuple[float, str]:
    """(learning rate chosen by the tune stage, the MLflow run id of its study from runs/tune.json, "" if unknown).
    tuned/<role>/<task>.json holds deterministic content, no run ids: a re-run that picks the same learning rate
    leaves downstream stages untouched."""
    rec = read_json(paths.tuned_path(root, task))
    runs = paths.runs_path(root, "tune.json")
    run_id = read_json(runs).get(f"{task}.mlflow_run_id", "") if runs.exists() else ""
    return float(rec["learning_rate"]), run_id


def task_model(encoder_dir: Path, task: tasks.Task, seed: int, freeze_embeddings: bool) -> TaskModel:
    """Encoder carried over from `encoder_dir`, head freshly initialised from `seed` (as in the paper)."""
    import torch

    from .modeling import freeze_word_embeddings

    encoder = load_encoder(encoder_dir)
    torch.manual_seed(seed)
    model = TaskModel(encoder, formats.get(task.format).out_features(task.num_labels))
    freeze_word_embeddings(model, freeze_embeddings)
    return model


@dataclass
class Cell:
    """One encoder feeding the target stage: a control (baseline/random) or an intermediate checkpoint."""

    arm: str
    size_label: str  # cells.CONTROL_SIZE_LABEL for controls
    seed: int
    encoder_dir: Path
    train_size: int = 0
    intermediate_run_id: str = ""

    @property
    def name(self) -> str:
        return cell_name(self.size_label, self.seed)


def cells_of(root: Path, arm: str, seeds: list[int]) -> list[Cell]:
    """Every encoder of one arm, checked to exist. A control arm has the one encoder the pretrain stage wrote,
    fine-tuned from each of `seeds` (study.seeds). An intermediate arm's cells are what its intermediate stage
    wrote: each cell's size label, seed, training size and run id come from its run.json (never re-derived from
    params.yaml), ordered by training size, then by the order of `seeds`; their seeds must be exactly `seeds`, or the
    models are stale."""
    if arm in tasks.CONTROLS:
        cells = [Cell(arm, CONTROL_SIZE_LABEL, s, paths.arm_dir(root, arm)) for s in seeds]
    else:
        found = sorted(paths.arm_dir(root, arm).glob("*/run.json"))
        if not found:
            raise FileNotFoundError(f"{paths.arm_dir(root, arm)}: no intermediate encoders (*/run.json) of arm "
                                    f"{arm!r} (run `dvc repro intermediate@{arm}`)")
        cells = []
        for path in found:
            info = read_json(path)
            cells.append(Cell(arm, str(info["size_label"]), int(info["seed"]), path.parent, int(info["train_size"]),
                              info["mlflow_run_id"]))
        have = sorted({c.seed for c in cells})
        if have != sorted(seeds):
            raise ValueError(f"{paths.arm_dir(root, arm)}: encoders of seeds {have}, but study.seeds is "
                             f"{list(seeds)}: the intermediate models are stale (run `dvc repro intermediate@{arm}`)")
        cells.sort(key=lambda c: (c.train_size, list(seeds).index(c.seed)))
    for c in cells:
        if not (c.encoder_dir / "model.safetensors").exists():
            raise FileNotFoundError(f"{c.encoder_dir}/model.safetensors: encoder checkpoint missing "
                                    f"(run `dvc repro` for the stage that writes it)")
    return cells
