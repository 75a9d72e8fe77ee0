"""Data-parallel training on CPU (gloo), launched as in production by torch's launcher (`accelerate launch` uses
the same one): two ranks end with identical weights equal to one process trained on the same global batches, and
under a launcher only rank 0 of a stage writes outputs or MLflow runs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

import xstilts
from xstilts.core import paths
from xstilts.data import schema
from xstilts.train import loop as training
from xstilts.train import modeling

from . import ddp_worker as W
from .conftest import REPO

SRC = Path(xstilts.__file__).resolve().parents[1]


def _launch(args: list[str], env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    full = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(SRC), str(REPO)]), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *args], env=full, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"launch failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


# Multiple choice barely moves from chance in a few steps, so its gradients are tiny (norm ~0.007 against ~10 for
# the others) and float noise is relatively larger: looser tolerances (a mis-scaled gradient is still off by far
# more). Its head bias and last LayerNorm bias add the same amount to every choice, so softmax over choices gives
# them an exactly zero gradient; Adam turns that float noise into full-size steps, so those two are not compared.
TOLERANCE = {"mc": {"norm_rel": 1e-3, "atol": 3e-4}}
ZERO_GRADIENT = {"mc": ("head.bias", "encoder.encoder.layer.0.output.LayerNorm.bias")}


def test_two_ranks_equal_one_process_on_the_same_global_batches(tmp_path):
    torch.set_num_threads(1)
    tok = W.tokenizer(tmp_path / "tok")  # written once, before the ranks start
    _launch([str(REPO / "tests" / "ddp_worker.py"), str(tmp_path)])
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in reports] == [2, 2]
    for i, (name, *_rest) in enumerate(W.CONFIGS):
        tol = {"norm_rel": 1e-5, "atol": 1e-5, **TOLERANCE.get(name, {})}
        model, res = W.train(tok, i)  # one process, the same global batches
        for r in reports:
            run = r["runs"][i]
            assert run["losses"] == pytest.approx(res.losses, rel=1e-5)
            # (b) the all-reduced gradient is the single-process one (Adam alone would hide a uniform mis-scaling)
            assert run["grad_norms"] == pytest.approx(res.grad_norms, rel=tol["norm_rel"])
            assert run["evals"] == [0.25, 10.25] and run["world_size"] == 2  # rank 0's score, broadcast
        assert reports[0]["runs"][i]["on_epoch_calls"] == [0, 1]  # evaluation on rank 0 only
        assert reports[1]["runs"][i]["on_epoch_calls"] == []
        w0, w1 = (load_file(str(tmp_path / f"c{i}-rank{r}.safetensors")) for r in (0, 1))
        # (a) every rank ends with the same weights, bit for bit
        assert all(torch.equal(w0[k], w1[k]) for k in w0), f"config {i}: ranks differ"
        # (b) ... and with the weights of the single process
        ref, init = model.state_dict(), W.model(tok, model.head.out_features).state_dict()
        assert max((ref[k] - init[k]).abs().max().item() for k in ref) > 1e-3  # training moved the weights
        for k in ref:
            if k not in ZERO_GRADIENT.get(name, ()):
                torch.testing.assert_close(w0[k], ref[k], rtol=1e-4, atol=tol["atol"], msg=f"config {i}: {k}")


def test_shards_cover_each_step_once():
    step = [[0, 1, 2, 3, 4], [5, 6, 7], [8, 9]]
    for world in (1, 2, 3, 4, 5, 7):
        pieces = [training.shard(step, world, r) for r in range(world)]
        seen = sorted(i for p in pieces for _, b in p for i in b)
        assert seen == list(range(10)), world
        assert max(len(p) for p in pieces) <= -(-len(step) // world)  # whole micro-batches dealt evenly
    assert training.shard(step, 2, 0) == [(0, [0, 1, 2, 3, 4]), (2, [8, 9])]
    assert training.shard(step, 5, 3) == [(0, [2, 3, 4])]  # micro-batch 0 is cut among ranks 0 and 3


def test_too_many_processes_for_the_batch_is_refused(monkeypatch):
    from xstilts.train import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 8)
    monkeypatch.setattr(distributed, "rank", lambda: 0)
    with pytest.raises(ValueError, match="finetune.batch_size, finetune.grad_accum"):
        settings = training.FitSettings(epochs=1, batch_size=2, grad_accum=2, warmup=0.1, weight_decay=0.0,
                                        max_grad_norm=1.0)
        training.fit(torch.nn.Linear(1, 1), None, [], settings, lr=1e-3, seed=0)


def test_single_process_stages_refuse_a_launcher(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="only the intermediate and target stages"):
        training.predict(torch.nn.Linear(1, 1), None, [], 8)


# ---- a stage under the launcher -------------------------------------------------------------------------------------
def _mini_repo(root: Path) -> None:
    """Just what `xstilts.stages.intermediate --task mnli` reads: params, tokenizer, baseline encoder, tuned LR,
    subsamples and the dev set."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["study"].update(intermediate_tasks=["mnli"], arms=["baseline", "random", "mnli"], seeds=[1])
    params["variants"]["arms"] = []  # no variant arms in this study
    params["prepare"]["train_size"] = {"mnli": 24}
    params["subsample"]["sizes"] = [12, "full"]
    params["finetune"].update(epochs=2, batch_size=4)
    root.mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "dvc.yaml").write_text("stages: {}\n")
    train = pd.DataFrame(W.rows("mnli", 24))
    for label, df in (("12", train.iloc[:12]), ("full", train)):
        schema.write(df.reset_index(drop=True), paths.subsample_path(root, "mnli", label), "pair")
    schema.write(pd.DataFrame(W.rows("mnli", 10)).assign(id=lambda d: d.id + "-dev"),
                 paths.split_path(root, "mnli", "dev"), "pair")
    texts = [f"{a} {b}" for a, b in zip(train.text_a, train.text_b)]
    modeling.train_tokenizer(texts, root / "models" / "tokenizer", 96)
    vocab = modeling.load_tokenizer(root / "models" / "tokenizer").get_vocab_size()
    training.seed_everything(0)
    tiny = {**W.TINY, "max_length": 96}
    modeling.new_encoder(modeling.encoder_config(vocab, tiny)).save_pretrained(
        str(root / "models" / "arms" / "baseline"))
    (root / "tuned" / "intermediate").mkdir(parents=True)
    (root / "tuned" / "intermediate" / "mnli.json").write_text(json.dumps({"learning_rate": 0.003}))


def test_intermediate_stage_under_launcher_writes_only_on_rank_0(tmp_path):
    root = tmp_path / "repo"
    _mini_repo(root)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {"XSTILTS_ROOT": str(root), "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "XSTILTS_FEATURE_CACHE": str(tmp_path / "features")}
    _launch([str(REPO / "tests" / "stage_rank.py"), str(logs), "intermediate", "--task", "mnli"], env)
    cache = str(tmp_path / "features")  # each rank's own tokenised-feature cache: not a pipeline output
    written = {r: [w for w in (logs / f"writes-rank{r}.txt").read_text().split() if not w.startswith(cache)]
               for r in (0, 1)}
    cells = [root / "models" / "arms" / "mnli" / c for c in ("12-s1", "full-s1")]
    metrics_file = root / "metrics" / "intermediate" / "mnli.json"
    runs_file = root / "runs" / "intermediate" / "mnli.json"  # the MLflow run ids behind the metrics
    assert written[1] == []  # (c) rank 1 wrote nothing
    assert sorted(written[0]) == sorted(map(str, [*cells, metrics_file, runs_file]))
    for cell in cells:
        assert (cell / "model.safetensors").exists() and json.loads((cell / "run.json").read_text())["seed"] == 1
    metrics = json.loads(metrics_file.read_text())
    assert 0 <= metrics["12-s1.dev_score"] <= 100 and metrics["full-s1.train_size"] == 24
    # one parent + one run per attempt of each cell (degenerate tiny models are restarted: every rank takes rank
    # 0's decision), all from rank 0
    attempts = [json.loads((cell / "run.json").read_text())["restarts"] + 1 for cell in cells]
    with sqlite3.connect(root / "mlflow.db") as db:
        assert db.execute("select count(*) from runs").fetchone()[0] == 1 + sum(attempts)
        sizes = db.execute("select value from params where key = 'runtime.world_size'").fetchall()
    assert sizes == [("2",)] * sum(attempts)


def test_launcher_env_relaunches_the_stage_under_it(monkeypatch):
    from xstilts.train import distributed

    calls = []
    monkeypatch.setattr(distributed.subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 3)
    for var in ("LOCAL_RANK", "XSTILTS_RELAUNCHED", distributed.LAUNCHER_ENV):
        monkeypatch.delenv(var, raising=False)
    distributed.relaunch("xstilts.stages.target", ["--arm", "baseline"])  # not set: runs here
    assert calls == []
    monkeypatch.setenv(distributed.LAUNCHER_ENV, "accelerate launch --multi_gpu --num_processes 8")
    with pytest.raises(SystemExit) as exit_:
        distributed.relaunch("xstilts.stages.target", ["--arm", "baseline"])
    assert exit_.value.code == 3  # the launcher's status is the stage's
    cmd, env = calls[0]
    assert cmd == ["accelerate", "launch", "--multi_gpu", "--num_processes", "8", "-m", "xstilts.stages.target",
                   "--arm", "baseline"]
    assert env["XSTILTS_RELAUNCHED"] == "1"
    monkeypatch.setenv("LOCAL_RANK", "0")  # a rank started by the launcher trains
    distributed.relaunch("xstilts.stages.target", ["--arm", "baseline"])
    assert len(calls) == 1
