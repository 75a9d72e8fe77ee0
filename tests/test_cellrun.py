"""Restarts of degenerate fine-tunings (xstilts.pipeline.cellrun): a run forced to diverge on its first seed is
restarted from a derived seed, every attempt is its own MLflow run with its outcome, and a model that stays degenerate
after its restarts is kept, flagged, and chosen on dev alone."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from xstilts.core.io import stable_seed
from xstilts.data import schema
from xstilts.pipeline import cellrun
from xstilts.train import finetune as finetuning
from xstilts.train import modeling
from xstilts.train.common import load_dataset

from . import ddp_worker as W

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    tok = W.tokenizer(root / "tok")
    cfg = modeling.encoder_config(tok.get_vocab_size(), W.TINY)
    training_seed = 0
    torch.manual_seed(training_seed)
    modeling.new_encoder(cfg).save_pretrained(str(root / "enc"))
    paths = {}
    for split, n in (("train", 48), ("dev", 30)):
        df = W.rows("xnli", n)
        paths[split] = root / f"{split}.parquet"
        schema.write(df, paths[split], "pair")
    return root, tok, {k: load_dataset("xnli", v) for k, v in paths.items()}


def _params(params: dict, **finetune) -> dict:
    params["finetune"].update({"epochs": 1, "batch_size": 8, **finetune})
    params["pretrain"]["max_length"] = 64
    return params


def _runs(root):
    import mlflow

    from xstilts.pipeline import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri(root))
    runs = mlflow.search_runs(search_all_experiments=True, output_format="pandas")
    return runs.sort_values("tags.mlflow.runName").reset_index(drop=True)


def test_a_run_that_diverges_on_its_first_seed_is_restarted_and_recorded(setup, params, monkeypatch):
    root, tok, data = setup
    real = finetuning.train_task

    def diverge_first_seed(*args, lr, seed, **kw):  # an infinite learning rate: NaN loss at once, a real divergence
        return real(*args, lr=float("inf") if seed == 7 else lr, seed=seed, **kw)

    monkeypatch.setattr(cellrun, "train_task", diverge_first_seed)
    p = _params(params, restarts=2, degenerate_margin=0.0)  # margin 0: only divergence/collapse restarts here
    out = cellrun.train_cell(root, "target", "diverge", encoder_dir=root / "enc", train=data["train"],
                             dev=data["dev"], tok=tok, params=p, lr=3e-3, seed=7, label="test diverge",
                             run_params={"target_task": "xnli"}, dataset_name="xnli-train")
    first = out.attempts[0]
    assert first.seed == 7 and first.degenerate and "diverged" in first.health["reasons"]
    assert out.attempts[1].seed == stable_seed("restart", 7, 1) == cellrun.attempt_seed(7, 1)
    assert out.restarts >= 1 and out.chosen >= 1 and out.model is not None
    rec = out.record()
    assert rec["restarts"] == out.restarts and rec["attempts"][0]["outcome"].startswith("degenerate: diverged")
    assert rec["trained_seed"] == out.seed != 7
    assert out.metrics("none-s7.xnli")["none-s7.xnli.restarts"] == out.restarts
    runs = _runs(root)
    runs = runs[runs["tags.mlflow.runName"].str.startswith("diverge")]
    assert len(runs) == len(out.attempts)  # one MLflow run per attempt, with its outcome
    assert runs["tags.outcome"].iloc[0].startswith("degenerate: diverged")
    assert runs["params.attempt"].tolist() == [str(a.number) for a in out.attempts]


def test_still_degenerate_after_its_restarts_is_flagged_and_chosen_on_dev(setup, params):
    root, tok, data = setup
    p = _params(params, restarts=1, degenerate_margin=99.0)  # nothing can score 99 points above chance
    out = cellrun.train_cell(root, "target", "hopeless", encoder_dir=root / "enc", train=data["train"],
                             dev=data["dev"], tok=tok, params=p, lr=3e-3, seed=5, label="test hopeless",
                             run_params={"target_task": "xnli"}, dataset_name="xnli-train")
    assert out.restarts == 1 and out.degenerate and all(a.degenerate for a in out.attempts)
    best = max(out.attempts, key=lambda a: (a.dev_score, -a.number))
    assert out.chosen == best.number and out.dev_score == best.dev_score
    assert out.record()["degenerate"] is True


def test_a_healthy_first_attempt_is_the_run_without_restarts(setup, params):
    """Attempt 0 trains with the cell's own seed, exactly what the stage trained before restarts existed."""
    root, tok, data = setup
    p = _params(params, restarts=2, degenerate_margin=0.0, degenerate_collapse=1.0)
    out = cellrun.train_cell(root, "target", "healthy", encoder_dir=root / "enc", train=data["train"],
                             dev=data["dev"], tok=tok, params=p, lr=3e-3, seed=3, label="test healthy",
                             run_params={"target_task": "xnli"}, dataset_name="xnli-train")
    plain = finetuning.train_task(root / "enc", data["train"], data["dev"], tok, p, lr=3e-3, seed=3)
    assert out.attempts[0].seed == 3 and out.attempts[0].dev_score == plain[2]
    first = out.model if out.restarts == 0 else None
    if first is not None:  # healthy at once: the chosen model is the plain run's, weight for weight
        assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), plain[0].state_dict().values()))
    assert isinstance(pd.DataFrame([out.record()["dev_health"]]), pd.DataFrame)
