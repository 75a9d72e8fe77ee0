"""Fine-tuning one model on one task: the shared body of the tune, intermediate and target stages."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import common
from .common import Dataset
from .training import FitResult, evaluate, fit


def max_length(params: dict) -> int:
    return params["pretrain"]["max_length"]


def train_task(encoder_dir: Path, train: Dataset, dev: Dataset | None, tok, params: dict, *, lr: float, seed: int,
               epochs: int | None = None, label: str = "train",
               on_eval: Callable[[int, float], None] | None = None):
    """Fresh head on the encoder from `encoder_dir`, fine-tuned on `train`; dev score after every epoch.
    Returns (model, FitResult, final dev score or None)."""
    ft = params["finetune"]
    model = common.task_model(encoder_dir, train.task, seed, ft["freeze_embeddings"])
    feats = train.features(tok, max_length(params), train=True)
    if not feats:
        raise ValueError(f"{train.path}: no trainable examples after tokenisation (max_length {max_length(params)})")
    dev_feats = dev.features(tok, max_length(params), train=False) if dev is not None else None
    scores: list[float] = []

    def on_epoch(epoch: int, m) -> float | None:
        if dev is None:
            return None
        score, _, _ = evaluate(m, dev.fmt, dev.df, dev_feats, dev.task.metric, dev.task.labels,
                               params["evaluate"]["batch_size"])
        scores.append(score)
        if on_eval is not None:
            on_eval(epoch, score)
        return score

    result: FitResult = fit(model, train.fmt, feats, lr=lr, epochs=epochs or ft["epochs"], batch_size=ft["batch_size"],
                            warmup=ft["warmup"], weight_decay=ft["weight_decay"], max_grad_norm=ft["max_grad_norm"],
                            seed=seed, label=label, on_epoch=on_epoch)
    return model, result, (scores[-1] if scores else None)
