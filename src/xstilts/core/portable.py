"""Portable determinism: the same bytes on any x86-64 CPU with AVX2, Intel or AMD, AVX2 or AVX-512.

Floating-point results depend on the kernel path a library picks for the CPU it runs on: ATen's vectorised
kernels (avx512 / avx2 / default), MKL's code path, oneDNN's ISA, numpy's dispatched SIMD loops (its AVX-512
`exp`/`log`/`sin` differ from the AVX2 ones in the last bits), OpenBLAS's kernel, and the thread count that
splits every parallel reduction. Measured on one Intel AVX-512 machine: the default's pretrain numbers changed
with ATEN_CPU_CAPABILITY and MKL_CBWR, and the differences grew through training into the report.

:func:`apply` pins all of them, before torch or numpy is imported (``xstilts/__init__.py`` calls it, so every
stage process is pinned before its first import of either), overriding what the environment says:

==========================  ==============================  ===========================================
variable                    value                           what it pins
==========================  ==============================  ===========================================
ATEN_CPU_CAPABILITY         avx2                            ATen's vectorised CPU kernels
MKL_CBWR                    COMPATIBLE                      MKL's conditional numerical reproducibility
                                                            (the path MKL documents as the same on Intel
                                                            and non-Intel CPUs)
ONEDNN_MAX_CPU_ISA          AVX2                            oneDNN's kernels
NPY_DISABLE_CPU_FEATURES    X86_V4 AVX512_ICL AVX512_SPR    numpy's AVX-512 loops (the AVX2 ones remain)
OPENBLAS_CORETYPE           Haswell                         numpy/scipy's OpenBLAS kernels (AVX2)
OMP/MKL/OPENBLAS_NUM_THREADS  XSTILTS_THREADS (default 2)   every parallel reduction's split
==========================  ==============================  ===========================================

``XSTILTS_PORTABLE=0`` turns it off (each library then picks its fastest path for this CPU). GPU kernels are not
affected (the paper profile's training runs on CUDA and keeps its fast path); only CPU work is pinned.
"""

from __future__ import annotations

import os
import sys

THREADS_ENV = "XSTILTS_THREADS"
SWITCH_ENV = "XSTILTS_PORTABLE"
DEFAULT_THREADS = 2
SETTINGS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def enabled(env=os.environ) -> bool:
    return env.get(SWITCH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def settings(env=os.environ) -> dict[str, str]:
    """The variables portable mode sets (empty when it is off)."""
    if not enabled(env):
        return {}
    threads = env.get(THREADS_ENV, str(DEFAULT_THREADS))
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(f"${THREADS_ENV} = {threads!r}: expected a positive number of threads")
    return {**SETTINGS, **{v: threads for v in THREAD_VARS}}


def apply(env=os.environ) -> dict[str, str]:
    """Set the pinned variables in `env` (overriding what is there). Returns what was set. Libraries read them
    when they load: a torch or numpy imported before this call keeps its own paths, which `late()` reports."""
    values = settings(env)
    env.update(values)
    return values


def late() -> list[str]:
    """The pinned libraries that were already imported when the pins were applied (their paths are not pinned)."""
    return [m for m in ("torch", "numpy") if m in sys.modules and enabled()]
