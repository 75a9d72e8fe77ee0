"""Stage `intermediate`: fine-tune the pretrained encoder on one English intermediate task, for every subsample
size and seed (a fresh head per task). Writes the encoders (models/arms/<task>/<size>-s<seed>),
metrics/intermediate/<task>.json and runs/intermediate/<task>.json (MLflow run ids). Epoch checkpoints in
.checkpoints/intermediate/<task> let a killed run resume; they are removed when the stage completes.

Data-parallel on N GPUs: `accelerate launch --multi_gpu --num_processes N -m xstilts.stages.intermediate --task T`
(or torchrun); rank 0 evaluates, tracks and writes, the other ranks train their shards (see xstilts.train.distributed);
a killed data-parallel run restarts its unfinished cells cleanly (epoch checkpoints are single-process)."""

from __future__ import annotations

import argparse
import json
import time

from ..core import config
from ..core.cells import cell_name
from ..core.io import atomic_path, repo_root, write_metrics
from ..data import schema
from ..pipeline import dvclock, tracking
from ..train import checkpoint, distributed
from ..train.common import control_encoder_dir, intermediate_dir, load_dataset, tokenizer, tuned_lr


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--task", required=True)
    args = ap.parse_args(argv)
    params = config.load()
    task = args.task
    config.require_member(params, "study.intermediate_tasks", task, "intermediate", "--task")
    distributed.relaunch("xstilts.stages.intermediate", argv)  # $XSTILTS_LAUNCHER: N processes instead of this one
    distributed.init()
    root = repo_root()
    dvclock.check_stage_inputs(root, f"intermediate@{task}")
    tok = tokenizer(root)
    lr, tune_run = tuned_lr(root, task)
    dev = load_dataset(task, schema.task_dir(root, task) / "dev.parquet")
    # every input is read and checked before any training starts
    cells = [(label, seed, load_dataset(task, schema.subsample_path(root, task, label)))
             for label in config.size_labels(params) for seed in params["study"]["seeds"]]
    from ..pipeline.cellrun import train_cell
    from ..train.finetune import hyper

    metrics: dict = {}
    runs: dict = {}
    ckpts = checkpoint.stage_dir(root, "intermediate", task)
    t0 = time.time()
    with tracking.stage_run(root, "intermediate", f"intermediate-{task}", tags={"intermediate_task": task}) as parent:
        for label, seed, train in cells:
            cell = cell_name(label, seed)
            run_params = {"intermediate_task": task, "train_size": len(train.df), "size_label": label, "seed": seed,
                          "learning_rate": lr, **hyper(params, task)}
            out = train_cell(root, "intermediate", f"{task}-{cell}", encoder_dir=control_encoder_dir(root, "baseline"),
                             train=train, dev=dev, tok=tok, params=params, lr=lr, seed=seed,
                             label=f"intermediate {task} {cell}", run_params=run_params,
                             dataset_name=f"{task}-{label}", tags={"tune_run_id": tune_run}, checkpoint=ckpts / cell)
            info = {**run_params, **out.record(), "mlflow_run_id": out.run_id, "data_md5": train.md5,
                    "parent_run_id": parent.run_id}
            if distributed.is_main():  # every rank holds the same weights; rank 0 writes them
                with atomic_path(intermediate_dir(root, task, label, seed)) as dst:
                    out.model.encoder.save_pretrained(str(dst))
                    (dst / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
                tracking.log_artifact(root, out.run_id, intermediate_dir(root, task, label, seed) / "run.json")
                flag = " DEGENERATE" if out.degenerate else ""
                print(f"intermediate: {task} {cell}: n={len(train.df)} dev={out.dev_score:.1f} "
                      f"restarts={out.restarts}{flag} ({out.result.seconds:.1f}s)")
            metrics[f"{cell}.dev_score"] = out.dev_score
            metrics[f"{cell}.train_size"] = len(train.df)
            metrics.update(out.metrics(cell))
            runs[f"{cell}.mlflow_run_id"] = out.run_id
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    if distributed.is_main():
        write_metrics(root, f"intermediate/{task}.json", metrics, runs=runs)
        checkpoint.clear(ckpts)
    distributed.finish()  # the other ranks wait until rank 0 has written everything


if __name__ == "__main__":
    from ..pipeline.stagerun import run

    run("intermediate", main)
