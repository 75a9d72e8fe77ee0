"""Load and validate params.yaml before any work: one clear error naming the key and what was expected."""

from __future__ import annotations

import atexit
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from . import sections
from . import tasks as T
from .inputs import NOT_PIPELINE_TARGETS, hub_target_refusal


class ConfigError(ValueError):
    """params.yaml is invalid; the message names the key and the allowed values."""


_NUM = (int, float)
SCRIPTS = ("latin", "cyrillic", "greek")
ORDERS = ("svo", "sov")
SOURCES = ("synthetic", "hub")
PRUNERS = ("median", "halving", "hyperband", "none")
CORRECTIONS = ("holm", "bh")  # multiple-comparison corrections of the report (xstilts.analysis.stats.CORRECTIONS)
XCOPA_RECIPES = ("copa", "socialiqa_then_copa")  # target.xcopa_recipe: English COPA only, or XTREME-R's SIQA -> COPA
TATOEBA_ENCODERS = ("pretrained", "squad")  # evaluate.tatoeba_encoder: the arm's encoder, or its SQuAD-trained one
SQUAD_TARGETS = ("xquad", "mlqa")  # targets trained on English SQuAD(-style) data, in this order of preference

# key -> expected python type(s), nested mappings walked: derived from the section dataclasses (xstilts.core.sections)
SCHEMA: dict[str, Any] = sections.schema(sections.Params)
HUB_SCHEMA: dict[str, Any] = sections.schema(sections.Hub)
LANGUAGE_SCHEMA: dict[str, Any] = sections.schema(sections.Language)
# optional keys (fields with a default), by section path: the top-level `hub` and hub's local paths
OPTIONAL: dict[str, tuple[str, ...]] = sections.optional(sections.Params)


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return "mapping" if t is dict else t.__name__


def _unknown(node: dict, allowed, key: str) -> None:
    """Refuse a key the schema does not know, with the closest known one ("did you mean `epochs`?")."""
    import difflib

    for k in node:
        if k not in allowed:
            full = f"{key}.{k}" if key else str(k)
            close = difflib.get_close_matches(str(k), [str(a) for a in allowed], n=1, cutoff=0.6)
            hint = f"did you mean `{f'{key}.{close[0]}' if key else close[0]}`?" if close else \
                f"known keys: {', '.join(sorted(map(str, allowed)))}"
            raise ConfigError(f"params.yaml: unknown key `{full}` ({hint})")


def _walk(node: Any, schema: Any, key: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(node, dict):
            raise ConfigError(f"params.yaml: `{key}` must be a mapping, got {type(node).__name__}")
        _unknown(node, (*schema, *OPTIONAL.get(key, ())), key)
        for k, sub in schema.items():
            full = f"{key}.{k}" if key else k
            if k not in node:
                raise ConfigError(f"params.yaml: missing key `{full}` "
                                  f"(expected {_type_name(sub) if not isinstance(sub, dict) else 'a mapping'})")
            _walk(node[k], sub, full)
        return
    ok = isinstance(node, schema) and not (isinstance(node, bool) and schema in (int, _NUM))
    if schema is bool:
        ok = isinstance(node, bool)
    if not ok:
        raise ConfigError(f"params.yaml: `{key}` must be {_type_name(schema)}, got {node!r} ({type(node).__name__})")


# int keys where 0 is meaningful (the rest count)
NON_NEGATIVE = ("finetune.restarts", "evaluate.retrieval_layer", "variants.multitask.examples_cap",
                "variants.mlm.max_lines")


def _int_keys(schema: dict, key: str = ""):
    for k, sub in schema.items():
        full = f"{key}.{k}" if key else k
        if isinstance(sub, dict):
            yield from _int_keys(sub, full)
        elif sub is int:
            yield full


def _ranges(p: dict) -> None:
    """Every integer key of the schema in range: a seed in 0..2**32-1 (numpy's seed range), a count >= 1, the
    NON_NEGATIVE ones >= 0; likewise the per-task sizes of `prepare`."""
    for key in _int_keys(SCHEMA):
        node: Any = p
        for part in key.split("."):
            node = node[part]
        if key.rsplit(".", 1)[-1].endswith("seed"):
            if not 0 <= node < 2**32:
                raise ConfigError(f"params.yaml: `{key}` must be a seed in 0..2**32-1, got {node}")
        elif node < (0 if key in NON_NEGATIVE else 1):
            raise ConfigError(f"params.yaml: `{key}` must be >= {0 if key in NON_NEGATIVE else 1}, got {node}")
    for section in ("train_size", "target_train_size"):
        for task, n in p["prepare"][section].items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"params.yaml: `prepare.{section}.{task}` must be an int >= 1, got {n!r}")


def _choice(value: Any, allowed: tuple[str, ...] | list[str], key: str) -> None:
    if value not in allowed:
        raise ConfigError(f"params.yaml: `{key}` = {value!r} is not allowed; "
                          f"allowed values: {', '.join(map(str, allowed))}")


def _nonempty_unique(values: list, key: str) -> None:
    if not values:
        raise ConfigError(f"params.yaml: `{key}` must be a non-empty list")
    if len(set(map(str, values))) != len(values):
        raise ConfigError(f"params.yaml: `{key}` has duplicates: {values}")


def validate(p: dict) -> dict:
    """Raise ConfigError on the first problem; return `p` unchanged when valid. The schema first (every key known,
    present and of its type, at any depth; every count and seed in range), then each section's own validator in
    file order, then the checks that relate two sections."""
    _walk(p, SCHEMA, "")
    _ranges(p)
    for name, check in VALIDATORS.items():
        check(p[name])
    _cross(p)
    return p


def _study(st: dict) -> None:
    _choice(st["source"], SOURCES, "study.source")
    for key, allowed in (("intermediate_tasks", T.INTERMEDIATE), ("target_tasks", T.TARGETS)):
        _nonempty_unique(st[key], f"study.{key}")
        for i, name in enumerate(st[key]):
            if key == "target_tasks" and name in NOT_PIPELINE_TARGETS:
                raise ConfigError(f"params.yaml: `study.target_tasks[{i}]` = {name!r}: {NOT_PIPELINE_TARGETS[name]}")
            _choice(name, allowed, f"study.{key}[{i}]")
    _nonempty_unique(st["arms"], "study.arms")
    allowed_arms = T.CONTROLS + tuple(st["intermediate_tasks"]) + tuple(T.VARIANTS)
    for i, arm in enumerate(st["arms"]):
        _choice(arm, allowed_arms, f"study.arms[{i}]")
    missing = [t for t in st["intermediate_tasks"] if t not in st["arms"]]
    if missing:
        raise ConfigError(f"params.yaml: `study.arms` must list every intermediate task; missing: {', '.join(missing)}")
    if "baseline" not in st["arms"]:
        raise ConfigError("params.yaml: `study.arms` must contain 'baseline' (the no-intermediate-task baseline)")
    _nonempty_unique(st["seeds"], "study.seeds")
    for i, s in enumerate(st["seeds"]):
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ConfigError(f"params.yaml: `study.seeds[{i}]` must be a non-negative int, got {s!r}")
    _nonempty_unique(st["languages"], "study.languages")
    if st["languages"][0] != T.TRAINING_LANGUAGE:
        raise ConfigError(f"params.yaml: `study.languages` must start with {T.TRAINING_LANGUAGE!r} (the training "
                          "language)")
    if len(st["languages"]) < 2:
        raise ConfigError("params.yaml: `study.languages` needs at least one language besides 'en'")


def _languages(derived: dict) -> None:
    for lang, spec in derived.items():
        _walk(spec, LANGUAGE_SCHEMA, f"languages.{lang}")
        _choice(spec["order"], ORDERS, f"languages.{lang}.order")
        _choice(spec["script"], SCRIPTS, f"languages.{lang}.script")
        if not 0.0 <= spec["share"] <= 1.0:
            raise ConfigError(f"params.yaml: `languages.{lang}.share` must be in [0, 1], got {spec['share']}")
        if spec["align_noise"] < 0:
            raise ConfigError(f"params.yaml: `languages.{lang}.align_noise` must be >= 0, got {spec['align_noise']}")


def _prepare(pr: dict) -> None:
    for section in ("train_size", "target_train_size"):
        for task, n in pr[section].items():
            if not isinstance(n, int) or isinstance(n, bool) or n < 10:
                raise ConfigError(f"params.yaml: `prepare.{section}.{task}` must be an int >= 10, got {n!r}")
    for key in ("dev_size", "test_size", "pretrain_sentences"):
        if pr[key] < 10:
            raise ConfigError(f"params.yaml: `prepare.{key}` must be >= 10, got {pr[key]}")


def _adversaries(adv: dict) -> None:
    from ..adversaries import REGISTRY as ADV  # local import: the registry imports formats

    for task, advs in adv["subsets"].items():
        _choice(task, T.TARGETS, f"adversaries.subsets.{task}")
        fmt = T.get(task).format
        for i, name in enumerate(advs):
            _choice(name, sorted(ADV), f"adversaries.subsets.{task}[{i}]")
            if fmt not in ADV[name].formats:
                raise ConfigError(f"params.yaml: adversary {name!r} (`adversaries.subsets.{task}[{i}]`) "
                                  f"does not apply to format {fmt!r} of {task}; "
                                  f"it applies to: {', '.join(ADV[name].formats)}")
    for key, value in (("char_noise_rate", adv["char_noise_rate"]), ("overlap_min", adv["overlap_min"]),
                       ("code_switch.rate", adv["code_switch"]["rate"]),
                       ("aflite.max_score", adv["aflite"]["max_score"]),
                       ("aflite.max_share", adv["aflite"]["max_share"])):
        if not 0 < value <= 1:
            raise ConfigError(f"params.yaml: `adversaries.{key}` must be in (0, 1], got {value}")
    switching = [t for t, names in adv["subsets"].items() if "code_switch" in names]
    if switching and not adv["code_switch"]["into"]:
        raise ConfigError("params.yaml: `adversaries.code_switch.into` must list at least one language to switch "
                          f"into (code_switch is used by {', '.join(switching)})")
    _choice(adv["aflite"]["encoder"], ("independent", "baseline"), "adversaries.aflite.encoder")


def _subsample(sub: dict) -> None:
    sizes = sub["sizes"]
    _nonempty_unique(sizes, "subsample.sizes")
    if sizes[-1] != "full":
        raise ConfigError(f"params.yaml: `subsample.sizes` must end with 'full' (the natural size), got {sizes}")
    numbers = sizes[:-1]
    for i, s in enumerate(numbers):
        if not isinstance(s, int) or isinstance(s, bool) or s <= 0:
            raise ConfigError(f"params.yaml: `subsample.sizes[{i}]` must be a positive int (or the final 'full'), "
                              f"got {s!r}")
    if numbers != sorted(numbers):
        raise ConfigError(f"params.yaml: `subsample.sizes` must be increasing, got {sizes}")


def _pretrain(pt: dict) -> None:
    if pt["hidden_size"] % pt["num_heads"]:
        raise ConfigError("params.yaml: `pretrain.hidden_size` must be divisible by `pretrain.num_heads`")


def _tune(tu: dict) -> None:
    if not (0 < tu["lr_low"] < tu["lr_high"]):
        raise ConfigError(f"params.yaml: `tune.lr_low` ({tu['lr_low']}) must be positive and below "
                          f"`tune.lr_high` ({tu['lr_high']})")
    _choice(tu["pruner"], PRUNERS, "tune.pruner")
    scheme = tu["storage"].split(":", 1)[0].split("+", 1)[0]
    if not (tu["storage"] in ("journal", "memory") or scheme in ("journal", "postgresql", "mysql", "sqlite")):
        raise ConfigError(f"params.yaml: `tune.storage` = {tu['storage']!r}: expected 'journal', 'journal:<path>', "
                          f"'memory' or an RDB URL (postgresql://..., mysql://..., sqlite:///...)")
    if tu["shared"] and tu["storage"] == "memory":
        raise ConfigError("params.yaml: `tune.shared` is true, which needs a storage other workers can reach, "
                          "not 'memory'")


PER_TASK = {"epochs": int, "batch_size": int, "grad_accum": int, "max_length": int, "doc_stride": int, "warmup": _NUM}
"""The keys of `finetune.overrides.<task>` and their types."""


def _finetune(ft: dict) -> None:
    for task, over in ft["overrides"].items():
        _choice(task, tuple(T.TASKS), f"finetune.overrides.{task}")
        if not isinstance(over, dict):
            raise ConfigError(f"params.yaml: `finetune.overrides.{task}` must be a mapping")
        for k, v in over.items():
            _choice(k, tuple(PER_TASK), f"finetune.overrides.{task}.{k}")
            _walk(v, PER_TASK[k], f"finetune.overrides.{task}.{k}")
            if k != "warmup" and v < 1:
                raise ConfigError(f"params.yaml: `finetune.overrides.{task}.{k}` must be >= 1")
    if not 0 <= ft["warmup"] < 1:
        raise ConfigError("params.yaml: `finetune.warmup` must be in [0, 1)")
    if not 0 <= ft["degenerate_margin"] < 100:
        raise ConfigError(f"params.yaml: `finetune.degenerate_margin` must be in [0, 100) points, "
                          f"got {ft['degenerate_margin']}")
    if not 0 < ft["degenerate_collapse"] <= 1:
        raise ConfigError(f"params.yaml: `finetune.degenerate_collapse` must be in (0, 1] "
                          f"(0 = a uniform, 1 = a constant prediction distribution), got {ft['degenerate_collapse']}")
    if not 0 <= ft["restarts"] <= 10:
        raise ConfigError(f"params.yaml: `finetune.restarts` must be in 0..10, got {ft['restarts']}")


def _variants(va: dict) -> None:
    if len(set(va["arms"])) != len(va["arms"]):
        raise ConfigError(f"params.yaml: `variants.arms` has duplicates: {va['arms']}")
    for i, arm in enumerate(va["arms"]):
        _choice(arm, tuple(T.VARIANTS), f"variants.arms[{i}]")
    mt, mlm = va["multitask"], va["mlm"]
    _choice(mt["sampler"], T.SAMPLERS, "variants.multitask.sampler")
    if mt["temperature"] <= 0:
        raise ConfigError("params.yaml: `variants.multitask.temperature` must be positive")
    if mt["examples_cap"] < 0:
        raise ConfigError("params.yaml: `variants.multitask.examples_cap` must be >= 0 (0 = no cap)")
    if not 0 < mlm["share"] < 1:
        raise ConfigError("params.yaml: `variants.mlm.share` (the share of optimizer steps that are masked-LM steps) "
                          "must be in (0, 1)")


def _target(tg: dict) -> None:
    _choice(tg["xcopa_recipe"], XCOPA_RECIPES, "target.xcopa_recipe")  # inert without an xcopa target


def _evaluate(ev: dict) -> None:
    _choice(ev["tatoeba_encoder"], TATOEBA_ENCODERS, "evaluate.tatoeba_encoder")


def _report(rp: dict) -> None:
    for key in ("n_bootstrap", "n_permutations"):
        if rp[key] < 10:
            raise ConfigError(f"params.yaml: `report.{key}` must be >= 10")
    if not 0 < rp["alpha"] < 0.5:
        raise ConfigError(f"params.yaml: `report.alpha` must be in (0, 0.5), got {rp['alpha']}")
    _choice(rp["correction"], CORRECTIONS, "report.correction")


VALIDATORS = {"study": _study, "languages": _languages, "prepare": _prepare, "adversaries": _adversaries,
              "subsample": _subsample, "pretrain": _pretrain, "tune": _tune, "finetune": _finetune,
              "variants": _variants, "target": _target, "evaluate": _evaluate, "report": _report}
"""Each section's own checks (the values of that section alone), in params.yaml order."""


def _cross_variants(p: dict) -> None:
    """variants.arms against study.arms, and the tasks, languages and size the variants name."""
    st, va = p["study"], p["variants"]
    listed = [a for a in st["arms"] if a in T.VARIANTS]
    if listed != [a for a in va["arms"] if a in listed] or set(listed) != set(va["arms"]):
        raise ConfigError(f"params.yaml: the variant arms of `study.arms` ({listed}) must be exactly "
                          f"`variants.arms` ({va['arms']}), in the same order: the variant stage trains the one, the "
                          f"target and evaluate stages run the other")
    if not va["arms"]:
        return
    _choice(str(va["size"]), size_labels(p), "variants.size (a label of subsample.sizes)")
    for key in ("mlm", "translated"):
        if key in va["arms"]:
            _choice(va[key]["task"], st["intermediate_tasks"], f"variants.{key}.task")
    if "multitask" in va["arms"] and len(st["intermediate_tasks"]) < 2:
        raise ConfigError("params.yaml: `variants.arms` lists multitask but `study.intermediate_tasks` has one task")
    if "mlm" in va["arms"]:
        _nonempty_unique(va["mlm"]["languages"], "variants.mlm.languages")
        if st["source"] == "synthetic":
            for i, lang in enumerate(va["mlm"]["languages"]):
                _choice(lang, st["languages"], f"variants.mlm.languages[{i}]")
    if "translated" in va["arms"]:
        langs = va["translated"]["languages"]
        _nonempty_unique(langs, "variants.translated.languages")
        for i, lang in enumerate(langs):
            if lang == T.TRAINING_LANGUAGE:
                raise ConfigError("params.yaml: `variants.translated.languages` lists en: the English data are "
                                  "always in; list the languages of the translations")
            if st["source"] == "synthetic":
                _choice(lang, st["languages"][1:], f"variants.translated.languages[{i}]")
    hub = st["source"] == "hub"
    for key, sub, generated in (("mlm", "corpus", "pretrain"), ("translated", "source", "generated")):
        if key in va["arms"] and hub and va[key][sub] == generated:
            raise ConfigError(f"params.yaml: `variants.{key}.{sub}` = {generated!r} is the embedded benchmark's own "
                              f"data; with `study.source: hub` give {_VARIANT_SOURCES[key]}")
        if key in va["arms"] and not hub and va[key][sub] != generated:
            raise ConfigError(f"params.yaml: `variants.{key}.{sub}` = {va[key][sub]!r}: the embedded benchmark uses "
                              f"its own data ({generated!r}); the others are for the paper profile")
    if "mlm" in va["arms"] and va["mlm"]["corpus"] == "wikipedia" and va["mlm"]["max_lines"] < 1:
        raise ConfigError("params.yaml: `variants.mlm.max_lines` must be >= 1 with `variants.mlm.corpus: wikipedia` "
                          "(the first lines of each language's dump are streamed; 0 would read the whole dump)")


_VARIANT_SOURCES = {"mlm": "`wikipedia` (each language's Wikipedia at a pinned revision) or a folder with one text "
                           "file <lang>.txt per listed language, a sentence per line",
                    "translated": "a folder with <lang>.parquet per listed language, in the task's canonical schema, "
                                  "ids matching its English training rows"}


def _cross(p: dict) -> None:
    """The checks that relate two sections (a list that names tasks, languages or sizes of another)."""
    st, pr, adv = p["study"], p["prepare"], p["adversaries"]
    _cross_variants(p)
    synthetic = st["source"] == "synthetic"
    for i, lang in enumerate(st["languages"][1:], start=1):
        if synthetic:
            _choice(lang, sorted(p["languages"]), f"study.languages[{i}]")
    for task in st["intermediate_tasks"]:
        if task not in pr["train_size"]:
            raise ConfigError(f"params.yaml: `prepare.train_size.{task}` missing (natural training size of {task})")
    for task in st["target_tasks"]:
        if synthetic and T.get(task).format != "retrieval" and task not in pr["target_train_size"]:
            raise ConfigError(f"params.yaml: `prepare.target_train_size.{task}` missing")
    numbers = p["subsample"]["sizes"][:-1]
    for task in st["intermediate_tasks"]:
        natural = pr["train_size"][task]
        if numbers and numbers[-1] >= natural:
            raise ConfigError(
                f"params.yaml: `subsample.sizes` contains {numbers[-1]}, which is not smaller than the natural size "
                f"of {task} (`prepare.train_size.{task}` = {natural}); "
                f"every controlled size must be below every task's full size")
    for task in st["target_tasks"]:
        if len(adv["subsets"].get(task, [])) < 1:
            raise ConfigError(f"params.yaml: `adversaries.subsets.{task}` must list at least one adversary")
    _validate_protocol(p)
    layer = p["evaluate"]["retrieval_layer"]
    depth = p["pretrain"]["num_layers"] if synthetic else None
    if layer < 0 or (depth is not None and layer > depth):
        raise ConfigError(f"params.yaml: `evaluate.retrieval_layer` = {layer}: hidden states run from 0 (embeddings) "
                          f"to {depth if depth is not None else 'the encoder depth'} (`pretrain.num_layers`)")
    switching = [t for t, names in adv["subsets"].items() if "code_switch" in names]
    cs = adv["code_switch"]
    if switching:
        if synthetic:
            for i, lang in enumerate(cs["into"]):
                _choice(lang, st["languages"], f"adversaries.code_switch.into[{i}]")
            if cs["dictionaries"] != "generated":
                raise ConfigError("params.yaml: `adversaries.code_switch.dictionaries` must be 'generated' for the "
                                  "embedded benchmark (its dictionaries come from the generated lexicon)")
        elif cs["dictionaries"] == "generated":
            raise ConfigError("params.yaml: `adversaries.code_switch.dictionaries` = 'generated' exists only for the "
                              "embedded benchmark; on real data give a directory of MUSE dictionaries en-<lang>.txt "
                              f"(facebookresearch/MUSE ground-truth dictionaries) for every language of "
                              f"{', '.join(switching)} and of `adversaries.code_switch.into` (prepare checks the files "
                              "before downloading anything)")
    if st["source"] == "hub":
        from ..adversaries import REGISTRY as ADV  # local import: the registry imports formats

        _validate_hub(p, ADV)
    limit = p["pretrain"]["max_length"] if synthetic else 512
    for task, over in p["finetune"]["overrides"].items():
        if over.get("max_length", 0) > limit:
            raise ConfigError(f"params.yaml: `finetune.overrides.{task}.max_length` = {over['max_length']} exceeds "
                              f"the encoder's positions ({limit})")
    af = adv["aflite"]
    if af["encoder"] == "independent" and not synthetic:
        raise ConfigError("params.yaml: `adversaries.aflite.encoder` = 'independent' pretrains a reference encoder, "
                          "which only the embedded benchmark can do; use 'baseline' with `study.source: hub`")
    if synthetic and af["encoder_seed"] == p["pretrain"]["seed"]:
        raise ConfigError("params.yaml: `adversaries.aflite.encoder_seed` must differ from `pretrain.seed` (the "
                          "reference encoder must not be the arms' own encoder)")


def _validate_hub(p: dict, adversaries: dict) -> None:
    """The `hub` section of the paper profile (real datasets at pinned revisions)."""
    from ..data.hub.languages import VERSIONS
    from ..data.hub.prepare import TARGET_SOURCES

    if "hub" not in p:
        raise ConfigError("params.yaml: `study.source` is 'hub' but the `hub` section is missing "
                          "(see profiles/paper.yaml)")
    hp = p["hub"]
    _walk(hp, HUB_SCHEMA, "hub")
    for i, task in enumerate(p["study"]["target_tasks"]):
        refusal = hub_target_refusal(task, hp)
        if refusal:
            raise ConfigError(f"params.yaml: `study.target_tasks[{i}]` = {task!r} with `study.source: hub`: {refusal}")
    _choice(hp["benchmark"], sorted(VERSIONS), "hub.benchmark")
    _choice(hp["squad_version"], ("v1", "v2"), "hub.squad_version")
    _choice(hp["anli_composition"], ("rounds", "plus"), "hub.anli_composition")
    for key in ("data_dir", "ccg_path", "bucc_dir", "lareqa_dir", "mewslix_dir"):
        if hp.get(key) is not None and not isinstance(hp[key], str):
            raise ConfigError(f"params.yaml: `hub.{key}` must be a path or null, got {hp[key]!r}")
    # a missing mirror is a missing manual input (xstilts.core.inputs): check/plan list it, prepare refuses before work
    if "ccg" in p["study"]["intermediate_tasks"] and not hp.get("ccg_path"):
        raise ConfigError("params.yaml: `hub.ccg_path` is null but `study.intermediate_tasks` lists ccg: CCGbank is "
                          "licensed (LDC2005T13) and never downloaded; set hub.ccg_path to your copy or drop ccg")
    for i, task in enumerate(p["study"]["target_tasks"]):
        _choice(task, sorted(TARGET_SOURCES), f"study.target_tasks[{i}] (hub source)")
    for task, advs in p["adversaries"]["subsets"].items():
        for i, name in enumerate(advs):
            if adversaries[name].needs_hints:
                raise ConfigError(f"params.yaml: adversary {name!r} (`adversaries.subsets.{task}[{i}]`) needs hints "
                                  f"that only the synthetic benchmark provides; on hub data use: "
                                  f"{', '.join(n for n, a in sorted(adversaries.items()) if not a.needs_hints)}")


def load(path: Path | str | None = None) -> dict:
    """Read and validate params.yaml (default: <repo root>/params.yaml)."""
    from .io import repo_root

    path = Path(path) if path else repo_root() / "params.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: params file not found")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    params = validate(params)
    audit = os.environ.get(AUDIT_ENV)
    return _audited(params, Path(audit)) if audit else params


# ---- params audit: which params.yaml keys a stage reads (tests/test_dvc_params.py) ------------------------------
AUDIT_ENV = "XSTILTS_PARAMS_AUDIT"  # a directory: every load() there records the key paths its process reads


class Audited(dict):
    """A params mapping that records the dotted path of every key read through `[]` or `get` into `reads`
    (shared by the whole tree). A dict value is returned wrapped, so reads below it are recorded too."""

    def __init__(self, data: dict, reads: set, prefix: str = ""):
        super().__init__(data)
        self._reads, self._prefix = reads, prefix

    def _wrap(self, key, value):
        path = f"{self._prefix}{key}"
        self._reads.add(path)
        return Audited(value, self._reads, path + ".") if type(value) is dict else value

    def __getitem__(self, key):
        return self._wrap(key, super().__getitem__(key))

    def get(self, key, default=None):
        return self._wrap(key, super().get(key, default)) if key in self else default

    def __deepcopy__(self, memo):
        import copy

        return Audited(copy.deepcopy(dict(self), memo), self._reads, self._prefix)


def read_leaves(reads: set[str]) -> list[str]:
    """The recorded paths with no recorded path below them: what was consumed (a value, or a whole mapping that
    was iterated or copied rather than indexed)."""
    return sorted(r for r in reads if not any(o.startswith(r + ".") for o in reads))


def _audited(params: dict, directory: Path) -> Audited:
    reads: set[str] = set()
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{Path(sys.argv[0]).stem}-{os.getpid()}.json"

    def dump() -> None:
        out.write_text(json.dumps({"argv": sys.argv[1:], "module": Path(sys.argv[0]).stem,
                                   "reads": read_leaves(reads)}, indent=1) + "\n")

    atexit.register(dump)
    return Audited(params, reads)


def require_member(params: dict, key: str, value: str, stage: str, flag: str) -> None:
    """Exit with one line when a stage instance's `flag` value is not in the list at dotted `key` (e.g.
    `study.arms`). A guard for running a stage by hand: under `dvc repro` the value comes from that very list, and
    membership never changes what the stage writes, so the lookup bypasses the params audit (it is not a
    dependency of the stage; adding an arm must not re-run the other arms)."""
    node: Any = params
    for part in key.split("."):
        node = dict.__getitem__(node, part)
    allowed = [str(v) for v in node]
    if str(value) not in allowed:
        raise SystemExit(f"{stage}: {flag} {value!r} is not in {key} ({', '.join(allowed)})")


def size_labels(params: dict) -> list[str]:
    """Subsample size labels of every intermediate task: the controlled sizes, then "full"."""
    return [str(s) for s in params["subsample"]["sizes"]]


def squad_target(params: dict) -> str | None:
    """The target task whose model is trained on English SQuAD(-style) data (xquad, else mlqa), if the study has
    one: with `evaluate.tatoeba_encoder: squad` its encoder embeds the retrieval targets."""
    return next((t for t in SQUAD_TARGETS if t in params["study"]["target_tasks"]), None)


def _validate_protocol(p: dict) -> None:
    """XTREME-R protocol options across sections: the SQuAD-trained encoder Tatoeba may be embedded with."""
    encoder = p["evaluate"]["tatoeba_encoder"]
    retrieval = [t for t in p["study"]["target_tasks"] if T.get(t).format == "retrieval"]
    if encoder == "squad" and retrieval and squad_target(p) is None:
        raise ConfigError(f"params.yaml: `evaluate.tatoeba_encoder` = 'squad' embeds {', '.join(retrieval)} with the "
                          f"encoder of each model's SQuAD-trained target model, but `study.target_tasks` lists none "
                          f"of {', '.join(SQUAD_TARGETS)}; add one or use 'pretrained'")
