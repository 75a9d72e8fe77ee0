"""Adversary registry: each adversary turns the clean evaluation rows of one (target task, language) into an
adversarial subset, every adversarial example paired with one clean example of the same file.

An adversary declares the formats it applies to, is deterministic given its random generator, keeps the gold
label valid (or states how it sets it: `label`), and emits rows in the canonical schema plus `source_id` and
`adversary`. Three kinds:

* ``perturbation``: new text built from one clean example; ``source_id`` is that example (degradation = the
  model's score on the source examples - its score on their perturbed versions).
* ``selection``: real clean examples selected by a property (e.g. high word overlap but not entailed); they keep
  their text and label, and ``source_id`` is a *label-matched control*: a clean example of the same language and
  label that was not selected, drawn without replacement while possible. Degradation = score on the controls -
  score on the selected examples, so the label mix cannot explain it.
* ``model``: a selection driven by a reference model's per-example scores (AFLite-style); built by the `aflite`
  stage, which trains the reference model and records its MLflow run id, not by `prepare`.

Adding one = one module that calls `register` + one test.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

PERTURBATION, SELECTION, MODEL = "perturbation", "selection", "model"
KINDS = (PERTURBATION, SELECTION, MODEL)


@dataclass(frozen=True)
class Adversary:
    name: str
    formats: tuple[str, ...]
    description: str
    needs_hints: bool  # True: works only where the source provides `meta` hints (the synthetic benchmark)
    # (clean rows, task labels, rng, options) -> perturbations: the adversarial rows (without the source_id /
    # adversary / id bookkeeping); selections and model subsets: one boolean per clean row (selected or not)
    fn: Callable[[pd.DataFrame, tuple[str, ...], np.random.Generator, dict], pd.DataFrame | np.ndarray]
    kind: str = PERTURBATION
    label: str = "kept"  # how the gold label of an adversarial example relates to its source's

    def apply(self, clean: pd.DataFrame, fmt: str, labels: tuple[str, ...], rng: np.random.Generator,
              options: dict | None = None) -> pd.DataFrame:
        if fmt not in self.formats:
            raise ValueError(f"adversary {self.name!r} does not apply to format {fmt!r} (only {self.formats})")
        clean = clean.reset_index(drop=True)
        out = self.fn(clean, labels, rng, options or {})
        if self.kind == PERTURBATION:
            if out.empty:
                raise ValueError(f"adversary {self.name!r} produced no examples: the clean data has none it can use "
                                 f"(see its description: {self.description})")
            out = out.copy()
            out["source_id"] = out["id"]
        else:
            out = _with_controls(self.name, clean, out, rng)
        out["id"] = out["id"] + "~" + self.name
        out["adversary"] = self.name
        if "meta" in out.columns:
            out["meta"] = ""  # the source's hints (spans, replacements) no longer describe the new text
        return out.reset_index(drop=True)


REGISTRY: dict[str, Adversary] = {}


def register(name: str, formats: tuple[str, ...], description: str, needs_hints: bool = False,
             kind: str = PERTURBATION, label: str = "kept"):
    if kind not in KINDS:
        raise ValueError(f"adversary {name!r}: kind must be one of {KINDS}, got {kind!r}")

    def deco(fn):
        REGISTRY[name] = Adversary(name, formats, description, needs_hints, fn, kind, label)
        return fn
    return deco


def meta_of(value: str) -> dict:
    return json.loads(value) if value else {}


def control_key(df: pd.DataFrame) -> pd.Series:
    """What a control must share with the example it stands for: the gold label (pair, mc), else nothing."""
    return df["label"].astype(str) if "label" in df.columns else pd.Series([""] * len(df), index=df.index)


def _with_controls(name: str, clean: pd.DataFrame, selected: pd.Series | np.ndarray,
                   rng: np.random.Generator) -> pd.DataFrame:
    """The selected rows of `clean` (a boolean mask) with `source_id` = a label-matched unselected control."""
    mask = np.asarray(selected, dtype=bool)
    if mask.shape != (len(clean),):
        raise ValueError(f"adversary {name!r}: a selection must return one boolean per clean row")
    if not mask.any():
        raise ValueError(f"adversary {name!r} selected no examples: the clean data has none with the property it "
                         f"selects (see `xstilts.adversaries.REGISTRY[{name!r}].description`)")
    key = control_key(clean)
    out = clean[mask].copy()
    controls: list[tuple[int, str]] = []
    unmatched: list[str] = []
    for k, group in out.groupby(key[mask], sort=True):
        pool = clean.loc[~mask & (key == k), "id"].to_numpy()
        if pool.size == 0:  # every example with this label was selected: none can serve as its control
            unmatched.append(f"{k!r} ({len(group)})")
            continue
        n = len(group)
        draw = rng.permutation(pool)[:n] if n <= pool.size else rng.choice(pool, size=n, replace=True)
        controls += list(zip(group.index, draw))
    if not controls:
        raise ValueError(f"adversary {name!r}: every selected example has a label ({', '.join(unmatched)}) of which "
                         f"every clean example was selected, so none is left as a control")
    if unmatched:
        print(f"adversary {name!r}: dropped selected examples with no unselected example of their label to pair "
              f"with: {', '.join(unmatched)}", file=sys.stderr)
    chosen = pd.Series(dict(controls))
    out = out.loc[sorted(chosen.index)]
    out["source_id"] = chosen.loc[out.index].astype(str)
    return out


def subset_path(root, task: str, adversary: str, lang: str):
    """Where the `adversary` subset of `task`'s `lang` test set lives: data/prepared/targets/<task>/adversarial/
    <adversary>/<lang>.parquet (a rule-based subset, written by prepare), or data/<adversary>/<task>/<lang>.parquet
    (a model-based one, written by the stage of the same name)."""
    from ..core import paths

    if adversary in REGISTRY and REGISTRY[adversary].kind == MODEL:
        return paths.model_subset_dir(root, adversary) / task / f"{lang}.parquet"
    return paths.rule_based_subset_path(root, task, adversary, lang)


from . import (  # noqa: E402,F401
    aflite,
    char_noise,
    code_switch,
    distractor,
    entity_swap,
    lexical_overlap,
    word_swap,
)
