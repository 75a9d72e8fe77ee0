"""Tests of xstilts.report.compute_report, the pure computation behind build_report, on a hand-made results table.

Two intermediate tasks x three sizes (the third is the natural size, "full"), one seed, the baseline control, one
target task (xnli) with one adversary, English plus one zero-shot language. The zero-shot degradations are chosen
so that the within-task numbers have a closed form: with log2(size) equally spaced by log2 10 inside each task,

* anli (100, 1000, 10000): degradation 1, 2, 6 (task mean 3: deviations -2, -1, 3);
* mnli (200, 2000, 20000): degradation 3, 5, 4 (task mean 4: deviations -1, 1, 0);

so the OLS slope with task fixed effects is sum(dx dy) / sum(dx^2) = 6 log2 10 / (4 log2^2 10) = 1.5 / log2 10
points per doubling, and the within-task Pearson r is 6 log2 10 / sqrt(4 log2^2 10 * 16) = 0.75. English rows
get degradations that would change both if they were (wrongly) counted.
"""

from __future__ import annotations

import builtins
import io
import json
import math
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import xstilts.adversaries  # noqa: F401  (imported before the I/O guard: adversary_catalogue imports it lazily)
from xstilts import report as R
from xstilts.report import figures as F

TARGET, ADVERSARY, ZERO_SHOT = "xnli", "char_noise", "ea"
CLEAN_SCORE = {"en": 80.0, ZERO_SHOT: 70.0}
CELLS = [  # arm, train_size, size_label, zero-shot degradation, English degradation
    ("baseline", 0, "-", 2.5, 9.0),
    ("anli", 100, "100", 1.0, 9.0),
    ("anli", 1000, "1000", 2.0, 1.0),
    ("anli", 10000, "full", 6.0, 0.0),
    ("mnli", 200, "200", 3.0, 0.0),
    ("mnli", 2000, "2000", 5.0, 7.0),
    ("mnli", 20000, "full", 4.0, 2.0),
]
WITHIN_SLOPE = 1.5 / math.log2(10)  # per doubling (x = log2 size)
WITHIN_PEARSON = 0.75
PARAMS = {"study": {"source": "synthetic"},
          "report": {"seed": 1, "n_bootstrap": 20, "n_permutations": 19, "alpha": 0.05, "correction": "holm"}}
PROVENANCE = {"git_commit": "abc123", "params_sha256": "0" * 64, "data": [], "runs": []}
JSON_KEYS = {"schema", "params", "inputs", "design", "answer", "baseline", "baseline_checks", "adversaries",
             "comparison", "degradation", "correlations", "families", "metrics", "figures", "provenance", "health",
             "sensitivity", "secondary", "units", "variants"}


def make_results() -> pd.DataFrame:
    rows = []
    for arm, size, label, deg_zero_shot, deg_en in CELLS:
        for lang, clean in CLEAN_SCORE.items():
            deg = deg_zero_shot if lang == ZERO_SHOT else deg_en
            common = {"arm": arm, "train_size": size, "size_label": label, "seed": 1, "target_task": TARGET,
                      "language": lang, "metric": "accuracy", "chance": 100.0 / 3.0, "n": 50,
                      "target_run_id": f"t-{arm}-{label}", "intermediate_run_id": "" if arm == "baseline"
                      else f"i-{arm}-{label}"}
            rows.append({**common, "subset": "clean", "score": clean, "clean_score": clean})
            rows.append({**common, "subset": ADVERSARY, "score": clean - deg, "clean_score": clean})
    return pd.DataFrame(rows)


@pytest.fixture
def no_io(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fail on any file opened, written, renamed or created, and on any figure drawn."""

    def refuse(what: str):
        def fail(*args, **kwargs):
            raise AssertionError(f"compute_report called {what}{args!r}")
        return fail

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "open", refuse("open"))
    monkeypatch.setattr(io, "open", refuse("io.open"))
    for name in ("replace", "rename", "mkdir", "makedirs", "remove", "unlink", "fdopen"):
        monkeypatch.setattr(os, name, refuse(f"os.{name}"))
    monkeypatch.setattr(tempfile, "mkstemp", refuse("tempfile.mkstemp"))
    monkeypatch.setattr(F, "Figure", refuse("Figure"))


def test_compute_report_is_pure_and_has_the_report_keys(no_io: None) -> None:
    results = make_results()
    before = results.copy()
    out = R.compute_report(results, params=PARAMS, provenance=PROVENANCE)
    pd.testing.assert_frame_equal(results, before)  # the input is not modified
    assert set(out) == JSON_KEYS | {"tables"}
    assert set(out["tables"]) == {"results", "results_all", "ctrl", "model_deg", "means", "health",
                                  "variant_results"}
    assert all(isinstance(t, pd.DataFrame) for t in out["tables"].values())
    report = {k: v for k, v in out.items() if k != "tables"}
    json.dumps(report, allow_nan=False)  # already JSON: NaN became None
    assert report["provenance"] == PROVENANCE and report["figures"] == dict(sorted(R.FIGURES.items()))
    assert report["inputs"]["arms"] == ["baseline", "anli", "mnli"]
    assert report["inputs"]["zero_shot_languages"] == [ZERO_SHOT] and report["inputs"]["n_prediction_rows"] == 0
    assert report["design"]["examples_resampled"] is False and report["design"]["seeds_per_cell"] == [1, 1]
    again = R.compute_report(results, params=PARAMS, provenance=PROVENANCE)
    assert {k: v for k, v in again.items() if k != "tables"} == report  # deterministic


def test_within_task_slope_and_correlation_computed_by_hand(no_io: None) -> None:
    out = R.compute_report(make_results(), params=PARAMS, provenance=PROVENANCE)
    assert list(out["correlations"]) == ["pooled", f"{TARGET}/{ADVERSARY}", f"{TARGET}/{ADVERSARY}/{ZERO_SHOT}"]
    for key in out["correlations"]:  # one target, one adversary, one zero-shot language: every key is the same
        within = out["correlations"][key]["absolute"]["within"]
        assert within["n"] == 6 and within["n_groups"] == 2 and within["reason"] is None
        assert within["slope"] == pytest.approx(WITHIN_SLOPE, abs=1e-9)
        assert within["pearson"] == pytest.approx(WITHIN_PEARSON, abs=1e-9)
        fe = within["model"]
        assert fe["method"] == "OLS with task fixed effects" and fe["n"] == 6 and fe["n_groups"] == 2
        assert fe["slope"] == pytest.approx(WITHIN_SLOPE, abs=1e-9)
        # one seed, no predictions: every bootstrap replicate is the data itself
        assert within["slope_ci"] == pytest.approx([WITHIN_SLOPE, WITHIN_SLOPE], abs=1e-9)
        across = out["correlations"][key]["absolute"]["across"]
        assert across["n"] == 2 and across["reason"] == "n=2 < 3"  # two tasks at "full": too few points
    metrics = out["metrics"]
    assert metrics["pooled.within.fe_slope_per_doubling"] == pytest.approx(WITHIN_SLOPE, abs=1e-9)
    assert metrics["pooled.within.pearson"] == pytest.approx(WITHIN_PEARSON, abs=1e-9)
    assert metrics["pooled.within.n"] == 6.0 and "pooled.across.pearson" not in metrics  # NaN is left out
    assert metrics["baseline.zero_shot.clean"] == 70.0 and metrics["baseline.en.clean"] == 80.0
    assert metrics["baseline.zero_shot.degradation"] == 2.5
    # per doubling: 1.5 / log2 10 = 0.45 points
    assert f"{R.fmt(WITHIN_SLOPE)} points per doubling" in out["answer"]
    rows = {(r["arm"], r["size_label"], r["key"]): r for r in out["degradation"]}
    assert rows[("anli", "1000", "pooled")]["absolute"] == pytest.approx(2.0)
    assert rows[("anli", "1000", "pooled")]["relative"] == pytest.approx(2.0 / 70.0)
    assert rows[("mnli", "full", f"{TARGET}/{ADVERSARY}")]["absolute"] == pytest.approx(4.0)
    assert rows[("baseline", "-", "pooled")]["absolute"] == pytest.approx(2.5)


def test_build_report_writes_what_compute_report_returns(tmp_path: Path) -> None:
    results = make_results()
    computed = R.compute_report(results, params=PARAMS, provenance=PROVENANCE)
    computed.pop("tables")
    written = R.build_report(results, PROVENANCE, PARAMS, tmp_path)
    assert written == computed
    assert json.loads((tmp_path / "correlation.json").read_text()) == computed
    assert (tmp_path / "metrics.json").read_text() == R.dumps(computed["metrics"])
