"""The code version a run or a report comes from: the git commit, and whether code or params differ from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

UNKNOWN = "unknown"


def _git(root: Path, *args: str) -> str | None:
    """stdout of ``git -C root args`` or None if git fails or is missing."""
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def pipeline_outputs(root: Path) -> tuple[str, ...]:
    """Path prefixes of the git-tracked files the pipeline itself rewrites while it runs: ``dvc.lock`` and every
    ``cache: false`` output, metric and plot of ``dvc.yaml`` (``metrics/``, ``runs/``, ``reports/``; a templated
    path counts up to its first ``${``)."""
    import yaml

    out = {"dvc.lock"}
    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages", {})
    except (OSError, yaml.YAMLError):
        return tuple(sorted(out))
    for stage in stages.values():
        body = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for entry in body.get(kind, []) or []:
                if isinstance(entry, dict):
                    for path, opts in entry.items():
                        if isinstance(opts, dict) and opts.get("cache") is False:
                            out.add(path.split("${", 1)[0])
    return tuple(sorted(out))


def git_commit(root: Path) -> str:
    """HEAD commit of the repository at ``root``, "+dirty" when a tracked file other than the pipeline's own
    outputs (:func:`pipeline_outputs`: the metrics, run ids, reports and ``dvc.lock`` it rewrites while it runs)
    differs from HEAD, i.e. when code or params changed; "unknown" outside git."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None or not head.strip():
        return UNKNOWN
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    ignore = pipeline_outputs(root)
    changed = [line[3:].split(" -> ")[-1].strip('"') for line in (status or "").splitlines() if line.strip()]
    dirty = [path for path in changed if not path.startswith(ignore)]
    return head.strip() + ("+dirty" if dirty else "")
