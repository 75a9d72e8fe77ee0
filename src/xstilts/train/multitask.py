"""Multi-task intermediate training, as jiant does it (`jiant/proj/main/runner.py`, `components/task_sampler.py`):
one shared encoder, a head per task, and one task sampled per optimizer step from a seeded sampler; that step runs
`grad_accum` batches of the sampled task. The sampler's probabilities come from the tasks' example counts:

- `uniform`: 1/K each (jiant's UniformMultiTaskSampler);
- `proportional`: n_t / sum n (ProportionalMultiTaskSampler, jiant's Simple API default without a cap);
- `temperature`: min(n_t, cap) ** (1/T), normalised (TemperatureMultiTaskSampler);
- a cap (`examples_cap` > 0) also applies to `proportional` (the Simple API's capped SpecifiedProb sampler).

The number of optimizer steps is jiant's: sum over tasks of epochs x ceil(min(n_t, cap) / (batch x grad_accum)).
A component can instead take a fixed share of the steps (`fixed`): the masked-LM loss mixed into intermediate
training (jiant's `mlm_simple` task, 15% masking with 80/10/10 replacement) is such a component, with its own head
tied to the word embeddings that continues from the pretrained model's own MLM head, as jiant does (the pretrain
stage saves it next to the baseline encoder: `lm_head.safetensors`; a head starts fresh only where the encoder
has none, and the variant stage records which).

Single process only (no data-parallel multi-task training; the stage refuses a launcher)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..core.tasks import SAMPLERS
from ..core.vocab import MASK, PAD, SPECIALS, UNK
from ..formats import Feature, Format, pad
from . import distributed
from .loop import Diverged, FitSettings, Progress, _autocast, _to, batches, device, runtime_path
from .modeling import TaskModel

MLM = "mlm"  # the name of the masked-LM component


def probabilities(sizes: dict[str, int], sampler: str, *, temperature: float = 1.0, cap: int = 0,
                  fixed: dict[str, float] | None = None) -> dict[str, float]:
    """Each component's probability of being sampled for an optimizer step (in the order of `sizes`). `fixed`
    components take their share; the others share the rest under `sampler` on their (capped) example counts."""
    fixed = dict(fixed or {})
    if sampler not in SAMPLERS:
        raise ValueError(f"multi-task sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    if any(not 0 < p < 1 for p in fixed.values()) or sum(fixed.values()) >= 1:
        raise ValueError(f"fixed shares must be in (0, 1) and sum below 1, got {fixed}")
    rest = [t for t in sizes if t not in fixed]
    if not rest:
        raise ValueError("multi-task training needs at least one sampled task")
    n = np.array([min(sizes[t], cap) if cap > 0 else sizes[t] for t in rest], dtype=np.float64)
    if (n <= 0).any():
        raise ValueError(f"every task needs examples, got {dict(zip(rest, n.tolist()))}")
    if sampler == "uniform":
        w = np.ones_like(n)
    elif sampler == "proportional":
        w = n
    else:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        w = n ** (1.0 / temperature)
    w = w / w.sum() * (1.0 - sum(fixed.values()))
    out = dict(zip(rest, w.tolist()))
    return {t: (fixed[t] if t in fixed else out[t]) for t in sizes}


def total_steps(sizes: dict[str, int], epochs: int, batch_size: int, grad_accum: int, cap: int = 0) -> int:
    """jiant's max_steps: sum over tasks of epochs x ceil(capped n / (batch_size x grad_accum))."""
    return sum(epochs * math.ceil((min(n, cap) if cap > 0 else n) / (batch_size * grad_accum))
               for n in sizes.values())


class MLMHead(nn.Module):
    """XLM-R's masked-LM head (dense, GELU, layer norm, then the decoder tied to the word embeddings), with
    transformers' parameter names; `state` (xstilts.train.modeling.load_lm_head) continues a pretrained head."""

    def __init__(self, encoder: nn.Module, state: dict[str, torch.Tensor] | None = None):
        super().__init__()
        hidden = encoder.config.hidden_size
        self.dense = nn.Linear(hidden, hidden)
        self.layer_norm = nn.LayerNorm(hidden, eps=encoder.config.layer_norm_eps)
        self.embeddings = encoder.embeddings.word_embeddings  # tied (not a copy)
        self.bias = nn.Parameter(torch.zeros(self.embeddings.num_embeddings))
        if state is not None:
            result = self.load_state_dict(state, strict=False)
            if result.unexpected_keys or result.missing_keys != ["embeddings.weight"]:
                raise ValueError(f"masked-LM head does not fit this encoder (missing {result.missing_keys}, "
                                 f"unexpected {result.unexpected_keys})")

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.layer_norm(nn.functional.gelu(self.dense(hidden)))
        return h @ self.embeddings.weight.T + self.bias


class MultiTaskModel(nn.Module):
    """A shared encoder with one linear head per task (`out_features` by name) and optionally an MLM head."""

    def __init__(self, encoder: nn.Module, out_features: dict[str, int], mlm: bool = False, dropout: float = 0.1,
                 mlm_state: dict[str, torch.Tensor] | None = None):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(encoder.config.hidden_size, n) for t, n in out_features.items()})
        self.mlm_head = MLMHead(encoder, mlm_state) if mlm else None

    def forward(self, task: str, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if task == MLM:
            return self.mlm_head(hidden)
        return self.heads[task](self.dropout(hidden))

    def task_model(self, task: str) -> TaskModel:
        """A TaskModel sharing this encoder and `task`'s head (for evaluation with the single-task code)."""
        view = TaskModel(self.encoder, self.heads[task].out_features)
        view.head = self.heads[task]
        return view


@dataclass
class Component:
    """One task of a multi-task run: its format and training features, or (MLM) tokenised sentences."""

    name: str
    fmt: Format | None  # None: the masked-LM component
    feats: list  # Feature (a task) or np.ndarray token ids (MLM)
    n: int  # examples (sentences for MLM): the sampler's count


@dataclass
class MultiResult:
    steps: dict[str, int] = field(default_factory=dict)  # optimizer steps drawn per component
    losses: dict[str, float] = field(default_factory=dict)  # mean loss per component
    probabilities: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    examples_per_second: float = 0.0
    runtime: dict = field(default_factory=dict)


def mask_batch(rows: list[np.ndarray], rng: torch.Generator, mask_prob: float, vocab_size: int,
               mask_id: int = MASK) -> dict[str, torch.Tensor]:
    """BERT masking of a batch of token ids: `mask_prob` of the non-special tokens are predicted; of those 80%
    become <mask> (`mask_id`: the tokenizer's own; XLM-R's is its last id, not 4), 10% a random token and 10% stay
    (the pretrain stage's recipe)."""
    ids = pad(rows, PAD)
    special = (ids <= UNK) | (ids == mask_id)  # <s> <pad> </s> <unk> are 0-3 in every tokenizer here
    masked = (torch.rand(ids.shape, generator=rng) < mask_prob) & ~special
    labels = ids.clone()
    labels[~masked] = -100
    inputs = ids.clone()
    r = torch.rand(ids.shape, generator=rng)
    inputs[masked & (r < 0.8)] = mask_id
    swap = masked & (r >= 0.8) & (r < 0.9)
    inputs[swap] = torch.randint(len(SPECIALS), vocab_size, ids.shape, generator=rng)[swap]
    return {"input_ids": inputs, "attention_mask": (ids != PAD).long(), "labels": labels}


class _Stream:
    """Endless length-grouped batches of one component: a new shuffled pass whenever one runs out."""

    def __init__(self, comp: Component, batch_size: int, seed: int):
        self.comp, self.batch_size = comp, batch_size
        self.rng = np.random.default_rng(seed)
        self.queue: list[list[int]] = []
        lengths = [len(x) for x in comp.feats] if comp.fmt is None else None
        self._feats = ([Feature(ids=np.zeros(n, dtype=np.int64), example=i) for i, n in enumerate(lengths)]
                       if lengths is not None else comp.feats)

    def next(self) -> list[int]:
        if not self.queue:
            self.queue = batches(self._feats, self.batch_size, self.rng)
        return self.queue.pop()


def fit_multitask(model: MultiTaskModel, comps: list[Component], settings: FitSettings, *, lr: float, seed: int,
                  probs: dict[str, float], steps: int, mlm_probability: float = 0.15, vocab_size: int = 0,
                  mask_id: int = MASK, label: str = "multitask") -> MultiResult:
    """Train `model` in place for `steps` optimizer steps, each on one component drawn from `probs` (seeded by
    `seed`, as are the batches, the heads' dropout and the masking)."""
    distributed.check_single_process(label)
    if distributed.world_size() > 1:
        raise ValueError(f"{label}: multi-task training runs in one process; launch it without a launcher")
    dev = device()
    model.to(dev)
    torch.manual_seed(seed)
    order = [c.name for c in comps]
    p = np.array([probs[n] for n in order], dtype=np.float64)
    task_rng = np.random.default_rng(seed)
    streams = {c.name: _Stream(c, settings.batch_size, seed + 1 + i) for i, c in enumerate(comps)}
    by_name = {c.name: c for c in comps}
    mask_rng = torch.Generator().manual_seed(seed)
    params = [q for q in model.parameters() if q.requires_grad]
    decay = [q for q in params if q.ndim >= 2]
    no_decay = [q for q in params if q.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, fused=dev.type == "cuda")
    warm = max(1, int(settings.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    result = MultiResult(steps={n: 0 for n in order}, probabilities=dict(zip(order, p.tolist())),
                         runtime=runtime_path(model, dev, fused=bool(opt.defaults.get("fused")), compiled=False))
    sums = {n: 0.0 for n in order}
    meter = Progress(steps, label)
    t0, n_examples = time.time(), 0
    model.train()
    for step in range(steps):
        name = order[int(task_rng.choice(len(order), p=p))]
        comp = by_name[name]
        step_loss = 0.0
        opt.zero_grad(set_to_none=True)
        for _ in range(settings.grad_accum):
            b = streams[name].next()
            if comp.fmt is None:
                batch = _to(mask_batch([comp.feats[i] for i in b], mask_rng, mlm_probability, vocab_size, mask_id),
                            dev)
                with _autocast(dev):
                    logits = model(MLM, batch["input_ids"], batch["attention_mask"])
                    loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(),
                                                       ignore_index=-100)
            else:
                batch = _to(comp.fmt.collate([comp.feats[i] for i in b]), dev)
                with _autocast(dev):
                    logits = model(name, batch["input_ids"], batch["attention_mask"])
                    loss = comp.fmt.loss(logits.float(), batch)
            if not torch.isfinite(loss):
                raise Diverged(f"{label}: {name} loss became {loss.item()} at step {step} (lr={lr:g})")
            (loss / settings.grad_accum).backward()
            step_loss += loss.item() / settings.grad_accum
            n_examples += len(b)
        torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        opt.step()
        sched.step()
        result.steps[name] += 1
        sums[name] += step_loss
        meter.update(step + 1, f"{name} loss {step_loss:.3f}")
    result.losses = {n: sums[n] / result.steps[n] if result.steps[n] else float("nan") for n in order}
    result.seconds = time.time() - t0
    result.examples_per_second = n_examples / max(result.seconds, 1e-9)
    return result
