"""Running the pipeline's commands in a temporary copy of the repository (the end-to-end tests): a clean,
offline environment and a runner that shows the command's output when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = str(Path(sys.executable).parent)


def env(root: Path, **extra: str) -> dict:
    """The parent environment without MLflow/DVC (and, with ``HF_HOME`` in ``extra``, Hugging Face) settings,
    offline, with this interpreter's scripts first on PATH; ``extra`` on top."""
    drop = ("MLFLOW_", "DVC_", "HF_") if "HF_HOME" in extra else ("MLFLOW_", "DVC_")
    e = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    e.update(PATH=BIN + os.pathsep + e.get("PATH", ""), HF_HUB_OFFLINE="1", HF_HOME=str(root / ".hf_home"),
             MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", DVC_NO_ANALYTICS="1", DVC_STUDIO_OFFLINE="1",
             GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    e.update(extra)
    return e


def run(cmd: list[str], root: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=root, env=env(root, **extra), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n"
                                  f"{proc.stderr[-6000:]}")
    return proc
