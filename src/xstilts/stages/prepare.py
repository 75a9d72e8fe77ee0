"""Stage `prepare`: materialise every dataset of the study into the canonical schema (data/prepared).

Every manual input of the profile (xstilts.core.inputs: MUSE dictionaries, CCGbank, a local hub mirror) is checked
first, before anything is read, downloaded or written; the previous data/prepared is replaced only when the new
one is complete (its dvc.yaml outputs are `persist: true`, so `dvc repro` does not delete them beforehand)."""

from __future__ import annotations

import argparse
import time

from ..core import config, inputs
from ..core.io import atomic_path, repo_root, write_metrics
from ..data.sources import SOURCES
from ..pipeline import stagerun, tracking


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = config.load()
    root = repo_root()
    inputs.require(params, root)
    t0 = time.time()
    with atomic_path(root / "data" / "prepared") as tmp:
        summary = SOURCES[params["study"]["source"]](params, tmp, print)
    tracking.setup_experiments(root)  # created once, before any fan-out
    write_metrics(root, "prepare.json", {f"examples.{k}": v for k, v in summary.items()})
    print(f"prepare: done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    stagerun.run("prepare", main)
