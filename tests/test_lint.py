"""The code passes `ruff check src tests benchmarks` under the configuration in pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


def _ruff() -> list[str] | None:
    """The command that runs ruff: `python -m ruff` when the ruff package is importable, else the `ruff`
    executable next to the interpreter (a virtual environment's bin/), else none."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    return [exe] if exe else None


def test_ruff_check_passes():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the `test` extra: pip install -e '.[test]')")
    proc = subprocess.run([*ruff, "check", "--no-cache", "src", "tests", "benchmarks"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff check src tests benchmarks failed:\n{proc.stdout}{proc.stderr}"
