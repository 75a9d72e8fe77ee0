"""XTREME-R protocol options on a tiny setup: `target.xcopa_recipe: socialiqa_then_copa` (XCOPA fine-tuned on
SocialIQA, then COPA, as XTREME-R's scripts/train_xcopa.sh) and `evaluate.tatoeba_encoder: squad` (Tatoeba
embedded with the SQuAD-trained target model's encoder, as XTREME-R), each run through the real target and
evaluate stages and recorded in the models' records, the stage metrics and MLflow; the defaults change nothing
else (the other targets' models are byte-identical)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from xstilts.cli import deep_merge
from xstilts.core import config

from .conftest import REPO

SETUP = r"""
import shutil, sys
from pathlib import Path
import pandas as pd, yaml
from xstilts.core import config
from xstilts.pipeline import tracking
from xstilts.core import paths
from xstilts.data import schema
from xstilts.data.sources import SOURCES
from xstilts.data.testsets import write_test_set
from xstilts.core.io import write_json
from xstilts.train.modeling import encoder_config, new_encoder, train_tokenizer
from xstilts.train.loop import seed_everything

root = Path.cwd()
params = config.load(root / "params.yaml")
out = root / "data" / "prepared"
# the embedded benchmark has no XCOPA: generate the rest, then XCOPA by hand in the canonical schema
synthetic = yaml.safe_load(yaml.safe_dump(params))
synthetic["study"]["target_tasks"] = [t for t in params["study"]["target_tasks"] if t != "xcopa"]
SOURCES["synthetic"](synthetic, out, lambda *a: None)
siqa = {s: pd.read_parquet(out / "intermediate" / "socialiqa" / f"{s}.parquet") for s in ("train", "dev")}
for split, n in (("train", 24), ("dev", 12)):
    rows = siqa[split if split == "dev" else "train"].head(n).copy()
    rows["choices"] = [list(c[:2]) for c in rows["choices"]]
    rows["label"] = [int(y) % 2 for y in rows["label"]]
    rows["id"] = [f"copa-{split}-{i}" for i in range(len(rows))]
    schema.write(rows.reset_index(drop=True), paths.split_path(root, "xcopa", split), "mc")
test = siqa["dev"].tail(12).copy()
test["choices"] = [list(c[:2]) for c in test["choices"]]
test["label"] = [int(y) % 2 for y in test["label"]]
test["id"] = [f"xcopa-ea-{i}" for i in range(len(test))]
test["lang"] = "ea"
summary = {}
write_test_set(params, out, "xcopa", "ea", test.reset_index(drop=True), summary)
schema.write_task_json("xcopa", params, out, {"languages": ["ea"], "adversaries": ["char_noise"]})
for split in ("train", "dev"):  # XTREME-R's first XCOPA phase, where the hub source's prepare writes it
    (out / "targets" / "xcopa" / "socialiqa").mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "intermediate" / "socialiqa" / f"{split}.parquet",
                out / "targets" / "xcopa" / "socialiqa" / f"{split}.parquet")
pre = out / "pretrain"
texts = sorted(set(pd.read_parquet(pre / "lexicon.parquet").form))
texts += [t for lang in params["study"]["languages"] for t in pd.read_parquet(pre / f"{lang}.parquet").text]
tok = train_tokenizer(texts, root / "models" / "tokenizer", params["pretrain"]["max_length"])
seed_everything(5)
new_encoder(encoder_config(len(tok.get_vocab()), params["pretrain"])).save_pretrained(str(root / "models" / "arms" / "baseline"))
for task in ("xquad", "xcopa"):
    write_json(root / "tuned" / "targets" / f"{task}.json", {"task": task, "learning_rate": 0.005})
tracking.setup_experiments(root)
"""  # noqa: E501 (a long line inside the script text; re-wrapping would change the string)


def _env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "XSTILTS_"))}
    return env | {"PYTHONPATH": str(REPO / "src"), "XSTILTS_ROOT": str(root), "MLFLOW_DISABLE_TELEMETRY": "true",
                  "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def _run(root: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=root, env=_env(root), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _params(recipe: str, encoder: str) -> dict:
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    return deep_merge(base, {
        "study": {"languages": ["en", "ea"], "intermediate_tasks": ["socialiqa"], "arms": ["baseline", "socialiqa"],
                  "target_tasks": ["xquad", "xcopa", "tatoeba"], "seeds": [1]},
        "variants": {"arms": []},
        "prepare": {"train_size": {"socialiqa": 200}, "target_train_size": {"xquad": 48, "xcopa": 24},
                    "dev_size": 16, "test_size": 16,
                    "pretrain_sentences": 150},
        "adversaries": {"subsets": {"xquad": ["char_noise"], "xcopa": ["char_noise"], "tatoeba": ["char_noise"]}},
        "subsample": {"sizes": [60, "full"]},
        "finetune": {"epochs": 1, "batch_size": 8, "restarts": 0,
                     "overrides": {"xcopa": {"epochs": 2, "batch_size": 4, "grad_accum": 2, "max_length": 48}}},
        "target": {"xcopa_recipe": recipe},
        "evaluate": {"tatoeba_encoder": encoder, "batch_size": 64}})


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two tiny repositories: XTREME-R's options (socialiqa_then_copa, squad) and the defaults (copa,
    pretrained), each through the target and evaluate stages of the baseline arm."""
    base = tmp_path_factory.mktemp("protocol") / "base"
    base.mkdir()
    (base / "params.yaml").write_text(yaml.safe_dump(_params("socialiqa_then_copa", "squad"), sort_keys=False))
    shutil.copy(REPO / "dvc.yaml", base / "dvc.yaml")
    _run(base, "-c", SETUP)
    out = {}
    for name, recipe, encoder in (("xtreme_r", "socialiqa_then_copa", "squad"), ("default", "copa", "pretrained")):
        root = base.parent / name
        shutil.copytree(base, root)
        (root / "params.yaml").write_text(yaml.safe_dump(_params(recipe, encoder), sort_keys=False))
        log = _run(root, "-m", "xstilts.stages.target", "--arm", "baseline")
        log += _run(root, "-m", "xstilts.stages.evaluate", "--arm", "baseline")
        (root / "stages.log").write_text(log)
        out[name] = root
    return out


def _model(root: Path, target: str) -> dict:
    return json.loads((root / "models" / "target" / "baseline" / "none-s1" / target / "model.json").read_text())


def _mlflow_run(root: Path, run_id: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}").get_run(run_id)


def test_xcopa_socialiqa_then_copa_trains_socialiqa_first_with_xcopas_settings(runs):
    root = runs["xtreme_r"]
    model = _model(root, "xcopa")
    first = model["first_stage"]
    siqa = pd.read_parquet(root / "data" / "prepared" / "targets" / "xcopa" / "socialiqa" / "train.parquet")
    assert model["xcopa_recipe"] == "socialiqa_then_copa" and model["xcopa_phase"] == "2 (copa)"
    assert first["task"] == "socialiqa" and first["train_size"] == len(siqa) and len(first["mlflow_run_id"]) == 32
    assert "xcopa phase 1 (socialiqa): n=" in (root / "stages.log").read_text()
    phase1 = _mlflow_run(root, first["mlflow_run_id"]).data.params
    assert phase1["target_task"] == "xcopa" and phase1["xcopa_phase"] == "1 (socialiqa)"
    # XTREME-R's script uses one setting for both phases: XCOPA's, not SocialIQA's own (finetune defaults)
    assert (phase1["epochs"], phase1["batch_size"], phase1["grad_accum"], phase1["max_length"]) == ("2", "4", "2", "48")
    assert phase1["learning_rate"] == str(model["learning_rate"]) == "0.005"  # XCOPA's tuned LR for both
    phase2 = _mlflow_run(root, model["mlflow_run_id"])
    assert phase2.data.params["xcopa_recipe"] == "socialiqa_then_copa"
    assert phase2.data.tags["xcopa_first_stage_run_id"] == first["mlflow_run_id"]
    metrics = json.loads((root / "metrics" / "target" / "baseline.json").read_text())
    assert metrics["none-s1.xcopa.socialiqa.dev_score"] == first["dev_score"]
    ids = json.loads((root / "runs" / "target" / "baseline.json").read_text())
    assert ids["none-s1.xcopa.socialiqa.mlflow_run_id"] == first["mlflow_run_id"]
    assert not (root / ".checkpoints" / "target" / "baseline").exists()  # the phase-1 encoder is removed too


def test_the_recipe_changes_xcopa_alone(runs):
    xr, default = runs["xtreme_r"], runs["default"]
    copa = _model(default, "xcopa")
    assert copa["xcopa_recipe"] == "copa" and "first_stage" not in copa and "xcopa_phase" not in copa
    enc = "encoder/model.safetensors"
    base = Path("models/target/baseline/none-s1")
    assert (xr / base / "xcopa" / enc).read_bytes() != (default / base / "xcopa" / enc).read_bytes()
    for f in ("encoder/model.safetensors", "encoder/config.json", "head.safetensors"):  # xquad: byte-identical
        assert (xr / base / "xquad" / f).read_bytes() == (default / base / "xquad" / f).read_bytes()
    assert "xcopa_recipe" not in _model(default, "xquad")
    m_xr, m_def = (json.loads((r / "metrics" / "target" / "baseline.json").read_text()) for r in (xr, default))
    assert {k: v for k, v in m_xr.items() if ".socialiqa." not in k and ".xcopa." not in k} == \
           {k: v for k, v in m_def.items() if ".xcopa." not in k}


def _retrieval_scores(root: Path, encoder_dir: Path, params: dict) -> dict:
    from xstilts.eval.zeroshot import evaluate_encoder, load_eval_sets
    from xstilts.train.common import tokenizer
    from xstilts.train.modeling import load_encoder

    sets = load_eval_sets(root, "tatoeba", ["ea"], ["char_noise"])
    res, _ = evaluate_encoder(load_encoder(encoder_dir), "tatoeba", sets, tokenizer(root),
                              layer=params["evaluate"]["retrieval_layer"], max_length=params["pretrain"]["max_length"],
                              batch_size=64)
    return {(r["language"], r["subset"]): r["score"] for r in res}


def test_tatoeba_encoder_squad_embeds_with_the_xquad_models_encoder(runs):
    root = runs["xtreme_r"]
    params = config.load(root / "params.yaml")
    results = pd.read_parquet(root / "results" / "baseline.parquet")
    tatoeba = results[results.target_task == "tatoeba"]
    xquad = _model(root, "xquad")
    assert (tatoeba.target_run_id == xquad["mlflow_run_id"]).all()
    assert (tatoeba.target_restarts == xquad["restarts"]).all()  # the training record of the model it came from
    got = {(r.language, r.subset): r.score for r in tatoeba.itertuples()}
    qa_encoder = root / "models" / "target" / "baseline" / "none-s1" / "xquad" / "encoder"
    assert got == _retrieval_scores(root, qa_encoder, params)
    metrics = json.loads((root / "metrics" / "evaluate" / "baseline.json").read_text())
    assert metrics["retrieval_encoder"] == "squad: the encoder of each model's xquad target model"
    run_id = json.loads((root / "runs" / "evaluate" / "baseline.json").read_text())["none-s1.tatoeba.mlflow_run_id"]
    run = _mlflow_run(root, run_id).data
    assert run.params["tatoeba_encoder"] == "squad"
    assert run.params["tatoeba_encoder_model"] == "models/target/baseline/none-s1/xquad"
    assert run.tags["encoder_dir"] == "models/target/baseline/none-s1/xquad/encoder"


def test_tatoeba_encoder_pretrained_is_the_arms_encoder_as_before(runs):
    root = runs["default"]
    params = config.load(root / "params.yaml")
    tatoeba = pd.read_parquet(root / "results" / "baseline.parquet").query("target_task == 'tatoeba'")
    assert (tatoeba.target_run_id == "").all()
    got = {(r.language, r.subset): r.score for r in tatoeba.itertuples()}
    assert got == _retrieval_scores(root, root / "models" / "arms" / "baseline", params)
    assert "retrieval_encoder" not in json.loads((root / "metrics" / "evaluate" / "baseline.json").read_text())
    run_id = json.loads((root / "runs" / "evaluate" / "baseline.json").read_text())["none-s1.tatoeba.mlflow_run_id"]
    assert _mlflow_run(root, run_id).data.params["tatoeba_encoder"] == "pretrained"


def test_protocol_keys_are_validated(params):
    for mutate, key in ((lambda p: p["target"].update(xcopa_recipe="siqa"), "target.xcopa_recipe"),
                        (lambda p: p["evaluate"].update(tatoeba_encoder="mlqa"), "evaluate.tatoeba_encoder"),
                        (lambda p: p["target"].pop("xcopa_recipe"), "target.xcopa_recipe")):
        p = copy.deepcopy(params)
        mutate(p)
        with pytest.raises(config.ConfigError, match=f"`{key}`"):
            config.validate(p)
    p = copy.deepcopy(params)
    p["evaluate"]["tatoeba_encoder"] = "squad"
    config.validate(p)  # the default lists xquad
    p["study"]["target_tasks"] = ["xnli", "tatoeba"]
    p["adversaries"]["subsets"] = {"xnli": ["char_noise"], "tatoeba": ["char_noise"]}
    with pytest.raises(config.ConfigError, match="`evaluate.tatoeba_encoder` = 'squad'.*xquad, mlqa"):
        config.validate(p)


def test_plan_counts_the_socialiqa_phase(params):
    from xstilts.cli.plan import plan

    paper = deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))
    assert paper["target"]["xcopa_recipe"] == "copa" and paper["evaluate"]["tatoeba_encoder"] == "pretrained"
    copa = plan(copy.deepcopy(paper))
    paper["target"]["xcopa_recipe"] = "socialiqa_then_copa"
    both = plan(copy.deepcopy(paper))
    cells = 8 * 4 * 3 + 2 * 3 + 3 * 3  # intermediate cells, controls, variants
    assert both["xcopa_first_stage_examples"] == cells * 33410 * 5 * 4  # cells x SIQA x XCOPA's epochs x choices
    assert both["examples"]["target"] - copa["examples"]["target"] == both["xcopa_first_stage_examples"]
    assert both["gpu_hours"] > copa["gpu_hours"]
