"""The project's fixed shape: dependencies agree, one name per stage everywhere, DVC set up offline."""

from __future__ import annotations

import re

import yaml

from .conftest import REPO


def _name(req: str) -> str:
    return re.split(r"[=<>!~ ]", req, maxsplit=1)[0].lower()


def test_conda_yaml_lists_the_same_dependencies_as_pyproject():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = yaml.safe_load((REPO / "conda.yaml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert sorted(project) == sorted(p for p in pip if not p.startswith("-e"))
    assert "torch==2.13.0" in project and "mlflow==3.17.2" in project


def test_one_name_per_stage():
    dvc_stages = set(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])
    entries = set(yaml.safe_load((REPO / "MLproject").read_text())["entry_points"])
    modules = {p.stem for p in (REPO / "src" / "xstilts" / "stages").glob("*.py") if p.stem != "__init__"}
    assert dvc_stages == entries == modules
    for name, entry in yaml.safe_load((REPO / "MLproject").read_text())["entry_points"].items():
        assert entry["command"].startswith(f"python -m xstilts.stages.{name}")


def test_dvc_initialised_with_analytics_off():
    cfg = (REPO / ".dvc" / "config").read_text()
    assert re.search(r"analytics\s*=\s*false", cfg)
