"""Bit-for-bit reproducibility: metrics files hold no run ids or timings (those go to runs/ and MLflow), so a stage
run twice writes byte-identical metrics."""

from __future__ import annotations

import json

import pytest
import yaml

from xstilts import io

from .conftest import REPO


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
    for name in ("pretrain", "tune"):
        assert declared[f"runs/{name}.json"] == (name, "outs", False)
        assert declared[f"metrics/{name}.json"][:2] == (name, "metrics")
    for name in ("intermediate", "target", "evaluate"):
        assert declared[f"runs/{name}/${{item}}.json"] == (name, "outs", False)
        assert declared[f"metrics/{name}/${{item}}.json"][:2] == (name, "metrics")
    for path in sorted((REPO / "runs").rglob("*.json")):
        rel = path.relative_to(REPO / "runs")
        assert (REPO / "metrics" / rel).exists(), rel
        assert all(k.endswith("mlflow_run_id") for k in json.loads(path.read_text())), rel
