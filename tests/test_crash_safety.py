"""Crash safety: `kill -9` in the middle of training, then a re-run, ends exactly where an uninterrupted run ends
(epoch checkpoints, xstilts.train.checkpoint); atomic writes leave nothing behind after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from xstilts.core import io, paths

from .conftest import REPO

# One tiny fit in a fresh process: toy pair data, a 1-layer encoder with frozen word embeddings, dev accuracy after
# every epoch; argv: out dir, checkpoint dir ("-" for none), seconds of sleep per batch, epochs, "twice" to fit a
# second, identically initialised model on the same checkpoint afterwards.
FIT = r"""
import json, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_model

from xstilts import formats
from xstilts.train import loop as training, modeling

torch.set_num_threads(1)
out, ckpt, sleep, epochs = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
twice = sys.argv[5:] == ["twice"]
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
objs = ["car", "book", "apple", "lamp", "chair", "phone", "ring", "hat"]
df = pd.DataFrame([{"id": f"t{i}", "lang": "en", "text_a": " ".join(rng.choice(objs, 3)),
                    "text_b": ("yes " if i % 2 else "no ") + " ".join(rng.choice(objs, 2)), "label": i % 2, "meta": ""}
                   for i in range(48)])
tok = modeling.train_tokenizer(list(df.text_a) + list(df.text_b), out / "tok", max_length=32)
fmt = formats.get("pair")
feats = fmt.encode(df, tok, 32, train=True)
dev_feats = fmt.encode(df, tok, 32, train=False)

if sleep:  # slow batches: the test kills the process while it is inside an epoch
    fast = training._to
    def slow(batch, dev):
        time.sleep(sleep)
        return fast(batch, dev)
    training._to = slow

def run():
    training.seed_everything(0)
    enc = modeling.new_encoder(modeling.encoder_config(tok.get_vocab_size(), {
        "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 32}))
    model = modeling.TaskModel(enc, 2)
    modeling.freeze_word_embeddings(model, True)
    def on_epoch(epoch, m):
        preds = training.predict(m, fmt, dev_feats, 16)
        return float(np.mean(np.array(preds) == df.label.to_numpy()) * 100)
    settings = training.FitSettings(epochs=epochs, batch_size=4, warmup=0.1, weight_decay=0.01, max_grad_norm=1.0)
    res = training.fit(model, fmt, feats, settings, lr=5e-3, seed=7, on_epoch=on_epoch,
                       checkpoint=None if ckpt == "-" else Path(ckpt))
    return model, res

for i in range(2 if twice else 1):
    model, res = run()
    save_model(model, str(out / f"model{i}.safetensors"))
    (out / f"result{i}.json").write_text(json.dumps({"losses": res.losses, "evals": res.evals,
                                                     "resumed": res.resumed}))
"""


def _fit(out: Path, ckpt: Path | str, sleep: float = 0.0, epochs: int = 3, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-c", FIT, str(out), str(ckpt), str(sleep), str(epochs), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _done(proc: subprocess.Popen) -> str:
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    return out


def test_fit_killed_mid_epoch_resumes_bit_identical(tmp_path):
    """SIGKILL inside epoch 2 of 3, right after the first checkpoint; the re-run resumes after epoch 1 and ends
    with the weights, losses and dev scores of an uninterrupted run, bit for bit; a further run restores the
    finished fit without training."""
    ckpt = tmp_path / "ckpt"
    victim = _fit(tmp_path / "killed", ckpt, 0.03)
    first = ckpt / "epoch-0000"
    deadline = time.time() + 240
    while not first.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    out = victim.communicate(timeout=60)[0]
    assert victim.returncode == -signal.SIGKILL, out
    # only the complete first epoch is there (plus, at most, the temporary of an unfinished write)
    assert (first / "state.json").exists() and not (ckpt / "epoch-0001").exists()
    assert {p.name for p in ckpt.iterdir() if not p.name.startswith(".")} == {"epoch-0000"}

    reference = _fit(tmp_path / "reference", "-")  # uninterrupted, no checkpoints at all
    log = _done(_fit(tmp_path / "resumed", ckpt, 0.0, 3, "twice"))
    _done(reference)
    assert "resuming after epoch 1" in log and "resuming after epoch 3" in log

    ref = json.loads((tmp_path / "reference" / "result0.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "result0.json").read_text())
    restored = json.loads((tmp_path / "resumed" / "result1.json").read_text())
    assert len(ref["losses"]) == len(ref["evals"]) == 3 and ref["resumed"] == 0
    assert resumed["losses"] == ref["losses"] and resumed["evals"] == ref["evals"] and resumed["resumed"] == 1
    assert restored["losses"] == ref["losses"] and restored["evals"] == ref["evals"] and restored["resumed"] == 3
    weights = (tmp_path / "reference" / "model0.safetensors").read_bytes()
    assert (tmp_path / "resumed" / "model0.safetensors").read_bytes() == weights
    assert (tmp_path / "resumed" / "model1.safetensors").read_bytes() == weights
    # the finished fit keeps one checkpoint, without optimizer state
    assert [p.name for p in ckpt.iterdir()] == ["epoch-0002"]
    state = json.loads((ckpt / "epoch-0002" / "state.json").read_text())
    assert state["final"] and "optimizer" not in state


def test_a_torn_checkpoint_is_removed_and_training_starts_over(tmp_path):
    """A truncated model.safetensors in the newest checkpoint (a crash or a full disk mid-write) does not block the
    run: it is reported with its path, removed, and the fit trains from the start to the uninterrupted result."""
    ckpt = tmp_path / "ckpt"
    _done(_fit(tmp_path / "first", ckpt, 0.0, 1))  # one finished epoch: ckpt/epoch-0000
    weights = ckpt / "epoch-0000" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    log = _done(_fit(tmp_path / "again", ckpt, 0.0, 1))
    assert f"checkpoint {ckpt / 'epoch-0000'}: unreadable" in log and "removed" in log
    assert json.loads((tmp_path / "again" / "result0.json").read_text())["resumed"] == 0
    assert (tmp_path / "again" / "model0.safetensors").read_bytes() == \
        (tmp_path / "first" / "model0.safetensors").read_bytes()


def test_a_checkpoint_of_other_inputs_is_discarded(tmp_path):
    """Another learning rate, seed or training set changes the fingerprint: the old checkpoint is not applied."""
    import torch

    from xstilts import formats
    from xstilts.train import loop as training
    from xstilts.train import modeling

    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "lang": "en", "text_a": ["x y", "y z", "z x", "x"],
                       "text_b": ["y", "z", "x", "y"], "label": [0, 1, 0, 1], "meta": ""})
    tok = modeling.train_tokenizer(list(df.text_a) + list(df.text_b), tmp_path / "tok", max_length=16)
    fmt = formats.get("pair")
    feats = fmt.encode(df, tok, 16, train=True)
    cfg = modeling.encoder_config(tok.get_vocab_size(), {"hidden_size": 8, "num_layers": 1, "num_heads": 2,
                                                        "intermediate_size": 16, "max_length": 16})

    def model():
        training.seed_everything(0)
        return modeling.TaskModel(modeling.new_encoder(cfg), 2)

    kw = {"settings": training.FitSettings(epochs=2, batch_size=2, warmup=0.0, weight_decay=0.0, max_grad_norm=1.0),
          "seed": 1}
    torch.set_num_threads(1)
    ckpt = tmp_path / "ckpt"
    training.fit(model(), fmt, feats, lr=1e-3, checkpoint=ckpt, **kw)
    assert training.fit(model(), fmt, feats, lr=1e-3, checkpoint=ckpt, **kw).resumed == 2
    assert training.fit(model(), fmt, feats, lr=2e-3, checkpoint=ckpt, **kw).resumed == 0
    assert training.fit(model(), fmt, feats[:3], lr=2e-3, checkpoint=ckpt, **kw).resumed == 0
    m = model()
    with torch.no_grad():
        m.head.bias.add_(1.0)  # other initial weights
    assert training.fit(m, fmt, feats[:3], lr=2e-3, checkpoint=ckpt, **kw).resumed == 0
    assert paths.checkpoint_dir(tmp_path, "target", "baseline") == tmp_path / ".checkpoints" / "target" / "baseline"


KILLED_WRITER = r"""
import os, signal, sys
from pathlib import Path
from xstilts.core import io, paths
with io.atomic_path(Path(sys.argv[1])) as tmp:
    tmp.mkdir()
    (tmp / "half.bin").write_bytes(b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_atomic_write_after_a_kill_leaves_nothing_behind(tmp_path):
    """A writer killed with SIGKILL skips its cleanup; the next write of the same output removes its leftovers
    (which would otherwise change the md5 of a DVC directory output) and never touches the old output."""
    out = tmp_path / "models" / "cell"
    io.write_json(tmp_path / "models" / "other.json", {"a": 1})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out)], env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = [p.name for p in out.parent.iterdir() if p.name.startswith(".cell.")]
    assert len(left) == 1 and not out.exists()
    with io.atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "model.bin").write_bytes(b"ok")
    assert sorted(p.name for p in out.parent.iterdir()) == ["cell", "other.json"]
    assert (out / "model.bin").read_bytes() == b"ok"


# ---- a whole training stage ------------------------------------------------------------------------------------------
SETUP = """
from pathlib import Path

import pandas as pd

from xstilts.core import config
from xstilts.pipeline import tracking
from xstilts.data.sources import SOURCES
from xstilts.core.io import write_json
from xstilts.train.modeling import encoder_config, new_encoder, train_tokenizer
from xstilts.train.loop import seed_everything

root = Path.cwd()
params = config.load(root / "params.yaml")
SOURCES["synthetic"](params, root / "data" / "prepared", lambda *a: None)
pre = root / "data" / "prepared" / "pretrain"
texts = sorted(set(pd.read_parquet(pre / "lexicon.parquet").form))
texts += [t for lang in params["study"]["languages"] for t in pd.read_parquet(pre / f"{lang}.parquet").text]
tok = train_tokenizer(texts, root / "models" / "tokenizer", params["pretrain"]["max_length"])
seed_everything(5)
encoder = new_encoder(encoder_config(len(tok.get_vocab()), params["pretrain"]))
encoder.save_pretrained(str(root / "models" / "arms" / "baseline"))
for task in params["study"]["target_tasks"]:
    write_json(root / "tuned" / "targets" / f"{task}.json", {"task": task, "learning_rate": 0.005})
tracking.setup_experiments(root)  # the MLflow store, created once
"""

STAGE = r"""
import sys, time
import torch
from xstilts.train import loop as training
torch.set_num_threads(1)
sleep = float(sys.argv[1])
if sleep:  # slow batches: the test kills the stage inside an epoch
    fast = training._to
    def slow(batch, dev):
        time.sleep(sleep)
        return fast(batch, dev)
    training._to = slow
from xstilts.stages import target
target.main(["--arm", "baseline"])
"""


def _stage_env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "XSTILTS_"))}
    return env | {"PYTHONPATH": str(REPO / "src"), "XSTILTS_ROOT": str(root),
                  "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "MLFLOW_DISABLE_TELEMETRY": "true"}


def _python(script: str, root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=root, env=_stage_env(root),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_target_stage_killed_mid_epoch_resumes_to_identical_outputs(tmp_path):
    """`kill -9` of the target stage inside its first fit's second epoch; the re-run resumes from the checkpoint and
    writes the same model files and byte-identical metrics as an uninterrupted run (new MLflow run ids, in runs/),
    then removes its checkpoints; nothing half-written is left anywhere. (The encoder is a random-init one and the
    tuned learning rates are fixed: the pretrain and tune stages are not what is tested here.)"""
    from xstilts.cli import deep_merge

    base = tmp_path / "base"
    base.mkdir()
    params = deep_merge(yaml.safe_load((REPO / "params.yaml").read_text()),
                        yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text()))
    params = deep_merge(params, {"study": {"target_tasks": ["xnli"], "seeds": [1]},
                                 "prepare": {"target_train_size": {"xnli": 64}, "dev_size": 20,
                                             "test_size": 20, "pretrain_sentences": 200},
                                 "finetune": {"epochs": 2, "batch_size": 8}})
    (base / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(REPO / "dvc.yaml", base / "dvc.yaml")
    _done(_python(SETUP, base))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    shutil.copytree(base, whole)
    shutil.copytree(base, killed)

    reference = _python(STAGE, whole, "0")
    victim = _python(STAGE, killed, "0.05")
    first = killed / ".checkpoints" / "target" / "baseline" / "none-s1" / "xnli" / "epoch-0000"
    deadline = time.time() + 240
    while not first.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    out = victim.communicate(timeout=60)[0]
    assert victim.returncode == -signal.SIGKILL, out
    assert not (killed / "models" / "target").exists() and not (killed / "metrics" / "target").exists()
    _done(reference)
    log = _done(_python(STAGE, killed, "0"))
    assert "resuming after epoch 1" in log, log

    files = sorted(p.relative_to(whole) for p in (whole / "models" / "target").rglob("*") if p.is_file())
    assert len(files) == 4  # per target: model.json, head.safetensors, encoder/{config.json, model.safetensors}
    assert files == sorted(p.relative_to(killed) for p in (killed / "models" / "target").rglob("*") if p.is_file())
    for rel in files:
        a, b = (whole / rel).read_bytes(), (killed / rel).read_bytes()
        if rel.name == "model.json":  # the only varying fields: the MLflow run ids (of the model and its attempts)
            a, b = ({k: (v if k != "attempts" else [{**at, "mlflow_run_id": ""} for at in v])
                     for k, v in json.loads(x).items() if k != "mlflow_run_id"} for x in (a, b))
        assert a == b, rel
    metrics = "metrics/target/baseline.json"
    assert (whole / metrics).read_bytes() == (killed / metrics).read_bytes()
    assert "run_id" not in (whole / metrics).read_text()
    runs = [json.loads((root / "runs" / "target" / "baseline.json").read_text()) for root in (whole, killed)]
    assert runs[0].keys() == runs[1].keys() and runs[0] != runs[1]
    assert not (killed / ".checkpoints" / "target" / "baseline").exists()
    assert not [p for p in (killed / "models").rglob(".*")]


def test_a_save_removes_what_a_killed_writer_of_another_epoch_left(tmp_path):
    """A writer killed between renaming `epoch-0000` into place and removing its temporary directory leaves
    `.epoch-0000.<pid>.<random>`; the next saves (other epoch names) must still clear it."""
    import torch

    from xstilts.train.checkpoint import EpochCheckpoint
    from xstilts.train.loop import FitResult

    dead = subprocess.Popen(["true"])
    dead.wait()
    ckpt_dir = tmp_path / "ck"
    ckpt_dir.mkdir()
    (ckpt_dir / f".epoch-0000.{dead.pid}.abcd1234").mkdir()
    live = ckpt_dir / f".epoch-0003.{os.getpid()}.abcd1234"  # this process's own temporary is left alone
    live.mkdir()
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    EpochCheckpoint(ckpt_dir, "fp").save(1, 4, model, opt, sched, FitResult(losses=[1.0, 0.5]), final=False)
    assert sorted(p.name for p in ckpt_dir.iterdir()) == [live.name, "epoch-0001"]
