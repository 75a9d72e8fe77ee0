"""XTREME-R's ranking metrics (LAReQA mAP@20, Mewsli-X MRR@20 macro-averaged) and BUCC 2018 mining
(xstilts.eval.ranking) on tiny inputs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xstilts.eval import ranking as R


def test_average_precision_counts_each_hit_at_its_rank():
    assert R.average_precision_at_k({"a", "b"}, ["a", "x", "b"]) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert R.average_precision_at_k({"a", "b"}, ["x", "y", "z"]) == 0.0
    assert R.average_precision_at_k({"a"}, ["x", "a"]) == pytest.approx(0.5)
    # an item repeated in the ranking counts once
    assert R.average_precision_at_k({"a", "b"}, ["a", "a", "b"]) == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="at least one target"):
        R.average_precision_at_k(set(), ["a"])


def test_average_precision_divides_by_min_of_targets_and_k():
    # k = 2 cuts the ranking: one hit at rank 1 of two targets
    assert R.average_precision_at_k({"a", "b"}, ["a", "x", "b"], k=2) == pytest.approx(0.5)
    # 25 targets (an answer in 25 languages), all ranked in the top 20: the denominator is 20, not 25
    targets = [f"t{i}" for i in range(25)]
    assert R.average_precision_at_k(targets, targets, k=20) == pytest.approx(1.0)
    # 11 targets (XQuAD-R's 11 languages) in the top 11 of k = 20: 11 / min(11, 20)
    assert R.average_precision_at_k(targets[:11], targets[:11] + ["x"] * 9, k=20) == pytest.approx(1.0)


def test_reciprocal_rank_within_k():
    assert R.reciprocal_rank_at_k("g", ["a", "b", "g"]) == pytest.approx(1 / 3)
    assert R.reciprocal_rank_at_k("g", ["g"]) == 1.0
    assert R.reciprocal_rank_at_k("g", [f"x{i}" for i in range(20)] + ["g"]) == 0.0  # rank 21 > k


def test_map_at_k_on_embeddings():
    # 2 questions, 4 candidates (2 groups x 2 languages); scores by dot product
    cands = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    groups = ["g1", "g1", "g2", "g2"]
    queries = np.array([[1.0, 0.0], [0.2, 0.8]])
    score, per_query = R.map_at_k(queries, cands, ["g1", "g1"], groups)
    # query 1 ranks g1's candidates 1st and 2nd: AP 1; query 2 ranks them 3rd and 4th: (1/3 + 2/4) / 2
    assert per_query == pytest.approx([1.0, (1 / 3 + 2 / 4) / 2])
    assert score == pytest.approx(100 * (1.0 + (1 / 3 + 2 / 4) / 2) / 2)
    with pytest.raises(ValueError, match="'g9' has no candidate"):
        R.map_at_k(queries, cands, ["g1", "g9"], groups)
    # a candidate in several groups (a LAReQA sentence answering two questions) is a target of each; () of none
    several = [("g1", "g2"), ("g1",), (), ("g2",)]
    _, per_query = R.map_at_k(queries, cands, ["g1", "g2"], several)
    # query 1 ranks 0, 1 (both g1) first: AP 1; query 2 ranks 2, 3, 1, 0: g2's are 3 (rank 2) and 0 (rank 4)
    assert per_query == pytest.approx([1.0, (1 / 2 + 2 / 4) / 2])


def test_mrr_at_k_and_the_macro_average_over_languages():
    cands = np.eye(3)
    queries = np.array([[1.0, 0.5, 0.2], [1.0, 0.5, 0.2]])
    score, rr = R.mrr_at_k(queries, cands, [0, 2])
    assert rr == pytest.approx([1.0, 1 / 3]) and score == pytest.approx(100 * (1 + 1 / 3) / 2)
    # unweighted over languages: 10 mentions at 50 and 1 mention at 100 average to 75, not 54.5
    assert R.macro_average({"ea": 50.0, "eb": 100.0}) == 75.0
    with pytest.raises(ValueError):
        R.macro_average({})


def test_top_k_breaks_ties_towards_the_lower_index():
    assert R.top_k(np.array([[0.5, 0.9, 0.9, 0.1]]), 3).tolist() == [[1, 2, 0]]
    assert R.top_k(np.array([[0.5, 0.9]]), 20).shape == (1, 2)


def test_best_threshold_maximises_f1_and_sits_between_candidates():
    scored = [(("a", "A"), 0.9), (("b", "X"), 0.8), (("c", "C"), 0.7), (("d", "Y"), 0.6)]
    gold = {("a", "A"), ("c", "C")}
    # F1 after each cut: 0.667, 0.5, 0.8, 0.667 -> keep three, threshold midway between 0.7 and 0.6
    assert R.best_threshold(scored, gold) == pytest.approx(0.65)
    assert R.extract(scored, 0.65) == {("a", "A"), ("b", "X"), ("c", "C")}
    # the best cut at the last candidate keeps it (XTREME's driver would index past the list)
    assert R.best_threshold([(("a", "A"), 0.9), (("b", "B"), 0.5)], {("a", "A"), ("b", "B")}) == 0.5
    assert R.best_threshold(scored, {("z", "Z")}) == math.inf  # nothing correct: keep nothing


def test_prf_counts_gold_pairs_that_were_never_mined():
    p, r, f1 = R.prf({("a", "A"), ("b", "X")}, {("a", "A"), ("c", "C"), ("d", "D")})
    assert (p, r) == pytest.approx((50.0, 100 / 3)) and f1 == pytest.approx(40.0)
    assert R.prf(set(), {("a", "A")}) == (0.0, 0.0, 0.0)


def _reference_margin(x, y, i, j, k):
    """The ratio margin written out from its definition, for one pair (independent of `mine`)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    fwd = sorted((float(x[i] @ y[t]) for t in range(len(y))), reverse=True)[:k]
    bwd = sorted((float(x[s] @ y[j]) for s in range(len(x))), reverse=True)[:k]
    return float(x[i] @ y[j]) / ((sum(fwd) / len(fwd) + sum(bwd) / len(bwd)) / 2)


def test_mining_scores_are_the_ratio_margin_and_matches_are_one_to_one():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 8)), rng.normal(size=(9, 8))
    mined = R.mine(x, y, k=4)
    assert len({i for i, _, _ in mined}) == len(mined) == len({j for _, j, _ in mined})
    assert [s for *_, s in mined] == sorted((s for *_, s in mined), reverse=True)
    for i, j, score in mined:
        assert score == pytest.approx(_reference_margin(x, y, i, j, 4))


def test_the_margin_resists_a_hub_that_plain_cosine_would_pick():
    """Target 0 is a hub: cosine 0.5 to every source, above each source's own translation (0.447), so nearest-
    neighbour search maps every source to it; the ratio margin divides by the hub's crowded neighbourhood and
    recovers every translation."""
    n = 4
    src = np.hstack([np.eye(n), np.zeros((n, n))])
    hub = np.hstack([np.ones((1, n)), np.zeros((1, n))])
    own = np.hstack([np.eye(n), 2.0 * np.eye(n)])
    trg = np.vstack([hub, own])
    cos = R._normalise(src) @ R._normalise(trg).T
    assert cos[:, 0] == pytest.approx([0.5] * n) and cos.argmax(axis=1).tolist() == [0] * n
    assert {(i, j) for i, j, _ in R.mine(src, trg, k=2)} == {(i, i + 1) for i in range(n)}


def test_bucc_takes_its_threshold_from_dev_and_applies_it_to_test(monkeypatch):
    """The flow with mining fixed: dev's best threshold is 0.65 (the cut above), test is cut there."""
    mined = {"dev": [(0, 0, 0.9), (1, 1, 0.8), (2, 2, 0.7), (3, 3, 0.6)],
             "test": [(0, 0, 0.95), (1, 1, 0.66), (2, 2, 0.64), (3, 3, 0.5)]}
    monkeypatch.setattr(R, "mine", lambda x, y, k=4: mined[x])
    dev = ("dev", None, ["a", "b", "c", "d"], ["A", "X", "C", "Y"], {("a", "A"), ("c", "C")})
    test = ("test", None, ["p", "q", "r", "s"], ["P", "Q", "R", "S"], {("p", "P"), ("r", "R"), ("s", "S")})
    out = R.evaluate_bucc(dev, test)
    assert out["threshold"] == pytest.approx(0.65)
    assert out["dev_f1"] == pytest.approx(80.0)
    # test keeps p (0.95) and q (0.66): one of two correct, one of three gold
    assert (out["precision"], out["recall"]) == pytest.approx((50.0, 100 / 3)) and out["f1"] == pytest.approx(40.0)


def test_bucc_mines_translations_out_of_a_pool_with_distractors():
    def pool(n_pairs, n_distract, seed):
        r = np.random.default_rng(seed)
        base = r.normal(size=(n_pairs, 16))
        src = np.vstack([base + 0.05 * r.normal(size=base.shape), r.normal(size=(n_distract, 16))])
        trg = np.vstack([base + 0.05 * r.normal(size=base.shape), r.normal(size=(n_distract, 16))])
        return (src, trg, [f"s{i}" for i in range(len(src))], [f"t{i}" for i in range(len(trg))],
                {(f"s{i}", f"t{i}") for i in range(n_pairs)})

    out = R.evaluate_bucc(pool(20, 30, 2), pool(25, 40, 3))
    assert out["recall"] == 100.0 and out["f1"] > 95.0 and out["dev_f1"] > 95.0
    assert out["threshold"] > 1.0  # translations stand out of their neighbourhoods


def test_chance_levels_match_random_rankings():
    assert R.chance_rr_at_k(4) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert R.chance_ap_at_k(1, 50) == pytest.approx(R.chance_rr_at_k(50))  # one target: AP is RR
    assert R.chance_ap_at_k(3, 3) == pytest.approx(1.0)  # every candidate is a target
    rng = np.random.default_rng(0)
    targets, pool = set(range(5)), 60
    aps = [R.average_precision_at_k(targets, rng.permutation(pool).tolist(), 20) for _ in range(20000)]
    assert np.mean(aps) == pytest.approx(R.chance_ap_at_k(5, pool), abs=0.003)
    with pytest.raises(ValueError, match="targets <= candidates"):
        R.chance_ap_at_k(4, 3)
