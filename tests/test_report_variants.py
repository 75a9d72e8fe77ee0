"""The report's section on the paper's variants (xstilts.report.variants): each variant arm against the baseline
and its single-task reference with known answers, never in the size analyses, its training examples per task from
the variant stage's metrics, and its rows in the markdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xstilts.report import variants as V
from xstilts.report.tables import validate_results

from .report_data import make_study

RP = {"seed": 17, "n_bootstrap": 200, "exclude_degenerate": True}


def _params(arms):
    return {"study": {"intermediate_tasks": ["anli", "mnli", "qqp"], "seeds": [1, 2]},
            "variants": {"arms": arms, "size": "full", "mlm": {"task": "mnli"}, "translated": {"task": "mnli"}}}


def _with_variant(results: pd.DataFrame, arm: str, source: str, shift: float) -> pd.DataFrame:
    """`source`'s full-size models relabelled as variant `arm`, every adversarial score lowered by `shift` (so its
    degradation is the source's + shift and its clean scores are the source's)."""
    rows = results[(results["arm"] == source) & (results["size_label"] == "full")].copy()
    rows["arm"] = arm
    adv = rows["subset"] != "clean"
    rows.loc[adv, "score"] = rows.loc[adv, "score"] - shift
    return pd.concat([results, rows], ignore_index=True)


def test_each_variant_is_compared_with_the_baseline_and_its_single_task_reference():
    results, _, _ = make_study()
    both = validate_results(_with_variant(_with_variant(results, "mlm", "mnli", 3.0), "multitask", "qqp", 0.0))
    records = {"mlm": {"train_size": 3200, "share.mnli": 3200, "count.mlm_sentences": 100},
               "multitask": {"train_size": 6600, "share.anli": 2400, "share.mnli": 3200, "share.qqp": 1000}}
    section = V.summary(both, _params(["multitask", "mlm"]), records, RP)
    rows = {r["arm"]: r for r in section["rows"]}
    assert list(rows) == ["multitask", "mlm"] and not any(r["in_size_analysis"] for r in rows.values())
    mlm = rows["mlm"]["measures"]
    # the same clean scores as mnli at full size, 3 points more degradation: known differences, tight intervals
    assert mlm["clean"]["vs"]["mnli"]["diff"] == pytest.approx(0.0, abs=1e-9)
    assert mlm["degradation"]["vs"]["mnli"]["diff"] == pytest.approx(3.0, abs=1e-9)
    lo, hi = mlm["degradation"]["vs"]["mnli"]["ci"]
    assert lo <= 3.0 <= hi
    scores = V.model_scores(both)
    base = scores[scores.arm == "baseline"]["degradation"].mean()
    assert mlm["degradation"]["vs"]["baseline"]["diff"] == pytest.approx(
        scores[scores.arm == "mlm"]["degradation"].mean() - base)
    multi = rows["multitask"]["measures"]["clean"]["vs"]
    full = scores[scores.size_label == "full"].groupby("arm")["clean"].mean()
    assert multi["single-task mean"]["reference"] == pytest.approx(full[["anli", "mnli", "qqp"]].mean())
    best = full[["anli", "mnli", "qqp"]].idxmax()
    assert multi[f"best single task ({best})"]["reference"] == pytest.approx(full[best])
    assert rows["multitask"]["shares"] == {"anli": 2400, "mnli": 3200, "qqp": 1000}
    flat = V.metrics(section)
    assert flat["variants.mlm.degradation_minus_single_task"] == pytest.approx(3.0)
    assert flat["variants.multitask.train_size"] == 6600.0
    lines = V.markdown(section)
    assert lines[0] == "## The paper's variants" and sum(line.startswith("| mlm |") for line in lines) == 1
    assert any("UNVERIFIED" in line for line in lines)  # the +8.7 multi-task figure is flagged


def test_no_variant_arm_no_section():
    results, _, _ = make_study()
    section = V.summary(validate_results(results), _params([]), {}, RP)
    assert section["rows"] == [] and V.metrics(section) == {} and section["size_label"] == "full"
    lines = V.markdown(section)
    assert lines[0] == "## The paper's variants" and any("No variant arm" in line for line in lines)
    fig = V.figure(validate_results(results), section)  # not empty: the baseline and the arms at full size
    assert len(fig.axes) == 2 and "No variant arm" in fig._suptitle.get_text()


def test_seed_bootstrap_interval_widens_with_seed_noise():
    rng = np.random.default_rng(0)
    tight = V._boot_diff(np.array([1.0, 1.0, 1.0]), [np.array([0.0, 0.0, 0.0])], 500, rng)
    wide = V._boot_diff(np.array([0.0, 2.0, 4.0]), [np.array([0.0, 0.0, 0.0])], 500, rng)
    assert tight == (1.0, 1.0) and wide[0] < 1.0 < wide[1]
    assert np.isnan(V._boot_diff(np.array([1.0]), [np.array([0.0, 1.0])], 10, rng)[0])  # one seed: no interval


def test_the_comparison_table_gains_the_variant_rows_with_the_papers_claims():
    from xstilts.report import published
    from xstilts.report.markdown import comparison_markdown

    from .conftest import REPO

    results, _, _ = make_study()
    both = validate_results(_with_variant(_with_variant(results, "mlm", "mnli", 3.0), "multitask", "qqp", 0.0))
    ref = published.load_reference(REPO / published.REFERENCE_PATH)
    single = validate_results(results)
    comp = published.comparison(single, ref, "synthetic", ["anli", "mnli", "qqp"])
    rows = {r["arm"]: r for r in published.variant_comparison(both, ref, comp, ["multitask", "mlm"],
                                                               {"mlm": "mnli"})}
    targets = {t["target"]: t for t in comp["targets"]}
    # mlm is mnli's models relabelled (clean scores unchanged): mnli's gains exactly, and 0 against mnli
    for target, t in targets.items():
        assert rows["mlm"]["gains"][target] == pytest.approx(t["gains"]["mnli"])
        assert rows["mlm"]["versus"][target] == pytest.approx(0.0, abs=1e-12)
        assert rows["multitask"]["versus"][target] == pytest.approx(t["gains"]["qqp"] - t["best_gain"])
    assert rows["mlm"]["mean_gain"] == pytest.approx(np.mean([t["gains"]["mnli"] for t in targets.values()]))
    assert rows["multitask"]["versus_label"] == "best single task per target" and rows["mlm"]["versus_label"] == "mnli"
    multi = rows["multitask"]["published"]
    assert multi["claim"] == "avg_gain_multitask" and multi["value"] == 8.7 and multi["status"] == "unverified"
    assert rows["mlm"]["published"] is None and rows["mlm"]["claim_status"] == "verified"
    comp["variants"] = list(rows.values())
    text = comparison_markdown(comp)
    assert "| multitask (variant) |" in text and "| mlm (variant) |" in text
    line = next(x for x in text.splitlines() if "average gain 8.7" in x)
    assert "UNVERIFIED, the seed document's figure" in line
    assert published.variant_comparison(single, ref, comp, ["multitask"], {}) == []  # no variant arm in results


def test_the_correlation_section_says_what_size_is_for_each_variant():
    results, _, _ = make_study()
    both = validate_results(_with_variant(_with_variant(results, "mlm", "mnli", 3.0), "multitask", "qqp", 0.0))
    records = {"mlm": {"train_size": 3200, "share.mnli": 3200},
               "multitask": {"train_size": 6600, "share.anli": 2400, "share.mnli": 3200, "share.qqp": 1000}}
    note = V.analysis_note(V.summary(both, _params(["multitask", "mlm"]), records, RP))
    assert note.startswith("The paper's variant arms do not enter these analyses")
    assert "`multitask` (its size is the total of its 3 tasks' examples (6,600;" in note
    assert "`mlm` (its task's 3,200 examples plus masked-LM text" in note
    assert V.analysis_note(V.empty({})) == ""
