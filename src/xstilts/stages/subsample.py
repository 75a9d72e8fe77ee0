"""Stage `subsample`: one size-controlled subsample of one intermediate task's training set."""

from __future__ import annotations

from ..core import paths, tasks
from ..core.io import read_parquet, write_parquet
from ..data import schema
from ..data.subsample import subsample
from ..pipeline import stagerun


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("subsample", __doc__, argv,
                        fan_out={"--task": "study.intermediate_tasks", "--size": "subsample.sizes"})
    params, root, args = st.params, st.root, st.args
    fmt = tasks.get(args.task).format
    src = paths.split_path(root, args.task, "train")
    df = schema.check(read_parquet(src), fmt, src)
    size = None if args.size == "full" else int(args.size)
    out = subsample(df, fmt, size, params["subsample"]["seed"], args.task)
    write_parquet(out, paths.subsample_path(root, args.task, args.size))
    print(f"subsample: {args.task} {args.size}: {len(out)} of {len(df)} examples")


if __name__ == "__main__":
    stagerun.run("subsample", main)
