"""Bit-for-bit reproducibility: the data stages regenerate exactly the md5s of the committed dvc.lock, a stage run
twice writes byte-identical metrics, and metrics files hold no run ids or timings (those go to runs/ and MLflow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from xstilts.core import io
from xstilts.pipeline import dvclock, tracking
from xstilts.stages import prepare, subsample

from .conftest import REPO

DATA_STAGES = ("prepare", "subsample")


def _param(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        node = node[part]
    return node


def _stale(lock: dict, params: dict, stage: str) -> list[str]:
    """What changed in this tree since dvc.lock recorded `stage`: code dependencies and params."""
    out = []
    tracked = {d["path"] for d in dvclock.tracked_inputs(lock, stage)}
    for dep in lock[stage].get("deps", []):
        if dep["path"] not in tracked and dvclock.dvc_md5(REPO / dep["path"], REPO) != dep["md5"]:
            out.append(f"{dep['path']} (code)")
    for key, value in (lock[stage].get("params") or {}).get("params.yaml", {}).items():
        if _param(params, key) != value:
            out.append(f"params.yaml `{key}`")
    return out


def _regenerate(root: Path, monkeypatch, lock_stages: list[str]) -> None:
    """Run the prepare stage and the given subsample stages in-process at `root`, as `dvc repro` would."""
    monkeypatch.setenv("XSTILTS_ROOT", str(root))
    monkeypatch.setattr(tracking, "setup_experiments", lambda root: None)  # MLflow is not what is tested here
    prepare.main([])
    for name in lock_stages:
        task, size = name.split("@", 1)[1].rsplit("-", 1)
        subsample.main(["--task", task, "--size", size])


def test_data_stages_regenerate_the_md5s_of_the_committed_dvc_lock(tmp_path, monkeypatch):
    """From the committed params.yaml, `prepare` and every `subsample@<task>-<size>` write exactly the outputs whose
    md5s the committed dvc.lock records (pure numpy/pandas with seeds from params.yaml)."""
    lock = dvclock.read_lock(REPO)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    if params["study"]["source"] != "synthetic":
        pytest.skip("the hub profile's prepare stage downloads its data")
    subs = sorted(s for s in lock if s.startswith("subsample@"))
    assert "prepare" in lock and subs, "dvc.lock lacks the data stages: run `dvc repro` and commit dvc.lock"
    for stage in ["prepare", *subs]:
        stale = _stale(lock, params, stage)
        assert not stale, (f"dvc.lock is stale for {stage}: {', '.join(stale)} changed since it was recorded; "
                           f"run `dvc repro` and commit dvc.lock")
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("params.yaml", "dvc.yaml", "dvc.lock"):
        shutil.copy(REPO / name, root / name)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    monkeypatch.setenv(dvclock.SKIP_ENV, "1")  # every mismatch is listed below, not only the first
    _regenerate(root, monkeypatch, subs)
    mismatches = []
    for stage in ["prepare", *subs]:
        for out in lock[stage]["outs"]:
            actual = dvclock.dvc_md5(root / out["path"], root)
            if actual != out["md5"]:
                mismatches.append(f"{out['path']}: md5 {actual}, dvc.lock {out['md5']}")
    assert not mismatches, "regenerated data differs from dvc.lock:\n" + "\n".join(mismatches)
    monkeypatch.delenv(dvclock.SKIP_ENV)
    for stage in subs:  # and a stage run by hand now finds its inputs as dvc.lock records them
        assert dvclock.check_stage_inputs(root, stage)


def _smoke_root(tmp_path: Path) -> Path:
    from xstilts.cli import deep_merge

    root = tmp_path / "smoke"
    root.mkdir()
    params = deep_merge(yaml.safe_load((REPO / "params.yaml").read_text()),
                        yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text()))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    return root


def test_a_stage_run_twice_writes_byte_identical_metrics(tmp_path, monkeypatch):
    """The smoke profile's prepare and subsample stages, run twice: the same metrics bytes and the same data md5s."""
    root = _smoke_root(tmp_path)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    runs = []
    for _ in range(2):
        _regenerate(root, monkeypatch, ["subsample@mnli-60", "subsample@squad-full"])
        runs.append(((root / "metrics" / "prepare.json").read_bytes(), dvclock.dvc_md5(root / "data", root)))
        shutil.rmtree(root / "data")
        (root / "metrics" / "prepare.json").unlink()
    assert runs[0] == runs[1]
    assert json.loads(runs[0][0])["examples.mnli.train"] == 240


def test_metrics_files_refuse_run_ids_and_timings(tmp_path):
    for key in ("x.mlflow_run_id", "stage_seconds", "examples_per_second", "timestamp"):
        with pytest.raises(ValueError, match=f"metrics/s.json: {key} vary from run to run"):
            io.write_metrics(tmp_path, "s.json", {"score": 1.0, key: 2}, runs={})
    assert not (tmp_path / "metrics").exists()
    io.write_metrics(tmp_path, "t/a.json", {"score": 1.0}, runs={"mlflow_run_id": "abc"})
    assert json.loads((tmp_path / "metrics" / "t" / "a.json").read_text()) == {"score": 1.0}
    assert json.loads((tmp_path / "runs" / "t" / "a.json").read_text()) == {"mlflow_run_id": "abc"}


def test_committed_metrics_are_deterministic_and_run_ids_are_dvc_outputs():
    """No committed metrics file carries a run id or a timing; every runs/ file is a declared, uncached output of the
    stage that writes the metrics file of the same name."""
    for path in sorted((REPO / "metrics").rglob("*.json")):
        bad = [k for k in json.loads(path.read_text()) if k.endswith(io.NONDETERMINISTIC_KEYS)]
        assert not bad, f"{path.relative_to(REPO)}: {bad}"
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = {}
    for name, stage in dvc.items():
        body = stage.get("do", stage)
        for section in ("outs", "metrics"):
            for out in body.get(section, []):
                if isinstance(out, dict):
                    (path, opts), = out.items()
                    declared[path] = (name, section, opts.get("cache", True))
    # every stage's numbers are git-tracked outputs; the one DVC metric is the report's headline
    for name in ("pretrain", "tune"):
        assert declared[f"runs/{name}.json"] == (name, "outs", False)
        assert declared[f"metrics/{name}.json"] == (name, "outs", False)
    for name in ("intermediate", "target", "evaluate"):
        assert declared[f"runs/{name}/${{item}}.json"] == (name, "outs", False)
        assert declared[f"metrics/{name}/${{item}}.json"] == (name, "outs", False)
    assert [p for p, (_, section, _) in declared.items() if section == "metrics"] == ["reports/headline.json"]
    for path in sorted((REPO / "runs").rglob("*.json")):
        rel = path.relative_to(REPO / "runs")
        assert (REPO / "metrics" / rel).exists(), rel
        assert all(k.endswith("mlflow_run_id") for k in json.loads(path.read_text())), rel
