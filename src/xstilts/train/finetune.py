"""Fine-tuning one model on one task: the shared body of the tune, intermediate and target stages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import common, distributed
from .common import Dataset
from .loop import FitResult, FitSettings, evaluate, fit


def hyper(params: dict, task: str) -> dict:
    """Fine-tuning hyperparameters of one task: `finetune` with `finetune.overrides.<task>` on top (the paper
    profile records jiant's per-target epochs, batch x accumulation and sequence length there). `max_length` and
    `doc_stride` (span QA: the step between context windows) also decide how the evaluate stage encodes."""
    ft = params["finetune"]
    out = {k: ft[k] for k in ("epochs", "batch_size", "grad_accum", "warmup", "weight_decay", "max_grad_norm",
                              "freeze_embeddings", "doc_stride")}
    out["max_length"] = params["pretrain"]["max_length"]
    out.update(ft.get("overrides", {}).get(task, {}))
    return out


def settings(params: dict, task: str, epochs: int | None = None) -> FitSettings:
    """The FitSettings of one task's fine-tuning: `hyper` plus `finetune.compile` (an execution choice, so not a
    hyperparameter); `epochs` overrides the task's (the tune stage's fixed budget)."""
    hp = hyper(params, task)
    return FitSettings(epochs=epochs or hp["epochs"], batch_size=hp["batch_size"], grad_accum=hp["grad_accum"],
                       warmup=hp["warmup"], weight_decay=hp["weight_decay"], max_grad_norm=hp["max_grad_norm"],
                       compile=params["finetune"]["compile"])


def max_length(params: dict, task: str) -> int:
    return hyper(params, task)["max_length"]


def encode_options(params: dict, task: str) -> dict:
    """The keyword options with which `task`'s format encodes its rows ({"doc_stride": ...} for span QA)."""
    from .. import formats
    from ..core import tasks

    return formats.encode_options(formats.get(tasks.get(task).format), hyper(params, task))


def train_task(encoder_dir: Path, train: Dataset, dev: Dataset | None, tok, params: dict, *, lr: float, seed: int,
               epochs: int | None = None, label: str = "train",
               on_eval: Callable[[int, float], None] | None = None, checkpoint: Path | None = None):
    """Fresh head on the encoder from `encoder_dir`, fine-tuned on `train`; dev score after every epoch.
    `checkpoint`: epoch checkpoints there (a re-run resumes; `on_eval` then also gets the restored epochs' scores).
    Returns (model, FitResult, final dev score or None). Under a launcher every rank calls this; the returned dev
    score is rank 0's, on every rank."""
    hp = hyper(params, train.task.name)
    model = common.task_model(encoder_dir, train.task, seed, hp["freeze_embeddings"])
    options = encode_options(params, train.task.name)
    feats = train.features(tok, hp["max_length"], train=True, **options)
    if not feats:
        raise ValueError(f"{train.path}: no trainable examples after tokenisation (max_length {hp['max_length']})")
    # data-parallel runs: only rank 0 evaluates (fit broadcasts its score), so only it needs the dev features
    dev_feats = (dev.features(tok, hp["max_length"], train=False, **options)
                 if dev is not None and distributed.is_main() else None)

    last: dict = {}

    def on_epoch(epoch: int, m) -> float | None:
        if dev is None:
            return None
        score, _, preds = evaluate(m, dev.fmt, dev.df, dev_feats, dev.task.metric, dev.task.labels,
                                   params["evaluate"]["batch_size"])
        last.update(epoch=epoch, preds=preds)
        if on_eval is not None:
            on_eval(epoch, score)
        return score

    result: FitResult = fit(model, train.fmt, feats, settings(params, train.task.name, epochs=epochs), lr=lr,
                            seed=seed, label=label, on_epoch=on_epoch, checkpoint=checkpoint)
    if on_eval is not None and dev is not None:
        for epoch in range(result.resumed):  # restored from the checkpoint: their scores, reported now
            on_eval(epoch, result.evals[epoch])
    if dev_feats is not None:  # the final model's dev predictions (re-computed if its epoch was restored)
        if last.get("epoch") != len(result.evals) - 1:
            _, _, last["preds"] = evaluate(model, dev.fmt, dev.df, dev_feats, dev.task.metric, dev.task.labels,
                                           params["evaluate"]["batch_size"])
        result.dev_predictions = last["preds"]
    return model, result, (result.evals[-1] if result.evals else None)
