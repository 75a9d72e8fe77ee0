"""Task-format registry: how each canonical format is tokenised, batched, trained and scored.

A format implements `Format`; adding one = one module that calls `register` + one test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch


@dataclass
class Feature:
    ids: np.ndarray  # token ids ([L] or [choices, L])
    example: int  # row position in the source DataFrame
    target: Any = None  # label / (start, end) / per-token labels
    extra: Any = None  # what prediction decoding needs (offsets, word ids)

    @property
    def length(self) -> int:
        return int(self.ids.shape[-1])


class Format(Protocol):
    """A task format. Its `loss` is a mean over the batch's examples; a format whose loss averages over something
    else defines `loss_units(feats) -> int` (tagging: labelled tokens) so data-parallel shards weigh right."""

    name: str

    def out_features(self, num_labels: int) -> int: ...
    def encode(self, df: pd.DataFrame, tok, max_length: int, train: bool) -> list[Feature]: ...
    def collate(self, feats: list[Feature]) -> dict[str, torch.Tensor]: ...
    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...
    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], feats: list[Feature]) -> list[Any]: ...
    def score(self, df: pd.DataFrame, preds: list[Any], metric: str, labels: tuple[str, ...]) -> tuple[float, list[float]]: ...


REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    REGISTRY[fmt.name] = fmt
    return fmt


def get(name: str) -> Format:
    if name not in REGISTRY:
        raise KeyError(f"unknown task format {name!r}; registered: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def pad(seqs: list[np.ndarray], value: int) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    out = np.full((len(seqs), n), value, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return torch.from_numpy(out)


from . import mc, pair, span, tagging  # noqa: E402,F401  (registration)
