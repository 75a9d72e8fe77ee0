"""Adversary registry: each adversary turns clean evaluation rows of a format into adversarial rows.

An adversary declares the formats it applies to, is deterministic given its random generator, keeps the gold
label valid (or sets it as documented), and emits rows in the same canonical schema plus `source_id` (the clean
example it came from) and `adversary`. Adding one = one module that calls `register` + one test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Adversary:
    name: str
    formats: tuple[str, ...]
    description: str
    needs_hints: bool  # True: works only where the source provides `meta` hints (the synthetic benchmark)
    # (clean rows, task labels, rng, options) -> adversarial rows (without source_id/adversary/id bookkeeping)
    fn: Callable[[pd.DataFrame, tuple[str, ...], np.random.Generator, dict], pd.DataFrame]

    def apply(self, clean: pd.DataFrame, fmt: str, labels: tuple[str, ...], rng: np.random.Generator,
              options: dict | None = None) -> pd.DataFrame:
        if fmt not in self.formats:
            raise ValueError(f"adversary {self.name!r} does not apply to format {fmt!r} (only {self.formats})")
        out = self.fn(clean.reset_index(drop=True), labels, rng, options or {})
        if out.empty:
            raise ValueError(f"adversary {self.name!r} produced no examples: the clean data has none it can use "
                             f"(see its description: {self.description})")
        out = out.copy()
        out["source_id"] = out["id"]
        out["id"] = out["id"] + "~" + self.name
        out["adversary"] = self.name
        if "meta" in out.columns:
            out["meta"] = ""  # the source's hints (spans, replacements) no longer describe the new text
        return out.reset_index(drop=True)


REGISTRY: dict[str, Adversary] = {}


def register(name: str, formats: tuple[str, ...], description: str, needs_hints: bool = False):
    def deco(fn):
        REGISTRY[name] = Adversary(name, formats, description, needs_hints, fn)
        return fn
    return deco


def meta_of(value: str) -> dict:
    return json.loads(value) if value else {}


from . import char_noise, distractor, entity_swap, lexical_overlap  # noqa: E402,F401  (registration)
