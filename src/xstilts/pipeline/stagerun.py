"""How every stage module runs as a program (`python -m xstilts.stages.<name>`, the command of its dvc.yaml stage
and MLproject entry point): a user error (bad params.yaml, a missing input file, input data that fails
validation, an unreachable service) ends the stage with one line on stderr that names the file, key or service
and the fix, and a non-zero exit status, instead of a Python traceback; the full traceback goes to
`.logs/<stage>.log` (gitignored), named on that line. Any other exception is a bug: its traceback is printed as
usual (and logged the same way).

Every stage's `main()` starts with :func:`begin` (its arguments, params.yaml, the input check) and ends in
:func:`run`. Tests and library callers call a stage's `main()` directly and get the exception itself.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EXIT_USER_ERROR = 2


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is the whole story (they name the file/key/service and the fix)."""
    from ..core.config import ConfigError
    from ..train.loop import Diverged
    from .dvclock import LockMismatchError

    errors: list[type[BaseException]] = [ConfigError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                                         PermissionError, ValueError, LockMismatchError, Diverged, StageBusy]
    try:  # the hub source is optional at import time (it imports `datasets` lazily, HubError does not)
        from ..data.hub import HubError
        errors.append(HubError)
    except Exception:  # noqa: BLE001 - a broken optional import must not hide the user's error
        pass
    from . import tracking

    errors.append(tracking.TrackingUnavailable)
    return tuple(errors)


def stage_id(name: str, argv: list[str] | None = None) -> str:
    """The stage's DVC name: $DVC_STAGE inside `dvc repro`, else `<name>` plus its fan-out values
    (`target@baseline`, `subsample@mnli-150`), as dvc.yaml names them."""
    if os.environ.get("DVC_STAGE"):
        return os.environ["DVC_STAGE"]
    args = list(sys.argv[1:] if argv is None else argv)
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--arm", "--task", "--size")]
    return f"{name}@{'-'.join(values)}" if values else name


def _log_path(stage: str) -> Path:
    from ..core import paths
    from ..core.io import repo_root

    rank = os.environ.get("RANK", "0")
    suffix = f".rank{rank}" if rank not in ("", "0") else ""
    safe = "".join(c if c.isalnum() or c in "@-_." else "_" for c in stage)
    return paths.logs_dir(repo_root()) / f"{safe}{suffix}.log"


def write_log(stage: str, exc: BaseException) -> Path | None:
    """The full traceback of `exc` in .logs/<stage>.log (overwritten by the stage's next failure); None if the log
    cannot be written (the one-line error is printed anyway)."""
    try:
        path = _log_path(stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = (f"{stage} failed at {stamp}\ncommand: {' '.join([sys.executable, *sys.argv])}\n"
                f"cwd: {os.getcwd()}\n\n" + "".join(traceback.format_exception(exc)))
        path.write_text(text, encoding="utf-8")
        return path
    except Exception:  # noqa: BLE001 - never let logging replace the real error
        return None


def _where(path: Path | None) -> str:
    if path is None:
        return "no log written"
    try:
        return f"traceback in {path.relative_to(Path.cwd())}"
    except ValueError:
        return f"traceback in {path}"


def one_line(exc: BaseException, stage: str = "") -> str:
    """The exception's message (its own text, without a leading `<stage>: ` the line already starts with;
    FileNotFoundError raised by `open` gets its file name)."""
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in str(exc):
        return f"{exc.strerror or exc}: {exc.filename}"
    text = str(exc).strip()
    for prefix in {f"{stage}: ", f"{stage.split('@')[0]}: "} if stage else ():
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return text or type(exc).__name__


def run(name: str, main: Callable[[list[str] | None], object], argv: list[str] | None = None) -> None:
    """Run a stage's `main` as a program: exit 0 on success, EXIT_USER_ERROR with one line for a user error."""
    stage = stage_id(name, argv)
    try:
        main(argv)
    except user_errors() as exc:
        log = write_log(stage, exc)
        print(f"{stage}: error: {one_line(exc, stage)} ({_where(log)})", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USER_ERROR) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a bug: keep the traceback on the console, and log it too
        log = write_log(stage, exc)
        print(f"{stage}: unexpected error ({_where(log)}):", file=sys.stderr, flush=True)
        raise


@dataclass(frozen=True)
class Stage:
    """One stage instance about to run: its DVC name, parsed arguments, validated params and repository root."""

    name: str
    instance: str  # the dvc.yaml name: `target@baseline`, `subsample@mnli-150`, `tune`
    args: argparse.Namespace
    params: dict
    root: Path


def begin(name: str, doc: str | None, argv: list[str] | None, *,
          fan_out: dict[str, str] | None = None, options: Callable[[argparse.ArgumentParser], None] | None = None,
          launch: bool = False, check_inputs: bool = True) -> Stage:
    """The common start of every stage: parse `argv`; load and validate params.yaml; check each fan-out value
    (`fan_out`: flag -> the params list it must be a member of, e.g. {"--arm": "study.arms"}, in dvc.yaml's
    matrix order); with `launch`, re-launch as N data-parallel processes ($XSTILTS_LAUNCHER) and join the process
    group; then check that the stage's inputs are the ones dvc.lock recorded (xstilts.pipeline.dvclock), before any
    expensive work. `options` adds the stage's own optional arguments."""
    from ..core import config
    from ..core.io import repo_root

    ap = argparse.ArgumentParser(description=doc)
    for flag in fan_out or {}:
        ap.add_argument(flag, required=True)
    if options is not None:
        options(ap)
    args = ap.parse_args(argv)
    params = config.load()
    values = []
    for flag, key in (fan_out or {}).items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        config.require_member(params, key, value, name, flag)
        values.append(str(value))
    instance = f"{name}@{'-'.join(values)}" if values else name
    if launch:
        from ..train import distributed

        distributed.relaunch(f"xstilts.stages.{name}", argv)  # $XSTILTS_LAUNCHER: N processes instead of this one
        distributed.init()
    root = repo_root()
    lock(root, instance)
    if check_inputs:
        from . import dvclock

        dvclock.check_stage_inputs(root, instance)
    return Stage(name, instance, args, params, root)


_HELD: dict[str, int] = {}  # lock file -> open descriptor, held until this process ends


class StageBusy(RuntimeError):
    """Another live process is running the same stage instance."""


def lock(root: Path, instance: str) -> None:
    """Hold `.locks/<instance>.lock` (an exclusive flock) for the rest of this process, so that a second process
    started on the same stage instance (e.g. by a new `dvc repro` while a stage orphaned by a killed one still
    runs) stops at once with one line naming the holder. The kernel drops the lock when its process dies, however
    it dies. Data-parallel ranks other than 0 ($RANK, set by torchrun and accelerate) share their rank 0's lock."""
    import fcntl

    from ..core import paths

    if os.environ.get("RANK", "0") not in ("", "0"):  # the launchers' rank variable: no torch import needed here
        return
    path = paths.lock_path(root, instance)
    if str(path) in _HELD:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StageBusy(f"{instance} is already running in process {holder} ({path}); wait for it to end or stop "
                        f"it, then run again") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[str(path)] = fd
