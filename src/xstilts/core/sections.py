"""The sections of params.yaml as frozen dataclasses: one per section, the single statement of its keys and types.

`xstilts.core.config` derives its schema (the keys it requires and the types it checks, at every depth) from
these classes, validates each section with its own small validator plus the cross-section checks, and returns the
validated mapping. Library code that takes a whole section takes its object, e.g. `of(params, "tune")`:
`xstilts.pipeline.tuning.search_lr` takes the `Tune` section and `xstilts.train.loop.fit` the `FitSettings` that
`xstilts.train.finetune` resolves from the `Finetune` section for one task.

A field with a default is optional in params.yaml. Floats accept ints (`warmup: 0` is 0.0)."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Study:
    source: str
    languages: list[str]
    intermediate_tasks: list[str]
    target_tasks: list[str]
    arms: list[str]
    seeds: list[int]


@dataclass(frozen=True)
class Language:
    order: str
    script: str
    share: float
    align_noise: float


@dataclass(frozen=True)
class Prepare:
    seed: int
    train_size: dict[str, int]
    target_train_size: dict[str, int]
    dev_size: int
    test_size: int
    pretrain_sentences: int


@dataclass(frozen=True)
class CodeSwitch:
    rate: float
    into: list[str]
    dictionaries: str


@dataclass(frozen=True)
class Aflite:
    seed: int
    max_score: float
    max_share: float
    encoder: str
    encoder_seed: int


@dataclass(frozen=True)
class Adversaries:
    seed: int
    subsets: dict[str, list[str]]
    char_noise_rate: float
    overlap_min: float
    code_switch: CodeSwitch
    aflite: Aflite


@dataclass(frozen=True)
class Subsample:
    seed: int
    sizes: list  # increasing ints, then "full"


@dataclass(frozen=True)
class Pretrain:
    seed: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_length: int
    mlm_steps: int
    mlm_probability: float
    batch_size: int
    learning_rate: float


@dataclass(frozen=True)
class Tune:
    seed: int
    n_trials: int
    lr_low: float
    lr_high: float
    train_examples: int
    epochs: int
    pruner: str
    storage: str
    shared: bool


@dataclass(frozen=True)
class Finetune:
    epochs: int
    batch_size: int
    grad_accum: int
    warmup: float
    weight_decay: float
    max_grad_norm: float
    freeze_embeddings: bool
    compile: bool
    doc_stride: int
    overrides: dict[str, dict]
    degenerate_margin: float
    degenerate_collapse: float
    restarts: int


@dataclass(frozen=True)
class Multitask:
    sampler: str
    temperature: float
    examples_cap: int


@dataclass(frozen=True)
class Mlm:
    task: str
    share: float
    languages: list[str]
    corpus: str
    max_lines: int


@dataclass(frozen=True)
class Translated:
    task: str
    languages: list[str]
    source: str


@dataclass(frozen=True)
class Variants:
    arms: list[str]
    size: str
    seed: int
    multitask: Multitask
    mlm: Mlm
    translated: Translated


@dataclass(frozen=True)
class Target:
    xcopa_recipe: str


@dataclass(frozen=True)
class Evaluate:
    batch_size: int
    retrieval_layer: int
    tatoeba_encoder: str


@dataclass(frozen=True)
class Report:
    seed: int
    n_bootstrap: int
    n_permutations: int
    alpha: float
    correction: str
    exclude_degenerate: bool


@dataclass(frozen=True)
class HubModel:
    id: str
    revision: str


@dataclass(frozen=True)
class Hub:
    benchmark: str
    revisions: dict[str, str]
    squad_version: str
    anli_composition: str
    model: HubModel
    data_dir: str | None = None
    ccg_path: str | None = None
    bucc_dir: str | None = None  # BUCC 2018's full pools (user-supplied: xstilts.data.hub.targets.load_bucc_pool)
    target_languages: dict | None = None
    lareqa_dir: str | None = None  # LAReQA's released xquad-r/<lang>.json (XTREME-R's exact sentence breaks)
    mewslix_dir: str | None = None  # a user-built Mewsli-X folder (xstilts.data.hub.targets.load_mewslix)


@dataclass(frozen=True)
class Params:
    profile: str
    study: Study
    languages: dict[str, Language]
    prepare: Prepare
    adversaries: Adversaries
    subsample: Subsample
    pretrain: Pretrain
    tune: Tune
    finetune: Finetune
    variants: Variants
    target: Target
    evaluate: Evaluate
    report: Report
    hub: Hub | None = None  # the paper profile's real datasets (study.source: hub)


_NUM = (int, float)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _plain(t: Any) -> Any:
    """The runtime type a params value of annotation `t` must have: a dataclass, or int / (int, float) / str /
    bool / list / dict (an `X | None` field: X)."""
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        return _plain(next(a for a in typing.get_args(t) if a is not type(None)))
    if dataclasses.is_dataclass(t):
        return t
    base = origin or t
    return _NUM if base is float else base


def schema(cls: type) -> dict[str, Any]:
    """The required keys of `cls` and their types, nested dataclasses as nested mappings (config's SCHEMA)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            continue
        t = _plain(_hints(cls)[f.name])
        out[f.name] = schema(t) if dataclasses.is_dataclass(t) else t
    return out


def optional(cls: type, key: str = "") -> dict[str, tuple[str, ...]]:
    """The optional keys (fields with a default) of `cls` and of its nested sections, by dotted section path."""
    out: dict[str, tuple[str, ...]] = {}
    names = tuple(f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING)
    if names:
        out[key] = names
    for f in dataclasses.fields(cls):
        t = _plain(_hints(cls)[f.name])
        if dataclasses.is_dataclass(t):
            out.update(optional(t, f"{key}.{f.name}" if key else f.name))
    return out


def build(cls: type, node: dict) -> Any:
    """The frozen `cls` of a validated mapping (nested sections and `dict[str, <section>]` values included)."""
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in node:
            continue
        t, value = hints[f.name], node[f.name]
        plain = _plain(t)
        if dataclasses.is_dataclass(plain) and value is not None:
            value = build(plain, value)
        elif plain is dict and typing.get_args(t) and dataclasses.is_dataclass(typing.get_args(t)[1]):
            value = {k: build(typing.get_args(t)[1], v) for k, v in value.items()}
        values[f.name] = value
    return cls(**values)


def of(params: dict, name: str) -> Any:
    """The `name` section of validated params as its frozen object (e.g. `of(params, "tune")` -> Tune)."""
    return build(_plain(_hints(Params)[name]), params[name])


SECTIONS: dict[str, Any] = {name: _plain(t) for name, t in _hints(Params).items()}
