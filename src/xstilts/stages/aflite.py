"""Stage `aflite`: the model-based adversarial subsets (AFLite-style). For every target task that lists `aflite`
in `adversaries.subsets`, fine-tune a held-out reference model (pretrained encoder, English training data, the
tuned learning rate, seed `adversaries.aflite.seed`, which is none of the study's models), score every clean test
example of every language with it, and keep the examples it fails on, each paired with a label-matched control.
Writes data/aflite/<task>/<lang>.parquet, metrics/aflite.json and runs/aflite.json (the reference models' MLflow
run ids)."""

from __future__ import annotations

import argparse
import time

from .. import config, dvclock, tasks, tracking
from ..adversaries import REGISTRY
from ..adversaries.aflite import hardness
from ..common import arm_dir, load_dataset, tokenizer, tuned_lr
from ..data import schema
from ..data.testsets import adversary_rng
from ..io import atomic_path, read_json, repo_root, write_metrics

NAME = "aflite"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = config.load()
    root = repo_root()
    dvclock.check_stage_inputs(root, NAME)
    adv = REGISTRY[NAME]
    targets = [t for t in params["study"]["target_tasks"] if NAME in params["adversaries"]["subsets"].get(t, [])]
    langs = {t: read_json(schema.task_dir(root, t) / "task.json")["languages"] for t in targets}
    clean = {(t, lang): load_dataset(t, schema.test_path(root, t, lang)) for t in targets for lang in langs[t]}
    data = {t: (load_dataset(t, schema.task_dir(root, t) / "train.parquet"),
                load_dataset(t, schema.task_dir(root, t) / "dev.parquet"), *tuned_lr(root, t)) for t in targets}
    encoder = arm_dir(root, "baseline")
    seed = params["adversaries"]["aflite"]["seed"]
    tok = tokenizer(root) if targets else None
    from ..finetuning import hyper, train_task
    from ..training import evaluate

    metrics: dict = {"reference_seed": seed}
    runs: dict = {}
    t0 = time.time()
    with tracking.stage_run(root, NAME, NAME) as parent, atomic_path(schema.model_subset_dir(root, NAME)) as out:
        out.mkdir(parents=True)
        (out / "README.md").write_text("AFLite-style model-based adversarial subsets written by the `aflite` stage "
                                       "(see src/xstilts/stages/aflite.py); one parquet per target task and "
                                       "language.\n")
        for target in targets:
            info = tasks.get(target)
            train, dev, lr, tune_run = data[target]
            hp = hyper(params, target)
            run_params = {"role": "aflite reference model", "target_task": target, "encoder": "baseline",
                          "seed": seed, "learning_rate": lr, **{f"aflite_{k}": v for k, v in params["adversaries"]["aflite"].items()},
                          **hp}
            with tracking.child_run(root, NAME, f"reference-{target}", params=run_params,
                                    tags={"tune_run_id": tune_run}) as run:
                run.dataset(train.df, f"{target}-train", train.path, train.md5, "training")
                model, result, dev_score = train_task(encoder, train, dev, tok, params, lr=lr, seed=seed,
                                                      label=f"aflite reference {target}")
                run.metrics({"dev_score_final": dev_score, "examples_per_second": result.examples_per_second})
                metrics[f"{target}.reference_dev_score"] = dev_score
                runs[f"{target}.reference_mlflow_run_id"] = run.run_id
                for lang in langs[target]:
                    ds = clean[(target, lang)]
                    feats = ds.features(tok, hp["max_length"], train=False)
                    score, per_example, preds = evaluate(model, ds.fmt, ds.df, feats, info.metric, info.labels,
                                                         params["evaluate"]["batch_size"])
                    options = {**params["adversaries"],
                               "reference_scores": hardness(info.metric, ds.df, preds, per_example, info.labels)}
                    subset = adv.apply(ds.df, info.format, info.labels, adversary_rng(params, NAME, target, lang),
                                       options)
                    schema.write(subset, out / target / f"{lang}.parquet", info.format, adversarial=True)
                    run.metrics({f"clean_score.{lang}": score, f"hard_examples.{lang}": len(subset)})
                    metrics[f"{target}.{lang}.reference_score"] = score
                    metrics[f"{target}.{lang}.hard_examples"] = len(subset)
                    metrics[f"{target}.{lang}.clean_examples"] = len(ds.df)
                    print(f"aflite: {target} {lang}: reference {score:.1f}, {len(subset)}/{len(ds.df)} hard")
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    write_metrics(root, f"{NAME}.json", metrics, runs=runs)


if __name__ == "__main__":
    main()
