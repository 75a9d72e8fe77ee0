"""Data-parallel training across processes (one per GPU), started by a launcher that sets the standard
`torch.distributed` environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT):

    accelerate launch --multi_gpu --num_processes N -m xstilts.stages.intermediate --task mnli
    torchrun --nproc_per_node N -m xstilts.stages.target --arm baseline

Only the intermediate and target stages train data-parallel (they call `init`); every rank runs the same stage
loop and the same `training.fit` calls, rank 0 alone evaluates, logs to MLflow and writes outputs. Without a
launcher (WORLD_SIZE unset or 1) everything here is a no-op and the stages run as a single process.

Under `dvc repro` the stage commands stay `python -m xstilts.stages.<stage>`: with $XSTILTS_LAUNCHER set (e.g.
"accelerate launch --multi_gpu --num_processes 8") those two stages re-run themselves under it (`relaunch`).
"""

from __future__ import annotations

import datetime
import os
import shlex
import subprocess
import sys

import torch
import torch.distributed as dist

# collectives wait this long for the slowest rank (rank 0 evaluates and saves while the others wait)
TIMEOUT = datetime.timedelta(hours=1)


def launched_world_size() -> int:
    """WORLD_SIZE set by the launcher (1 without one)."""
    value = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"WORLD_SIZE={value!r} is not an integer (set by the launcher)") from None


def active() -> bool:
    """A process group of more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    if active():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if launched_world_size() > 1 else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0")) if launched_world_size() > 1 else 0


def is_main() -> bool:
    """Rank 0 (or the only process): the one that evaluates, tracks and writes."""
    return rank() == 0


LAUNCHER_ENV = "XSTILTS_LAUNCHER"


def relaunch(module: str, argv: list[str] | None) -> None:
    """When $XSTILTS_LAUNCHER is set and this process was not started by a launcher, run
    `$XSTILTS_LAUNCHER -m <module> <args>` instead and exit with its status (how `dvc repro` trains on N GPUs
    without changing the stage commands). The parent only waits; the launched ranks do the work."""
    launcher = os.environ.get(LAUNCHER_ENV, "").strip()
    if not launcher or "LOCAL_RANK" in os.environ or os.environ.get("XSTILTS_RELAUNCHED"):
        return
    cmd = [*shlex.split(launcher), "-m", module, *(sys.argv[1:] if argv is None else argv)]
    print(f"{module}: {LAUNCHER_ENV} is set, running {shlex.join(cmd)}", file=sys.stderr, flush=True)
    try:
        code = subprocess.call(cmd, env={**os.environ, "XSTILTS_RELAUNCHED": "1"})
    except FileNotFoundError as exc:
        raise SystemExit(f"{module}: {LAUNCHER_ENV}={launcher!r}: {exc.filename} not found "
                         f"(pip install accelerate, or use torchrun)") from exc
    raise SystemExit(code)


def init() -> int:
    """Join the process group when launched with WORLD_SIZE > 1 (NCCL on GPUs, gloo on CPU); returns the world
    size. Each rank uses the GPU of its LOCAL_RANK."""
    n = launched_world_size()
    if n <= 1 or active():
        return world_size()
    if not dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={n} but this torch build has no torch.distributed")
    cuda = torch.cuda.is_available()
    if cuda:
        if local_rank() >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK={local_rank()} but only {torch.cuda.device_count()} GPUs are visible: "
                               f"launch at most that many processes per machine")
        torch.cuda.set_device(local_rank())
    dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT,
                            **({"device_id": torch.device("cuda", local_rank())} if cuda else {}))
    return world_size()


def check_single_process(what: str) -> None:
    """Refuse to run `what` once per rank under a launcher without a process group (only the intermediate and
    target stages train data-parallel)."""
    n = launched_world_size()
    if n > 1 and not active():
        raise RuntimeError(f"{what}: launched with WORLD_SIZE={n}, but only the intermediate and target stages train "
                           f"data-parallel; run this one as a single process (see README, scale-out)")


def barrier() -> None:
    if active():
        dist.barrier()


def finish() -> None:
    """Wait for every rank (rank 0 writes the outputs while the others wait), then leave the process group."""
    if active():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_object(obj):
    """Rank 0's `obj` on every rank (a no-op in a single process)."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
