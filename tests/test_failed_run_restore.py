"""After a failed `dvc repro` of another profile the previous outputs come back with the README's command
(xstilts.core.inputs.RESTORE_COMMAND), checked on a small git + DVC repository shaped like this one (a first stage with
persistent outputs like `prepare`, a later stage; git-tracked metrics, runs and reports); and under a real
`dvc repro` the project's `prepare` stops with one line, no traceback, and leaves the previous data in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xstilts.core.inputs import RESTORE_COMMAND

from .conftest import REPO
from .devtools import copy_worktree

BIN = Path(sys.executable).parent

FIRST = """
import json, pathlib, shutil, sys, yaml
p = yaml.safe_load(open("params.yaml"))
if p["fail"] == "first":
    sys.exit("first: error: a manual input is missing")
tmp = pathlib.Path("data/.prepared.tmp")
shutil.rmtree(tmp, ignore_errors=True)
tmp.mkdir(parents=True)
(tmp / "x.txt").write_text(p["profile"])
shutil.rmtree("data/prepared", ignore_errors=True)
tmp.rename("data/prepared")  # replaced at once, as io.atomic_path does
pathlib.Path("metrics/first.json").write_text(json.dumps({"profile": p["profile"]}))
"""
LATER = """
import json, pathlib, sys, yaml
p = yaml.safe_load(open("params.yaml"))
if p["fail"] == "later":
    sys.exit("later: error")
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/m.txt").write_text(pathlib.Path("data/prepared/x.txt").read_text() + " model")
for d in ("metrics", "runs", "reports"):
    pathlib.Path(d, "later.json").write_text(json.dumps({"profile": p["profile"]}))
"""
PIPELINE = {"stages": {
    "first": {"cmd": "python first.py", "deps": ["first.py"], "params": ["profile", "fail"],
              "outs": [{"data/prepared": {"persist": True}}],
              "metrics": [{"metrics/first.json": {"cache": False, "persist": True}}]},
    "later": {"cmd": "python later.py", "deps": ["later.py", "data/prepared"], "params": ["profile"],
              "outs": ["models", {"runs/later.json": {"cache": False}}, {"reports/later.json": {"cache": False}}],
              "metrics": [{"metrics/later.json": {"cache": False}}]}}}


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "XSTILTS_", "MLFLOW_"))}
    return env | {"PATH": str(BIN) + os.pathsep + env.get("PATH", ""), "DVC_NO_ANALYTICS": "1",
                  "DVC_STUDIO_OFFLINE": "1", "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1",
                  "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                  "GIT_COMMITTER_EMAIL": "t@t"}


def _sh(cmd: str, root: Path, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, shell=True, cwd=root, env=_env(), capture_output=True, text=True, timeout=600)
    if ok:
        assert proc.returncode == 0, f"{cmd}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for d in ("data", "models", "metrics", "runs", "reports")
            for p in sorted((root / d).rglob("*")) if p.is_file() and ".prepared.tmp" not in str(p)}


@pytest.fixture
def toy(tmp_path) -> Path:
    root = tmp_path / "toy"
    root.mkdir()
    (root / "first.py").write_text(FIRST)
    (root / "later.py").write_text(LATER)
    (root / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    (root / "params.yaml").write_text("profile: default\nfail: none\n")
    for d in ("metrics", "runs", "reports"):
        (root / d).mkdir()
    _sh("git init -q && dvc init -q && dvc repro -q && git add -A && git commit -qm default", root)
    return root


def test_the_readme_command_restores_the_previous_profile_after_a_failed_run(toy):
    before = _snapshot(toy)
    assert before["models/m.txt"] == "default model"
    # the first stage fails (a manual input missing): its persistent outputs were never deleted
    (toy / "params.yaml").write_text("profile: paper\nfail: first\n")
    assert _sh("dvc repro", toy, ok=False).returncode != 0
    assert _snapshot(toy) == before
    # a later stage fails after the first one succeeded: DVC has rewritten data, dvc.lock and metrics, and deleted
    # the later stage's outputs (its models, and the git-tracked runs/ and reports/ files)
    (toy / "params.yaml").write_text("profile: paper\nfail: later\n")
    assert _sh("dvc repro", toy, ok=False).returncode != 0
    assert (toy / "data" / "prepared" / "x.txt").read_text() == "paper" and not (toy / "models").exists()
    assert not (toy / "runs" / "later.json").exists()
    _sh(RESTORE_COMMAND, toy)
    assert _snapshot(toy) == before
    assert "up to date" in _sh("dvc status", toy).stdout
    assert _sh("git status --porcelain", toy).stdout == ""


def test_dvc_repro_of_the_paper_profile_stops_in_prepare_with_one_line(tmp_path):
    """The measured failure: `xstilts profile paper && dvc repro` without the MUSE dictionaries."""
    root = tmp_path / "repo"
    copy_worktree(REPO, root)
    previous = root / "data" / "prepared" / "marker.txt"  # the default's outputs, as a stand-in
    previous.parent.mkdir(parents=True)
    previous.write_text("default")
    _sh("git init -q && git add -A && git commit -qm c && xstilts profile paper", root)
    proc = _sh("dvc repro prepare", root, ok=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.startswith("prepare: error:")]
    assert len(lines) == 1 and "data/muse/en-de.txt" in lines[0] and ".logs/prepare.log" in lines[0], out
    assert previous.read_text() == "default"  # persist: DVC did not delete the previous outputs
    assert "ManualInputError" in (root / ".logs" / "prepare.log").read_text()
    assert ".logs/" not in _sh("git status --porcelain --untracked-files=all", root).stdout  # gitignored
