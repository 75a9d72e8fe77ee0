"""Task-format registry: how each canonical format is tokenised, batched, trained and scored.

A format implements `Format`; adding one = one module that calls `register` + one test. Optional hooks:
`options` (keyword options of `encode` taken from the fine-tuning hyperparameters, e.g. span QA's `doc_stride`),
`combine` (rows encoded as several features: span QA windows, long tagging sentences), `truncation` (what encoding
cut or split, counted per file) and `loss_units`.
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
    """A task format. Its `loss` is a mean over the batch's features; a format whose loss averages over something
    else defines `loss_units(feats) -> int` (tagging: labelled tokens) so data-parallel shards weigh right.

    `encode` returns features in row order (a row's features consecutive). A format whose rows can give several
    features defines `combine(df, feats, outputs) -> one prediction per row` from `decode`'s per-feature outputs
    (`combine_rows` below; without it each row has exactly one feature). `truncation(feats) -> dict` counts what
    encoding cut or split (`truncation_counts` below); `options` names `encode`'s keyword options."""

    name: str

    def out_features(self, num_labels: int) -> int: ...
    def encode(self, df: pd.DataFrame, tok, max_length: int, train: bool, **options) -> list[Feature]: ...
    def collate(self, feats: list[Feature]) -> dict[str, torch.Tensor]: ...
    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...
    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], feats: list[Feature]) -> list[Any]: ...
    def score(
        self, df: pd.DataFrame, preds: list[Any], metric: str, labels: tuple[str, ...]
    ) -> tuple[float, list[float]]: ...


REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    REGISTRY[fmt.name] = fmt
    return fmt


def get(name: str) -> Format:
    if name not in REGISTRY:
        raise KeyError(f"unknown task format {name!r}; registered: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def encode_options(fmt: Format, hyper: dict) -> dict:
    """The `encode` keyword options of `fmt` found in `hyper` (finetuning.hyper's dict), e.g. {"doc_stride": 128}
    for span QA, {} for the other formats."""
    return {k: hyper[k] for k in getattr(fmt, "options", ()) if k in hyper}


def combine_rows(fmt: Format, df: pd.DataFrame, feats: list[Feature], outputs: list) -> list:
    """One prediction per row of `df` from the per-feature outputs of `fmt.decode`: the format's `combine`, or,
    for formats with one feature per row, the feature's own output (None for a row without a feature)."""
    combine = getattr(fmt, "combine", None)
    if combine is not None:
        return combine(df, feats, outputs)
    by_row: list = [None] * len(df)
    for f, p in zip(feats, outputs):
        by_row[f.example] = p
    return by_row


TRUNCATION_KEYS = ("n_inputs", "n_split", "n_truncated", "n_choice_truncated", "n_unk_words", "n_truncated_words")


def truncation_counts(fmt: Format, feats: list[Feature]) -> dict[str, float]:
    """What encoding did to one file, as result columns: `n_inputs` (features the model saw), `n_split` (rows
    spread over several windows: span QA, tagging), `n_truncated` (rows that lost sub-tokens: a multiple-choice
    context or choice cut, a QA question cut to 64 sub-tokens, a tagging word too long for a window),
    `n_choice_truncated` (multiple choice: rows where a choice itself was cut), `n_unk_words` and
    `n_truncated_words` (tagging: words fed as <unk>; of those, words cut for length). NaN where the format does
    not count it (pair classification reports `n_inputs` only)."""
    own = getattr(fmt, "truncation", None)
    counts = own(feats) if own is not None else {"n_inputs": len(feats)}
    return {k: float(counts[k]) if k in counts else float("nan") for k in TRUNCATION_KEYS}


def pad(seqs: list[np.ndarray], value: int) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    out = np.full((len(seqs), n), value, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return torch.from_numpy(out)


from . import mc, pair, span, tagging  # noqa: E402,F401  (registration)
