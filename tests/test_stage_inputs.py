"""Stages take the identity of their inputs from what the previous stage wrote (run.json of each intermediate
encoder), and every stage starts through one scaffold (xstilts.pipeline.stagerun.begin)."""

from __future__ import annotations

import json

import pytest

from xstilts.core import paths
from xstilts.train.common import cells_of


def _encoder(root, task, label, seed, train_size):
    d = paths.intermediate_dir(root, task, label, seed)
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"")
    (d / "run.json").write_text(json.dumps({"size_label": label, "seed": seed, "train_size": train_size,
                                            "mlflow_run_id": f"run-{label}-{seed}"}))


def test_intermediate_cells_come_from_run_json_in_size_then_seed_order(tmp_path):
    for label, n in (("full", 900), ("150", 150), ("450", 450)):
        for seed in (3, 1):
            _encoder(tmp_path, "mnli", label, seed, n)
    cells = cells_of(tmp_path, "mnli", [3, 1])
    assert [c.name for c in cells] == ["150-s3", "150-s1", "450-s3", "450-s1", "full-s3", "full-s1"]
    assert [c.train_size for c in cells][::2] == [150, 450, 900]
    assert cells[0].intermediate_run_id == "run-150-3" and cells[0].encoder_dir.name == "150-s3"


def test_stale_intermediate_encoders_are_refused(tmp_path):
    _encoder(tmp_path, "mnli", "150", 1, 150)
    _encoder(tmp_path, "mnli", "150", 2, 150)
    with pytest.raises(ValueError, match=r"seeds \[1, 2\], but study.seeds is \[1, 2, 3\].*intermediate@mnli"):
        cells_of(tmp_path, "mnli", [1, 2, 3])
    with pytest.raises(FileNotFoundError, match="intermediate@qqp"):
        cells_of(tmp_path, "qqp", [1])


def test_control_arms_have_one_encoder_per_seed(tmp_path):
    d = paths.arm_dir(tmp_path, "baseline")
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"")
    assert [c.name for c in cells_of(tmp_path, "baseline", [2, 1])] == ["none-s2", "none-s1"]
    with pytest.raises(FileNotFoundError, match="random/model.safetensors"):
        cells_of(tmp_path, "random", [1])


def test_the_scaffold_checks_fan_out_values_before_any_work(monkeypatch, tmp_path):
    from xstilts.pipeline import stagerun

    monkeypatch.setenv("XSTILTS_SKIP_LOCK_CHECK", "1")
    st = stagerun.begin("target", "doc", ["--arm", "baseline"], fan_out={"--arm": "study.arms"})
    assert (st.instance, st.args.arm, st.name) == ("target@baseline", "baseline", "target")
    assert st.params["study"]["arms"][0] == "baseline"
    with pytest.raises(SystemExit, match=r"subsample: --size '999' is not in subsample.sizes \(.*full\)"):
        stagerun.begin("subsample", "doc", ["--task", "mnli", "--size", "999"],
                       fan_out={"--task": "study.intermediate_tasks", "--size": "subsample.sizes"})
    with pytest.raises(SystemExit):  # argparse: the fan-out flag is required
        stagerun.begin("evaluate", "doc", [], fan_out={"--arm": "study.arms"})


def test_a_second_process_on_the_same_stage_instance_is_refused(tmp_path):
    """A stage instance is held by its process (an flock the kernel drops when the process dies, even by SIGKILL):
    a second process stops with one line naming the holder; another instance is not blocked."""
    import os
    import signal
    import subprocess
    import sys

    from xstilts.pipeline import stagerun

    from .conftest import REPO

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from xstilts.pipeline import stagerun; "
         f"stagerun.lock(Path({str(tmp_path)!r}), 'target@baseline'); print('held', flush=True); time.sleep(60)"],
        env={**os.environ, "PYTHONPATH": str(REPO / "src")}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(stagerun.StageBusy, match=rf"target@baseline is already running in process {holder.pid} "):
            stagerun.lock(tmp_path, "target@baseline")
        stagerun.lock(tmp_path, "target@mnli")  # another instance runs alongside
        assert stagerun.StageBusy in stagerun.user_errors()  # one line under `dvc repro`, no traceback
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    stagerun.lock(tmp_path, "target@baseline")  # the killed holder's lock is gone
    stagerun.lock(tmp_path, "target@baseline")  # and this process may take it again


def test_the_scaffold_does_not_load_torch_for_stages_that_do_not_train():
    """subsample, prepare and report start in a fraction of a second: the scaffold (arguments, params, the lock,
    the input check) must not import torch (about 2 s per process, 27 subsample processes in the default)."""
    import os
    import subprocess
    import sys

    from .conftest import REPO

    script = ("import sys; from xstilts.pipeline import stagerun; "
              "stagerun.begin('subsample', None, ['--task', 'mnli', '--size', 'full'], "
              "fan_out={'--task': 'study.intermediate_tasks', '--size': 'subsample.sizes'}); "
              "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src"), "XSTILTS_SKIP_LOCK_CHECK": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
