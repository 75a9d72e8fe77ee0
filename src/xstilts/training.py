"""The training loop: length-grouped dynamic batches, AdamW with linear warmup/decay, gradient clipping,
bf16 autocast + fused AdamW on GPU. Same seed -> same batches and initial head -> same losses on one machine."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .formats import Feature, Format
from .modeling import TaskModel


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def batches(feats: list[Feature], batch_size: int, rng: np.random.Generator | None) -> list[list[int]]:
    """Index batches grouped by length: shuffle, sort within chunks of 50 batches by length, shuffle batches.
    Without `rng` (evaluation): sorted by length, in order."""
    idx = np.arange(len(feats))
    lengths = np.array([f.length for f in feats])
    if rng is None:
        order = idx[np.argsort(lengths, kind="stable")]
        return [order[i: i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    idx = rng.permutation(idx)
    chunk = batch_size * 50
    out = []
    for c in range(0, len(idx), chunk):
        part = idx[c: c + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out += [part[i: i + batch_size].tolist() for i in range(0, len(part), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def _autocast(dev: torch.device):
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _to(batch: dict[str, torch.Tensor], dev: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(dev, non_blocking=True) for k, v in batch.items()}


class Progress:
    """A one-line progress meter on stderr (long loops show progress)."""

    def __init__(self, total: int, label: str, every: float = 5.0):
        self.total, self.label, self.every = total, label, every
        self.t0 = self.last = time.time()

    def update(self, done: int, extra: str = "") -> None:
        now = time.time()
        if now - self.last >= self.every or done == self.total:
            self.last = now
            rate = done / max(now - self.t0, 1e-9)
            print(f"  {self.label}: {done}/{self.total} steps ({rate:.1f}/s) {extra}", file=sys.stderr, flush=True)


class Diverged(RuntimeError):
    """The loss became NaN/inf."""


@dataclass
class FitResult:
    losses: list[float] = field(default_factory=list)
    evals: list[float] = field(default_factory=list)
    seconds: float = 0.0
    examples_per_second: float = 0.0
    resumed: int = 0  # epochs restored from a checkpoint (their losses and evals too), not trained in this call


def fit(model: TaskModel, fmt: Format, feats: list[Feature], *, lr: float, epochs: int, batch_size: int,
        warmup: float, weight_decay: float, max_grad_norm: float, seed: int, grad_accum: int = 1,
        label: str = "train", on_epoch: Callable[[int, TaskModel], float | None] | None = None,
        checkpoint: Path | None = None) -> FitResult:
    """Train `model` in place; one optimizer step per `grad_accum` batches (effective batch = batch_size x
    grad_accum). `on_epoch(epoch, model)` may return an evaluation score (logged) or raise to stop.
    `checkpoint`: a directory for epoch checkpoints (xstilts.checkpoint); a run with the same inputs resumes
    after the last completed epoch there (`on_epoch` is not called again for restored epochs)."""
    dev = device()
    model.to(dev)
    ckpt = None
    if checkpoint is not None:
        from .checkpoint import EpochCheckpoint, fingerprint

        hyper = {"format": fmt.name, "lr": lr, "epochs": epochs, "batch_size": batch_size, "warmup": warmup,
                 "weight_decay": weight_decay, "max_grad_norm": max_grad_norm, "seed": seed, "grad_accum": grad_accum}
        ckpt = EpochCheckpoint(checkpoint, fingerprint(model, feats, hyper))
    torch.manual_seed(seed)  # dropout draws: same seed -> same run
    rng = np.random.default_rng(seed)
    plan = [batches(feats, batch_size, rng) for _ in range(epochs)]
    total = sum(math.ceil(len(p) / grad_accum) for p in plan)  # optimizer steps
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, fused=dev.type == "cuda")
    warm = max(1, int(warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    result = FitResult()
    start, step = ckpt.restore(model, opt, sched, result) if ckpt is not None else (0, 0)
    meter = Progress(total, label)
    t0 = time.time()
    n_examples = 0
    for epoch, plan_e in enumerate(plan):
        if epoch < start:
            continue
        model.train()
        running = 0.0
        opt.zero_grad(set_to_none=True)
        for k, b in enumerate(plan_e):
            batch = _to(fmt.collate([feats[i] for i in b]), dev)
            with _autocast(dev):
                logits = model(batch["input_ids"], batch["attention_mask"])
                loss = fmt.loss(logits.float(), batch)
            if not torch.isfinite(loss):
                raise Diverged(f"{label}: loss became {loss.item()} at step {step} (lr={lr:g})")
            (loss / grad_accum if grad_accum > 1 else loss).backward()
            n_examples += len(b)
            running += loss.item()
            if (k + 1) % grad_accum == 0 or k + 1 == len(plan_e):
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                meter.update(step, f"loss {loss.item():.3f}")
        result.losses.append(running / max(1, len(plan_e)))
        if on_epoch is not None:
            score = on_epoch(epoch, model)
            if score is not None:
                result.evals.append(score)
        if ckpt is not None:
            ckpt.save(epoch, step, model, opt, sched, result, final=epoch + 1 == len(plan))
    result.seconds = time.time() - t0
    result.examples_per_second = n_examples / max(result.seconds, 1e-9)
    return result


@torch.inference_mode()
def predict(model: TaskModel, fmt: Format, feats: list[Feature], batch_size: int) -> list:
    """Predictions in the order of `feats`."""
    dev = device()
    model.to(dev).eval()
    out: list = [None] * len(feats)
    for b in batches(feats, batch_size, None):
        fb = [feats[i] for i in b]
        batch = _to(fmt.collate(fb), dev)
        with _autocast(dev):
            logits = model(batch["input_ids"], batch["attention_mask"]).float().cpu()
        for i, p in zip(b, fmt.decode(logits, {k: v.cpu() for k, v in batch.items()}, fb)):
            out[i] = p
    return out


def evaluate(model: TaskModel, fmt: Format, df, feats: list[Feature], metric: str, labels, batch_size: int):
    """(aggregate score, per-example scores, predictions) on the rows of `df` (features cover every row)."""
    preds = predict(model, fmt, feats, batch_size)
    by_row: list = [None] * len(df)
    for f, p in zip(feats, preds):
        by_row[f.example] = p
    score, per_example = fmt.score(df, by_row, metric, labels)
    return score, per_example, by_row


def mlm_pretrain(model, texts_ids: list[np.ndarray], *, steps: int, batch_size: int, lr: float, mask_prob: float,
                 vocab_size: int, seed: int, special_max: int, mask_id: int, pad_id: int) -> list[float]:
    """Masked-LM pretraining (80/10/10 masking) of an XLMRobertaForMaskedLM for a fixed number of steps."""
    dev = device()
    model.to(dev).train()
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=dev.type == "cuda")
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    losses = []
    meter = Progress(steps, "mlm")
    for step in range(steps):
        pick = rng.integers(len(texts_ids), size=batch_size)
        n = max(len(texts_ids[i]) for i in pick)
        ids = torch.full((batch_size, n), pad_id, dtype=torch.long)
        for r, i in enumerate(pick):
            ids[r, : len(texts_ids[i])] = torch.from_numpy(texts_ids[i])
        labels = ids.clone()
        special = ids <= special_max
        masked = (torch.rand(ids.shape, generator=gen) < mask_prob) & ~special
        labels[~masked] = -100
        inputs = ids.clone()
        r = torch.rand(ids.shape, generator=gen)
        inputs[masked & (r < 0.8)] = mask_id
        rand_tok = masked & (r >= 0.8) & (r < 0.9)
        inputs[rand_tok] = torch.randint(special_max + 1, vocab_size, ids.shape, generator=gen)[rand_tok]
        batch = {"input_ids": inputs.to(dev), "attention_mask": (ids != pad_id).long().to(dev), "labels": labels.to(dev)}
        with _autocast(dev):
            loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            raise Diverged(f"mlm: loss became {losses[-1]} at step {step}")
        meter.update(step + 1, f"loss {np.mean(losses[-20:]):.3f}")
    return losses
