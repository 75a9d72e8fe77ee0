"""A stage run by hand (outside `dvc repro`) checks its DVC-tracked input data against dvc.lock first; the md5s
are DVC's own (checked against a real `dvc repro` here)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xstilts.pipeline import dvclock

from .conftest import REPO

BIN = Path(sys.executable).parent

MAKE = """
import os, pathlib
for rel, text in [("data/prepared/a/x.txt", "x"), ("data/prepared/a/y.txt", "y"), ("data/prepared/z.txt", "z"),
                  ("data/b.txt", "b")]:
    p = pathlib.Path(rel)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
pathlib.Path("stage.txt").write_text(os.environ.get("DVC_STAGE", "<unset>"))
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "XSTILTS_"))}
    return env | {"PATH": str(BIN) + os.pathsep + env.get("PATH", ""), "DVC_NO_ANALYTICS": "1",
                  "PYTHONPATH": str(REPO / "src")}


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory) -> Path:
    """A real DVC project: `make` writes a directory and a file, `use` depends on a subdirectory of the first, on
    the second and on a code file; reproduced by `dvc repro` (which records the md5s in dvc.lock)."""
    root = tmp_path_factory.mktemp("dvclock") / "repo"
    root.mkdir()
    (root / "make.py").write_text(MAKE)
    (root / "code.py").write_text("print('code')\n")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "make": {"cmd": f"{sys.executable} make.py", "deps": ["make.py"],
                 "outs": ["data/prepared", "data/b.txt", {"stage.txt": {"cache": False}}]},
        "use": {"cmd": f"{sys.executable} code.py > used.txt", "deps": ["data/prepared/a", "data/b.txt", "code.py"],
                "outs": ["used.txt"]}}}))
    for cmd in (["dvc", "init", "--no-scm", "-q"], ["dvc", "repro", "-q"]):
        proc = subprocess.run(cmd, cwd=root, env=_env(), capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture
def repo(dvc_repo, tmp_path) -> Path:
    """A fresh copy per test (tests tamper with it)."""
    root = tmp_path / "repo"
    shutil.copytree(dvc_repo, root, symlinks=True)
    return root


def _no_dvc_env(monkeypatch):
    for var in ("DVC_STAGE", "DVC_ROOT", dvclock.SKIP_ENV):
        monkeypatch.delenv(var, raising=False)


def test_md5s_are_dvcs_own_and_dvc_sets_dvc_stage(dvc_repo):
    lock = yaml.safe_load((dvc_repo / "dvc.lock").read_text())["stages"]
    recorded = {d["path"]: d["md5"] for d in lock["use"]["deps"]} | {o["path"]: o["md5"] for o in lock["make"]["outs"]}
    assert recorded["data/prepared"].endswith(".dir") and recorded["data/prepared/a"].endswith(".dir")
    for rel in ("data/prepared", "data/prepared/a", "data/b.txt", "stage.txt"):
        assert dvclock.dvc_md5(dvc_repo / rel, dvc_repo) == recorded[rel], rel
    assert recorded["data/b.txt"] == hashlib.md5(b"b").hexdigest()
    # inside `dvc repro` DVC names the running stage in $DVC_STAGE: the check keys on it
    assert (dvc_repo / "stage.txt").read_text() == "make"


def test_unchanged_inputs_pass_and_only_data_is_checked(repo, monkeypatch):
    _no_dvc_env(monkeypatch)
    assert sorted(dvclock.check_stage_inputs(repo, "use")) == ["data/b.txt", "data/prepared/a"]  # not code.py
    (repo / "code.py").write_text("print('changed code')\n")  # code is git's business, not this check's
    assert sorted(dvclock.check_stage_inputs(repo, "use")) == ["data/b.txt", "data/prepared/a"]
    assert dvclock.check_stage_inputs(repo, "make") == []  # depends on code only
    assert dvclock.check_stage_inputs(repo, "never-run") == []  # no dvc.lock entry: nothing to compare
    monkeypatch.chdir(repo)
    assert sorted(dvclock.check_stage_inputs(".", "use")) == ["data/b.txt", "data/prepared/a"]


def test_a_tampered_file_in_a_directory_is_named_with_both_md5s(repo, monkeypatch):
    _no_dvc_env(monkeypatch)
    (repo / "data/prepared/a/x.txt").write_text("tampered")
    with pytest.raises(dvclock.LockMismatchError) as err:
        dvclock.check_stage_inputs(repo, "use")
    msg = str(err.value)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    expected_dir = next(d["md5"] for d in lock["use"]["deps"] if d["path"] == "data/prepared/a")
    assert f"data/prepared/a: md5 {dvclock.dvc_md5(repo / 'data/prepared/a')}, dvc.lock expects {expected_dir}" in msg
    assert (f"data/prepared/a/x.txt: md5 {hashlib.md5(b'tampered').hexdigest()}, dvc.lock expects "
            f"{hashlib.md5(b'x').hexdigest()}") in msg
    assert "y.txt" not in msg and "data/b.txt" not in msg
    assert "dvc checkout --force data/prepared/a" in msg and "dvc repro use" in msg and dvclock.SKIP_ENV in msg
    proc = subprocess.run(["dvc", "checkout", "--force", "data/prepared/a"], cwd=repo, env=_env(), check=False,
                          capture_output=True, text=True, timeout=120)  # the advice works
    assert proc.returncode == 0, proc.stderr
    assert sorted(dvclock.check_stage_inputs(repo, "use")) == ["data/b.txt", "data/prepared/a"]


def test_a_tampered_or_missing_file_dependency_is_named(repo, monkeypatch):
    _no_dvc_env(monkeypatch)
    (repo / "data/b.txt").write_text("bb")
    with pytest.raises(dvclock.LockMismatchError, match=(
            f"data/b.txt: md5 {hashlib.md5(b'bb').hexdigest()}, dvc.lock expects {hashlib.md5(b'b').hexdigest()}")):
        dvclock.check_stage_inputs(repo, "use")
    (repo / "data/b.txt").unlink()
    (repo / "data/prepared/a/new.txt").write_text("extra")
    with pytest.raises(dvclock.LockMismatchError) as err:
        dvclock.check_stage_inputs(repo, "use")
    assert "data/b.txt: missing (dvc.lock expects md5" in str(err.value)
    assert "data/prepared/a/new.txt: not in dvc.lock's listing" in str(err.value)


def test_skipped_inside_dvc_repro_and_on_request(repo, monkeypatch):
    (repo / "data/b.txt").write_text("bb")
    _no_dvc_env(monkeypatch)
    monkeypatch.setenv("DVC_STAGE", "use")  # what `dvc repro` sets: DVC records the md5s it finds instead
    assert dvclock.check_stage_inputs(repo, "use") == []
    monkeypatch.delenv("DVC_STAGE")
    monkeypatch.setenv(dvclock.SKIP_ENV, "1")
    assert dvclock.check_stage_inputs(repo, "use") == []


def test_a_stage_run_by_hand_fails_before_any_work(tmp_path):
    """`python -m xstilts.stages.target --arm baseline` (what `mlflow run . -e target -P arm=baseline` runs) on a
    tampered encoder stops with the check's message, before it reads the tokenizer or any data."""
    root = tmp_path / "proj"
    enc = root / "models" / "arms" / "baseline"
    enc.mkdir(parents=True)
    (enc / "config.json").write_text("{}")
    (enc / "model.safetensors").write_bytes(b"weights")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    dir_md5 = dvclock.dvc_md5(enc)
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "pretrain": {"outs": [{"path": "models/arms/baseline", "hash": "md5", "md5": dir_md5}]},
        "target@baseline": {"deps": [{"path": "models/arms/baseline", "hash": "md5", "md5": dir_md5},
                                     {"path": "src/xstilts/train/loop.py", "hash": "md5", "md5": "0" * 32}]}}}))
    (enc / "model.safetensors").write_bytes(b"other weights")
    proc = subprocess.run([sys.executable, "-m", "xstilts.stages.target", "--arm", "baseline"], cwd=root, check=False,
                          env=_env() | {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    # one line, no traceback (xstilts.pipeline.stagerun); the traceback is in .logs/target@baseline.log
    assert proc.stderr.startswith("target@baseline: error: input data differs from"), proc.stderr
    assert ("Traceback" not in proc.stderr
            and "LockMismatchError" in (root / ".logs" / "target@baseline.log").read_text())
    assert "models/arms/baseline: md5" in proc.stderr and "tokenizer" not in proc.stderr
    assert not (root / "mlflow.db").exists()  # nothing was started
    assert json.loads((enc / "config.json").read_text()) == {}
