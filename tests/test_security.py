"""Security defaults a user relies on: no remote code, no pickled checkpoints, servers on localhost only.

Static checks over the package, the docs and the test/benchmark scripts (what a reviewer would grep for), plus
the loader's own refusal of non-safetensors checkpoints."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import REPO

SOURCES = sorted((REPO / "src").rglob("*.py"))
SCRIPTS = [p for p in sorted((REPO / "tests").glob("*.py")) + sorted((REPO / "benchmarks").glob("*.py"))
           if p.name != Path(__file__).name]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            yield node


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def test_no_remote_code_anywhere():
    for path in SOURCES:
        for call in _calls(path):
            for kw in call.keywords:
                if kw.arg == "trust_remote_code":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, f"{path}:{call.lineno}"
        text = path.read_text()
        assert not re.search(r"['\"]trust_remote_code['\"]\s*:\s*True", text), path


def test_torch_load_only_with_weights_only_and_no_pickle_saves():
    for path in SOURCES:
        for call in _calls(path):
            name = _name(call)
            if (name == "load" and isinstance(call.func, ast.Attribute)
                    and getattr(call.func.value, "id", "") == "torch"):
                kw = {k.arg: k.value for k in call.keywords}
                assert "weights_only" in kw and getattr(kw["weights_only"], "value", None) is True, \
                    f"{path}:{call.lineno}: torch.load without weights_only=True"
            if (name == "save" and isinstance(call.func, ast.Attribute)
                    and getattr(call.func.value, "id", "") == "torch"):
                pytest.fail(f"{path}:{call.lineno}: torch.save writes a pickle; use safetensors")
            assert name not in ("dump", "dumps") or getattr(getattr(call.func, "value", None), "id", "") != "pickle", \
                f"{path}:{call.lineno}: pickle"
            for kw in call.keywords:
                if kw.arg == "safe_serialization":
                    assert getattr(kw.value, "value", None) is True, f"{path}:{call.lineno}"


@pytest.mark.parametrize("path", SOURCES + SCRIPTS + [REPO / "README.md", REPO / ".ci" / "run"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_servers_bind_localhost_only(path):
    text = path.read_text()
    assert "0.0.0.0" not in text, f"{path}: binds every interface"
    for match in re.finditer(r"--host[ =]+(\S+)", text):
        assert match.group(1).strip("\"',") in ("127.0.0.1", "localhost"), f"{path}: --host {match.group(1)}"


def test_loader_refuses_a_pickled_checkpoint(tmp_path):
    """A directory holding only a pickle-era `pytorch_model.bin` is not loaded (and never unpickled)."""
    from xstilts.train.modeling import load_encoder

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_encoder(tmp_path)
