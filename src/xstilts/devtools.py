"""Helpers for tests and benchmarks that run the real pipeline in a fresh copy of the repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def copy_worktree(src: Path, dst: Path) -> None:
    """Copy what a clone would hold (tracked files plus untracked, not-ignored ones, as in the working tree)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=src, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for f in files:
        if (src / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / f, dst / f)
