"""Shared fixtures. Every test runs offline: no hub downloads, no telemetry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

for key, value in {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
                   "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1", "DVC_STUDIO_OFFLINE": "1"}.items():
    os.environ.setdefault(key, value)


@pytest.fixture
def params() -> dict:
    """The committed default params.yaml (a fresh copy per test)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (2-thread torch slows down a lot next to another busy process)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
