"""The package's layers, read top-down, never import upwards: core -> data / formats / adversaries -> train / eval
-> analysis / report -> pipeline -> stages -> cli (derived from every import statement, lazy ones too)."""

from __future__ import annotations

from .conftest import REPO
from .devtools import _imports

SRC = REPO / "src"
LAYERS = {  # sub-package -> its floor; a module may import its own floor and the floors below it
    "core": 0, "data": 1, "formats": 1, "adversaries": 1, "train": 2, "eval": 2, "analysis": 3, "report": 3,
    "pipeline": 4, "stages": 5, "cli": 6, "rehearsal": 6,
}
# imports that reach up on purpose: validation and manual-input checks of params.yaml consult the registries and
# the hub tables they validate against (lazily, inside the check)
ALLOWED = {
    ("core.config", "adversaries"), ("core.config", "data"), ("core.inputs", "data"),
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_module_imports_a_higher_layer():
    problems = []
    for file in sorted((SRC / "xstilts").rglob("*.py")):
        rel = file.relative_to(SRC).with_suffix("")
        module = ".".join(p for p in rel.parts if p != "__init__")
        here = _layer(module)
        if here == "__init__":
            continue
        for imported in sorted(_imports(SRC, file, "xstilts")):
            there = _layer(imported)
            if there == "__init__" or (module.removeprefix("xstilts."), there) in ALLOWED or \
                    (".".join(module.split(".")[1:3]), there) in ALLOWED:
                continue
            if LAYERS[there] > LAYERS[here]:
                problems.append(f"{module} (floor {LAYERS[here]}) imports {imported} (floor {LAYERS[there]})")
    assert not problems, "\n".join(problems)


def test_every_subpackage_has_a_floor():
    subs = {p.name for p in (SRC / "xstilts").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subs <= set(LAYERS), subs - set(LAYERS)
