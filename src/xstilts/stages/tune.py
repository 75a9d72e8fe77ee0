"""Stage `tune`: an Optuna learning-rate search per task (intermediate and target) on the pretrained encoder;
the best LR of each task goes to tuned/<task>.json, which the training stages read."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from .. import config, tasks, tracking
from ..common import control_encoder_dir, load_dataset, tokenizer, tuned_path
from ..data import schema
from ..data.subsample import subsample
from ..finetuning import train_task
from ..io import repo_root, write_json
from ..tuning import TrialRecord, search_lr


def tune_task(root, params: dict, task: str, tok) -> dict:
    tu = params["tune"]
    info = tasks.get(task)
    train = load_dataset(task, schema.task_dir(root, task) / "train.parquet")
    dev = load_dataset(task, schema.task_dir(root, task) / "dev.parquet")
    train = replace(train, df=subsample(train.df, info.format, min(tu["train_examples"], len(train.df)), tu["seed"], task))
    encoder = control_encoder_dir(root, "baseline")
    with tracking.stage_run(root, "tune", f"tune-{task}", params={"task": task, "tune": tu},
                            tags={"task": task}) as parent:
        parent.dataset(train.df, f"{task}-train", train.path, train.md5, "training")
        parent.dataset(dev.df, f"{task}-dev", dev.path, dev.md5, "validation")

        def objective(lr, report, number):
            with tracking.child_run(root, "tune", f"{task}-trial-{number}",
                                    params={"task": task, "learning_rate": lr, "trial": number,
                                            "seed": tu["seed"], "epochs": tu["epochs"],
                                            "train_size": len(train.df)}) as run:
                trial_runs[number] = run.run_id

                def on_eval(epoch, score):
                    run.metrics({"dev_score": score}, step=epoch)
                    report(epoch, score)

                _, result, score = train_task(encoder, train, dev, tok, params, lr=lr, seed=tu["seed"],
                                              epochs=tu["epochs"], label=f"tune {task} #{number}", on_eval=on_eval)
                run.metrics({"train_loss_final": result.losses[-1]})
                return score

        trial_runs: dict[int, str] = {}

        def on_trial(rec: TrialRecord) -> None:  # the trial's final state on its nested run
            if rec.number in trial_runs:
                tracking.tag_run(root, trial_runs[rec.number], {"trial_state": rec.state, "trial_reason": rec.reason})

        best_lr, best_value, records = search_lr(objective, seed=tu["seed"], n_trials=tu["n_trials"],
                                                 lr_low=tu["lr_low"], lr_high=tu["lr_high"], pruner=tu["pruner"],
                                                 study_name=f"xstilts-{task}", on_trial=on_trial)
        best = next(r for r in records if r.learning_rate == best_lr and r.state == "complete")
        parent.metrics({"best_learning_rate": best_lr, "best_dev_score": best_value,
                        "trials_pruned": sum(r.state == "pruned" for r in records),
                        "trials_failed": sum(r.state == "failed" for r in records)})
        parent.tags({"best_trial_run_id": trial_runs.get(best.number, "")})
        record = {"task": task, "learning_rate": best_lr, "best_dev_score": best_value,
                  "trials": [{"number": r.number, "learning_rate": r.learning_rate, "state": r.state,
                              "value": r.value, "intermediate": r.intermediate, "reason": r.reason} for r in records]}
        return record, parent.run_id


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = config.load()
    root = repo_root()
    tok = tokenizer(root)
    st = params["study"]
    summary = {}
    t0 = time.time()
    for task in st["intermediate_tasks"] + [t for t in st["target_tasks"] if tasks.get(t).format != "retrieval"]:
        rec, run_id = tune_task(root, params, task, tok)
        write_json(tuned_path(root, task), rec)
        summary[f"{task}.learning_rate"] = rec["learning_rate"]
        summary[f"{task}.best_dev_score"] = rec["best_dev_score"]
        summary[f"{task}.mlflow_run_id"] = run_id
        print(f"tune: {task}: lr={rec['learning_rate']:.2e} dev={rec['best_dev_score']:.1f}")
    write_json(root / "metrics" / "tune.json", summary)
    print(f"tune: done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
