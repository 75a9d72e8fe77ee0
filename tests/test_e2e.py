"""End to end: the real pipeline (`dvc repro`) on the smoke profile in a temporary copy of the repository,
then the MLflow store it wrote, served by a real `mlflow server` on 127.0.0.1 and read through its REST API."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from xstilts.core import tasks
from xstilts.pipeline import tracking

from .conftest import REPO
from .devtools import audited_reads, copy_worktree, params_mismatch
from .repo_run import env, run

pytestmark = pytest.mark.e2e


def _env(root: Path) -> dict:
    return env(root)


def _run(cmd: list[str], root: Path, timeout: int = 600):
    return run(cmd, root, timeout)


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory) -> Path:
    """A copy of the working tree (tracked + untracked-not-ignored files) with the smoke profile, reproduced."""
    root = tmp_path_factory.mktemp("xstilts") / "repo"
    copy_worktree(REPO, root)
    _run(["git", "init", "-q"], root)
    _run(["xstilts", "profile", "smoke"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "smoke"], root)
    t0 = time.time()
    # every stage process records the params.yaml keys it reads (xstilts.core.config's audit), outside the repository
    proc = run(["dvc", "repro"], root, 900, XSTILTS_PARAMS_AUDIT=str(root.parent / "params_audit"))
    (root / "repro.log").write_text(proc.stdout + proc.stderr)
    (root / "repro.seconds").write_text(f"{time.time() - t0:.1f}")
    return root


def test_repro_writes_report_with_signal(smoke_repo):
    params = yaml.safe_load((smoke_repo / "params.yaml").read_text())
    md = (smoke_repo / "reports" / "correlation.md").read_text()
    for section in ("## Answer", "## Model health", "## Sensitivity of the primary slope",
                    "## Robustness separated from clean accuracy", "## Baseline zero-shot scores", "## Degradation",
                    "## Provenance"):
        assert section in md
    pngs = ("sensitivity.png", "degradation_vs_size.png", "model_health.png", "zero_shot_heatmap.png",
            "seed_spread.png", "variants.png")
    for png in pngs:
        assert (smoke_repo / "reports" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (smoke_repo / "reports" / "correlation.html").read_text()
    assert "<h2>Answer</h2>" in html and html.count("data:image/png;base64,") == len(pngs)
    # every fine-tuned model records its attempts (the smoke profile allows one restart), and the report counts them
    for model_json in (smoke_repo / "models" / "target").rglob("model.json"):
        rec = json.loads(model_json.read_text())
        assert len(rec["attempts"]) == rec["restarts"] + 1 <= 2 and isinstance(rec["degenerate"], bool)
    assert (smoke_repo / "reports" / "plots" / "pooled_degradation.csv").read_text().startswith("arm,size_label")
    report = json.loads((smoke_repo / "reports" / "correlation.json").read_text())
    assert report["design"]["examples_resampled"] is True  # the stage resamples paired test examples
    metrics = json.loads((smoke_repo / "reports" / "metrics.json").read_text())
    assert "baseline.zero_shot.clean" in metrics
    results = pd.concat([pd.read_parquet(p) for p in (smoke_repo / "results").glob("*.parquet")])
    assert set(results.arm) == set(params["study"]["arms"])
    assert set(results.language) == set(params["study"]["languages"])
    for target, advs in params["adversaries"]["subsets"].items():
        assert set(results[results.target_task == target].subset) == {"clean", *advs}
    # every intermediate arm has one model per size label and seed
    inter = results[~results.arm.isin(["baseline", "random"])]
    assert set(inter.size_label) == {str(s) for s in params["subsample"]["sizes"]}
    trained = results[results.target_task.isin(tasks.trained_targets(params["study"]["target_tasks"]))]
    assert (trained.target_run_id.str.len() == 32).all()
    assert (inter.intermediate_run_id.str.len() == 32).all()
    # the retrieval target evaluates every encoder itself (no target training), on the non-English languages
    tatoeba = results[results.target_task == "tatoeba"]
    assert set(tatoeba.arm) == set(params["study"]["arms"]) and (tatoeba.target_run_id == "").all()
    assert set(tatoeba.language) == set(params["study"]["languages"]) - {"en"}
    assert (tatoeba.chance == 100 / params["prepare"]["test_size"]).all()
    clean = tatoeba[(tatoeba.subset == "clean") & (tatoeba.arm == "baseline")]
    assert (clean.score > 5 * clean.chance).all()  # the aligned encoder retrieves translations
    # LAReQA and Mewsli-X: every language queries (English too), scored with XTREME-R's mAP@20 / MRR@20
    for target, metric in (("lareqa", "map_at_20"), ("mewslix", "mrr_at_20")):
        rows = results[results.target_task == target]
        assert set(rows.language) == set(params["study"]["languages"]) and set(rows.metric) == {metric}
        assert (rows.target_run_id == "").all() and (rows.chance < 5).all()
        base = rows[(rows.subset == "clean") & (rows.arm == "baseline")]
        assert (base.score > 3 * base.chance).all()  # above a random ranking
    # BUCC: each non-English language's pool mined with the threshold of its dev pool
    bucc = results[results.target_task == "bucc"]
    assert set(bucc.language) == set(params["study"]["languages"]) - {"en"} and set(bucc.metric) == {"bucc_f1"}
    assert bucc.bucc_threshold.notna().all() and bucc.bucc_dev_f1.between(0, 100).all()
    base = bucc[(bucc.subset == "clean") & (bucc.arm == "baseline")]
    assert (base.score > 5 * base.chance).all()
    # the paper's variants: one size, every seed, and a section of the report
    variants = results[results.arm.isin(params["variants"]["arms"])]
    assert set(variants.arm) == set(params["variants"]["arms"])
    assert set(variants.size_label) == {str(params["variants"]["size"])}
    assert "## The paper's variants" in md and "variants.multitask.clean" in metrics


def test_adversaries_and_aflite_stage(smoke_repo):
    params = yaml.safe_load((smoke_repo / "params.yaml").read_text())
    # the aflite stage wrote a model-based subset per language, paired with controls, and recorded its reference
    aflite = json.loads((smoke_repo / "metrics" / "aflite.json").read_text())
    for target in [t for t, advs in params["adversaries"]["subsets"].items() if "aflite" in advs]:
        for lang in params["study"]["languages"]:
            sub = pd.read_parquet(smoke_repo / "data" / "aflite" / target / f"{lang}.parquet")
            assert len(sub) == aflite[f"{target}.{lang}.hard_examples"] > 0
            assert not set(sub.source_id) & set(sub.id.str.removesuffix("~aflite"))  # controls are unselected
        runs = json.loads((smoke_repo / "runs" / "aflite.json").read_text())
        assert len(runs[f"{target}.reference_mlflow_run_id"]) == 32
    # `xstilts adversaries` shows one clean/adversarial example of every (target, adversary)
    out = _run(["xstilts", "adversaries", "--lang", "ea"], smoke_repo).stdout
    for target, advs in params["adversaries"]["subsets"].items():
        for adv in advs:
            assert f"== {target} / {adv} (ea," in out, (target, adv)
    report = json.loads((smoke_repo / "reports" / "correlation.json").read_text())
    kinds = {a["adversary"]: a["kind"] for a in report["adversaries"]}
    assert (kinds["lexical_overlap"] == "selection" and kinds["aflite"] == "model"
            and kinds["char_noise"] == "perturbation")
    assert "all/char_noise" in report["correlations"]  # per-adversary key over the targets that share it


def test_report_provenance_matches_dvc_lock(smoke_repo):
    lock = yaml.safe_load((smoke_repo / "dvc.lock").read_text())
    report = json.loads((smoke_repo / "reports" / "correlation.json").read_text())
    paths = {d["path"] for d in report["provenance"]["data"]}
    assert any(p.startswith("data/subsamples/") for p in paths)
    assert report["provenance"]["git_commit"] not in ("", "unknown")
    assert "subsample@mnli-60" in lock["stages"]
    _run(["xstilts", "verify-report"], smoke_repo)


# declared params a stage reads only in configurations the smoke profile does not run
CONDITIONAL_PARAMS = {
    "target": {"target.xcopa_recipe"},  # read only when xcopa is a target (the paper profile)
    "prepare": {"variants.mlm"},  # the hub source copies the mlm variant's text; the embedded one has its own
}


def test_stage_params_are_exactly_what_the_stages_read(smoke_repo):
    """dvc.yaml's `params:` of every stage against the params.yaml keys its processes read under `dvc repro`: a
    key read but not declared would not re-run the stage when it changes, a declared one never read re-runs it for
    nothing (derived from the running code, like the code deps in test_dvc_deps.py)."""
    reads = audited_reads(smoke_repo.parent / "params_audit")
    stages = yaml.safe_load((smoke_repo / "dvc.yaml").read_text())["stages"]
    assert set(reads) == set(stages), "every stage ran under the audit"
    problems = []
    for name, stage in stages.items():
        declared = [p for p in stage.get("do", stage).get("params", []) if isinstance(p, str)]
        undeclared, unread = params_mismatch(declared, sorted(reads[name]))
        unread = sorted(set(unread) - CONDITIONAL_PARAMS.get(name, set()))
        if undeclared or unread:
            problems.append(f"{name}: read but not declared {undeclared}; declared but not read {unread}")
    assert not problems, "\n".join(problems)


def test_noop_repro_has_nothing_to_run(smoke_repo):
    proc = _run(["dvc", "repro"], smoke_repo)
    assert "Running stage" not in proc.stdout
    status = _run(["dvc", "status"], smoke_repo)
    assert "up to date" in status.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"},
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_mlflow_server_shows_every_stage(smoke_repo):
    port = _free_port()
    env = _env(smoke_repo) | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(
        ["mlflow", "server", "--backend-store-uri", f"sqlite:///{smoke_repo / 'mlflow.db'}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], cwd=smoke_repo, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start")
        exps = {e["name"]: e["experiment_id"] for e in _get(base + "/api/2.0/mlflow/experiments/search",
                                                             {"max_results": 100})["experiments"]}
        for stage in ("pretrain", "tune", "intermediate", "variant", "target", "evaluate"):
            assert f"xstilts-{stage}" in exps
        def runs(stage):
            out = _get(base + "/api/2.0/mlflow/runs/search",
                       {"experiment_ids": [exps[f"xstilts-{stage}"]], "max_results": 1000})
            return out.get("runs", [])
        def kv(run, field):
            return {d["key"]: d["value"] for d in run["data"].get(field, [])}
        every = [r for r in runs("intermediate") if "intermediate_task" in kv(r, "params")]
        assert all(kv(r, "tags")["outcome"] == "healthy" or kv(r, "tags")["outcome"].startswith("degenerate")
                   for r in every)  # every attempt is a run with its outcome
        inter = [r for r in every if kv(r, "params")["attempt"] == "0"]
        study = yaml.safe_load((smoke_repo / "params.yaml").read_text())
        n_cells = (len(study["study"]["intermediate_tasks"]) * len(study["subsample"]["sizes"])
                   * len(study["study"]["seeds"]))
        assert len(inter) == n_cells  # tasks x sizes x seeds (first attempts; restarts are extra runs)
        vocabulary = set(tracking.PARAMS)
        for r in inter:
            p, m, t = kv(r, "params"), kv(r, "metrics"), kv(r, "tags")
            assert vocabulary - {"target_task"} <= set(p)  # the shared parameter names (README, MLflow)
            assert tracking.dev_metric(p["intermediate_task"], final=True) in m
            assert t["git_commit"] not in ("", "unknown") and t["dvc_stage"].startswith("intermediate@")
            assert {"data.training.md5", "data.validation.md5"} <= set(t)  # one digest column per role
            assert not [k for k in t if k.startswith("data.") and k.split(".")[1] not in tracking.DATA_ROLES]
            assert t.get("mlflow.parentRunId")
            rows = [json.loads(d["dataset"]["profile"])["num_rows"] for d in r["inputs"]["dataset_inputs"]]
            assert rows and min(rows) > 0  # log_input with the real row counts
        variants = [r for r in runs("variant") if "variant.tasks" in kv(r, "params")
                    and kv(r, "params").get("attempt", "0") == "0"]
        n_variant = len(study["variants"]["arms"]) * len(study["study"]["seeds"])
        assert len(variants) == n_variant
        assert {kv(r, "params")["arm"] for r in variants} == set(study["variants"]["arms"])
        for r in variants:  # the same vocabulary; each of the variant's tasks scored on dev with its own head
            p, m = kv(r, "params"), kv(r, "metrics")
            assert vocabulary - {"target_task"} <= set(p) and p["intermediate_task"] == p["arm"]
            assert all(tracking.dev_metric(t, final=True) in m for t in p["variant.tasks"].split(","))
        targets = [r for r in runs("target") if "target_task" in kv(r, "params") and kv(r, "params")["attempt"] == "0"]
        trained = tasks.trained_targets(study["study"]["target_tasks"])
        # (intermediate cells + baseline + variant cells) x targets
        assert len(targets) == (n_cells + len(study["study"]["seeds"]) + n_variant) * len(trained)
        assert {kv(r, "params")["target_task"] for r in targets} == set(trained)
        assert all(vocabulary <= set(kv(r, "params")) for r in targets)
        evals = [r for r in runs("evaluate") if "target_task" in kv(r, "params")]
        assert evals and all(vocabulary <= set(kv(r, "params")) and "data.test.md5" in kv(r, "tags") for r in evals)
        for r in evals:  # scores carry their task and metric: <task>.<metric>.<language>.<subset>
            target = kv(r, "params")["target_task"]
            assert all(k.startswith(f"{target}.{tasks.get(target).metric}.") for k in kv(r, "metrics"))
        trials = [r for r in runs("tune") if "trial" in kv(r, "params")]
        assert trials and all(kv(r, "tags").get("trial_state") in ("complete", "pruned", "failed") for r in trials)
        assert all({"learning_rate", "tune_train_examples"} <= set(kv(r, "params"))
                   and ({"intermediate_task", "target_task"} & set(kv(r, "params"))) for r in trials)
        pretrain = runs("pretrain")
        assert pretrain and all(d["dataset"]["name"].startswith(("pretrain-", "lexicon"))
                                for d in pretrain[0]["inputs"]["dataset_inputs"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_dvc_remote_push_then_pull_into_fresh_clone(smoke_repo, tmp_path):
    """A lab pushes its prepared data, subsamples and models; a collaborator pulls instead of re-running."""
    storage = tmp_path / "storage"
    _run(["dvc", "remote", "add", "--local", "-f", "-d", "shared", str(storage)], smoke_repo)
    _run(["dvc", "push"], smoke_repo)
    assert any(storage.rglob("*")), "nothing was pushed"
    # the lab commits what `dvc repro` wrote to git (dvc.lock, metrics, report); the collaborator clones that
    _run(["git", "add", "-A"], smoke_repo)
    _run(["git", "commit", "-qm", "results"], smoke_repo)
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(smoke_repo), str(clone)], tmp_path)
    _run(["dvc", "remote", "add", "--local", "-f", "-d", "shared", str(storage)], clone)
    _run(["dvc", "pull"], clone)
    for path in ("data/prepared", "data/subsamples/mnli/60.parquet", "models/tokenizer", "results/baseline.parquet"):
        assert (clone / path).exists(), path
    status = _run(["dvc", "status"], clone)
    assert "up to date" in status.stdout, status.stdout
    proc = _run(["dvc", "repro"], clone)
    assert "Running stage" not in proc.stdout, proc.stdout


def test_mlflow_run_runs_a_single_stage(smoke_repo):
    """Runs last: a stage run by hand through `mlflow run` rewrites its outputs outside DVC's record."""
    proc = _run(["mlflow", "run", ".", "-e", "intermediate", "-P", "task=squad", "--env-manager", "local",
                 "--experiment-name", "xstilts-intermediate"], smoke_repo)
    assert "intermediate: squad" in proc.stdout + proc.stderr
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{smoke_repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("xstilts-intermediate")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.dvc_stage = 'manual'")
    project = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert project and project[0].data.tags["mlflow.runName"] == "intermediate-squad"  # named after its stage
