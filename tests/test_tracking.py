"""The MLflow side of the pipeline (xstilts.pipeline.tracking): how nested runs end."""

from __future__ import annotations

import pytest

from xstilts.pipeline import tracking, tuning


def test_a_pruned_trial_finishes_and_a_crash_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    ids = {}
    with tracking.stage_run(tmp_path, "tune", "tune-x") as parent:
        with pytest.raises(tuning.Pruned):
            with tracking.child_run(tmp_path, "tune", "trial-0", finished_on=(tuning.Pruned,)) as run:
                ids["pruned"] = run.run_id
                raise tuning.Pruned("pruned at step 1")
        with pytest.raises(RuntimeError):
            with tracking.child_run(tmp_path, "tune", "trial-1", finished_on=(tuning.Pruned,)) as run:
                ids["crashed"] = run.run_id
                raise RuntimeError("boom")
        with tracking.child_run(tmp_path, "tune", "trial-2") as run:
            ids["complete"] = run.run_id
        ids["parent"] = parent.run_id
    import mlflow

    client = mlflow.MlflowClient()
    status = {k: client.get_run(v).info.status for k, v in ids.items()}
    assert status == {"pruned": "FINISHED", "crashed": "FAILED", "complete": "FINISHED", "parent": "FINISHED"}
    assert client.get_run(ids["pruned"]).data.tags["mlflow.parentRunId"] == ids["parent"]


def test_a_rerun_closes_the_runs_a_killed_stage_left_running(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys

    import mlflow

    from .conftest import REPO

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script = f"""
import os, signal
from pathlib import Path
from xstilts.pipeline import tracking
with tracking.stage_run(Path({str(tmp_path)!r}), "target", "target-x") as parent:
    with tracking.child_run(Path({str(tmp_path)!r}), "target", "model-0") as run:
        print(parent.run_id, run.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
"""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MLFLOW_TRACKING_URI": uri}
    env.pop("MLFLOW_RUN_ID", None)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    parent_id, child_id = proc.stdout.split()
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    assert {client.get_run(i).info.status for i in (parent_id, child_id)} == {"RUNNING"}
    with tracking.stage_run(tmp_path, "target", "target-x") as again:
        live = again.run_id
        assert client.get_run(live).info.status == "RUNNING"  # its own run is left alone
    for run_id in (parent_id, child_id):
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and "ended without closing the run" in run.data.tags["xstilts_closed"]
    assert client.get_run(live).info.status == "FINISHED"


def test_a_copied_checkout_keeps_its_artifacts_to_itself(tmp_path, monkeypatch):
    import shutil

    import mlflow

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    (a / "note.txt").write_text("x\n")
    with tracking.stage_run(a, "report", "report") as run:
        run.artifact(a / "note.txt")
    before = sorted(p.relative_to(a) for p in (a / "mlartifacts").rglob("*") if p.is_file())
    shutil.copytree(a, b)
    with tracking.stage_run(b, "report", "report") as run:
        run.artifact(b / "note.txt")
        copied_run = run.run_id
    after = sorted(p.relative_to(a) for p in (a / "mlartifacts").rglob("*") if p.is_file())
    assert after == before  # nothing written into the original checkout
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{b / 'mlflow.db'}")
    assert client.get_run(copied_run).info.artifact_uri.startswith((b / "mlartifacts").as_uri())
    assert (b / "mlartifacts").as_uri() in client.get_experiment_by_name("xstilts-report").artifact_location
    assert any(p.name == "note.txt" for p in (b / "mlartifacts").rglob("*")) and len(
        [p for p in (b / "mlartifacts").rglob("note.txt")]) == 2  # the copied run's and the new one's
    old = client.search_runs([client.get_experiment_by_name("xstilts-report").experiment_id])
    assert all(r.info.artifact_uri.startswith((b / "mlartifacts").as_uri()) for r in old)


def test_inputs_carry_their_rows_and_each_role_has_one_digest(tmp_path, monkeypatch):
    import mlflow
    import pandas as pd

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tagging = pd.DataFrame({"id": ["a", "b"], "lang": ["en", "en"], "tokens": [["x", "y"], ["z"]],
                            "tags": [[0, 1], [2]], "meta": ["", ""]})
    tests = {f"xnli-{lang}-clean": f"{i}" * 32 for i, lang in enumerate(["ea", "eb"], start=1)}
    with tracking.stage_run(tmp_path, "evaluate", "evaluate-x") as run:
        run.dataset(tagging, "panx-train", tmp_path / "t.parquet", "f" * 32, "training")
        for name, md5 in tests.items():
            run.dataset(tagging.head(1), name, tmp_path / f"{name}.parquet", md5, "test")
        with pytest.raises(ValueError, match="context 'dev' is not one of training, validation, test"):
            run.dataset(tagging, "x", tmp_path / "x", "0" * 32, "dev")
        run_id = run.run_id
    got = mlflow.MlflowClient().get_run(run_id)
    tags = {k: v for k, v in got.data.tags.items() if k.startswith("data.")}
    assert tags == {"data.training.md5": "f" * 32, "data.test.md5": tracking.digest(tests)}
    assert tracking.digest(tests) != tracking.digest({**tests, "xnli-ec-clean": "3" * 32})
    import json

    rows = {d.dataset.name: json.loads(d.dataset.profile)["num_rows"] for d in got.inputs.dataset_inputs}
    assert rows == {"panx-train": 2, "xnli-ea-clean": 1, "xnli-eb-clean": 1}
    assert tracking.metric_name("xnli", "ea", "clean") == "xnli.accuracy.ea.clean"
    assert tracking.dev_metric("squad", final=True) == "squad.squad_f1.dev_final"
