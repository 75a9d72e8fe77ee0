"""Stage `evaluate`: zero-shot evaluation of every target model of one arm in every language, clean and
adversarial, paired example by example; retrieval targets (Tatoeba, LAReQA, Mewsli-X, BUCC mining with its
threshold chosen on each language's dev pool) evaluate the arm's encoders themselves
(`evaluate.tatoeba_encoder: pretrained`) or, with `squad` (XTREME-R), the encoder of each model's SQuAD-trained
target model (xquad, else mlqa); the results then carry that model's run id and training record.
Writes results/<arm>.parquet (one row per model x target x language x subset), predictions/<arm>.parquet (per
example), metrics/evaluate/<arm>.json and runs/evaluate/<arm>.json (MLflow run ids)."""

from __future__ import annotations

import json
import time

import pandas as pd

from ..core import config, paths, tasks
from ..core.io import read_json, write_metrics, write_parquet
from ..eval.zeroshot import dev_pools, evaluate_encoder, evaluate_model, load_eval_sets
from ..pipeline import stagerun, tracking
from ..train import health
from ..train.common import cells_of, tokenizer
from ..train.finetune import encode_options, max_length
from ..train.modeling import TaskModel, load_encoder


def training_record(root, info: dict) -> dict:
    """The restarts and degenerate flags of a model's fine-tunings, as result columns: the target fine-tuning's
    (from its model.json; none for retrieval targets) and the intermediate fine-tuning's (from the encoder's
    run.json; none for the control arms)."""
    def dev(rec: dict, key: str) -> float:
        value = (rec.get("dev_health") or {}).get(key)
        return float(value) if value is not None else float("nan")

    out = {"target_restarts": int(info.get("restarts", 0)), "target_degenerate": bool(info.get("degenerate", False)),
           "target_dev_score": dev(info, "score"), "target_dev_top_share": dev(info, "top_share"),
           "intermediate_restarts": 0, "intermediate_degenerate": False, "intermediate_dev_score": float("nan")}
    run_json = root / info["encoder_dir"] / "run.json" if info.get("encoder_dir") else None
    if run_json is not None and run_json.exists():
        rec = read_json(run_json)
        out.update(intermediate_restarts=int(rec.get("restarts", 0)),
                   intermediate_degenerate=bool(rec.get("degenerate", False)),
                   intermediate_dev_score=dev(rec, "score"))
    return out


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("evaluate", __doc__, argv, fan_out={"--arm": "study.arms"})
    params, root, arm = st.params, st.root, st.args.arm
    tok = tokenizer(root)
    all_targets = params["study"]["target_tasks"]
    targets = tasks.trained_targets(all_targets)
    retrieval = [t for t in all_targets if tasks.get(t).format == "retrieval"]  # the encoder itself, no training
    # evaluate.tatoeba_encoder: squad embeds retrieval targets with the encoder of the SQuAD-trained target model
    squad = config.squad_target(params) if retrieval and params["evaluate"]["tatoeba_encoder"] == "squad" else None
    # each target's evaluation languages, as prepared (synthetic: study.languages; hub: the benchmark's table)
    langs = {t: read_json(paths.task_dir(root, t) / "task.json")["languages"] for t in all_targets}
    sets = {t: load_eval_sets(root, t, langs[t], params["adversaries"]["subsets"].get(t, [])) for t in all_targets}
    dev = {t: dev_pools(root, t, langs[t]) for t in retrieval}  # BUCC's threshold pools ({} for the others)
    # the encoders come from what the intermediate stage wrote (models/arms/<arm>/*/run.json), the models from the
    # target stage's output (models/target/<arm>); each model.json says which encoder (size, seed, intermediate
    # run) it was fine-tuned from
    encoders = {c.name: c for c in cells_of(root, arm, params["study"]["seeds"])}
    cells = list(encoders)
    models = {(c, t): paths.target_dir(root, arm, c, t) for c in cells for t in targets}
    for path in models.values():
        if not (path / "model.json").exists():
            raise FileNotFoundError(f"{path}/model.json: target model missing (run `dvc repro target@{arm}`)")
    rule = health.Rule.from_params(params)
    rows, preds = [], []
    metrics: dict = {}
    runs: dict = {}
    t0 = time.time()

    def record(cell: str, target: str, info: dict, res: list, pr: list, *, target_run_id: str, params_extra: dict,
               tags_extra: dict) -> None:
        """Result rows, per-example predictions, one nested MLflow run and the metrics of one model x target."""
        rows.extend({"arm": arm, "train_size": info["train_size"], "size_label": info["size_label"],
                     "seed": info["seed"], "target_run_id": target_run_id,
                     "intermediate_run_id": info["intermediate_run_id"], **r} for r in res)
        preds.extend({"arm": arm, "cell": cell, **p} for p in pr)
        files = {f"{target}-{r['language']}-{r['subset']}": r["data_md5"] for r in res}
        with tracking.child_run(root, "evaluate", f"{arm}-{cell}-{target}",
                                params={"arm": arm, "intermediate_task": arm if arm not in tasks.CONTROLS else "none",
                                        "size_label": info["size_label"], "seed": info["seed"],
                                        "train_size": info["train_size"], "target_task": target,
                                        "learning_rate": info.get("learning_rate", "none"), **params_extra},
                                tags={**tags_extra, "data.test.md5": tracking.digest(files)}) as run:
            run.metrics({tracking.metric_name(target, r["language"], r["subset"]): r["score"] for r in res})
            for r in res:
                metrics[f"{cell}.{target}.{r['language']}.{r['subset']}"] = r["score"]
            runs[f"{cell}.{target}.mlflow_run_id"] = run.run_id

    with tracking.stage_run(root, "evaluate", f"evaluate-{arm}", tags={"arm": arm}) as parent:
        for target in all_targets:  # every test file once, with its rows; each model's run has their digest
            for (lang, subset), ds in sorted(sets[target].items()):
                parent.dataset(ds.df, f"{target}-{lang}-{subset}", ds.path, ds.md5, "test")
            for lang, ds in sorted(dev.get(target, {}).items()):
                parent.dataset(ds.df, f"{target}-{lang}-dev", ds.path, ds.md5, "validation")
        for cell in cells:
            for target in targets:
                path = models[(cell, target)]
                info = json.loads((path / "model.json").read_text())
                model = TaskModel.load(path)
                res, pr = evaluate_model(model, target, sets[target], tok, max_length(params, target),
                                         params["evaluate"]["batch_size"], rule=rule,
                                         options=encode_options(params, target))
                res = [{**r, **training_record(root, info)} for r in res]
                record(cell, target, info, res, pr, target_run_id=info["mlflow_run_id"], params_extra={},
                       tags_extra={"target_run_id": info["mlflow_run_id"]})
                zs = [r["score"] for r in res if r["language"] != tasks.TRAINING_LANGUAGE and r["subset"] == "clean"]
                clean = sum(zs) / max(1, len(zs))
                print(f"evaluate: {arm} {cell} {target}: zero-shot clean {clean:.1f}")
            if retrieval:  # no target training: the model's encoder itself (or its SQuAD-trained one, below)
                enc = encoders[cell]
                info = {"train_size": enc.train_size, "size_label": enc.size_label, "seed": enc.seed,
                        "intermediate_run_id": enc.intermediate_run_id, "learning_rate": "none"}
                if squad is None:
                    encoder_dir, source_run_id = enc.encoder_dir, ""
                    retrieval_record = training_record(root, {"encoder_dir": str(enc.encoder_dir.relative_to(root))})
                else:  # evaluate.tatoeba_encoder: squad (XTREME-R): the SQuAD-trained target model's encoder
                    qa = json.loads((models[(cell, squad)] / "model.json").read_text())
                    encoder_dir, source_run_id = models[(cell, squad)] / "encoder", qa["mlflow_run_id"]
                    retrieval_record = training_record(root, qa)
                    info = {**info, "learning_rate": qa["learning_rate"]}  # the encoder's own fine-tuning
                encoder = load_encoder(encoder_dir)
            for target in retrieval:
                layer = params["evaluate"]["retrieval_layer"]
                res, pr = evaluate_encoder(encoder, target, sets[target], tok, layer=layer,
                                           max_length=max_length(params, target),
                                           batch_size=params["evaluate"]["batch_size"], dev=dev[target])
                res = [{**r, **retrieval_record} for r in res]
                extra = {"retrieval_layer": layer, "tatoeba_encoder": params["evaluate"]["tatoeba_encoder"]}
                tags = {"encoder_dir": str(encoder_dir.relative_to(root))}
                if squad is not None:
                    extra["tatoeba_encoder_model"] = str(models[(cell, squad)].relative_to(root))
                    tags["target_run_id"] = source_run_id
                record(cell, target, info, res, pr, target_run_id=source_run_id, params_extra=extra, tags_extra=tags)
                zs = [r["score"] for r in res if r["subset"] == "clean"]
                print(f"evaluate: {arm} {cell} {target}: retrieval clean {sum(zs) / max(1, len(zs)):.1f}"
                      + (f" (encoder of the {squad} model)" if squad else ""))
        if squad is not None and retrieval:  # the default (pretrained) adds nothing: its files stay byte-identical
            metrics["retrieval_encoder"] = f"squad: the encoder of each model's {squad} target model"
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    write_parquet(pd.DataFrame(rows), paths.results_path(root, arm))
    write_parquet(pd.DataFrame(preds), paths.predictions_path(root, arm))
    write_metrics(root, f"evaluate/{arm}.json", metrics, runs=runs)


if __name__ == "__main__":
    stagerun.run("evaluate", main)
