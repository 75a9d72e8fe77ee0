"""DVC md5s and the input check of stages run by hand.

Inside `dvc repro` DVC itself decides what runs from the md5s of every dependency and records what a stage read
in `dvc.lock`. A stage run by hand (`python -m xstilts.stages.<name>`, `mlflow run . -e <name>`) bypasses that,
so :func:`check_stage_inputs` compares its DVC-tracked input data (the dependencies that other stages write)
with the md5s recorded in `dvc.lock` before any expensive work, and fails naming the file, both md5s and the fix.
Hashes are computed by DVC's own library (`dvc_data`): a file's md5, or a directory's `<md5>.dir` over its
listing, exactly as `dvc status` computes them (honouring `.dvcignore`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SKIP_ENV = "XSTILTS_SKIP_LOCK_CHECK"
"""Set to 1 to run a stage by hand on inputs that differ from dvc.lock on purpose."""


class LockMismatchError(RuntimeError):
    """A stage's input data differs from the md5 that dvc.lock records for it."""


def _build(path: Path, root: Path | None = None):
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem
    from dvc_objects.fs.memory import MemoryFileSystem

    fs = LocalFileSystem()
    path = path.absolute()  # DVC's ignore filter works on absolute paths
    ignore = None
    if root is not None and path.is_dir():
        from dvc.ignore import DvcIgnoreFilter

        ignore = DvcIgnoreFilter(fs, str(root.absolute()))
    _, meta, obj = build(HashFileDB(MemoryFileSystem(), "/odb"), str(path), fs, "md5", dry_run=True, ignore=ignore)
    return meta, obj


def dvc_md5(path: Path | str, root: Path | str | None = None) -> str:
    """DVC's md5 of a file, or `<md5>.dir` of a directory (`root`: the repository whose .dvcignore applies)."""
    _, obj = _build(Path(path), Path(root) if root is not None else None)
    return obj.hash_info.value


def _files(obj) -> dict[str, str]:
    """relpath -> md5 of every file of a built directory."""
    return {"/".join(key): hi.value for key, _, hi in obj}


def _cached_listing(root: Path, dir_md5: str) -> dict[str, str] | None:
    """The file listing behind a `.dir` md5, from the local DVC cache (None if it is not there)."""
    cache = root / ".dvc" / "cache" / "files" / "md5" / dir_md5[:2] / dir_md5[2:]
    try:
        return {e["relpath"]: e["md5"] for e in json.loads(cache.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _listing(root: Path, lock: dict[str, Any], rel: str, dir_md5: str) -> dict[str, str] | None:
    """The files dvc.lock records for the directory `rel` (md5 `dir_md5`): its own listing in the cache, else the
    part under `rel` of the cached listing of the stage output that contains it."""
    own = _cached_listing(root, dir_md5)
    if own is not None:
        return own
    for s in lock.values():
        for out in (s or {}).get("outs", []) or []:
            path, md5 = str(out["path"]).rstrip("/"), str(out.get("md5", ""))
            if md5.endswith(".dir") and rel.startswith(path + "/"):
                listing = _cached_listing(root, md5)
                prefix = rel[len(path) + 1:].rstrip("/") + "/"
                if listing is not None:
                    return {k[len(prefix):]: v for k, v in listing.items() if k.startswith(prefix)} or None
    return None


def read_lock(root: Path) -> dict[str, Any]:
    import yaml

    path = root / "dvc.lock"
    if not path.exists():
        return {}
    lock = yaml.safe_load(path.read_text()) or {}
    return lock.get("stages", {}) or {}


def _within(path: str, outs: set[str]) -> bool:
    return any(path == o or path.startswith(o.rstrip("/") + "/") for o in outs)


def tracked_inputs(lock: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    """The dependencies of `stage` in dvc.lock that are DVC-tracked data (written by some stage; code and other
    git-tracked files are not data)."""
    outs = {str(o["path"]) for s in lock.values() for o in (s or {}).get("outs", []) or []}
    deps = (lock.get(stage) or {}).get("deps", []) or []
    return [d for d in deps if _within(str(d["path"]), outs) and d.get("md5")]


def _describe(root: Path, lock: dict[str, Any], rel: str, expected: str, path: Path) -> str:
    if not path.exists():
        return f"  {rel}: missing (dvc.lock expects md5 {expected})"
    _, obj = _build(path, root)
    actual = obj.hash_info.value
    if actual == expected:
        return ""
    line = f"  {rel}: md5 {actual}, dvc.lock expects {expected}"
    if expected.endswith(".dir"):
        before = _listing(root, lock, rel, expected)
        if before is not None:
            now = _files(obj) if actual.endswith(".dir") else {}
            changed = sorted(k for k in before.keys() & now.keys() if before[k] != now[k])
            lines = [f"    {rel}/{k}: md5 {now[k]}, dvc.lock expects {before[k]}" for k in changed]
            lines += [f"    {rel}/{k}: missing (dvc.lock expects md5 {before[k]})"
                      for k in sorted(before.keys() - now.keys())]
            lines += [f"    {rel}/{k}: not in dvc.lock's listing" for k in sorted(now.keys() - before.keys())]
            line += "\n" + "\n".join(lines)
    return line


def check_stage_inputs(root: Path | str, stage: str) -> list[str]:
    """Check the DVC-tracked inputs of `stage` (its dvc.yaml name, e.g. `target@baseline`) against dvc.lock;
    returns the paths checked. Skipped inside `dvc repro` ($DVC_STAGE set: DVC records what the stage reads) and
    with $XSTILTS_SKIP_LOCK_CHECK=1; nothing to check without a dvc.lock entry for the stage."""
    if os.environ.get("DVC_STAGE") or os.environ.get(SKIP_ENV, "") not in ("", "0"):
        return []
    root = Path(root).absolute()
    lock = read_lock(root)
    inputs = tracked_inputs(lock, stage)
    problems = {str(d["path"]): _describe(root, lock, str(d["path"]), str(d["md5"]), root / str(d["path"]))
                for d in inputs}
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        paths = " ".join(problems)
        raise LockMismatchError(
            f"{stage}: input data differs from {root / 'dvc.lock'} (the stage was run outside `dvc repro`):\n"
            + "\n".join(problems.values())
            + f"\nRestore the recorded data with `dvc checkout --force {paths}` (this discards the changes; "
              f"`dvc pull` first if the cache lacks it), or regenerate it and everything downstream with "
              f"`dvc repro {stage}`; to run on the current files anyway, set {SKIP_ENV}=1.")
    return [str(d["path"]) for d in inputs]
