"""Stage `subsample`: one size-controlled subsample of one intermediate task's training set."""

from __future__ import annotations

import argparse

from ..core import config, tasks
from ..core.io import read_parquet, repo_root, write_parquet
from ..data import schema
from ..data.subsample import subsample
from ..pipeline import dvclock


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--task", required=True)
    ap.add_argument("--size", required=True, help="a size from subsample.sizes, or 'full'")
    args = ap.parse_args(argv)
    params = config.load()
    config.require_member(params, "study.intermediate_tasks", args.task, "subsample", "--task")
    config.require_member(params, "subsample.sizes", args.size, "subsample", "--size")
    root = repo_root()
    dvclock.check_stage_inputs(root, f"subsample@{args.task}-{args.size}")
    fmt = tasks.get(args.task).format
    src = schema.task_dir(root, args.task) / "train.parquet"
    df = schema.check(read_parquet(src), fmt, src)
    size = None if args.size == "full" else int(args.size)
    out = subsample(df, fmt, size, params["subsample"]["seed"], args.task)
    write_parquet(out, schema.subsample_path(root, args.task, args.size))
    print(f"subsample: {args.task} {args.size}: {len(out)} of {len(df)} examples")


if __name__ == "__main__":
    from ..pipeline.stagerun import run

    run("subsample", main)
