"""Provenance of the report: code version, parameter hash, DVC data hashes and the MLflow runs used.

:func:`collect` gathers it for :func:`xstilts.report.build_report`; :func:`verify` later checks that the
data md5s recorded in ``correlation.json`` still match the current ``dvc.lock``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

DATA_PREFIXES = ("data/",)
RUN_COLUMNS = ["arm", "size_label", "seed", "target_task", "target_run_id", "intermediate_run_id"]
UNKNOWN = "unknown"


def read_dvc_lock(path: Path) -> dict[str, Any]:
    """Parse a ``dvc.lock`` file (schema '2.0') into ``{"schema": ..., "stages": {name: {...}}}``.

    Raises FileNotFoundError if it does not exist and ValueError if it is not a DVC 2.0-style lock.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing (run `dvc repro` to create it)")
    lock = yaml.safe_load(path.read_text()) or {}
    if not isinstance(lock, dict) or not isinstance(lock.get("stages", {}), dict):
        raise ValueError(f"{path}: not a dvc.lock file (expected a mapping with 'stages')")
    schema = str(lock.get("schema", ""))
    if schema and not schema.startswith("2."):
        raise ValueError(f"{path}: unsupported dvc.lock schema {schema!r} (expected '2.0')")
    lock.setdefault("stages", {})
    return lock


def _stage_outs(lock: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """``(stage, out)`` for every output of every stage, sorted by stage name."""
    for stage in sorted(lock.get("stages", {})):
        for out in (lock["stages"][stage] or {}).get("outs", []) or []:
            yield stage, out


def data_hashes(lock: Mapping[str, Any], prefixes: tuple[str, ...] = DATA_PREFIXES) -> list[dict[str, Any]]:
    """``{stage, path, md5, size}`` of every stage output whose path starts with one of ``prefixes``.

    Sorted by path then stage; ``size`` is None where dvc.lock records none.
    """
    rows = [
        {"stage": stage, "path": str(out["path"]), "md5": str(out.get("md5", "")),
         "size": None if out.get("size") is None else int(out["size"])}
        for stage, out in _stage_outs(lock)
        if str(out.get("path", "")).startswith(prefixes)
    ]
    return sorted(rows, key=lambda r: (r["path"], r["stage"]))


def params_hash(path: Path) -> str:
    """sha256 (hex) of the bytes of ``params.yaml``."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git(root: Path, *args: str) -> str | None:
    """stdout of ``git -C root args`` or None if git fails or is missing."""
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_commit(root: Path) -> str:
    """HEAD commit of the repository at ``root`` (+"+dirty" with tracked changes); "unknown" outside git."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None or not head.strip():
        return UNKNOWN
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return head.strip() + ("+dirty" if status and status.strip() else "")


def run_table(results: pd.DataFrame) -> list[dict[str, Any]]:
    """Unique (arm, size_label, seed, target_task, target_run_id, intermediate_run_id) rows, sorted."""
    missing = [c for c in RUN_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks column(s) {missing}")
    runs = results[RUN_COLUMNS].drop_duplicates().copy()
    for col in RUN_COLUMNS:
        runs[col] = runs[col].fillna("").astype(int if col == "seed" else str)
    runs = runs.sort_values(RUN_COLUMNS, kind="stable")
    return [{c: (int(v) if c == "seed" else str(v)) for c, v in row.items()}
            for row in runs.to_dict(orient="records")]


def collect(root: Path, results: pd.DataFrame) -> dict[str, Any]:
    """Provenance of a report built from ``results`` in the project at ``root``.

    Keys: ``git_commit``, ``params_sha256`` ("unknown" without params.yaml), ``data`` (from
    :func:`data_hashes` of ``root/dvc.lock``, empty without one) and ``runs`` (:func:`run_table`).
    """
    root = Path(root)
    params = root / "params.yaml"
    lock = root / "dvc.lock"
    return {
        "git_commit": git_commit(root),
        "params_sha256": params_hash(params) if params.exists() else UNKNOWN,
        "data": data_hashes(read_dvc_lock(lock)) if lock.exists() else [],
        "runs": run_table(results),
        "sizes": training_sizes(root, results),
    }


def training_sizes(root: Path, results: pd.DataFrame) -> list[dict[str, Any]]:
    """The size variable, honestly: per intermediate task, the exact number of training examples at its natural
    size (after any filtering) and the dataset variant it came from (`task.json` written by prepare)."""
    full = results[(results["size_label"] == "full")] if "size_label" in results else results.iloc[0:0]
    out = []
    for arm, n in sorted(full.groupby("arm")["train_size"].max().items()):
        info = Path(root) / "data" / "prepared" / "intermediate" / str(arm) / "task.json"
        meta = json.loads(info.read_text()) if info.exists() else {}
        out.append({"task": arm, "train_examples": int(n), "source": meta.get("source", UNKNOWN),
                    "variant": meta.get("variant", meta.get("mirrors", ""))})
    return out


def verify(report_json: Path, lock: Path, prefixes: tuple[str, ...] = DATA_PREFIXES) -> list[str]:
    """Mismatches between the data md5s recorded in ``correlation.json`` and the current ``dvc.lock``.

    One message per path: changed md5, recorded but no longer in dvc.lock, or in dvc.lock (under
    ``prefixes``) but not recorded. An empty list means the report is up to date with the data.
    """
    report = json.loads(Path(report_json).read_text())
    recorded = {d["path"]: d.get("md5", "") for d in report.get("provenance", {}).get("data", [])}
    current = {d["path"]: d["md5"] for d in data_hashes(read_dvc_lock(lock), prefixes)}
    problems = []
    for path in sorted(set(recorded) | set(current)):
        if path not in current:
            problems.append(f"{path}: recorded in the report but not in {lock}")
        elif path not in recorded:
            problems.append(f"{path}: in {lock} (md5 {current[path]}) but not recorded in the report")
        elif recorded[path] != current[path]:
            problems.append(f"{path}: md5 {recorded[path]} in the report != {current[path]} in {lock}")
    return problems
