"""Stage `target`: from every encoder of one arm (the pretrained baseline, the random-init control, or each
intermediate checkpoint), fine-tune on the English training data of every target task (encoder carried over,
head re-initialised). Writes models/target/<arm>/<cell>/<target>, metrics/target/<arm>.json and
runs/target/<arm>.json (MLflow run ids). Epoch checkpoints in .checkpoints/target/<arm> let a killed run resume;
they are removed when the stage completes.

Data-parallel on N GPUs: `accelerate launch --multi_gpu --num_processes N -m xstilts.stages.target --arm A`
(or torchrun); rank 0 evaluates, tracks and writes, the other ranks train their shards (see xstilts.distributed);
a killed data-parallel run restarts its unfinished models cleanly (epoch checkpoints are single-process)."""

from __future__ import annotations

import argparse
import time

from .. import checkpoint, config, distributed, dvclock, tasks, tracking
from ..common import cells_of, load_dataset, target_dir, tokenizer, tuned_lr
from ..data import schema
from ..io import atomic_path, repo_root, write_metrics


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arm", required=True, help="baseline | random | an intermediate task")
    args = ap.parse_args(argv)
    params = config.load()
    arm = args.arm
    if arm not in params["study"]["arms"]:
        raise SystemExit(f"target: --arm {arm!r} is not in study.arms ({', '.join(params['study']['arms'])})")
    distributed.relaunch("xstilts.stages.target", argv)  # $XSTILTS_LAUNCHER: N processes instead of this one
    distributed.init()
    root = repo_root()
    dvclock.check_stage_inputs(root, f"target@{arm}")
    tok = tokenizer(root)
    targets = [t for t in params["study"]["target_tasks"] if tasks.get(t).format != "retrieval"]
    data = {t: (load_dataset(t, schema.task_dir(root, t) / "train.parquet"),
                load_dataset(t, schema.task_dir(root, t) / "dev.parquet"), *tuned_lr(root, t)) for t in targets}
    cells = cells_of(root, params, arm)
    from ..cellrun import train_cell
    from ..finetuning import hyper

    metrics: dict = {}
    runs: dict = {}
    ckpts = checkpoint.stage_dir(root, "target", arm)
    t0 = time.time()
    with tracking.stage_run(root, "target", f"target-{arm}", tags={"arm": arm}) as parent:
        for cell in cells:
            for target in targets:
                train, dev, lr, tune_run = data[target]
                run_params = {"arm": arm, "intermediate_task": arm if arm not in tasks.CONTROLS else "none",
                              "train_size": cell.train_size, "size_label": cell.size_label, "seed": cell.seed,
                              "target_task": target, "learning_rate": lr, "target_train_size": len(train.df),
                              **hyper(params, target)}
                out = train_cell(root, "target", f"{arm}-{cell.name}-{target}", encoder_dir=cell.encoder_dir,
                                 train=train, dev=dev, tok=tok, params=params, lr=lr, seed=cell.seed,
                                 label=f"target {arm} {cell.name} {target}", run_params=run_params,
                                 dataset_name=f"{target}-train",
                                 tags={"intermediate_run_id": cell.intermediate_run_id, "tune_run_id": tune_run},
                                 checkpoint=ckpts / cell.name / target)
                if distributed.is_main():  # every rank holds the same weights; rank 0 writes them
                    with atomic_path(target_dir(root, arm, cell.name, target)) as dst:
                        out.model.save(dst, {**run_params, **out.record(), "mlflow_run_id": out.run_id,
                                             "intermediate_run_id": cell.intermediate_run_id,
                                             "encoder_dir": str(cell.encoder_dir.relative_to(root))})
                    tracking.log_artifact(root, out.run_id, target_dir(root, arm, cell.name, target) / "model.json")
                    flag = " DEGENERATE" if out.degenerate else ""
                    print(f"target: {arm} {cell.name} {target}: dev={out.dev_score:.1f} restarts={out.restarts}"
                          f"{flag} ({out.result.seconds:.1f}s)")
                metrics[f"{cell.name}.{target}.dev_score"] = out.dev_score
                metrics.update(out.metrics(f"{cell.name}.{target}"))
                runs[f"{cell.name}.{target}.mlflow_run_id"] = out.run_id
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    if distributed.is_main():
        write_metrics(root, f"target/{arm}.json", metrics, runs=runs)
        checkpoint.clear(ckpts)
    distributed.finish()  # the other ranks wait until rank 0 has written everything


if __name__ == "__main__":
    from ..stagerun import run

    run("target", main)
