"""Stage `target`: from every encoder of one arm (the pretrained baseline, the random-init control, or each
intermediate checkpoint), fine-tune on the English training data of every target task (encoder carried over,
head re-initialised). Writes models/target/<arm>/<cell>/<target>, metrics/target/<arm>.json and
runs/target/<arm>.json (MLflow run ids). Epoch checkpoints in .checkpoints/target/<arm> let a killed run resume;
they are removed when the stage completes.

XCOPA (`target.xcopa_recipe`): `copa` fine-tunes on English COPA alone; `socialiqa_then_copa` follows XTREME-R's
scripts/train_xcopa.sh: first on all of English SocialIQA (data/prepared/targets/xcopa/socialiqa, written by
prepare), then on COPA from that encoder, both phases with XCOPA's hyperparameters (`finetune.overrides.xcopa`)
and its tuned learning rate, as the script uses one setting for both. The head is re-initialised between the
phases, as at every transfer in this study (the script carries the SocialIQA-trained multiple-choice head over).
The first phase is its own MLflow run (and restarts like any fine-tuning); the model's record names it.

Data-parallel on N GPUs: `accelerate launch --multi_gpu --num_processes N -m xstilts.stages.target --arm A`
(or torchrun); rank 0 evaluates, tracks and writes, the other ranks train their shards (see xstilts.train.distributed);
a killed data-parallel run restarts its unfinished models cleanly (epoch checkpoints are single-process)."""

from __future__ import annotations

import copy
import time
from pathlib import Path

from ..core import paths, tasks
from ..core.io import atomic_path, write_metrics
from ..pipeline import stagerun, tracking
from ..train import checkpoint, distributed
from ..train.common import cells_of, load_dataset, tokenizer, tuned_lr

FIRST_STAGE = "socialiqa"  # XTREME-R's first XCOPA phase (xstilts.data.hub.prepare.XCOPA_FIRST_STAGE)
RECIPE_WITH_FIRST_STAGE = "socialiqa_then_copa"


def first_stage_path(root: Path, split: str) -> Path:
    """data/prepared/targets/xcopa/socialiqa/<split>.parquet: SocialIQA as XCOPA's first-phase data."""
    return paths.first_stage_path(root, "xcopa", FIRST_STAGE, split)


def first_stage_params(params: dict) -> dict:
    """`params` under which the SocialIQA phase trains with XCOPA's hyperparameters (epochs, batch x accumulation,
    length, warmup: `finetune.overrides.xcopa`), as XTREME-R's script uses one setting for both phases."""
    p = copy.deepcopy(params)
    p["finetune"]["overrides"] = {**p["finetune"]["overrides"],
                                  FIRST_STAGE: dict(params["finetune"]["overrides"].get("xcopa", {}))}
    return p


def load_first_stage(root: Path):
    """(train, dev) of XCOPA's first phase; a missing file names the key and the fix."""
    paths = [first_stage_path(root, split) for split in ("train", "dev")]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: XCOPA's first-phase data is missing (`target.xcopa_recipe` = "
                                    f"{RECIPE_WITH_FIRST_STAGE!r}); prepare writes it with the hub source whenever "
                                    f"xcopa is a target: run `dvc repro prepare`, or set target.xcopa_recipe: copa")
    return tuple(load_dataset(FIRST_STAGE, path) for path in paths)


def train_first_stage(root: Path, params: dict, arm: str, cell, first, tok, lr: float, tune_run: str, ckpts: Path):
    """Phase 1 of XTREME-R's XCOPA recipe for one encoder: fine-tune it on SocialIQA; returns (the directory of the
    resulting encoder, its record for the model's model.json, the CellOutcome)."""
    from ..pipeline.cellrun import train_cell
    from ..train.finetune import hyper

    train, dev = first
    p1 = first_stage_params(params)
    run_params = {"arm": arm, "intermediate_task": arm if arm not in tasks.CONTROLS else "none",
                  "train_size": cell.train_size, "size_label": cell.size_label, "seed": cell.seed,
                  "target_task": "xcopa", "xcopa_recipe": RECIPE_WITH_FIRST_STAGE, "xcopa_phase": f"1 ({FIRST_STAGE})",
                  "learning_rate": lr, "first_stage_train_size": len(train.df), **hyper(p1, FIRST_STAGE)}
    out = train_cell(root, "target", f"{arm}-{cell.name}-xcopa-{FIRST_STAGE}", encoder_dir=cell.encoder_dir,
                     train=train, dev=dev, tok=tok, params=p1, lr=lr, seed=cell.seed,
                     label=f"target {arm} {cell.name} xcopa phase 1 ({FIRST_STAGE})", run_params=run_params,
                     dataset_name=f"xcopa-{FIRST_STAGE}-train",
                     tags={"intermediate_run_id": cell.intermediate_run_id, "tune_run_id": tune_run},
                     checkpoint=ckpts / cell.name / f"xcopa-{FIRST_STAGE}")
    # every rank holds the same weights; each saves its own copy (no rank waits for another's file)
    encoder_dir = ckpts / cell.name / f"xcopa-{FIRST_STAGE}-encoder-rank{distributed.rank()}"
    with atomic_path(encoder_dir) as dst:
        out.model.encoder.save_pretrained(str(dst))
    out.model = None  # the saved copy is what phase 2 loads; free the weights (a GPU holds one model at a time)
    record = {"task": FIRST_STAGE, "train_size": len(train.df), "dev_score": out.dev_score,
              "mlflow_run_id": out.run_id, **out.record()}
    if distributed.is_main():
        flag = " DEGENERATE" if out.degenerate else ""
        print(f"target: {arm} {cell.name} xcopa phase 1 ({FIRST_STAGE}): n={len(train.df)} dev={out.dev_score:.1f} "
              f"restarts={out.restarts}{flag} ({out.result.seconds:.1f}s)")
    return encoder_dir, record, out


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("target", __doc__, argv, fan_out={"--arm": "study.arms"}, launch=True)
    params, root, arm = st.params, st.root, st.args.arm
    tok = tokenizer(root)
    targets = tasks.trained_targets(params["study"]["target_tasks"])
    data = {t: (load_dataset(t, paths.split_path(root, t, "train")), load_dataset(t, paths.split_path(root, t, "dev")),
                *tuned_lr(root, t)) for t in targets}
    recipe = params["target"]["xcopa_recipe"] if "xcopa" in targets else None
    first = load_first_stage(root) if recipe == RECIPE_WITH_FIRST_STAGE else None
    cells = cells_of(root, arm, params["study"]["seeds"])
    from ..pipeline.cellrun import publish, train_cell
    from ..train.finetune import hyper

    metrics: dict = {}
    runs: dict = {}
    ckpts = paths.checkpoint_dir(root, "target", arm)
    t0 = time.time()
    with tracking.stage_run(root, "target", f"target-{arm}", tags={"arm": arm}) as parent:
        for cell in cells:
            for target in targets:
                train, dev, lr, tune_run = data[target]
                run_params = {"arm": arm, "intermediate_task": arm if arm not in tasks.CONTROLS else "none",
                              "train_size": cell.train_size, "size_label": cell.size_label, "seed": cell.seed,
                              "target_task": target, "learning_rate": lr, "target_train_size": len(train.df),
                              **hyper(params, target)}
                tags = {"intermediate_run_id": cell.intermediate_run_id, "tune_run_id": tune_run}
                encoder_dir, extra = cell.encoder_dir, {}
                if target == "xcopa":
                    run_params["xcopa_recipe"] = recipe
                if target == "xcopa" and first is not None:
                    encoder_dir, record, phase1 = train_first_stage(root, params, arm, cell, first, tok, lr,
                                                                    tune_run, ckpts)
                    run_params["xcopa_phase"] = "2 (copa)"
                    tags["xcopa_first_stage_run_id"] = phase1.run_id
                    extra = {"first_stage": record}
                    metrics[f"{cell.name}.xcopa.{FIRST_STAGE}.dev_score"] = phase1.dev_score
                    metrics.update(phase1.metrics(f"{cell.name}.xcopa.{FIRST_STAGE}"))
                    runs[f"{cell.name}.xcopa.{FIRST_STAGE}.mlflow_run_id"] = phase1.run_id
                out = train_cell(root, "target", f"{arm}-{cell.name}-{target}", encoder_dir=encoder_dir,
                                 train=train, dev=dev, tok=tok, params=params, lr=lr, seed=cell.seed,
                                 label=f"target {arm} {cell.name} {target}", run_params=run_params,
                                 dataset_name=f"{target}-train", tags=tags, checkpoint=ckpts / cell.name / target)
                record = {**run_params, **out.record(), "mlflow_run_id": out.run_id,
                          "intermediate_run_id": cell.intermediate_run_id,
                          "encoder_dir": str(cell.encoder_dir.relative_to(root)), **extra}

                def save(dst, out=out, record=record) -> str:
                    out.model.save(dst, record)
                    return "model.json"

                publish(root, out, paths.target_dir(root, arm, cell.name, target), save,
                        label=f"target: {arm} {cell.name} {target}", prefix=f"{cell.name}.{target}",
                        metrics=metrics, runs=runs)
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    if distributed.is_main():
        write_metrics(root, f"target/{arm}.json", metrics, runs=runs)
        checkpoint.clear(ckpts)
    distributed.finish()  # the other ranks wait until rank 0 has written everything


if __name__ == "__main__":
    stagerun.run("target", main)
