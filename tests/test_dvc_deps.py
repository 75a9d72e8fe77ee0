"""dvc.yaml's code dependencies cannot drift from the code: each stage depends on exactly its own script and the
project modules it imports, transitively (`tests.devtools.stage_code_deps`, derived from the import statements,
lazy imports included), so editing any code a stage runs re-runs that stage and nothing else is listed."""

from __future__ import annotations

import pytest
import yaml

from .conftest import REPO
from .devtools import import_closure, stage_code_deps

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _deps(stage: dict) -> list[str]:
    return stage.get("do", stage)["deps"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_the_import_closure(name):
    listed = sorted(d.split()[0] for d in _deps(STAGES[name]) if d.startswith("src/"))
    assert listed == stage_code_deps(REPO, name), (
        f"dvc.yaml stage {name!r}: code deps differ from its import closure; "
        f"expected {stage_code_deps(REPO, name)} (`python -m tests.devtools` rewrites them)")


def test_every_stage_module_is_a_stage_and_an_entry_point():
    modules = {p.stem for p in (REPO / "src" / "xstilts" / "stages").glob("*.py") if p.stem != "__init__"}
    assert modules == set(STAGES)
    entry = yaml.safe_load((REPO / "MLproject").read_text())["entry_points"]
    assert modules == set(entry)


def test_the_closure_follows_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "src" / "p"
    (pkg / "stages").mkdir(parents=True)
    (pkg / "sub").mkdir()
    for f, text in {"__init__.py": "", "stages/__init__.py": "", "sub/__init__.py": "", "a.py": "from . import b\n",
                    "b.py": "def f():\n    from .sub import c\n", "sub/c.py": "from ..a import x\n",
                    "unused.py": "", "stages/s.py": "from .. import a\n"}.items():
        (pkg / f).write_text(text)
    got = {f.relative_to(tmp_path / "src").as_posix() for f in import_closure(tmp_path / "src", "p.stages.s", "p")}
    assert got == {"p/__init__.py", "p/stages/__init__.py", "p/stages/s.py", "p/a.py", "p/b.py", "p/sub/__init__.py",
                   "p/sub/c.py"}
    assert stage_code_deps(tmp_path, "s", "p") == ["src/p/__init__.py", "src/p/a.py", "src/p/b.py",
                                                   "src/p/stages/__init__.py", "src/p/stages/s.py", "src/p/sub"]


def test_params_audit_records_what_is_read(tmp_path, monkeypatch):
    import copy
    import json

    from xstilts.core import config

    from .devtools import audited_reads, params_mismatch

    reads: set = set()
    p = config.Audited({"a": {"x": 1, "y": {"z": 2}}, "b": [1], "c": {"k": 3}}, reads)
    assert p["a"]["x"] == 1 and p.get("b") == [1] and p.get("missing", 7) == 7
    dict(p["c"])  # a mapping taken whole
    copy.deepcopy(p)["a"]["y"]["z"]  # a deep copy still records
    assert config.read_leaves(reads) == ["a.x", "a.y.z", "b", "c"]
    assert params_mismatch(["a", "b"], config.read_leaves(reads)) == (["c"], [])
    assert params_mismatch(["a.x", "a.y", "b", "c.k", "d"], ["a.x", "a.y.z", "b", "c"]) == (["c"], ["d"])
    (tmp_path / "t-1.json").write_text(json.dumps({"module": "t", "argv": [], "reads": ["a.x"]}))
    (tmp_path / "t-2.json").write_text(json.dumps({"module": "t", "argv": [], "reads": ["b"]}))
    assert audited_reads(tmp_path) == {"t": {"a.x", "b"}}
