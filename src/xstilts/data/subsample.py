"""Size-controlled subsamples: deterministic, seeded, label-stratified and nested.

Every example gets a key (rank within its stratum + a seeded offset) / stratum size; sorting by the key
interleaves the strata proportionally, so the first k examples of the order are a stratified sample of size k
for every k, and a smaller subsample is always contained in a larger one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.io import stable_seed


def strata(df: pd.DataFrame, fmt: str) -> pd.Series:
    if fmt in ("pair", "mc"):
        return df["label"].astype(str)
    if fmt == "span":  # question type (first question word)
        return df["question"].str.split(" ").str[0]
    return pd.Series(["all"] * len(df), index=df.index)


def nested_order(df: pd.DataFrame, fmt: str, seed: int, task: str) -> np.ndarray:
    """Row positions of `df` in the order in which subsamples take them."""
    rng = np.random.default_rng(stable_seed("subsample", seed, task))
    labels = strata(df, fmt).to_numpy()
    keys = np.empty(len(df))
    for value in sorted(set(labels)):
        idx = np.flatnonzero(labels == value)
        perm = rng.permutation(len(idx))
        keys[idx[perm]] = (np.arange(len(idx)) + rng.random()) / len(idx)
    return np.lexsort((np.arange(len(df)), keys))


def subsample(df: pd.DataFrame, fmt: str, size: int | None, seed: int, task: str) -> pd.DataFrame:
    """The first `size` examples of the nested order (all of them, in original order, when size is None)."""
    if size is None:
        return df.reset_index(drop=True)
    if size > len(df):
        raise ValueError(f"subsample of {task}: size {size} exceeds the {len(df)} training examples available")
    order = nested_order(df, fmt, seed, task)[:size]
    return df.iloc[np.sort(order)].reset_index(drop=True)
