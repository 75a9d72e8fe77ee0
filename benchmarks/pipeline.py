"""Wall time of every stage of a profile's `dvc repro` from a fresh copy of the repository, and of a no-op
`dvc repro` afterwards. Prints a table and ratios against the budgets (default profile <= 600 s, smoke <= 120 s)
and, for the no-op, against a bare `dvc version` call measured in the same process (machine noise cancels).

    python benchmarks/pipeline.py                # the committed default profile
    python benchmarks/pipeline.py --profile smoke
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' helpers (tests/devtools.py) are not part of the package
from tests.devtools import copy_worktree  # noqa: E402

BUDGET = {"default": 600.0, "smoke": 120.0}


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    e.update(PATH=str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", ""), HF_HUB_OFFLINE="1",
             MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", DVC_NO_ANALYTICS="1",
             GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b")
    return e


def fresh_copy(dst: Path, profile: str) -> None:
    copy_worktree(REPO, dst)
    run = lambda *c: subprocess.run(c, cwd=dst, env=env(), check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q")
    if profile != "default":
        run("xstilts", "profile", profile)
    run("git", "add", "-A")
    run("git", "commit", "-qm", "bench")


def timed_repro(root: Path) -> tuple[float, dict[str, float]]:
    """Total wall time and per-stage wall times (stage groups: name before '@')."""
    proc = subprocess.Popen(["dvc", "repro"], cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    per_stage: dict[str, float] = defaultdict(float)
    t0 = last = time.time()
    current = None
    for line in proc.stdout:
        m = re.match(r"Running stage '([^']+)'", line)
        if m:
            now = time.time()
            if current:
                per_stage[current] += now - last
            current, last = m.group(1).split("@")[0], now
    proc.wait()
    end = time.time()
    if current:
        per_stage[current] += end - last
    if proc.returncode:
        raise SystemExit(f"dvc repro failed with exit code {proc.returncode}")
    return end - t0, dict(per_stage)


def compare(root: Path) -> tuple[list[str], list[str]]:
    """(identical, different): the copy's metrics/*.json bytes and the dvc.lock md5s of its data and tuned/
    outputs against the committed ones (only meaningful for the committed profile: the default)."""
    import yaml

    same, differ = [], []
    for f in sorted((root / "metrics").rglob("*.json")):
        rel = f.relative_to(root)
        ok = (REPO / rel).exists() and (REPO / rel).read_bytes() == f.read_bytes()
        (same if ok else differ).append(str(rel))

    def outs(lock_path: Path) -> dict[str, str]:
        lock = yaml.safe_load(lock_path.read_text())
        # the data and the tuned learning rates; models/, results/ and reports embed MLflow run ids (new per run)
        return {o["path"]: o.get("md5", "") for st in lock["stages"].values() for o in st.get("outs", [])
                if o["path"].startswith(("data/", "tuned"))}
    mine, committed = outs(root / "dvc.lock"), outs(REPO / "dvc.lock")
    for path in sorted(mine):
        (same if committed.get(path) == mine[path] else differ).append(path)
    return same, differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="default", choices=sorted(BUDGET))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        fresh_copy(root, args.profile)
        total, stages = timed_repro(root)
        t = time.time()
        subprocess.run(["dvc", "version"], cwd=root, env=env(), check=True, capture_output=True)
        ref = time.time() - t
        t = time.time()
        out = subprocess.run(["dvc", "repro"], cwd=root, env=env(), check=True, capture_output=True, text=True)
        noop = time.time() - t
        assert "Running stage" not in out.stdout, "the second dvc repro re-ran stages"
        same, differ = compare(root)
    print(f"profile: {args.profile}   cores: {os.cpu_count()}")
    print(f"{'stage group':<14}{'seconds':>9}")
    for name, sec in stages.items():
        print(f"{name:<14}{sec:>9.1f}")
    print(f"{'total':<14}{total:>9.1f}   ratio to budget {BUDGET[args.profile]:.0f} s: "
          f"{total / BUDGET[args.profile]:.2f}")
    print(f"no-op dvc repro {noop:.2f} s   ratio to `dvc version` ({ref:.2f} s): {noop / ref:.2f}")
    print(f"reproduced from scratch: {len(same)} metrics files and dvc.lock outputs byte-/md5-identical to the "
          f"committed ones, {len(differ)} different{': ' + ', '.join(differ) if differ else ''}")
    if args.json:
        args.json.write_text(json.dumps({"profile": args.profile, "total_seconds": total, "stages": stages,
                                         "noop_seconds": noop, "dvc_version_seconds": ref,
                                         "identical": len(same), "different": differ}, indent=2) + "\n")


if __name__ == "__main__":
    main()
