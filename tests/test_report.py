"""Tests of xstilts.report (built from small synthetic results/predictions tables) and xstilts.report.provenance.

Two fixtures: a results-only table whose every number is known in closed form (seeds-only bootstrap), and a paired
study whose results table is derived from per-example predictions (tests/report_data.py), which exercises the
consistency check, the example-level bootstrap, seqeval F1 from gold tags and a planted within-task slope.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from xstilts import report as R
from xstilts.core import vcs
from xstilts.core.io import md5_file
from xstilts.report import provenance as P
from xstilts.report import published as PUB

from . import report_data as RD

FIXTURES = Path(__file__).parent / "fixtures" / "report"

# ---- the synthetic results table: every number below is known in closed form ----------------------
TARGETS = {"xnli": ("accuracy", 100.0 / 3.0, 80.0, 1.0), "panx": ("f1", math.nan, 70.0, 3.0)}
#           target: (metric, chance, English clean score, extra degradation of the target)
LANG_DROP = {"en": 0.0, "ea": 10.0, "eb": 20.0}  # clean-score drop per language
LANG_EXTRA = {"en": 0.5, "ea": 2.0, "eb": 4.0}  # extra degradation per language
TASK_INTERCEPT = {"anli": 0.0, "mnli": 4.0, "qqp": -2.0}
FULL_SIZE = {"anli": 2400, "mnli": 3200, "qqp": 1000}
SIZES = (200, 600)
SLOPE = 1.5  # points of degradation per unit of ln(train size), identical in every task
PER_DOUBLING = SLOPE * math.log(2)  # the report's slopes are on log2(size): points per doubling
SEED_NOISE = {1: 0.5, 2: -0.5}  # cancels in the seed mean
MATCHED_CLEAN_OFFSET = 1.0  # matched clean examples score 1 point above the whole clean set
ADVERSARY = "char_noise"


def clean_score(arm: str, target: str, lang: str) -> float:
    base = TARGETS[target][2] - LANG_DROP[lang]
    return 40.0 - LANG_DROP[lang] / 4 if arm == "random" else base


def degradation(arm: str, size: int, target: str, lang: str, seed: int) -> float:
    if arm == "baseline":
        return 5.0 + LANG_EXTRA[lang]
    if arm == "random":
        return 2.0
    return (TASK_INTERCEPT[arm] + SLOPE * math.log(size) + LANG_EXTRA[lang] + TARGETS[target][3]
            + SEED_NOISE[seed])


def models() -> list[tuple[str, int, str]]:
    out = [("baseline", 0, "-"), ("random", 0, "-")]
    for task, full in FULL_SIZE.items():
        out += [(task, s, str(s)) for s in SIZES] + [(task, full, "full")]
    return out


def make_results() -> pd.DataFrame:
    rows = []
    for arm, size, label in models():
        for seed in SEED_NOISE:
            inter_id = "" if arm in R.CONTROL_ARMS else f"i-{arm}-{label}-{seed}"
            for target, (metric, chance, _, _) in TARGETS.items():
                for lang in LANG_DROP:
                    clean = clean_score(arm, target, lang)
                    matched = clean + MATCHED_CLEAN_OFFSET
                    common = {"arm": arm, "train_size": size, "size_label": label, "seed": seed,
                              "target_task": target, "language": lang, "metric": metric, "n": 300,
                              "chance": chance, "target_run_id": f"t-{arm}-{label}-{seed}-{target}",
                              "intermediate_run_id": inter_id}
                    rows.append({**common, "subset": "clean", "score": clean, "clean_score": clean})
                    score = matched - degradation(arm, size, target, lang, seed)
                    rows.append({**common, "subset": ADVERSARY, "score": score, "clean_score": matched})
    return pd.DataFrame(rows)


PARAMS = yaml.safe_load((FIXTURES / "params.yaml").read_text())
SMALL = {"study": {"source": "synthetic"},
         "report": {"seed": 1, "n_bootstrap": 20, "n_permutations": 19, "alpha": 0.05, "correction": "holm"}}
REFERENCE = PUB.load_reference(Path(__file__).resolve().parents[1] / PUB.REFERENCE_PATH)
OUTPUTS = ("correlation.json", "metrics.json", "headline.json", "correlation.md", R.HTML, R.PLOTS_CSV,
           *R.FIGURES.values())


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return make_results()


@pytest.fixture(scope="module")
def built(results: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("report")
    prov = {"git_commit": "abc123", "params_sha256": P.params_hash(FIXTURES / "params.yaml"),
            "data": P.data_hashes(P.read_dvc_lock(FIXTURES / "dvc.lock")), "runs": P.run_table(results)}
    return R.build_report(results, prov, PARAMS, out, reference=REFERENCE), out


@pytest.fixture(scope="module")
def study() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return RD.make_study()


@pytest.fixture(scope="module")
def built_paired(study: tuple, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    results, preds, gold = study
    out = tmp_path_factory.mktemp("paired")
    prov = {"git_commit": "abc123", "params_sha256": "0" * 64, "data": [], "runs": P.run_table(results)}
    return R.build_report(results, prov, PARAMS, out, predictions=preds, gold=RD.gold_loader(gold),
                          reference=REFERENCE), out


# ---- report ---------------------------------------------------------------------------------------


def test_files_and_sections(built: tuple[dict, Path]) -> None:
    _, out = built
    for name in OUTPUTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    assert not list(out.glob(".*")) and not list((out / "plots").glob(".*")), "temporary files left behind"
    md = (out / "correlation.md").read_text()
    for heading in ("## Answer", "## Details", "## Methods", "## Baseline zero-shot scores", "## Adversaries",
                    "## Comparison with the published numbers", "## Degradation",
                    "## Correlation with log2(train size)", "## Models with task effects (slopes per doubling)",
                    "## Per-language tests and multiple comparisons", "## Key figures", "## More figures",
                    "## Model health", "## Sensitivity of the primary slope (points per doubling)",
                    "## Robustness separated from clean accuracy (slopes per doubling)", "## Provenance"):
        assert heading in md
    assert "](degradation_vs_size.png)" in md and "](zero_shot_heatmap.png)" in md and "](seed_spread.png)" in md
    assert (out / "degradation_vs_size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "`data/prepared`" in md and "1a2b3c4d5e6f70819293a4b5c6d7e8f9.dir" in md
    [cat] = built[0]["adversaries"]
    assert cat["adversary"] == ADVERSARY and cat["kind"] == "perturbation" and cat["label"] == "kept"
    assert set(cat["examples"]) == {"panx", "xnli"} and "| `char_noise` | perturbation | its clean source" in md


def test_degradation_matches_hand_computation(built: tuple[dict, Path]) -> None:
    report, out = built
    on_disk = json.loads((out / "correlation.json").read_text())
    assert on_disk == report
    rows = {(r["arm"], r["size_label"], r["key"]): r for r in report["degradation"]}
    zero_shot = ["ea", "eb"]
    for arm, size, label in models():
        for target in TARGETS:
            absolute = np.mean([np.mean([degradation(arm, size, target, lg, s) for lg in zero_shot])
                                for s in SEED_NOISE])
            relative = np.mean([np.mean([degradation(arm, size, target, lg, s)
                                         / (clean_score(arm, target, lg) + MATCHED_CLEAN_OFFSET)
                                         for lg in zero_shot]) for s in SEED_NOISE])
            row = rows[(arm, label, f"{target}/{ADVERSARY}")]
            assert row["absolute"] == pytest.approx(absolute, abs=1e-8)
            assert row["relative"] == pytest.approx(relative, abs=1e-8)
            assert row["n_seeds"] == 2
    # one spelled out: anli at 200 examples on xnli = 0 + 1.5 ln 200 + (2 + 4)/2 + 1 (seed noise cancels)
    assert rows[("anli", "200", f"xnli/{ADVERSARY}")]["absolute"] == pytest.approx(1.5 * math.log(200) + 4.0)
    # pooled = mean over the two targets (extra degradation 1 and 3)
    assert rows[("anli", "200", "pooled")]["absolute"] == pytest.approx(1.5 * math.log(200) + 3.0 + 2.0)
    # the per-adversary key (the adversary is used by both targets): the same mean over targets
    assert rows[("anli", "200", f"all/{ADVERSARY}")]["absolute"] == pytest.approx(1.5 * math.log(200) + 3.0 + 2.0)


def test_correlations_have_known_answers(built: tuple[dict, Path]) -> None:
    report, _ = built
    corr = report["correlations"]
    assert list(R.ordered_keys(corr)) == ["pooled", f"all/{ADVERSARY}", f"panx/{ADVERSARY}", f"panx/{ADVERSARY}/ea",
                                          f"panx/{ADVERSARY}/eb", f"xnli/{ADVERSARY}", f"xnli/{ADVERSARY}/ea",
                                          f"xnli/{ADVERSARY}/eb"]
    within = corr["pooled"]["absolute"]["within"]
    # every task has the same slope in ln(size), so the fixed-effects fit is exact
    assert within["n"] == 9 and within["n_groups"] == 3
    assert within["pearson"] == pytest.approx(1.0) and within["spearman"] == pytest.approx(1.0)
    assert within["kendall"] == pytest.approx(1.0)
    assert within["slope"] == pytest.approx(PER_DOUBLING)
    assert (within["model"]["slope"] == pytest.approx(PER_DOUBLING)
            and within["model"]["se"] == pytest.approx(0, abs=1e-9))
    assert within["model"]["method"] == "OLS with task fixed effects"
    # no predictions: only the seeds are resampled; their +-0.5 noise moves every cell, so the CI has width
    assert report["design"]["examples_resampled"] is False and report["design"]["seeds_per_cell"] == [2, 2]
    lo, hi = within["slope_ci"]
    assert lo < PER_DOUBLING < hi and hi - lo > 0.1
    assert within["pearson_p"] < 0.05
    across = corr["pooled"]["absolute"]["across"]
    x = [math.log2(FULL_SIZE[t]) for t in sorted(FULL_SIZE)]
    y = [TASK_INTERCEPT[t] + SLOPE * math.log(FULL_SIZE[t]) for t in sorted(FULL_SIZE)]
    assert across["n"] == 3 and across["n_groups"] is None
    assert across["pearson"] == pytest.approx(sps.pearsonr(x, y).statistic, abs=1e-8)
    assert across["spearman"] == pytest.approx(1.0)
    assert across["slope"] == pytest.approx(sps.linregress(x, y).slope, abs=1e-8)
    metrics = json.loads((built[1] / "metrics.json").read_text())
    assert metrics["pooled.within.pearson"] == pytest.approx(1.0)
    assert metrics["pooled.within.slope_per_doubling"] == pytest.approx(PER_DOUBLING)
    assert metrics["pooled.within.fe_slope_per_doubling"] == pytest.approx(PER_DOUBLING)
    assert metrics["pooled.across.spearman"] == pytest.approx(1.0)
    assert "pooled.relative.within.pearson" in metrics


def test_metrics_are_flat_floats_and_baseline_numbers(built: tuple[dict, Path]) -> None:
    metrics = json.loads((built[1] / "metrics.json").read_text())
    assert metrics and all(isinstance(k, str) and isinstance(v, float) for k, v in metrics.items())
    # baseline zero-shot clean: xnli (70 + 60)/2, panx (60 + 50)/2 -> 60
    assert metrics["baseline.zero_shot.clean"] == pytest.approx(60.0)
    assert metrics["baseline.xnli.zero_shot.clean"] == pytest.approx(65.0)
    assert metrics["baseline.en.clean"] == pytest.approx(75.0)
    assert metrics["baseline.zero_shot.degradation"] == pytest.approx(5.0 + 3.0)
    # the DVC metrics file is the headline subset: a short table for `dvc metrics show`
    headline = json.loads((built[1] / "headline.json").read_text())
    assert headline == {short: metrics[key] for short, key in R.HEADLINE_KEYS.items() if key in metrics}
    assert headline["slope"] == metrics["pooled.within.fe_slope_per_doubling"] and len(headline) <= 16
    assert metrics["random.zero_shot.clean"] == pytest.approx(40.0 - 15.0 / 4)


def test_baseline_checks_and_table(built: tuple[dict, Path]) -> None:
    report, out = built
    checks = report["baseline_checks"]
    assert checks["xnli"]["above_chance"] is True
    assert checks["panx"]["above_chance"] is None  # f1: no chance level
    for target in TARGETS:
        assert checks[target]["english_highest"] is True
        assert checks[target]["adversarial_below_clean"] is True
        assert checks[target]["above_random"] is True
        assert checks[target]["n_adversarial"] == 3
    row = next(r for r in report["baseline"] if r["arm"] == "baseline" and r["target_task"] == "xnli"
               and r["language"] == "eb" and r["subset"] == ADVERSARY)
    assert row["score"] == pytest.approx(60.0 + 1.0 - 9.0) and row["clean_score"] == pytest.approx(61.0)
    md = (out / "correlation.md").read_text()
    assert "above chance ✓" in md and "English highest ✓" in md and "above chance n/a" in md
    assert "| eb | 60.0 | 52.0 (9.0) |" in md


def test_failed_check_is_marked(results: pd.DataFrame, tmp_path: Path) -> None:
    bad = results.copy()
    sel = (bad["arm"] == "baseline") & (bad["target_task"] == "xnli") & (bad["language"] == "eb") \
        & (bad["subset"] == "clean")
    bad.loc[sel, ["score", "clean_score"]] = 20.0  # below the 33.3% chance level
    report = R.build_report(bad, {}, SMALL, tmp_path)
    assert report["baseline_checks"]["xnli"]["above_chance"] is False
    assert "above chance ✗" in (tmp_path / "correlation.md").read_text()


def test_answer_is_generated_from_numbers(built: tuple[dict, Path]) -> None:
    report, out = built
    answer = report["answer"]
    within = report["correlations"]["pooled"]["absolute"]["within"]
    fe = within["model"]
    assert answer.startswith("Yes: within an intermediate task")  # exact positive slope
    assert f"{R.fmt(fe['slope'])} points per doubling" in answer
    assert f"95% CI {R.ci_per_doubling(fe['ci'], 'absolute')}" in answer
    assert f"permutation p = {R.fmt_p(within['pearson_p'])}" in answer
    assert f"Pearson r = {R.fmt(within['pearson'])}" in answer and "Kendall τ" in answer
    assert "9 models of 3 tasks" in answer and "(n = 3, confounded with task type)" in answer
    assert "bootstrap over models within task, seeds and test examples" in answer  # the full-variance interval
    assert "Measurement noise alone" in answer and "is not the slope's uncertainty" in answer
    assert "Holm correction over the 4 target task × adversary × language tests" in answer
    lead, bullets = answer.split("\n\n", 1)  # a lead paragraph, then bullets
    assert "\n" not in lead and all(line.startswith("- **") for line in bullets.splitlines())
    assert answer in (out / "correlation.md").read_text()
    details = (out / "correlation.md").read_text().split("## Details")[1]
    assert "**Within tasks**" in details and "**Across tasks**" in details


def test_rebuild_is_byte_identical(results: pd.DataFrame, built: tuple[dict, Path], tmp_path: Path) -> None:
    report, out = built
    again = R.build_report(results, report["provenance"], PARAMS, tmp_path, reference=REFERENCE)
    assert again == report
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_missing_column_is_reported(results: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="clean_score"):
        R.build_report(results.drop(columns=["clean_score"]), {}, PARAMS, tmp_path)


def test_formatting_helpers() -> None:
    assert R.fmt(-0.0001) == "0.00" and R.fmt(float("nan")) == "n/a" and R.fmt(None) == "n/a"
    assert R.fmt_p(0.0004) == "<0.001" and R.fmt_p(0.04567) == "0.046"
    assert R.dumps({"b": float("nan"), "a": np.float64(1.5)}) == '{\n  "a": 1.5,\n  "b": null\n}\n'


# ---- provenance -----------------------------------------------------------------------------------


def test_read_dvc_lock_and_data_hashes() -> None:
    lock = P.read_dvc_lock(FIXTURES / "dvc.lock")
    assert set(lock["stages"]) == {"prepare", "subsample", "evaluate"}
    assert lock["stages"]["subsample"]["params"]["params.yaml"]["subsample.seed"] == 11
    assert P.data_hashes(lock) == [
        {"stage": "prepare", "path": "data/prepared", "md5": "1a2b3c4d5e6f70819293a4b5c6d7e8f9.dir",
         "size": 123456},
        {"stage": "subsample", "path": "data/subsampled", "md5": "99887766554433221100ffeeddccbbaa.dir",
         "size": 45678},
    ]
    assert [d["path"] for d in P.data_hashes(lock, prefixes=("results/",))] == ["results/scores"]


def test_params_hash() -> None:
    expected = hashlib.sha256((FIXTURES / "params.yaml").read_bytes()).hexdigest()
    assert P.params_hash(FIXTURES / "params.yaml") == expected


def test_run_table(results: pd.DataFrame) -> None:
    runs = P.run_table(results)
    assert len(runs) == len(models()) * 2 * len(TARGETS)
    assert runs == sorted(runs, key=lambda r: [r[c] for c in P.RUN_COLUMNS])
    assert {"arm": "anli", "size_label": "full", "seed": 2, "target_task": "xnli",
            "target_run_id": "t-anli-full-2-xnli", "intermediate_run_id": "i-anli-full-2"} in runs


def test_git_commit_outside_and_inside_a_repository(tmp_path: Path) -> None:
    assert vcs.git_commit(tmp_path) == "unknown"
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org",
           "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f.txt").write_text("a\n")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    (tmp_path / "untracked.txt").write_text("x\n")
    assert vcs.git_commit(tmp_path) == head  # untracked files do not make it dirty
    (tmp_path / "f.txt").write_text("b\n")
    assert vcs.git_commit(tmp_path) == head + "+dirty"


def test_the_pipelines_own_outputs_do_not_make_the_commit_dirty(tmp_path: Path) -> None:
    """The pipeline rewrites its git-tracked outputs (metrics/, runs/, reports/, dvc.lock) while it runs; only a
    change to code or params is "dirty"."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org",
           "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "dvc.yaml", tmp_path / "dvc.yaml")
    files = ["dvc.lock", "metrics/target/baseline.json", "runs/tune.json", "reports/metrics.json", "params.yaml",
             "src/x.py"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("a\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    assert ({"dvc.lock", "metrics/target/", "runs/tune.json", "reports/metrics.json"}
            <= set(vcs.pipeline_outputs(tmp_path)))
    for f in files[:4]:
        (tmp_path / f).write_text("rewritten by a stage\n")
    assert vcs.git_commit(tmp_path) == head
    for f in files[4:]:
        (tmp_path / f).write_text("edited\n")
        assert vcs.git_commit(tmp_path) == head + "+dirty", f
        subprocess.run([*git, "checkout", "-q", "--", f], check=True)


def test_collect_and_verify(results: pd.DataFrame, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(FIXTURES / "dvc.lock", root / "dvc.lock")
    shutil.copy(FIXTURES / "params.yaml", root / "params.yaml")
    prov = P.collect(root, results)
    assert set(prov) == {"git_commit", "params_sha256", "data", "inputs", "runs", "sizes", "environment"}
    env = prov["environment"]  # the software and CPU the report was built with
    import torch

    assert env["packages"]["torch"] == torch.__version__ and env["python"] and env["cpu"]
    assert env["portable"] is (env["kernel_pins"]["MKL_CBWR"] == "COMPATIBLE")
    from xstilts.report.markdown import provenance_markdown

    md = provenance_markdown(prov)
    assert f"torch {torch.__version__}" in md and "| CPU |" in md
    full = results[results.size_label == "full"].groupby("arm").train_size.max()
    assert {s["task"]: s["train_examples"] for s in prov["sizes"]} == full.to_dict()
    task_dir = root / "data" / "prepared" / "intermediate" / prov["sizes"][0]["task"]
    task_dir.mkdir(parents=True)
    (task_dir / "task.json").write_text('{"source": "hub", "variant": "squad_v2"}')
    assert P.collect(root, results)["sizes"][0]["variant"] == "squad_v2"
    assert prov["git_commit"] == "unknown"
    assert prov["params_sha256"] == P.params_hash(FIXTURES / "params.yaml")
    assert [d["path"] for d in prov["data"]] == ["data/prepared", "data/subsampled", "results/scores"]

    out = root / "report"
    R.build_report(results, prov, SMALL, out)
    assert P.verify(out / "correlation.json", root / "dvc.lock") == []
    assert P.verify(out / "correlation.json", root / "dvc.lock", root=root) == []

    changed = (root / "dvc.lock").read_text().replace("99887766554433221100ffeeddccbbaa", "0" * 32)
    (root / "dvc.lock").write_text(changed)
    problems = P.verify(out / "correlation.json", root / "dvc.lock")
    assert len(problems) == 1 and problems[0].startswith("data/subsampled: md5")

    lock = yaml.safe_load(changed)
    lock["stages"]["prepare"]["outs"][0]["path"] = "data/renamed"
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    problems = P.verify(out / "correlation.json", root / "dvc.lock")
    assert any(p.startswith("data/prepared:") and "not in" in p for p in problems)
    assert any(p.startswith("data/renamed:") and "not recorded" in p for p in problems)


def test_read_dvc_lock_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        P.read_dvc_lock(tmp_path / "dvc.lock")
    (tmp_path / "dvc.lock").write_text("schema: '1.0'\nstages: {}\n")
    with pytest.raises(ValueError, match="schema"):
        P.read_dvc_lock(tmp_path / "dvc.lock")


# ---- paired study: predictions, example resampling, planted slope --------------------------------


def test_paired_report_recovers_the_planted_slope(built_paired: tuple[dict, Path]) -> None:
    report, out = built_paired
    design = report["design"]
    assert design["examples_resampled"] is True and design["n_test_sets"] == 4
    assert design["n_pairs"] == 4 * RD.N_EXAMPLES and design["seeds_per_cell"] == [2, 2]
    # xnli's degradation is the planted one in expectation: the fixed-effects slope recovers it
    fe = report["correlations"][f"xnli/{ADVERSARY}"]["absolute"]["within"]["model"]
    assert abs(fe["slope"] - RD.SLOPE_POINTS * math.log(2)) < 3 * fe["se"]  # planted per ln(size); x is log2
    assert fe["ci"][0] > 0
    assert report["answer"].startswith("Yes: within an intermediate task")
    assert "Measurement noise alone (the seeds-and-test-examples bootstrap" in report["answer"]
    # every intermediate point carries its own bootstrap interval around it
    rows = [r for r in report["degradation"] if r["arm"] != "baseline"]
    assert rows and all(r["absolute_ci_low"] <= r["absolute"] <= r["absolute_ci_high"] for r in rows)
    assert all(r["absolute_ci_high"] - r["absolute_ci_low"] > 0 for r in rows)
    assert all(r["absolute_ci_low"] is None for r in report["degradation"] if r["arm"] == "baseline")


def test_multiple_comparison_families(built_paired: tuple[dict, Path]) -> None:
    report, out = built_paired
    corr, fam = report["correlations"], report["families"]
    per_lang = fam["per_language"]["keys"]
    assert per_lang == [f"{t}/{ADVERSARY}/{lg}" for t in ("panx", "xnli") for lg in ("ea", "eb")]
    assert fam["per_language"]["m"]["absolute.within.pearson"] == 4
    assert fam["per_pair"]["keys"] == [f"panx/{ADVERSARY}", f"xnli/{ADVERSARY}"]
    for key in per_lang:
        for stat in ("pearson", "spearman", "kendall"):
            res = corr[key]["absolute"]["within"]
            assert res[f"{stat}_p"] <= res[f"{stat}_p_bh"] <= res[f"{stat}_p_holm"] <= 1.0
    assert "pearson_p_holm" not in corr["pooled"]["absolute"]["within"]  # the primary test is not corrected
    ps = [corr[k]["relative"]["across"]["kendall_p"] for k in per_lang]
    holm = np.minimum(1, np.maximum.accumulate(np.sort(ps) * np.arange(4, 0, -1)))
    assert sorted(corr[k]["relative"]["across"]["kendall_p_holm"] for k in per_lang) == pytest.approx(list(holm))
    md = (out / "correlation.md").read_text()
    assert f"| xnli · {ADVERSARY} · ea | absolute |" in md


def test_html_is_self_contained(built_paired: tuple[dict, Path]) -> None:
    _, out = built_paired
    page = (out / R.HTML).read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "http://" not in page.split("<body>")[0] and 'src="http' not in page and "<link" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(R.FIGURES)
    assert sorted(base64.b64decode(i) for i in images) == sorted((out / f).read_bytes() for f in R.FIGURES.values())
    for heading in ("Answer", "Methods", "Comparison with the published numbers", "Provenance"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<table>") >= 8 and "<strong>" in page and "<details><summary>" in page


def test_markdown_to_html_escapes_and_refuses_unknown_images() -> None:
    from xstilts.report import html as H

    assert H.inline("a <b> & `x<y>` **bold** *it*") == (
        "a &lt;b&gt; &amp; <code>x&lt;y&gt;</code> <strong>bold</strong> <em>it</em>")
    body = H.to_html("| a | b |\n| --- | --: |\n| 1 | 2 |\n\n- x\n- y\n\ntext\nmore", {})
    assert '<td class="r">2</td>' in body and "<li>x</li>" in body and "<p>text more</p>" in body
    with pytest.raises(ValueError, match="missing.png"):
        H.to_html("![alt](missing.png)", {})


def test_plots_csv(built: tuple[dict, Path]) -> None:
    _, out = built
    df = pd.read_csv(out / R.PLOTS_CSV)
    assert len(df) == 9 and set(df["arm"]) == set(FULL_SIZE)
    assert df["log2_train_size"].to_numpy() == pytest.approx(np.log2(df["train_size"].to_numpy()))
    row = df[(df["arm"] == "anli") & (df["size_label"] == "200")].iloc[0]
    assert row["absolute"] == pytest.approx(1.5 * math.log(200) + 3.0 + 2.0)
    assert row["absolute_ci_low"] <= row["absolute"] <= row["absolute_ci_high"]


# ---- paper comparison -----------------------------------------------------------------------------


def test_comparison_shows_published_numbers_and_is_marked_synthetic(built: tuple[dict, Path]) -> None:
    report, out = built
    comp = report["comparison"]
    assert comp["status"] == "not comparable (synthetic)"
    xnli = next(t for t in comp["targets"] if t["target"] == "xnli")
    assert xnli["published_task"] == "XNLI" and xnli["comparable"] == "not comparable (synthetic)"
    assert xnli["published"]["xlmr"] == {"claim": "lb_xlmr_xnli", "value": 79.2, "status": "verified",
                                         "source_key": "REM", "note": "leaderboard"}
    assert xnli["published"]["stilts"]["value"] == 80.0
    assert xnli["published"]["gain"]["value"] == pytest.approx(0.8)
    assert xnli["published"]["gain"]["status"] == "computed from verified rows"
    # ours: baseline clean mean over en/ea/eb = (80 + 70 + 60) / 3; intermediate arms score like the baseline
    assert xnli["baseline"] == pytest.approx(70.0)
    assert xnli["gains"] == pytest.approx({t: 0.0 for t in FULL_SIZE})
    assert comp["headline"]["published"]["value"] == 5.4 and comp["headline"]["published"]["status"] == "verified"
    md = (out / "correlation.md").read_text().split("## Comparison with the published numbers")[1].split("## ")[0]
    assert "**Status: not comparable (synthetic).**" in md
    assert "57.3 [VECO] (unverified)" not in md  # tatoeba is not a target of this fixture
    assert "avg_gain_squad" in md and "unverified" in md  # unmatched claims are listed with their status
    assert "Tables 2–3" in md  # the gap is stated, not hidden


def test_comparison_on_hub_data_and_unverified_flags(results: pd.DataFrame) -> None:
    hub = results.copy()
    hub.loc[hub["target_task"] == "panx", "target_task"] = "tatoeba"
    comp = PUB.comparison(R.validate_results(hub), REFERENCE, "hub", list(FULL_SIZE))
    tat = next(t for t in comp["targets"] if t["target"] == "tatoeba")
    assert tat["comparable"] == PUB.HUB_CAVEAT
    assert tat["published"]["xlmr"]["value"] == 57.3 and tat["published"]["xlmr"]["status"] == "unverified"
    assert tat["published"]["gain"] is None
    assert "(unverified)" in R.comparison_markdown(comp)
    with pytest.raises(ValueError, match="study.source"):
        PUB.comparison(R.validate_results(hub), REFERENCE, "paper", list(FULL_SIZE))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.drop(columns=["status"]), "lacks column"),
    (lambda d: d.assign(status=["verified"] + ["maybe"] * (len(d) - 1)), "line 3: `status` = 'maybe'"),
    (lambda d: d.assign(value=["5.4", "n/a"] + list(d["value"][2:])), "line 3: `value` = 'n/a'"),
    (lambda d: d.assign(source=[""] + list(d["source"][1:])), "line 2: empty `source`"),
    (lambda d: pd.concat([d, d.iloc[:1]]), "duplicate `claim`"),
])
def test_reference_table_is_validated(tmp_path: Path, edit, message: str) -> None:
    src = Path(__file__).resolve().parents[1] / PUB.REFERENCE_PATH
    bad = edit(pd.read_csv(src, dtype=str, keep_default_na=False))
    path = tmp_path / "ref.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        PUB.load_reference(path)
    assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError, match="missing"):
        PUB.load_reference(tmp_path / "none.csv")


def test_committed_reference_table_transcribes_the_notes() -> None:
    ref = REFERENCE.set_index("claim")
    assert set(ref["status"]) == {"verified", "unverified"}
    assert ref.loc["headline_gain", "value"] == 5.4 and ref.loc["headline_gain", "source_key"] == "ABS2"
    assert ref.loc["lb_stilts_tydiqa_f1", "value"] == 76.0 and ref.loc["lb_xlmr_tydiqa_f1", "value"] == 65.1
    assert ref.loc["avg_gain_multitask", "status"] == "unverified"
    assert ref.loc["xtreme_xlmr_tatoeba", "status"] == "unverified"
    # every target task we map has at least an XLM-R Large number
    for task, metric in PUB.TARGET_TO_PUBLISHED.values():
        assert ((REFERENCE["model"] == PUB.XLMR) & (REFERENCE["task"] == task) & (REFERENCE["metric"] == metric)).any()


# ---- parameters and verification ------------------------------------------------------------------


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["report"].update(correction="bonferroni"), "report.correction"),
    (lambda p: p["report"].update(alpha=0.7), "report.alpha"),
    (lambda p: p.pop("study"), "study"),
    (lambda p: p["report"].pop("alpha"), "alpha"),
])
def test_bad_report_params_name_the_key(results: pd.DataFrame, tmp_path: Path, edit, message: str) -> None:
    params = yaml.safe_load(yaml.safe_dump(SMALL))
    edit(params)
    with pytest.raises(ValueError, match=re.escape(message)):
        R.build_report(results, {}, params, tmp_path)


def test_verify_checks_report_inputs_and_params(results: pd.DataFrame, tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "data" / "reference").mkdir(parents=True)
    shutil.copy(FIXTURES / "dvc.lock", root / "dvc.lock")
    shutil.copy(FIXTURES / "params.yaml", root / "params.yaml")
    ref = root / PUB.REFERENCE_PATH
    shutil.copy(Path(__file__).resolve().parents[1] / PUB.REFERENCE_PATH, ref)
    prov = P.collect(root, results, inputs=[PUB.REFERENCE_PATH])
    assert prov["inputs"] == [{"path": "data/reference/xstilts_published.csv", "md5": md5_file(ref)}]
    out = root / "reports"
    R.build_report(results, prov, SMALL, out, reference=PUB.load_reference(ref))
    assert P.verify(out / "correlation.json", root / "dvc.lock", root=root) == []
    ref.write_text(ref.read_text().replace(",5.4,", ",5.5,"))
    (root / "params.yaml").write_text((root / "params.yaml").read_text() + "# edited\n")
    problems = P.verify(out / "correlation.json", root / "dvc.lock", root=root)
    assert any(p.startswith("data/reference/xstilts_published.csv: md5") for p in problems)
    assert any(p.startswith("params.yaml: sha256") for p in problems)
    ref.unlink()
    assert any("missing" in p for p in P.verify(out / "correlation.json", root / "dvc.lock", root=root))
    with pytest.raises(FileNotFoundError, match="missing"):
        P.collect(root, results, inputs=[PUB.REFERENCE_PATH])


def test_paired_rebuild_is_byte_identical(study: tuple, built_paired: tuple[dict, Path], tmp_path: Path) -> None:
    results, preds, gold = study
    report, out = built_paired
    R.build_report(results, report["provenance"], PARAMS, tmp_path, predictions=preds, gold=RD.gold_loader(gold),
                   reference=REFERENCE)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.parametrize("p, fe_ci, boot_ci, expected", [
    (0.01, [0.5, 1.5], [0.8, 1.2], "positive"),
    (0.01, [0.5, 1.5], None, "positive"),           # seeds-only run without a usable bootstrap CI
    (0.01, [0.5, 1.5], [-0.1, 1.2], "inconclusive"),  # measurement noise alone could explain it
    (0.30, [-0.5, 1.5], [0.8, 1.2], "none"),         # a precise measurement is not a size effect
    (0.01, [-0.5, 1.5], [0.8, 1.2], "inconclusive"),  # permutation test and model disagree
    (math.nan, [math.nan, math.nan], [math.nan, math.nan], "undefined"),
])
def test_verdict_rules(p: float, fe_ci: list, boot_ci: list | None, expected: str) -> None:
    slope = 1.0 if expected != "undefined" else math.nan
    res = {"reason": None, "pearson_p": p, "slope_ci": boot_ci if boot_ci is not None else [math.nan, math.nan],
           "model": {"slope": slope, "ci": fe_ci, "reason": None}}
    assert R.verdict(res, 0.05) == expected
    res["model"]["slope"], res["model"]["ci"] = -1.0, [-x for x in fe_ci[::-1]]
    if expected == "positive":
        res["slope_ci"] = [-x for x in res["slope_ci"][::-1]]
        assert R.verdict(res, 0.05) == "negative"
