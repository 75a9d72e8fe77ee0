"""Tests of xstilts.report (built from a small synthetic results table) and xstilts.provenance."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from xstilts import provenance as P
from xstilts import report as R

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


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return make_results()


@pytest.fixture(scope="module")
def built(results: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("report")
    prov = {"git_commit": "abc123", "params_sha256": P.params_hash(FIXTURES / "params.yaml"),
            "data": P.data_hashes(P.read_dvc_lock(FIXTURES / "dvc.lock")), "runs": P.run_table(results)}
    return R.build_report(results, prov, PARAMS, out), out


# ---- report ---------------------------------------------------------------------------------------


def test_files_and_sections(built: tuple[dict, Path]) -> None:
    _, out = built
    for name in ("correlation.json", "metrics.json", "correlation.md", *R.FIGURES.values()):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    assert not list(out.glob(".*")), "temporary files left behind"
    md = (out / "correlation.md").read_text()
    for heading in ("## Answer", "## Baseline zero-shot scores", "## Degradation",
                    "## Correlation with log(train size)", "## Figures", "## Provenance"):
        assert heading in md
    assert "](degradation_vs_size.png)" in md and "](zero_shot_heatmap.png)" in md
    assert (out / "degradation_vs_size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "`data/prepared`" in md and "1a2b3c4d5e6f70819293a4b5c6d7e8f9.dir" in md


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


def test_correlations_have_known_answers(built: tuple[dict, Path]) -> None:
    report, _ = built
    corr = report["correlations"]
    assert list(R.ordered_keys(corr)) == ["pooled", f"panx/{ADVERSARY}", f"xnli/{ADVERSARY}"]
    within = corr["pooled"]["absolute"]["within"]
    # every task has the same slope in ln(size), so the fixed-effects fit is exact
    assert within["n"] == 9 and within["n_groups"] == 3
    assert within["pearson"] == pytest.approx(1.0) and within["spearman"] == pytest.approx(1.0)
    assert within["slope"] == pytest.approx(SLOPE)
    assert within["slope_ci"] == pytest.approx([SLOPE, SLOPE])
    assert within["pearson_p"] < 0.05
    across = corr["pooled"]["absolute"]["across"]
    x = [math.log(FULL_SIZE[t]) for t in sorted(FULL_SIZE)]
    y = [TASK_INTERCEPT[t] + SLOPE * math.log(FULL_SIZE[t]) for t in sorted(FULL_SIZE)]
    assert across["n"] == 3 and across["n_groups"] is None
    assert across["pearson"] == pytest.approx(sps.pearsonr(x, y).statistic, abs=1e-8)
    assert across["spearman"] == pytest.approx(1.0)
    assert across["slope"] == pytest.approx(sps.linregress(x, y).slope, abs=1e-8)
    metrics = json.loads((built[1] / "metrics.json").read_text())
    assert metrics["pooled.within.pearson"] == pytest.approx(1.0)
    assert metrics["pooled.within.slope"] == pytest.approx(SLOPE)
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
    params = {"report": {"seed": 1, "n_bootstrap": 20, "n_permutations": 19}}
    report = R.build_report(bad, {}, params, tmp_path)
    assert report["baseline_checks"]["xnli"]["above_chance"] is False
    assert "above chance ✗" in (tmp_path / "correlation.md").read_text()


def test_answer_is_generated_from_numbers(built: tuple[dict, Path]) -> None:
    report, out = built
    answer = report["answer"]
    within = report["correlations"]["pooled"]["absolute"]["within"]
    assert f"Pearson r = {R.fmt(within['pearson'])}" in answer
    assert f"permutation p = {R.fmt_p(within['pearson_p'])}" in answer
    assert "n = 9" in answer and "n = 3" in answer
    assert answer in (out / "correlation.md").read_text()
    assert "**Bottom line:**" in answer


def test_rebuild_is_byte_identical(results: pd.DataFrame, built: tuple[dict, Path], tmp_path: Path) -> None:
    report, out = built
    again = R.build_report(results, report["provenance"], PARAMS, tmp_path)
    assert again == report
    for name in ("correlation.md", "correlation.json", "metrics.json", *R.FIGURES.values()):
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
    assert P.git_commit(tmp_path) == "unknown"
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
    assert P.git_commit(tmp_path) == head  # untracked files do not make it dirty
    (tmp_path / "f.txt").write_text("b\n")
    assert P.git_commit(tmp_path) == head + "+dirty"


def test_collect_and_verify(results: pd.DataFrame, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(FIXTURES / "dvc.lock", root / "dvc.lock")
    shutil.copy(FIXTURES / "params.yaml", root / "params.yaml")
    prov = P.collect(root, results)
    assert set(prov) == {"git_commit", "params_sha256", "data", "runs", "sizes"}
    full = results[results.size_label == "full"].groupby("arm").train_size.max()
    assert {s["task"]: s["train_examples"] for s in prov["sizes"]} == full.to_dict()
    task_dir = root / "data" / "prepared" / "intermediate" / prov["sizes"][0]["task"]
    task_dir.mkdir(parents=True)
    (task_dir / "task.json").write_text('{"source": "hub", "variant": "squad_v2"}')
    assert P.collect(root, results)["sizes"][0]["variant"] == "squad_v2"
    assert prov["git_commit"] == "unknown"
    assert prov["params_sha256"] == P.params_hash(FIXTURES / "params.yaml")
    assert [d["path"] for d in prov["data"]] == ["data/prepared", "data/subsampled"]

    out = root / "report"
    R.build_report(results, prov, {"report": {"seed": 0, "n_bootstrap": 20, "n_permutations": 19}}, out)
    assert P.verify(out / "correlation.json", root / "dvc.lock") == []

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
