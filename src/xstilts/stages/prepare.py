"""Stage `prepare`: materialise every dataset of the study into the canonical schema (data/prepared)."""

from __future__ import annotations

import argparse
import time

from .. import config, tracking
from ..data.sources import SOURCES
from ..io import atomic_path, repo_root, write_metrics


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = config.load()
    root = repo_root()
    t0 = time.time()
    with atomic_path(root / "data" / "prepared") as tmp:
        summary = SOURCES[params["study"]["source"]](params, tmp, print)
    tracking.setup_experiments(root)  # created once, before any fan-out
    write_metrics(root, "prepare.json", {f"examples.{k}": v for k, v in summary.items()})
    print(f"prepare: done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
