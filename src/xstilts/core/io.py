"""Small I/O helpers: repository root, atomic writes, hashing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


def repo_root() -> Path:
    """The project root: $DVC_ROOT inside DVC stages, else $XSTILTS_ROOT, else the nearest parent with params.yaml."""
    for var in ("DVC_ROOT", "XSTILTS_ROOT"):
        if os.environ.get(var):
            return Path(os.environ[var]).resolve()
    here = Path.cwd().resolve()
    for cand in (here, *here.parents):
        if (cand / "params.yaml").exists() and (cand / "dvc.yaml").exists():
            return cand
    return here


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_writable(path: Path) -> None:
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"output directory {parent} is not writable")


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (another user's live process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _clear_stale(path: Path) -> None:
    """Remove the temporaries that killed writers of `path` left beside it (`.<name>.<pid>.<random>` whose process
    is gone): a `kill -9` skips the cleanup below, and a leftover inside a DVC directory output would change its
    hash."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]{{8}}")
    for sibling in path.parent.iterdir():
        m = pattern.fullmatch(sibling.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            shutil.rmtree(sibling, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it is renamed onto `path` (files or directories). The
    temporary directory is named after the writing process, so a later write of `path` removes what a killed
    writer left."""
    path = Path(path)
    _check_writable(path)
    _clear_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent)) / path.name
    try:
        yield tmp
        _fsync_tree(tmp)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def _fsync_tree(tmp: Path) -> None:
    """Flush what was written under `tmp` to disk before it is renamed into place (a crash after the rename then
    never leaves a truncated file under the final name)."""
    files = sorted(p for p in tmp.rglob("*") if p.is_file()) if tmp.is_dir() else [tmp] if tmp.is_file() else []
    for f in files:
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` atomically (through :func:`atomic_path`: flushed to disk, then renamed)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: Path | str, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


NONDETERMINISTIC_KEYS = ("run_id", "seconds", "per_second", "timestamp")
"""Key endings that never go into a DVC metrics file: MLflow run ids (random), wall-clock times and rates."""


def write_metrics(root: Path, rel: str, metrics: dict[str, Any], runs: dict[str, str] | None = None) -> None:
    """A stage's DVC metrics file `metrics/<rel>` (deterministic numbers only: the same inputs give the same bytes,
    so `dvc repro --force` twice leaves it unchanged on one machine) and, with `runs`, the MLflow run ids behind
    those numbers in `runs/<rel>` (new ids on every run; timings and rates live in MLflow, not here)."""
    bad = sorted(k for k in metrics if k.endswith(NONDETERMINISTIC_KEYS))
    if bad:
        raise ValueError(f"metrics/{rel}: {', '.join(bad)} vary from run to run; they belong in runs/{rel} or MLflow")
    from . import paths

    write_json(paths.metrics_path(root, rel), metrics)
    if runs is not None:
        write_json(paths.runs_path(root, rel), runs)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def read_json(path: Path | str) -> Any:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing (run the stage that produces it, e.g. `dvc repro`)")
    return json.loads(path.read_text())


def write_parquet(df: pd.DataFrame, path: Path | str) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, compression="zstd")


def read_parquet(path: Path | str) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing (run the stage that produces it, e.g. `dvc repro`)")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ValueError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from exc


def stable_seed(*parts: object) -> int:
    """A 32-bit seed derived deterministically from its parts (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")
