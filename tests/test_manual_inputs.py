"""Manual inputs (xstilts.core.inputs): one list, computed from params.yaml, that `xstilts check` and `xstilts plan`
print and `prepare` checks before anything is read or downloaded; a failing stage prints one line (no traceback)
and keeps the traceback in .logs/<stage>.log."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xstilts import cli
from xstilts.cli import deep_merge
from xstilts.core import config, inputs
from xstilts.pipeline import stagerun

from .conftest import REPO

XNLI_MUSE = sorted("ar bg de el es fr hi ru sw th tr ur vi zh".split())  # XTREME-R's XNLI languages but en


@pytest.fixture
def paper(params) -> dict:
    return deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))


def _repo(tmp_path: Path, params: dict) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


def _muse(root: Path, langs=XNLI_MUSE, variants: bool = True) -> None:
    """The paper profile's user-supplied files: the MUSE dictionaries and (`variants`) the variant arms' data."""
    for lang in langs:
        path = root / "data" / "muse" / f"en-{lang}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("doctor\tx\n")
    if variants:
        for lang in ("ar bg de el es fr hi ru sw th tr ur vi zh".split()):
            path = root / "data" / "variants" / "translated" / "mnli" / f"{lang}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
        for lang in ("ar bg de el en es fr hi ru sw th tr ur vi zh".split()):
            path = root / "data" / "variants" / "mlm" / f"{lang}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x\n")


def test_the_default_needs_none(params, tmp_path):
    assert inputs.manual_inputs(params, tmp_path) == []
    assert inputs.render([])[0].startswith("manual inputs: none")
    inputs.require(params, tmp_path)


def test_paper_profile_lists_every_muse_dictionary_with_its_source(paper, tmp_path):
    items = inputs.manual_inputs(paper, tmp_path)
    muse = [i for i in items if i.key == "adversaries.code_switch.dictionaries"]
    assert [i.path for i in muse] == [f"data/muse/en-{lang}.txt" for lang in XNLI_MUSE]
    # 14 MUSE dictionaries + the variants' user data: 14 translations of MNLI (the masked-LM text is the hub's
    # Wikipedia at a pinned revision: not a manual input)
    variant = [i for i in items if i.key in ("variants.translated.source", "variants.mlm.corpus")]
    assert [i.path for i in variant][:2] == ["data/variants/translated/mnli/ar.parquet",
                                             "data/variants/translated/mnli/bg.parquet"]
    assert all(i.present is False for i in muse) and len(variant) == 14
    assert len(inputs.missing(items)) == 14 + 14
    folder = copy.deepcopy(paper)
    folder["variants"]["mlm"]["corpus"] = "data/variants/mlm"  # the user's own text instead: 15 files to supply
    mlm = [i for i in inputs.manual_inputs(folder, tmp_path) if i.key == "variants.mlm.corpus"]
    assert [i.path for i in mlm][:2] == ["data/variants/mlm/ar.txt", "data/variants/mlm/bg.txt"] and len(mlm) == 15
    source = {i.path.split("en-")[1][:2]: i.source for i in muse}
    assert source["de"] == "https://s3.amazonaws.com/arrival/dictionaries/en-de.txt"
    assert "not among MUSE" in source["sw"] and "not among MUSE" in source["ur"]  # MUSE has no en-sw, en-ur
    hub = [i for i in items if i.present is None]
    assert len(hub) == 1 and "huggingface" in hub[0].path  # a service: listed, not checked
    with pytest.raises(inputs.ManualInputError, match=r"28 manual input\(s\) missing.*"
                                                      r"adversaries.code_switch.dictionaries.*data/muse/en-ar\.txt"):
        inputs.require(paper, tmp_path)
    _muse(tmp_path)
    assert inputs.missing(inputs.manual_inputs(paper, tmp_path)) == []
    inputs.require(paper, tmp_path)
    paper["adversaries"]["subsets"]["xnli"].remove("code_switch")  # the documented ways to do without them
    paper["variants"]["arms"] = ["multitask"]
    paper["study"]["arms"] = [a for a in paper["study"]["arms"] if a not in ("mlm", "translated")]
    assert not [i for i in inputs.manual_inputs(paper, tmp_path / "elsewhere") if i.present is False]


def test_ccgbank_and_the_local_mirror_are_listed_file_by_file(paper, tmp_path):
    from xstilts.data.hub.prepare import mirror_files

    p = copy.deepcopy(paper)
    (tmp_path / "ccg").mkdir()
    (tmp_path / "ccg" / "train.tokens").write_text("a b\n")
    (tmp_path / "mirror").mkdir()
    p["study"].update(intermediate_tasks=["ccg", "mnli"], arms=["baseline", "ccg", "mnli"], target_tasks=["xnli"])
    p["variants"]["arms"] = []  # no variant arms in this study
    p["hub"].update(ccg_path=str(tmp_path / "ccg"), data_dir=str(tmp_path / "mirror"),
                    target_languages={"xnli": ["en", "de"]})
    p["adversaries"]["subsets"] = {"xnli": ["char_noise"]}
    config.validate(p)
    items = inputs.manual_inputs(p, tmp_path)
    ccg = {Path(i.path).name: i.present for i in items if i.key == "hub.ccg_path"}
    assert ccg == {"train.tokens": True, "train.tags": False, "dev.tokens": False, "dev.tags": False}
    mirror = {Path(i.path).name: i for i in items if i.key == "hub.data_dir"}
    assert set(mirror) == {"mnli", "xnli"} and not any(i.present for i in mirror.values())
    assert "validation_matched.parquet" in mirror["mnli"].detail  # the hub's split names, as prepare reads them
    service = [i for i in items if i.present is None]  # datasets from the mirror: only the model needs the hub
    assert [i.needed_for for i in service] == ["the model FacebookAI/xlm-roberta-large"]
    for files in mirror_files(p).values():
        for f in files:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"")
    assert {Path(i.path).name for i in inputs.missing(inputs.manual_inputs(p, tmp_path))} == {
        "train.tags", "dev.tokens", "dev.tags"}


def test_check_and_plan_list_them_and_exit_nonzero_until_present(paper, tmp_path, monkeypatch, capsys):
    root = _repo(tmp_path, paper)
    monkeypatch.setenv("XSTILTS_ROOT", str(root))
    assert cli.main(["check"]) == cli.EXIT_MISSING_INPUTS
    out = capsys.readouterr()
    assert "params.yaml: ok" in out.out and "MISSING     data/muse/en-de.txt" in out.out
    assert "https://s3.amazonaws.com/arrival/dictionaries/en-de.txt" in out.out
    assert "without them: drop code_switch from adversaries.subsets.xnli" in out.out
    assert out.err.strip().startswith("error: 28 manual input(s) missing") and len(out.err.strip().splitlines()) == 1
    assert cli.main(["plan"]) == cli.EXIT_MISSING_INPUTS
    out = capsys.readouterr()
    assert "estimated GPU-hours" in out.out and "assumed, not measured" in out.out and "MISSING" in out.out
    _muse(root)
    assert cli.main(["check"]) == 0
    assert "manual inputs: 0 missing, 28 present, 1 not checked" in capsys.readouterr().out
    assert cli.main(["plan"]) == 0


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_plan_refuses_a_throughput_that_is_not_positive(params, tmp_path, monkeypatch, capsys, value):
    monkeypatch.setenv("XSTILTS_ROOT", str(_repo(tmp_path, params)))
    assert cli.main(["plan", f"--throughput={value}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "--throughput must be a positive number" in err and "Traceback" not in err


def test_the_bucc_hub_key_is_refused_with_the_target_name(params):
    p = copy.deepcopy(params)
    p["study"]["target_tasks"].append("bucc2018")
    with pytest.raises(config.ConfigError, match="called `bucc`") as err:
        config.validate(p)
    assert f"`study.target_tasks[{len(p['study']['target_tasks']) - 1}]`" in str(err.value)


def test_bucc_on_the_hub_needs_its_pools_folder_and_lists_its_files(params, tmp_path):
    from xstilts.cli import deep_merge, profile_overlay
    from xstilts.core.inputs import manual_inputs

    paper = deep_merge(copy.deepcopy(params), profile_overlay(REPO, "paper"))
    paper["study"]["target_tasks"].append("bucc")
    paper["adversaries"]["subsets"]["bucc"] = ["char_noise"]
    with pytest.raises(config.ConfigError, match="hub.bucc_dir` is null.*gold pairs only"):
        config.validate(copy.deepcopy(paper))
    paper["hub"]["bucc_dir"] = str(tmp_path / "bucc")
    config.validate(copy.deepcopy(paper))
    bucc = [m for m in manual_inputs(paper, tmp_path) if m.key == "hub.bucc_dir"]
    assert len(bucc) == 4 * 2 * 3 and not any(m.present for m in bucc)  # 4 languages x dev/test x de/en/gold
    (tmp_path / "bucc").mkdir()
    for name in ("de-en.sample.de", "de-en.sample.en", "de-en.sample.gold"):  # BUCC's own names for dev
        (tmp_path / "bucc" / name).write_text("x\ty\n")
    found = {m.path for m in manual_inputs(paper, tmp_path) if m.key == "hub.bucc_dir" and m.present}
    assert found == {str(tmp_path / "bucc" / n) for n in ("de-en.sample.de", "de-en.sample.en", "de-en.sample.gold")}


def test_embedded_only_targets_are_refused_on_the_hub_with_the_reason(params):
    from xstilts.cli import deep_merge, profile_overlay

    paper = deep_merge(copy.deepcopy(params), profile_overlay(REPO, "paper"))
    config.validate(copy.deepcopy(paper))
    for name, hint in (("mewslix", "get-mewsli-x.sh"), ("lareqa", "not pinned")):
        p = copy.deepcopy(paper)
        p["study"]["target_tasks"].append(name)
        p["adversaries"]["subsets"][name] = ["char_noise"]
        with pytest.raises(config.ConfigError, match=hint) as err:
            config.validate(p)
        assert "study.source: hub" in str(err.value)


def _stage(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "XSTILTS_", "MLFLOW_"))}
    return subprocess.run([sys.executable, "-m", *args], cwd=root, capture_output=True, text=True, timeout=300,
                          env=base | {"PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", **(env or {})})


def test_a_failing_stage_prints_one_line_and_logs_the_traceback(paper, tmp_path):
    root = _repo(tmp_path, paper)
    previous = root / "data" / "prepared" / "marker.txt"  # the previous profile's outputs
    previous.parent.mkdir(parents=True)
    previous.write_text("default")
    proc = _stage(root, "xstilts.stages.prepare")
    assert proc.returncode == stagerun.EXIT_USER_ERROR
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and err.splitlines() == [err], proc.stderr
    assert err.startswith("prepare: error: 28 manual input(s) missing, nothing was read or downloaded")
    assert "`adversaries.code_switch.dictionaries`" in err and "data/muse/en-ur.txt" in err
    assert err.endswith("(traceback in .logs/prepare.log)")
    log = (root / ".logs" / "prepare.log").read_text()
    assert "Traceback" in log and "ManualInputError" in log and "inputs.require" in log
    assert previous.read_text() == "default" and sorted(p.name for p in previous.parent.iterdir()) == ["marker.txt"]

    bad = copy.deepcopy(paper)
    bad["tune"]["lr_low"] = -1.0
    (root / "params.yaml").write_text(yaml.safe_dump(bad))
    proc = _stage(root, "xstilts.stages.subsample", "--task", "mnli", "--size", "1000")
    err = proc.stderr.strip()
    assert proc.returncode == stagerun.EXIT_USER_ERROR and err.splitlines() == [err]
    assert err.startswith("subsample@mnli-1000: error: params.yaml: `tune.lr_low`")
    assert (root / ".logs" / "subsample@mnli-1000.log").exists()


def test_a_bug_keeps_its_traceback_and_is_logged_too(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XSTILTS_ROOT", str(tmp_path))
    monkeypatch.delenv("DVC_STAGE", raising=False)

    def broken(argv):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        stagerun.run("report", broken, [])
    assert "report: unexpected error" in capsys.readouterr().err
    assert "KeyError: 'a bug'" in (tmp_path / ".logs" / "report.log").read_text()
    monkeypatch.setenv("DVC_STAGE", "evaluate@baseline")
    with pytest.raises(SystemExit) as exit_:
        stagerun.run("evaluate", lambda argv: (_ for _ in ()).throw(FileNotFoundError("x.parquet: missing")), [])
    assert exit_.value.code == stagerun.EXIT_USER_ERROR
    assert capsys.readouterr().err.startswith("evaluate@baseline: error: x.parquet: missing")
