"""Stage `prepare`: materialise every dataset of the study into the canonical schema (data/prepared).

Every manual input of the profile (xstilts.core.inputs: MUSE dictionaries, CCGbank, a local hub mirror) is checked
first, before anything is read, downloaded or written; the previous data/prepared is replaced only when the new
one is complete (its dvc.yaml outputs are `persist: true`, so `dvc repro` does not delete them beforehand)."""

from __future__ import annotations

import time

from ..core import inputs, paths
from ..core.io import atomic_path, write_metrics
from ..data.sources import SOURCES
from ..pipeline import stagerun, tracking


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("prepare", __doc__, argv, check_inputs=False)  # its inputs are manual ones, checked next
    params, root = st.params, st.root
    inputs.require(params, root)
    t0 = time.time()
    with atomic_path(paths.prepared_dir(root)) as tmp:
        summary = SOURCES[params["study"]["source"]](params, tmp, print)
    tracking.setup_experiments(root)  # created once, before any fan-out
    write_metrics(root, "prepare.json", {f"examples.{k}": v for k, v in summary.items()})
    print(f"prepare: done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    stagerun.run("prepare", main)
