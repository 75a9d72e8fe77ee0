"""Runs one stage module as one rank of a launcher (tests/test_distributed.py), recording every output path the
rank writes through `xstilts.core.io.atomic_path` (which `write_json` and the stages' model saves go through) in
<log_dir>/writes-rank<RANK>.txt.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/stage_rank.py LOG_DIR intermediate --task mnli
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path

from xstilts.core import io


def main(log_dir: Path, stage: str, argv: list[str]) -> None:
    log = log_dir / f"writes-rank{os.environ.get('RANK', '0')}.txt"
    log.write_text("")
    original = io.atomic_path

    @contextlib.contextmanager
    def recording(path):
        with log.open("a") as fh:
            fh.write(f"{path}\n")
        with original(path) as tmp:
            yield tmp

    io.atomic_path = recording  # before the stage module imports it by name
    importlib.import_module(f"xstilts.stages.{stage}").main(argv)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
