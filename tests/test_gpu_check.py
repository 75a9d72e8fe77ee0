"""The GPU check (benchmarks/gpu.py) runs end to end on CPU with a tiny XLM-R, through the project's own
`training.fit`, and writes the JSON that `xstilts plan` reads as a measured throughput."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

from xstilts import cli
from xstilts.cli import deep_merge
from xstilts.cli import plan as planning

from .conftest import REPO


def _gpu_module():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu") / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XSTILTS_")}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--tiny", "--out", str(out)],
                          cwd=REPO, env=env | {"PYTHONPATH": str(REPO / "src"), "CUDA_VISIBLE_DEVICES": ""},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "format" in proc.stdout and "steps/s" in proc.stdout and "MFU" in proc.stdout
    return json.loads(out.read_text())


def test_tiny_run_measures_every_format_through_fit(tiny_result):
    r = tiny_result
    assert r["tiny"] is True and r["device"] == "cpu" and r["peak_bf16_tflops"] is None
    assert set(r["results"]) == {"pair", "span", "tagging"}
    cfg = r["config"]
    for _fmt, m in r["results"].items():
        assert m["steps"] == 2 and m["steps_per_second"] > 0 and m["examples_per_second"] > 0
        assert m["examples_per_second"] == pytest.approx(m["steps_per_second"] * m["batch_size"] * m["grad_accum"])
        assert m["flops_per_token"] == 6 * m["non_embedding_parameters"] + 12 * cfg["num_hidden_layers"] * \
            m["max_length"] * cfg["hidden_size"]
        assert m["mfu"] is None and m["runtime"]["runtime.attention"] == "sdpa" and m["final_loss"] > 0


def test_xlmr_large_is_built_from_its_config_with_the_published_size():
    import torch

    gpu = _gpu_module()
    model = gpu.build_model(gpu.XLMR_LARGE, 3, torch.device("meta"))  # shapes only, no memory
    assert sum(p.numel() for p in model.encoder.parameters()) == 558_840_832  # 559,890,432 with the pooler
    assert gpu.count_parameters(model)[1] == 558_843_907 - 250002 * 1024 - 514 * 1024 - 1024 - 2048
    shapes = gpu.paper_shapes()  # from profiles/paper.yaml (jiant's settings)
    assert [(s["batch_size"], s["grad_accum"], s["max_length"]) for s in shapes.values()] == [
        (4, 8, 256), (4, 4, 384), (4, 8, 256)]


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.0),
                                        ("NVIDIA H200", 989.4), ("NVIDIA A100-SXM4-80GB", 312.0),
                                        ("NVIDIA A10", 125.0), ("Tesla V100-SXM2-16GB", None)])
def test_peak_flops_by_device_name(name, peak):
    assert _gpu_module().peak_tflops(name)[0] == peak


@pytest.fixture
def paper(params) -> dict:
    return deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))


def _measured(root, result: dict, **changes) -> None:
    data = {**copy.deepcopy(result), **changes}
    path = root / planning.MEASURED
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_plan_uses_a_recorded_measurement_and_says_so(paper, tiny_result, tmp_path, monkeypatch, capsys):
    assumed, note = planning.assumptions_for(tmp_path)
    assert not assumed.measured_on and "no benchmarks/gpu_throughput.json" in note
    _measured(tmp_path, tiny_result)  # a --tiny test run is not a measurement of XLM-R Large
    assumed, note = planning.assumptions_for(tmp_path)
    assert not assumed.measured_on and "--tiny" in note
    result = copy.deepcopy(tiny_result)
    for fmt in result["results"]:
        result["results"][fmt]["examples_per_second"] = 60.0  # the assumed figure: the same estimate
    _measured(tmp_path, result, tiny=False, device="NVIDIA H100 80GB HBM3", date="2026-12-01")
    measured, note = planning.assumptions_for(tmp_path)
    assert note == "" and measured.rates == {"pair": 60.0, "span": 60.0, "tagging": 60.0}
    assert "NVIDIA H100 80GB HBM3" in measured.measured_on
    same = planning.plan(copy.deepcopy(paper), measured)
    assert same["gpu_hours"] == pytest.approx(planning.plan(copy.deepcopy(paper))["gpu_hours"])
    assert "throughput MEASURED on NVIDIA H100 80GB HBM3" in planning.render(same)
    result["results"]["span"]["examples_per_second"] = 30.0  # span (QA) twice as slow: more hours
    _measured(tmp_path, result, tiny=False, device="NVIDIA H100 80GB HBM3")
    slower = planning.plan(copy.deepcopy(paper), planning.assumptions_for(tmp_path)[0])
    assert slower["gpu_hours"] > same["gpu_hours"]
    given, _ = planning.assumptions_for(tmp_path, 120.0)  # --throughput wins over the file
    assert given.given and not given.rates and planning.plan(copy.deepcopy(paper), given)["gpu_hours"] == \
        pytest.approx(same["gpu_hours"] / 2, rel=1e-9)
    (tmp_path / planning.MEASURED).write_text("{not json")
    with pytest.raises(ValueError, match="gpu_throughput.json: not a benchmarks/gpu.py result"):
        planning.assumptions_for(tmp_path)
    # through the CLI
    _measured(tmp_path, result, tiny=False, device="NVIDIA H100 80GB HBM3")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(paper))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.setenv("XSTILTS_ROOT", str(tmp_path))
    cli.main(["plan"])
    assert "throughput MEASURED on NVIDIA H100 80GB HBM3" in capsys.readouterr().out
