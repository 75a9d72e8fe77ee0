"""Helpers of the tests and benchmarks (not part of the package): a fresh copy of the work tree to run the real
pipeline in, the import closures behind dvc.yaml's code deps (`python -m tests.devtools` rewrites them, from the
repository root) and the params audit's comparison."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def copy_worktree(src: Path, dst: Path) -> None:
    """Copy what a clone would hold (tracked files plus untracked, not-ignored ones, as in the working tree)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=src, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for f in files:
        if (src / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / f, dst / f)


def _module_file(src: Path, dotted: str) -> Path | None:
    """The file of module `dotted` (e.g. "xstilts.data.schema") under `src`, or None if it is not a module."""
    base = src.joinpath(*dotted.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(src: Path, file: Path, package: str) -> set[str]:
    """Dotted names of the project modules `file` imports, at any depth of the file (lazy imports too)."""
    import ast

    out: set[str] = set()
    tree = ast.parse(file.read_text(), str(file))
    is_pkg = file.name == "__init__.py"
    here = file.parent.relative_to(src).as_posix().replace("/", ".") if is_pkg else \
        file.with_suffix("").relative_to(src).as_posix().replace("/", ".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name == package or a.name.startswith(package + ".")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")
                base = parts[: len(parts) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == package or node.module.startswith(package + ".")):
                mod = node.module
            else:
                continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return {m for m in out if _module_file(src, m) is not None}


def import_closure(src: Path, module: str, package: str = "xstilts") -> set[Path]:
    """Every project file `module` imports, transitively (with the `__init__.py` of every package on the way)."""
    todo, seen = [module], set()
    files: set[Path] = set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        parts = mod.split(".")
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            init = _module_file(src, ".".join(parts[:i]))
            if init is not None and init.name == "__init__.py" and ".".join(parts[:i]) not in seen:
                todo.append(".".join(parts[:i]))
        file = _module_file(src, mod)
        if file is None:
            continue
        files.add(file)
        todo += sorted(_imports(src, file, package) - seen)
    return files


def stage_code_deps(root: Path, stage: str, package: str = "xstilts") -> list[str]:
    """The code dependencies of stage `stage` as dvc.yaml lists them: its own script and every project module it
    imports, transitively, relative to `root`; a directory stands for all of its files when every .py file below
    it is in the closure (the package root itself never does)."""
    src = root / "src"
    files = {f.relative_to(root) for f in import_closure(src, f"{package}.stages.{stage}", package)}
    pkg_root = Path("src") / package
    dirs = sorted({d for f in files for d in f.parents if d != pkg_root and pkg_root in d.parents},
                  key=lambda d: len(d.parts))
    covered: set[Path] = set()
    out: list[str] = []
    for d in dirs:
        if any(c in d.parents for c in covered):
            continue
        below = {p.relative_to(root) for p in (root / d).rglob("*.py")}
        if below and below <= files and d.name != "stages":
            covered.add(d)
            out.append(d.as_posix())
    for f in sorted(files):
        if not any(c in f.parents for c in covered):
            out.append(f.as_posix())
    return sorted(out)


def _covers(declared: str, read: str) -> bool:
    return read == declared or read.startswith(declared + ".")


def params_mismatch(declared: list[str], reads: list[str]) -> tuple[list[str], list[str]]:
    """Compare a stage's dvc.yaml `params:` with the params.yaml key paths its processes read (the leaves recorded
    by `xstilts.core.config`'s audit, $XSTILTS_PARAMS_AUDIT). Returns (undeclared, unread): keys read that no declared
    entry covers (DVC would not re-run the stage when they change), and declared entries nothing was read under
    (a change would re-run the stage for nothing). A key read whole (e.g. iterated) needs an entry at or above it."""
    undeclared = sorted(r for r in reads if not any(_covers(d, r) for d in declared))
    unread = sorted(d for d in declared if not any(_covers(d, r) or _covers(r, d) for r in reads))
    return undeclared, unread


def audited_reads(directory: Path) -> dict[str, set[str]]:
    """Stage module name -> the union of the key paths its processes read (files written by the audit)."""
    import json

    out: dict[str, set[str]] = {}
    for f in sorted(Path(directory).glob("*.json")):
        rec = json.loads(f.read_text())
        out.setdefault(rec["module"], set()).update(rec["reads"])
    return out


def sync_dvc_deps(root: Path) -> bool:
    """Rewrite the `src/` code deps of every stage in `root/dvc.yaml` as :func:`stage_code_deps` derives them
    (the rest of the file is kept as it is). Returns whether the file changed. `python -m tests.devtools`."""
    import re

    import yaml

    path = Path(root) / "dvc.yaml"
    text = path.read_text()
    stages = yaml.safe_load(text)["stages"]
    lines, out, current, i = text.splitlines(keepends=True), [], None, 0
    while i < len(lines):
        m = re.match(r"^  ([A-Za-z0-9_-]+):", lines[i])
        if m and m.group(1) in stages:
            current = m.group(1)
        dep = re.match(r"^(\s+)- src/", lines[i])
        if dep and current:
            j = i
            while j < len(lines) and re.match(r"^\s+- src/", lines[j]):
                j += 1
            out += [f"{dep.group(1)}- {d}\n" for d in stage_code_deps(Path(root), current)]
            i = j
            continue
        out.append(lines[i])
        i += 1
    new = "".join(out)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    import sys

    changed = sync_dvc_deps(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
    print("dvc.yaml: code deps updated" if changed else "dvc.yaml: code deps already match the imports")
