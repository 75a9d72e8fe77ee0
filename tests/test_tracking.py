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
