"""Tests of xstilts.analysis.paired: per-pair values from predictions, the consistency check and the hierarchical
bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xstilts import report as R
from xstilts.analysis import paired as PD
from xstilts.core import metrics

from .report_data import ADVERSARY, NER, gold_loader, make_study


@pytest.fixture(scope="module")
def study() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return make_study()


def adversarial_rows(results: pd.DataFrame) -> pd.DataFrame:
    df = R.validate_results(results)
    return df[(df["subset"] != "clean") & (df["language"] != "en") & (df["arm"] != "baseline")]


def test_chunk_counts_sum_to_seqeval_f1() -> None:
    rng = np.random.default_rng(0)
    gold = [list(rng.integers(0, len(NER), size=int(rng.integers(1, 12)))) for _ in range(300)]
    pred = [[int(t) if rng.random() < 0.7 else int(rng.integers(0, len(NER))) for t in g] for g in gold]
    tp = n_pred = n_gold = 0
    for g, p in zip(gold, pred, strict=True):
        a, b, c = PD.chunk_counts(g, p, NER)
        tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
    names = lambda seqs: [[NER[t] for t in s] for s in seqs]  # noqa: E731
    assert 100 * metrics.seqeval_f1(names(gold), names(pred)) == pytest.approx(
        float(PD.ratio_score(2 * tp, n_pred + n_gold)), abs=1e-9)
    with pytest.raises(ValueError, match="differ in length"):
        PD.chunk_counts([0, 1], [0], NER)


def test_values_reproduce_the_results_table(study: tuple) -> None:
    results, preds, gold = study
    data = PD.from_predictions(adversarial_rows(results), preds, gold_loader(gold))
    assert data.examples_resampled and len(data.models) == 3 * 3 * 2 and len(data.cells) == 9
    assert {(ts.target, ts.language) for ts in data.sets} == {(t, lg) for t in ("panx", "xnli") for lg in ("ea", "eb")}
    for ts in data.sets:
        assert ts.values.shape == (120, len(data.models), 4) and not np.isnan(ts.values).any()


def test_out_of_sync_files_are_refused_with_the_file_named(study: tuple) -> None:
    results, preds, gold = study
    bad = preds.copy()
    row = bad.index[(bad["arm"] == "mnli") & (bad["cell"] == "600-s2") & (bad["target_task"] == "xnli")
                    & (bad["language"] == "ea") & (bad["subset"] == ADVERSARY)][0]
    bad.loc[row, "example_score"] = 1.0 - bad.loc[row, "example_score"]
    with pytest.raises(ValueError, match=r"predictions/mnli\.parquet \(cell 600-s2, xnli/ea/char_noise\).*score"):
        PD.from_predictions(adversarial_rows(results), bad, gold_loader(gold))
    missing = preds[~((preds["arm"] == "qqp") & (preds["cell"] == "full-s1"))]
    with pytest.raises(ValueError, match=r"predictions/qqp\.parquet \(cell full-s1"):
        PD.from_predictions(adversarial_rows(results), missing, gold_loader(gold))
    with pytest.raises(ValueError, match="gold tags"):
        PD.from_predictions(adversarial_rows(results), preds, None)
    with pytest.raises(ValueError, match="lacks column"):
        PD.from_predictions(adversarial_rows(results), preds.drop(columns=["source_id"]), gold_loader(gold))


def test_identity_replicate_reproduces_the_report_point_estimates(study: tuple) -> None:
    results, preds, gold = study
    data = PD.from_predictions(adversarial_rows(results), preds, gold_loader(gold))
    means = R.seed_mean(R.model_degradation(R.validate_results(results)))
    inter = means[means["arm"] != "baseline"].set_index(["arm", "size_label", "train_size", "key"])
    seen = set()
    for key, measure, reps in PD.replicates(data, 0, 0, resample=False):
        assert reps.shape == (1, len(data.cells))
        for c, (arm, label, size) in enumerate(data.cells.itertuples(index=False)):
            assert reps[0, c] == pytest.approx(inter.loc[(arm, label, size, key), measure], abs=1e-9)
        seen.add(key)
    assert seen == set(inter.index.get_level_values("key"))


def test_bootstrap_spread_matches_the_paired_standard_error() -> None:
    # one model, one test set of 0/1 pairs: the bootstrap sd of the degradation is the paired-difference se
    rng = np.random.default_rng(3)
    clean = (rng.random(400) < 0.8).astype(float)
    adv = clean * (rng.random(400) < 0.7)
    values = np.stack([clean, np.ones(400), adv, np.ones(400)], axis=1)[:, None, :]
    ts = PD.TestSet("xnli", "ea", ADVERSARY, np.arange(400).astype(str), values)
    reps = PD._set_replicates(ts, 4000, seed=1)["absolute"][:, 0]
    diff = 100 * (clean - adv)
    assert reps.mean() == pytest.approx(diff.mean(), abs=0.2)
    assert reps.std() == pytest.approx(diff.std() / math.sqrt(400), rel=0.05)
    # the same draw serves every model of a test set: two identical models get identical replicates
    twin = PD.TestSet("xnli", "ea", ADVERSARY, ts.ids, np.concatenate([values, values], axis=1))
    both = PD._set_replicates(twin, 200, seed=1)["absolute"]
    assert np.array_equal(both[:, 0], both[:, 1])


def test_seed_resampling_draws_whole_seeds() -> None:
    models = pd.DataFrame({"arm": ["a", "a"], "size_label": ["full", "full"], "train_size": [100, 100],
                           "seed": [1, 2], "cell": ["full-s1", "full-s2"]})
    data = PD.PairedData(models, [], examples_resampled=False)
    draws = PD.seed_draws(data, 500, seed=0)
    per_model = np.tile(np.array([[10.0, 20.0]]), (500, 1))
    cells = PD.cell_means(per_model, draws)[:, 0]
    assert set(np.unique(cells)) == {10.0, 15.0, 20.0}  # both seeds once, or one seed twice
    assert 0.35 < np.mean(cells == 15.0) < 0.65


def test_seeds_only_design_without_predictions(study: tuple) -> None:
    results, _, _ = study
    data = PD.from_results(adversarial_rows(results))
    assert not data.examples_resampled and all(ts.n == 1 for ts in data.sets)
    reps = {(k, m): r for k, m, r in PD.replicates(data, 300, seed=4)}
    pooled = reps[("pooled", "absolute")]
    assert pooled.shape == (300, 9)
    assert np.all(np.std(pooled, axis=0) > 0)  # two seeds per cell: the seed draw moves every cell


def test_mining_f1_pairs_from_each_source_sentence() -> None:
    import json

    def rows(outcomes, subset, ids):
        return pd.DataFrame({"id": ids, "source_id": [i.split("~")[0] for i in ids], "subset": subset,
                             "prediction": [json.dumps({"match": m, "gold": g}) for m, g in outcomes],
                             "example_score": [float(m is not None and m == g) for m, g in outcomes]})

    clean = rows([("t1", "t1"), (None, "t2"), ("t3", None), (None, None)], "clean", ["s0", "s1", "s2", "s3"])
    adv = rows([(None, "t1"), ("t9", "t2"), ("t3", None)], "char_noise", ["s0~n", "s1~n", "s2~n"])
    v = PD._pair_values("bucc_f1", "bucc", "ea", "char_noise", adv, clean, None, {})
    assert v.tolist() == [[2, 2, 0, 1], [0, 1, 0, 2], [0, 1, 0, 1]]  # (2 TP, pred + gold) clean, then noisy
    assert float(PD.ratio_score(v[:, 0].sum(), v[:, 1].sum())) == pytest.approx(100 * 2 / 4)  # clean F1 of s0-s2
    assert float(PD.ratio_score(v[:, 2].sum(), v[:, 3].sum())) == 0.0
