"""The training loop: length-grouped dynamic batches, AdamW with linear warmup/decay, gradient clipping,
bf16 autocast + fused AdamW + TF32 on GPU, optional torch.compile, data-parallel across processes under a
launcher (see `distributed`). Same seed -> same batches and initial head -> same losses on one machine."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.io import stable_seed
from ..formats import Feature, Format
from . import distributed
from .modeling import TaskModel


def device() -> torch.device:
    """The GPU of this rank (LOCAL_RANK under a launcher) when there is one, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", distributed.local_rank()) if distributed.active() else torch.device("cuda")


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


def shard(step: list[list[int]], world: int, rank: int) -> list[tuple[int, list[int]]]:
    """This rank's pieces of one optimizer step, as (micro-batch position in the step, example indices).

    With at least as many micro-batches as ranks, whole micro-batches are dealt round-robin (a device never holds
    more than `batch_size` examples); with fewer, each micro-batch is cut into contiguous, near-equal shards, one
    per rank (micro-batch k goes to ranks k, k + n, k + 2n, ...). A rank can get nothing (or an empty shard) in
    a short last step."""
    n = len(step)
    if n >= world:
        return [(k, step[k]) for k in range(rank, n, world)]
    k = rank % n
    parts = len(range(k, world, n))
    j = rank // n
    b = step[k]
    return [(k, b[len(b) * j // parts: len(b) * (j + 1) // parts])]


def loss_units(fmt: Format, feats: list[Feature]) -> int:
    """What the format's loss averages over: examples, or the format's own count (`fmt.loss_units`, e.g. the
    labelled tokens of a tagging batch). Shards of one micro-batch are weighted by it."""
    own = getattr(fmt, "loss_units", None)
    return int(own(feats)) if own is not None else len(feats)


def _autocast(dev: torch.device):
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _enable_tf32() -> None:
    """TF32 tensor cores for the float32 matmuls left outside bf16 autocast (CUDA only)."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "tf32"
    else:  # torch < 2.9
        matmul.allow_tf32 = True


def _tf32_enabled() -> bool:
    matmul = torch.backends.cuda.matmul
    return matmul.fp32_precision == "tf32" if hasattr(matmul, "fp32_precision") else bool(matmul.allow_tf32)


def runtime_path(model: torch.nn.Module, dev: torch.device, *, fused: bool, compiled: bool,
                 world: int = 1) -> dict[str, object]:
    """How a run computes (logged as MLflow params `runtime.*`): device, precision, attention kernel, fused AdamW,
    torch.compile, TF32 and the number of data-parallel processes."""
    encoder = getattr(model, "encoder", model)
    attn = getattr(getattr(encoder, "config", None), "_attn_implementation", None) or "n/a"
    cuda = dev.type == "cuda"
    from ..core import portable

    return {"runtime.device": torch.cuda.get_device_name(dev) if cuda else "cpu",
            "runtime.dtype": "bfloat16 autocast" if cuda else "float32",
            "runtime.attention": attn, "runtime.fused_adamw": fused, "runtime.compile": compiled,
            "runtime.tf32": cuda and _tf32_enabled(), "runtime.world_size": world,
            "runtime.cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "runtime.portable": portable.enabled(), "runtime.threads": torch.get_num_threads()}


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
    examples_per_second: float = 0.0  # all processes together
    grad_norms: list[float] = field(default_factory=list)  # per optimizer step, before clipping
    runtime: dict[str, object] = field(default_factory=dict)  # runtime_path() of the run
    resumed: int = 0  # epochs restored from a checkpoint (their losses and evals too), not trained in this call
    dev_predictions: list | None = None  # the final model's dev-set predictions (rank 0; set by finetuning)


def _compile(module: torch.nn.Module, compile: bool | str) -> Callable:
    """`module`, or its torch.compile'd forward; a failure to compile (at once or at the first batch, where
    dynamo and the backend compile) raises naming `finetune.compile`."""
    if not compile:
        return module
    backend = "inductor" if compile is True else compile

    def failed(exc: BaseException) -> RuntimeError:
        return RuntimeError(f"finetune.compile is true but torch.compile (backend {backend}) failed "
                            f"({type(exc).__name__}: {exc}); set finetune.compile: false")

    try:
        compiled = torch.compile(module, backend=backend, dynamic=True)  # length-grouped batches: shapes vary
    except Exception as exc:  # e.g. a Python version dynamo does not support yet
        raise failed(exc) from exc
    from torch._dynamo.exc import TorchDynamoException

    def forward(*args):
        try:
            return compiled(*args)
        except TorchDynamoException as exc:  # includes the backend's failures (BackendCompilerFailed)
            raise failed(exc) from exc

    return forward


@dataclass(frozen=True)
class FitSettings:
    """How one model is fine-tuned: the `finetune` section resolved for its task (xstilts.train.finetune.settings).
    One optimizer step per `grad_accum` batches of `batch_size` (effective batch = batch_size x grad_accum);
    `warmup`: the share of steps with a linearly rising learning rate, then linear decay; `compile`: torch.compile
    the training forward (True = inductor, or a backend name)."""

    epochs: int
    batch_size: int
    warmup: float
    weight_decay: float
    max_grad_norm: float
    grad_accum: int = 1
    compile: bool | str = False


def fit(model: TaskModel, fmt: Format, feats: list[Feature], settings: FitSettings, *, lr: float, seed: int,
        label: str = "train", on_epoch: Callable[[int, TaskModel], float | None] | None = None,
        checkpoint: Path | None = None) -> FitResult:
    """Train `model` in place under `settings` from learning rate `lr` and `seed`. `on_epoch(epoch, model)` may
    return an evaluation score (logged) or raise to stop.
    `checkpoint`: a directory for epoch checkpoints (xstilts.train.checkpoint); a run with the same inputs resumes
    after the last completed epoch there (`on_epoch` is not called again for restored epochs). Single-process
    only: a data-parallel run killed mid-way restarts cleanly instead.

    Data-parallel when a process group is initialised (`distributed.init`): every rank draws the same batch plan
    and the same optimizer steps as one process would, and takes its shard of each step (`shard`); each shard's
    loss is weighted by its share of its micro-batch, so the all-reduced gradient equals the single-process one
    (batch_size and grad_accum are global, independent of the number of processes). Rank 0 alone calls
    `on_epoch`; its score is broadcast, and an exception there stops every rank."""
    epochs, batch_size, grad_accum = settings.epochs, settings.batch_size, settings.grad_accum
    warmup, weight_decay, max_grad_norm = settings.warmup, settings.weight_decay, settings.max_grad_norm
    distributed.check_single_process(label)
    world, rank = distributed.world_size(), distributed.rank()
    dev = device()
    if dev.type == "cuda":
        _enable_tf32()
    if world > batch_size * grad_accum:
        raise ValueError(f"{label}: {world} processes but only batch_size x grad_accum = {batch_size * grad_accum} "
                         f"examples per optimizer step (finetune.batch_size, finetune.grad_accum are global): "
                         f"launch at most that many processes")
    model.to(dev)
    ckpt = None
    if checkpoint is not None and world == 1:
        from .checkpoint import EpochCheckpoint, fingerprint

        hyper = {"format": fmt.name, "lr": lr, "epochs": epochs, "batch_size": batch_size, "warmup": warmup,
                 "weight_decay": weight_decay, "max_grad_norm": max_grad_norm, "seed": seed, "grad_accum": grad_accum}
        ckpt = EpochCheckpoint(checkpoint, fingerprint(model, feats, hyper))
    # dropout draws: same seed -> same run; each rank its own stream (rank 0 = the single-process stream)
    torch.manual_seed(seed if rank == 0 else stable_seed("dropout", seed, rank))
    rng = np.random.default_rng(seed)
    plan = [batches(feats, batch_size, rng) for _ in range(epochs)]
    total = sum(math.ceil(len(p) / grad_accum) for p in plan)  # optimizer steps
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    fused = dev.type == "cuda"
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, fused=fused)
    warm = max(1, int(warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    ddp = None
    if world > 1:  # DDP also broadcasts rank 0's weights, so every rank starts from the same model
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None, forward_sync_buffers=False)
    forward = _compile(ddp if ddp is not None else model, settings.compile)
    result = FitResult(runtime=runtime_path(model, dev, fused=bool(opt.defaults.get("fused")),
                                            compiled=bool(settings.compile), world=world))
    start, step = ckpt.restore(model, opt, sched, result) if ckpt is not None else (0, 0)
    meter = Progress(total, label) if rank == 0 else None
    t0 = time.time()
    n_examples = 0
    norms: list[torch.Tensor] = []
    for epoch, plan_e in enumerate(plan):
        if epoch < start:
            continue
        model.train()
        running = 0.0
        opt.zero_grad(set_to_none=True)
        for s in range(0, len(plan_e), grad_accum):
            micro = plan_e[s: s + grad_accum]
            step_loss = _step(forward, ddp, fmt, feats, micro, dev, grad_accum, world, rank, label, step, lr)
            n_examples += sum(len(b) for b in micro)
            running += step_loss
            norms.append(torch.nn.utils.clip_grad_norm_(params, max_grad_norm).detach())
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if meter is not None:
                meter.update(step, f"loss {step_loss / len(micro):.3f}")
        result.losses.append(running / max(1, len(plan_e)))
        score = _on_epoch(on_epoch, epoch, model, dev, world, rank, label)
        if score is not None:
            result.evals.append(score)
        if ckpt is not None:
            ckpt.save(epoch, step, model, opt, sched, result, final=epoch + 1 == len(plan))
    result.seconds = time.time() - t0
    result.examples_per_second = n_examples / max(result.seconds, 1e-9)
    result.grad_norms = torch.stack(norms).tolist() if norms else []
    return result


def _step(forward, ddp, fmt: Format, feats: list[Feature], micro: list[list[int]], dev: torch.device,
          grad_accum: int, world: int, rank: int, label: str, step: int, lr: float) -> float:
    """Forward and backward passes of one optimizer step (this rank's share); returns the sum of the step's
    micro-batch mean losses (over every rank)."""
    if world == 1:
        total = 0.0
        for b in micro:
            batch = _to(fmt.collate([feats[i] for i in b]), dev)
            with _autocast(dev):
                logits = forward(batch["input_ids"], batch["attention_mask"])
                loss = fmt.loss(logits.float(), batch)
            if not torch.isfinite(loss):
                raise Diverged(f"{label}: loss became {loss.item()} at step {step} (lr={lr:g})")
            (loss / grad_accum if grad_accum > 1 else loss).backward()
            total += loss.item()
        return total
    pieces = shard(micro, world, rank)
    contrib = torch.zeros(2, dtype=torch.float64, device=dev)  # [sum of weighted losses, non-finite losses]
    if not pieces:
        pieces = [(-1, [])]
    for j, (k, b) in enumerate(pieces):
        units = loss_units(fmt, [feats[i] for i in b]) if b else 0
        # a rank with nothing to do still runs a forward/backward (zero gradient) to join the all-reduce
        batch = _to(fmt.collate([feats[i] for i in (b or micro[0][:1])]), dev)
        with ddp.no_sync() if j < len(pieces) - 1 else contextlib.nullcontext():
            with _autocast(dev):
                logits = forward(batch["input_ids"], batch["attention_mask"])
                if units:
                    loss = fmt.loss(logits.float(), batch)
                    share = units / loss_units(fmt, [feats[i] for i in micro[k]])
                    scaled = loss * (world * share / grad_accum)  # DDP averages over ranks: x world
                else:
                    loss, share = None, 0.0
                    scaled = logits.float().sum() * 0.0
            scaled.backward()
        if loss is not None:
            value = loss.detach().double()
            contrib[0] += value * share
            contrib[1] += (~torch.isfinite(value)).double()
    torch.distributed.all_reduce(contrib)
    total, bad = contrib.tolist()
    if bad:
        raise Diverged(f"{label}: loss became {total} at step {step} (lr={lr:g}) on {int(bad)} shard(s)")
    return total


def _on_epoch(on_epoch, epoch: int, model: TaskModel, dev: torch.device, world: int, rank: int,
              label: str) -> float | None:
    """`on_epoch` on rank 0; its score (or its failure) is broadcast to the other ranks."""
    if world == 1:
        return on_epoch(epoch, model) if on_epoch is not None else None
    score, error = None, None
    if rank == 0 and on_epoch is not None:
        try:
            score = on_epoch(epoch, model)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
            error = exc
    msg = torch.tensor([error is not None, score is not None, score if score is not None else 0.0],
                       dtype=torch.float64, device=dev)
    torch.distributed.broadcast(msg, 0)
    if error is not None:
        raise error
    failed, has_score, value = msg.tolist()
    if failed:
        raise RuntimeError(f"{label}: stopped because rank 0 failed at the end of epoch {epoch} (see its log)")
    return value if has_score else None


@torch.inference_mode()
def predict(model: TaskModel, fmt: Format, feats: list[Feature], batch_size: int) -> list:
    """`fmt.decode`'s output for each feature, in the order of `feats` (one process: rank 0 evaluates during
    data-parallel training); `evaluate` turns them into one prediction per row."""
    distributed.check_single_process("evaluation")
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
    """(aggregate score, per-example scores, predictions) on the rows of `df` (features cover every row). A row
    encoded as several features (span QA windows, long tagging sentences) gets one prediction from all of them
    (`formats.combine_rows`: the format's `combine` hook)."""
    from ..formats import combine_rows

    preds = predict(model, fmt, feats, batch_size)
    by_row = combine_rows(fmt, df, feats, preds)
    score, per_example = fmt.score(df, by_row, metric, labels)
    return score, per_example, by_row


def mlm_pretrain(model, texts_ids: list[np.ndarray], *, steps: int, batch_size: int, lr: float, mask_prob: float,
                 vocab_size: int, seed: int, special_max: int, mask_id: int, pad_id: int) -> list[float]:
    """Masked-LM pretraining (80/10/10 masking) of an XLMRobertaForMaskedLM for a fixed number of steps."""
    distributed.check_single_process("mlm pretraining")
    dev = device()
    model.to(dev).train()
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=dev.type == "cuda")
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
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
        batch = {"input_ids": inputs.to(dev), "attention_mask": (ids != pad_id).long().to(dev),
                 "labels": labels.to(dev)}
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
