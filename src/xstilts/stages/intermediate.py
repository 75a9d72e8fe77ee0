"""Stage `intermediate`: fine-tune the pretrained encoder on one English intermediate task, for every subsample
size and seed (a fresh head per task). Writes the encoders (models/arms/<task>/<size>-s<seed>),
metrics/intermediate/<task>.json and runs/intermediate/<task>.json (MLflow run ids). Epoch checkpoints in
.checkpoints/intermediate/<task> let a killed run resume; they are removed when the stage completes.

Data-parallel on N GPUs: `accelerate launch --multi_gpu --num_processes N -m xstilts.stages.intermediate --task T`
(or torchrun); rank 0 evaluates, tracks and writes, the other ranks train their shards (see xstilts.train.distributed);
a killed data-parallel run restarts its unfinished cells cleanly (epoch checkpoints are single-process)."""

from __future__ import annotations

import json
import shutil
import time

from ..core import config, paths
from ..core.cells import cell_name
from ..core.io import write_metrics
from ..pipeline import stagerun, tracking
from ..train import checkpoint, distributed
from ..train.common import load_dataset, tokenizer, tuned_lr


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("intermediate", __doc__, argv, fan_out={"--task": "study.intermediate_tasks"}, launch=True)
    params, root, task = st.params, st.root, st.args.task
    tok = tokenizer(root)
    lr, tune_run = tuned_lr(root, task)
    dev = load_dataset(task, paths.split_path(root, task, "dev"))
    # every input is read and checked before any training starts
    cells = [(label, seed, load_dataset(task, paths.subsample_path(root, task, label)))
             for label in config.size_labels(params) for seed in params["study"]["seeds"]]
    from ..pipeline.cellrun import publish, train_cell
    from ..train.finetune import hyper

    metrics: dict = {}
    runs: dict = {}
    ckpts = paths.checkpoint_dir(root, "intermediate", task)
    t0 = time.time()
    with tracking.stage_run(root, "intermediate", f"intermediate-{task}", tags={"intermediate_task": task}) as parent:
        for label, seed, train in cells:
            cell = cell_name(label, seed)
            run_params = {"arm": task, "intermediate_task": task, "train_size": len(train.df), "size_label": label,
                          "seed": seed,
                          "learning_rate": lr, **hyper(params, task)}
            out = train_cell(root, "intermediate", f"{task}-{cell}", encoder_dir=paths.arm_dir(root, "baseline"),
                             train=train, dev=dev, tok=tok, params=params, lr=lr, seed=seed,
                             label=f"intermediate {task} {cell}", run_params=run_params,
                             dataset_name=f"{task}-{label}", tags={"tune_run_id": tune_run}, checkpoint=ckpts / cell)
            info = {**run_params, **out.record(), "mlflow_run_id": out.run_id, "data_md5": train.md5,
                    "parent_run_id": parent.run_id}

            def save(dst, out=out, info=info) -> str:
                out.model.encoder.save_pretrained(str(dst))
                (dst / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
                return "run.json"

            publish(root, out, paths.intermediate_dir(root, task, label, seed), save,
                    label=f"intermediate: {task} {cell}", note=f"n={len(train.df)} ", prefix=cell,
                    metrics=metrics, runs=runs)
            metrics[f"{cell}.train_size"] = len(train.df)
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    if distributed.is_main():
        written = {cell_name(label, seed) for label, seed, _ in cells}
        for stale in paths.arm_dir(root, task).iterdir():  # cells of an earlier size or seed list (a run by hand)
            if stale.is_dir() and stale.name not in written:
                shutil.rmtree(stale)
        write_metrics(root, f"intermediate/{task}.json", metrics, runs=runs)
        checkpoint.clear(ckpts)
    distributed.finish()  # the other ranks wait until rank 0 has written everything


if __name__ == "__main__":
    stagerun.run("intermediate", main)
