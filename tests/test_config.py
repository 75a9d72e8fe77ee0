"""params.yaml is validated before any work: one clear error naming the key and the allowed values."""

from __future__ import annotations

import copy

import pytest
import yaml

from xstilts.cli import deep_merge
from xstilts.core import config

from .conftest import REPO


def test_committed_default_and_profiles_validate(params):
    config.validate(params)
    from xstilts.cli import profile_overlay

    for overlay in (REPO / "profiles").glob("*.yaml"):  # with their `base:` profile (rehearsal -> paper)
        config.validate(deep_merge(copy.deepcopy(params), profile_overlay(REPO, overlay.stem)))


@pytest.mark.parametrize("mutate, key, hint", [
    (lambda p: p["study"]["intermediate_tasks"].append("sst2"), "study.intermediate_tasks[9]", "allowed values"),
    (lambda p: p["study"]["languages"].append("xx"), "study.languages[5]", "allowed values"),
    (lambda p: p["study"].update(target_tasks=[]), "study.target_tasks", "non-empty"),
    (lambda p: p["subsample"].update(sizes=[150, 5000, "full"]), "subsample.sizes", "natural size"),
    (lambda p: p["subsample"].update(sizes=[150, 450]), "subsample.sizes", "must end with 'full'"),
    (lambda p: p["tune"].update(lr_low=0.1, lr_high=0.001), "tune.lr_low", "below"),
    (lambda p: p["finetune"].update(epochs="three"), "finetune.epochs", "must be int"),
    (lambda p: p["finetune"].update(freeze_embeddings="yes"), "finetune.freeze_embeddings", "must be bool"),
    (lambda p: p["finetune"].update(compile="yes"), "finetune.compile", "must be bool"),
    (lambda p: p["finetune"].pop("compile"), "finetune.compile", "missing key"),
    (lambda p: p["finetune"]["overrides"].update(xnli={"compile": True}), "finetune.overrides.xnli.compile", "allowed"),
    (lambda p: p["study"]["arms"].remove("qqp"), "study.arms", "missing: qqp"),
    (lambda p: p["adversaries"]["subsets"].update(xquad=["lexical_overlap"]), "adversaries.subsets.xquad[0]",
     "does not apply"),
    (lambda p: p["languages"]["ea"].update(script="klingon"), "languages.ea.script", "allowed values"),
    (lambda p: p.pop("report"), "report", "missing key"),
    (lambda p: p["prepare"]["train_size"].pop("mnli"), "prepare.train_size.mnli", "missing"),
    (lambda p: p["finetune"]["overrides"].update(xnli={"epochz": 2}), "finetune.overrides.xnli.epochz", "allowed"),
    (lambda p: p["finetune"]["overrides"].update(xquad={"max_length": 384}), "finetune.overrides.xquad.max_length",
     "exceeds"),
    (lambda p: p["finetune"].update(grad_accum=0), "finetune.grad_accum", ">= 1"),
    (lambda p: p["finetune"].update(doc_stride=0), "finetune.doc_stride", ">= 1"),
    (lambda p: p["finetune"].pop("doc_stride"), "finetune.doc_stride", "missing key"),
    (lambda p: p["finetune"]["overrides"].update(xquad={"doc_stride": 0}), "finetune.overrides.xquad.doc_stride",
     ">= 1"),
    (lambda p: p["tune"].update(storage="redis://localhost"), "tune.storage", "RDB URL"),
    (lambda p: p["tune"].update(shared=True, storage="memory"), "tune.shared", "other workers"),
    (lambda p: p["evaluate"].update(retrieval_layer=3), "evaluate.retrieval_layer", "hidden states"),
    (lambda p: p["report"].update(correction="bonferroni"), "report.correction", "allowed values"),
    (lambda p: p["report"].update(alpha=0.5), "report.alpha", "(0, 0.5)"),
    (lambda p: p["report"].pop("alpha"), "report.alpha", "missing key"),
])
def test_bad_params_name_the_key(params, mutate, key, hint):
    mutate(params)
    with pytest.raises(config.ConfigError) as err:
        config.validate(params)
    assert f"`{key}`" in str(err.value)
    assert hint in str(err.value)


def test_cli_check_exits_nonzero_on_bad_params(tmp_path, params, monkeypatch, capsys):
    from xstilts import cli

    params["tune"]["lr_low"] = -1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.setenv("XSTILTS_ROOT", str(tmp_path))
    assert cli.main(["check"]) == 2
    assert "tune.lr_low" in capsys.readouterr().err


def test_profile_switch_writes_valid_params(tmp_path, params, monkeypatch):
    from xstilts import cli

    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "smoke.yaml").write_text((REPO / "profiles" / "smoke.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.setenv("XSTILTS_ROOT", str(tmp_path))
    assert cli.main(["profile", "smoke"]) == 0
    smoke = config.load(tmp_path / "params.yaml")
    assert smoke["profile"] == "smoke" and smoke["study"]["intermediate_tasks"] == ["mnli", "squad"]
    with pytest.raises(SystemExit, match="restore the default"):
        cli.main(["profile", "smoke"])


def test_per_task_hyperparameters_override_the_shared_ones(params):
    from xstilts.train.finetune import hyper

    params["finetune"]["overrides"] = {"xnli": {"epochs": 5, "grad_accum": 4, "max_length": 64}}
    config.validate(params)
    assert hyper(params, "xnli") | {} == {**hyper(params, "mnli"), "epochs": 5, "grad_accum": 4, "max_length": 64}
    assert hyper(params, "mnli")["max_length"] == params["pretrain"]["max_length"]


def test_doc_stride_reaches_the_span_format_only(params):
    from xstilts.train.finetune import encode_options

    params["finetune"]["overrides"] = {"xquad": {"doc_stride": 64}}
    config.validate(params)
    assert encode_options(params, "xquad") == {"doc_stride": 64}
    assert encode_options(params, "squad") == {"doc_stride": params["finetune"]["doc_stride"]} == {"doc_stride": 128}
    assert encode_options(params, "xnli") == encode_options(params, "panx") == encode_options(params, "hellaswag") == {}


@pytest.mark.parametrize("path, typo, hint", [
    (("finetune",), "epoch", "did you mean `finetune.epochs`?"),
    ((), "studdy", "did you mean `study`?"),
    (("adversaries", "aflite"), "sed", "did you mean `adversaries.aflite.seed`?"),
    (("report",), "zzz", "known keys: alpha, correction"),
])
def test_unknown_keys_are_refused_with_a_close_match(params, path, typo, hint):
    p = copy.deepcopy(params)
    node = p
    for part in path:
        node = node[part]
    node[typo] = 5
    full = ".".join((*path, typo))
    with pytest.raises(config.ConfigError, match=f"unknown key `{full}`") as err:
        config.validate(p)
    assert hint in str(err.value)


INT_KEYS = list(config._int_keys(config.SCHEMA))


@pytest.mark.parametrize("key", INT_KEYS)
def test_every_seed_and_count_is_range_checked(params, key):
    """A seed must be in numpy's range (0 is a seed), a count at least 1 (0 where it means "none")."""
    bad = -1 if key.endswith("seed") or key in config.NON_NEGATIVE else 0
    p = copy.deepcopy(params)
    node = p
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = bad
    with pytest.raises(config.ConfigError, match=f"`{key}` must be"):
        config.validate(p)


def test_the_range_check_covers_seeds_and_counts():
    assert any(k.endswith("seed") for k in INT_KEYS) and "pretrain.num_heads" in INT_KEYS


# ---- the section dataclasses (xstilts.core.sections) -------------------------------------------------------------


def test_every_profile_builds_into_frozen_section_objects(params):
    import dataclasses

    from xstilts.cli import profile_overlay
    from xstilts.core import sections

    profiles = [params] + [deep_merge(copy.deepcopy(params), profile_overlay(REPO, o.stem))
                           for o in (REPO / "profiles").glob("*.yaml")]
    for p in profiles:
        typed = sections.build(sections.Params, config.validate(p))
        assert typed.tune == sections.of(p, "tune") and typed.finetune.epochs == p["finetune"]["epochs"]
        assert all(isinstance(typed.languages[k], sections.Language) for k in p["languages"])
        assert (typed.hub is None) == ("hub" not in p)
        with pytest.raises(dataclasses.FrozenInstanceError):
            typed.tune.n_trials = 1  # type: ignore[misc]


def test_the_schema_is_the_section_dataclasses(params):
    """One statement of the keys: every field of every section is a required key of its type (an added field
    is validated at once; a key the dataclasses lack is refused as unknown)."""
    import dataclasses

    from xstilts.core import sections

    for name, cls in sections.SECTIONS.items():
        if not dataclasses.is_dataclass(cls):
            continue
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        if name in config.SCHEMA:
            assert list(config.SCHEMA[name]) == required, name
    assert config.OPTIONAL == {"": ("hub",), "hub": ("data_dir", "ccg_path", "bucc_dir", "target_languages",
                                                     "lareqa_dir", "mewslix_dir")}
    assert config.SCHEMA["finetune"]["warmup"] == (int, float) and config.SCHEMA["finetune"]["compile"] is bool
    p = copy.deepcopy(params)
    p["tune"]["n_trails"] = 4
    with pytest.raises(config.ConfigError, match="did you mean `tune.n_trials`"):
        config.validate(p)


def test_each_section_has_its_own_validator_and_they_run_in_file_order(params):
    assert list(config.VALIDATORS) == [k for k in params if k in config.VALIDATORS]
    assert set(config.VALIDATORS) == set(config.SCHEMA) - {"profile"}
    p = copy.deepcopy(params)
    p["report"]["alpha"] = 0.7
    with pytest.raises(config.ConfigError, match="report.alpha"):
        config.VALIDATORS["report"](p["report"])
