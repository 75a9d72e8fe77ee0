"""Portable determinism (xstilts.core.portable), two machines emulated on one: the same small training, and numpy's
transcendental loops, under two forced kernel levels (AVX-512 and the generic ATen path, numpy with and without
its AVX-512 loops) give identical bytes in portable mode and different bytes without it, so the test can fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xstilts.core import portable

from .conftest import REPO

SCRIPT = r"""
import hashlib
import xstilts  # pins the kernel paths before torch and numpy load
import numpy as np, torch
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.LayerNorm(256), torch.nn.Linear(256, 8))
opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
g = torch.Generator().manual_seed(1)
for _ in range(30):
    x, y = torch.randn(32, 64, generator=g), torch.randint(0, 8, (32,), generator=g)
    loss = torch.nn.functional.cross_entropy(m(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
weights = b"".join(p.detach().numpy().tobytes() for p in m.parameters())
x = np.linspace(0.001, 5, 100001)
print(hashlib.md5(weights).hexdigest(), hashlib.md5((np.exp(np.sin(x)) * np.log(x)).tobytes()).hexdigest(),
      torch.backends.cpu.get_cpu_capability())
"""
MACHINES = {  # what each emulated machine's libraries would pick by themselves
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "NPY_DISABLE_CPU_FEATURES": "", "MKL_CBWR": "AUTO"},
    "generic": {"ATEN_CPU_CAPABILITY": "default", "NPY_DISABLE_CPU_FEATURES": "X86_V4", "MKL_CBWR": "AUTO"},
}


def _run(machine: str, on: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in portable.SETTINGS}
    env.update(MACHINES[machine], XSTILTS_PORTABLE="1" if on else "0", PYTHONPATH=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_portable_mode_gives_the_same_bytes_under_two_kernel_levels():
    import pytest

    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists() or " avx512f" not in cpuinfo.read_text():  # this process itself is pinned: ask the CPU
        pytest.skip("needs an AVX-512 CPU to emulate the second machine")
    on = {m: _run(m, True) for m in MACHINES}
    off = {m: _run(m, False) for m in MACHINES}
    assert on["avx512"] == on["generic"] and on["avx512"][2] == "AVX2"  # pinned: identical weights and numpy
    assert off["avx512"][0] != off["generic"][0]  # unpinned: the kernel level changes the trained weights
    assert off["avx512"][1] != off["generic"][1]  # and numpy's AVX-512 loops change its results


def test_settings_and_the_switch(monkeypatch):
    env = {"XSTILTS_THREADS": "3", "ATEN_CPU_CAPABILITY": "avx512"}
    assert portable.apply(env)["OMP_NUM_THREADS"] == "3" and env["ATEN_CPU_CAPABILITY"] == "avx2"  # overridden
    assert portable.settings({"XSTILTS_PORTABLE": "0"}) == {}
    import pytest

    with pytest.raises(ValueError, match="XSTILTS_THREADS"):
        portable.settings({"XSTILTS_THREADS": "many"})
