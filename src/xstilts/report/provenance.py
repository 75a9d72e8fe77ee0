"""Provenance of the report: code version, parameter hash, DVC data hashes, other input files and the MLflow runs.

:func:`collect` gathers it for :func:`xstilts.report.build_report`; :func:`verify` later checks that the
data md5s recorded in ``correlation.json`` still match the current ``dvc.lock`` (datasets, subsamples, results
and predictions), that the other files the report read (the published reference table) still have the recorded
md5, and that params.yaml still has the recorded hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..core import paths, tasks
from ..core.io import md5_file
from ..core.vcs import UNKNOWN, git_commit

DATA_PREFIXES = ("data/",)
REPORT_PREFIXES = ("data/", "results/", "predictions/")
"""Stage outputs the report depends on: prepared data and subsamples, results tables, per-example predictions."""
RUN_COLUMNS = ["arm", "size_label", "seed", "target_task", "target_run_id", "intermediate_run_id"]


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


def input_hashes(root: Path, paths: Iterable[Path | str]) -> list[dict[str, str]]:
    """``{path, md5}`` of files the report reads that no stage writes (paths relative to ``root``), sorted."""
    rows = []
    for rel in paths:
        full = Path(root) / rel
        if not full.is_file():
            raise FileNotFoundError(f"{full}: missing (an input of the report)")
        rows.append({"path": Path(rel).as_posix(), "md5": md5_file(full)})
    return sorted(rows, key=lambda r: r["path"])


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


def collect(root: Path, results: pd.DataFrame, inputs: Iterable[Path | str] = ()) -> dict[str, Any]:
    """Provenance of a report built from ``results`` (and the files ``inputs``) in the project at ``root``.

    Keys: ``git_commit``, ``params_sha256`` ("unknown" without params.yaml), ``data`` (from
    :func:`data_hashes` of ``root/dvc.lock`` for :data:`REPORT_PREFIXES`, empty without one), ``inputs``
    (:func:`input_hashes`), ``runs`` (:func:`run_table`) and ``sizes`` (:func:`training_sizes`).
    """
    root = Path(root)
    params = root / "params.yaml"
    lock = root / "dvc.lock"
    return {
        "git_commit": git_commit(root),
        "params_sha256": params_hash(params) if params.exists() else UNKNOWN,
        "data": data_hashes(read_dvc_lock(lock), REPORT_PREFIXES) if lock.exists() else [],
        "inputs": input_hashes(root, inputs),
        "runs": run_table(results),
        "sizes": training_sizes(root, results),
        "environment": environment(),
    }


PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "pandas", "scipy", "statsmodels", "pyarrow", "mlflow",
            "dvc", "optuna")


def environment() -> dict[str, Any]:
    """The machine and software the report was built with: Python, the main packages' versions, the CPU model and
    the CPU kernel pins in force (xstilts.core.portable; empty values when portable mode is off). The training
    stages log the same per run to MLflow (`runtime.*`)."""
    import os
    import platform
    from importlib import metadata

    from ..core import portable

    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = UNKNOWN
    cpu = platform.processor() or UNKNOWN
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "portable": portable.enabled(),
            "kernel_pins": {k: os.environ.get(k, "") for k in (*portable.SETTINGS, *portable.THREAD_VARS)},
            "packages": versions}


def training_sizes(root: Path, results: pd.DataFrame) -> list[dict[str, Any]]:
    """The size variable, honestly: per intermediate task, the exact number of training examples at its natural
    size (after any filtering) and the dataset variant it came from (`task.json` written by prepare)."""
    full = results[(results["size_label"] == "full")] if "size_label" in results else results.iloc[0:0]
    out = []
    for arm, n in sorted(full.groupby("arm")["train_size"].max().items()):
        if str(arm) not in tasks.TASKS:  # a variant arm (its examples per task: the report's variants section)
            continue
        info = paths.task_dir(root, str(arm)) / "task.json"
        meta = json.loads(info.read_text()) if info.exists() else {}
        out.append({"task": arm, "train_examples": int(n), "source": meta.get("source", UNKNOWN),
                    "variant": meta.get("variant", meta.get("mirrors", ""))})
    return out


def verify(report_json: Path, lock: Path, prefixes: tuple[str, ...] | None = None,
           root: Path | None = None) -> list[str]:
    """Mismatches between the hashes recorded in ``correlation.json`` and the current project.

    Data: one message per path whose md5 changed, that is recorded but no longer in ``lock``, or that is in
    ``lock`` (under ``prefixes``; default: the prefixes of the recorded paths' kind, :data:`REPORT_PREFIXES` if
    any recorded path is outside ``data/``, else :data:`DATA_PREFIXES`) but not recorded. With ``root``: every
    recorded input file must still have its md5, and params.yaml its sha256. An empty list means the report
    is up to date.
    """
    report_json = Path(report_json)
    if not report_json.exists():
        raise FileNotFoundError(f"{report_json}: missing (run `dvc repro report`)")
    try:
        report = json.loads(report_json.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{report_json}: not a report (expected the JSON that the report stage writes, "
                         f"reports/correlation.json): {exc}") from None
    if not isinstance(report, dict) or "provenance" not in report:
        raise ValueError(f"{report_json}: not a report (no `provenance` section; expected reports/correlation.json)")
    prov = report.get("provenance", {})
    recorded = {d["path"]: d.get("md5", "") for d in prov.get("data", [])}
    if prefixes is None:
        prefixes = REPORT_PREFIXES if any(not p.startswith(DATA_PREFIXES) for p in recorded) else DATA_PREFIXES
    current = {d["path"]: d["md5"] for d in data_hashes(read_dvc_lock(lock), prefixes)}
    problems = []
    for path in sorted(set(recorded) | set(current)):
        if path not in current:
            problems.append(f"{path}: recorded in the report but not in {lock}")
        elif path not in recorded:
            problems.append(f"{path}: in {lock} (md5 {current[path]}) but not recorded in the report")
        elif recorded[path] != current[path]:
            problems.append(f"{path}: md5 {recorded[path]} in the report != {current[path]} in {lock}")
    if root is not None:
        root = Path(root)
        for item in prov.get("inputs", []):
            full = root / item["path"]
            if not full.is_file():
                problems.append(f"{item['path']}: recorded as a report input but missing")
            elif md5_file(full) != item["md5"]:
                problems.append(f"{item['path']}: md5 {item['md5']} in the report != {md5_file(full)} on disk")
        recorded_params = prov.get("params_sha256", UNKNOWN)
        params = root / "params.yaml"
        if recorded_params != UNKNOWN and params.exists() and params_hash(params) != recorded_params:
            problems.append(f"params.yaml: sha256 {recorded_params} in the report != {params_hash(params)} now "
                            "(parameters changed since the report was built)")
    return problems
