"""XTREME-R's ranking metrics and BUCC 2018 bitext mining, on embeddings (pure numpy, tested on tiny inputs with
known answers). Scores are on a 0-100 scale, like every other metric of the package.

LAReQA (`map_at_k`, google-research/xtreme `third_party/utils_lareqa.py`): each question ranks the whole candidate
pool (answer sentences in every language) by dot product; its targets are every candidate of its group (the same
answer sentence in all XQuAD-R languages). Average precision at k adds hits/rank at each correct rank among the
top k and divides by min(number of targets, k); mAP@20 is the mean over questions.

Mewsli-X (`mrr_at_k`, `third_party/utils_mewslix.py`): one gold entity per mention, so mAP@20 is the reciprocal
rank of the gold candidate within the top 20 (0 beyond); XTREME-R macro-averages it over the mention languages
(`macro_average`, not weighted by the number of mentions).

BUCC 2018 (`mine`, `best_threshold`, `evaluate_bucc`; XTREME `third_party/utils_retrieve.py`, following jiant's
`Bucc2018EvaluationScheme` for the threshold flow): embeddings L2-normalised; for every sentence the mean cosine of
its k = 4 nearest neighbours in the other language; a pair's score is its cosine divided by the mean of the two
sentences' neighbourhood means (ratio margin); each source and each target proposes its best-scoring partner, and
the proposals are matched one-to-one, best score first. The threshold that maximises F1 on the dev pool (XTREME's
dev = BUCC's sample set) is applied to the test pool (BUCC's training set); F1 over (source id, target id) pairs.
Two differences from XTREME's driver, which never applies its dev threshold to test (xtreme issue #60): the
threshold is applied, and a best F1 at the lowest-scoring candidate keeps that candidate (XTREME would index past
its list there).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence

import numpy as np

K_RETRIEVAL = 20  # XTREME-R's mAP@20 for LAReQA and Mewsli-X
K_MARGIN = 4  # BUCC's neighbourhood for the ratio margin (XTREME, jiant, LASER)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """[n_queries, min(k, n_candidates)] candidate indices by descending score; ties go to the lower index."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :min(k, scores.shape[1])]


def average_precision_at_k(targets: Collection[Hashable], ranked: Sequence[Hashable], k: int = K_RETRIEVAL) -> float:
    """AP@k in [0, 1]: the sum of hits/rank over the correct items among the first k of `ranked` (an item repeated
    counts once), divided by min(len(targets), k)."""
    if not targets:
        raise ValueError("average precision needs at least one target")
    targets = set(targets)
    seen: set = set()
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in targets and item not in seen:
            hits += 1
            total += hits / rank
        seen.add(item)
    return total / min(len(targets), k)


def reciprocal_rank_at_k(gold: Hashable, ranked: Sequence[Hashable], k: int = K_RETRIEVAL) -> float:
    """1 / the rank of `gold` among the first k of `ranked`, 0 when it is not there."""
    for rank, item in enumerate(ranked[:k], start=1):
        if item == gold:
            return 1.0 / rank
    return 0.0


def map_at_k(queries: np.ndarray, candidates: np.ndarray, query_groups: Sequence[Hashable],
             candidate_groups: Sequence[Hashable | Collection[Hashable]],
             k: int = K_RETRIEVAL) -> tuple[float, list[float]]:
    """LAReQA's mAP@k (0-100) and each query's AP@k (0-1): a query's targets are the candidates of its group. A
    candidate's entry is its group, or a tuple/list/set of every group it belongs to (a LAReQA sentence that answers
    several questions). ValueError when a query's group has no candidate."""
    by_group: dict = {}
    for index, group in enumerate(candidate_groups):
        for g in group if isinstance(group, (tuple, list, set, frozenset)) else (group,):
            by_group.setdefault(g, set()).add(index)
    ranked = top_k(np.asarray(queries) @ np.asarray(candidates).T, k)
    scores = []
    for row, group in zip(ranked, query_groups):
        if group not in by_group:
            raise ValueError(f"query group {group!r} has no candidate in the pool")
        scores.append(average_precision_at_k(by_group[group], row.tolist(), k))
    return 100.0 * float(np.mean(scores)) if scores else float("nan"), scores


def mrr_at_k(queries: np.ndarray, candidates: np.ndarray, gold: Sequence[int],
             k: int = K_RETRIEVAL) -> tuple[float, list[float]]:
    """Mewsli-X's mAP@k = MRR@k (0-100; one gold candidate index per query) and each query's reciprocal rank."""
    ranked = top_k(np.asarray(queries) @ np.asarray(candidates).T, k)
    scores = [reciprocal_rank_at_k(int(g), row.tolist(), k) for row, g in zip(ranked, gold)]
    return 100.0 * float(np.mean(scores)) if scores else float("nan"), scores


def chance_rr_at_k(n_candidates: int, k: int = K_RETRIEVAL) -> float:
    """Expected RR@k (0-1) of a uniformly random ranking with one gold among `n_candidates`: (1/C) sum 1/r, r <= k."""
    return sum(1.0 / r for r in range(1, min(k, n_candidates) + 1)) / n_candidates


def chance_ap_at_k(n_targets: int, n_candidates: int, k: int = K_RETRIEVAL) -> float:
    """Expected AP@k (0-1) of a uniformly random ranking with `n_targets` correct among `n_candidates`: at each rank
    i <= k a hit has probability T/C, and given one there the expected number of hits so far is
    1 + (i - 1)(T - 1)/(C - 1); the sum of their ratios to i is divided by min(T, k)."""
    t, c = n_targets, n_candidates
    if not 1 <= t <= c:
        raise ValueError(f"need 1 <= targets <= candidates, got {t} of {c}")
    rest = (t - 1) / (c - 1) if c > 1 else 0.0
    return sum((t / c) * (1 + (i - 1) * rest) / i for i in range(1, min(k, c) + 1)) / min(t, k)


def macro_average(by_language: Mapping[str, float]) -> float:
    """The unweighted mean over languages (XTREME-R's Mewsli-X score)."""
    if not by_language:
        raise ValueError("no language to average")
    return float(np.mean(list(by_language.values())))


# ---- BUCC 2018 mining -------------------------------------------------------------------------------------------


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


BLOCK_CELLS = 2 ** 26  # similarities held at once by `neighbours` (512 MiB of float64)


def neighbours(x: np.ndarray, y: np.ndarray, k: int, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosines) of each row of `x`'s k nearest rows of `y` (inputs L2-normalised), best first, ties to the
    lower index; computed `block` rows at a time (default: BLOCK_CELLS similarities), so memory stays bounded (a BUCC
    training pool has ~400k sentences a side)."""
    k = min(k, y.shape[0])
    block = block or max(1, BLOCK_CELLS // max(1, y.shape[0]))
    idx = np.empty((x.shape[0], k), dtype=np.int64)
    sim = np.empty((x.shape[0], k), dtype=np.float64)
    for start in range(0, x.shape[0], block):
        part = x[start:start + block] @ y.T
        top = top_k(part, k)
        idx[start:start + block] = top
        sim[start:start + block] = np.take_along_axis(part, top, axis=1)
    return idx, sim


def mine(source: np.ndarray, target: np.ndarray, k: int = K_MARGIN,
         block: int | None = None) -> list[tuple[int, int, float]]:
    """Candidate pairs (source index, target index, ratio-margin score), best first, matched one-to-one: every
    source and every target proposes its best partner under the margin score among its k nearest neighbours."""
    x, y = _normalise(source), _normalise(target)
    fwd_nn, fwd_sim = neighbours(x, y, k, block)  # each source's k nearest targets
    bwd_nn, bwd_sim = neighbours(y, x, k, block)  # each target's k nearest sources
    fwd_mean, bwd_mean = fwd_sim.mean(axis=1), bwd_sim.mean(axis=1)
    proposals = []
    for i in range(x.shape[0]):
        scores = fwd_sim[i] / ((fwd_mean[i] + bwd_mean[fwd_nn[i]]) / 2)
        best = int(np.argmax(scores))
        proposals.append((float(scores[best]), i, int(fwd_nn[i][best])))
    for j in range(y.shape[0]):
        scores = bwd_sim[j] / ((fwd_mean[bwd_nn[j]] + bwd_mean[j]) / 2)
        best = int(np.argmax(scores))
        proposals.append((float(scores[best]), int(bwd_nn[j][best]), j))
    proposals.sort(key=lambda p: -p[0])  # stable: equal scores keep forward proposals first
    seen_src: set[int] = set()
    seen_trg: set[int] = set()
    out = []
    for score, i, j in proposals:
        if i not in seen_src and j not in seen_trg:
            seen_src.add(i)
            seen_trg.add(j)
            out.append((i, j, score))
    return out


def source_outcomes(source_ids: Sequence[str], gold: Mapping[str, str],
                    extracted: Collection[tuple[str, str]]) -> list[tuple[str | None, str | None]]:
    """Each source sentence's (extracted partner, gold partner), None where it has none. One-to-one matching gives a
    source at most one extracted pair, so summing over sources 2 [match == gold], [match] + [gold] gives the
    pool's 2 TP and (predicted + gold) pairs: F1 = 2 TP / (pred + gold), decomposable by source for resampling."""
    match = dict(extracted)
    if len(match) != len(extracted):
        raise ValueError("extracted pairs must be one-to-one (a source with two partners)")
    return [(match.get(s), gold.get(s)) for s in source_ids]


def outcome_counts(match: str | None, gold: str | None) -> tuple[float, float]:
    """(2 TP, predicted + gold) of one source sentence."""
    return 2.0 * (match is not None and match == gold), float(match is not None) + float(gold is not None)


def chance_bucc_f1(n_sources: int, n_targets: int, n_gold: int) -> float:
    """F1 (0-100) of pairing every source with a uniformly random target and keeping every pair: each pair is gold
    with probability 1/n_targets for the n_gold sources that have one, so E[2 TP] = 2 n_gold / n_targets over
    n_sources + n_gold pairs."""
    if n_sources <= 0 or n_targets <= 0:
        raise ValueError(f"need sources and targets, got {n_sources} and {n_targets}")
    return 100.0 * (2.0 * n_gold / n_targets) / (n_sources + n_gold)


def prf(predicted: Collection[tuple], gold: Collection[tuple]) -> tuple[float, float, float]:
    """Precision, recall and F1 (0-100) of predicted pairs against gold pairs."""
    predicted, gold = set(predicted), set(gold)
    correct = len(predicted & gold)
    if not correct:
        return 0.0, 0.0, 0.0
    p, r = correct / len(predicted), correct / len(gold)
    return 100.0 * p, 100.0 * r, 100.0 * 2 * p * r / (p + r)


def best_threshold(scored: Sequence[tuple[tuple, float]], gold: Collection[tuple]) -> float:
    """The score threshold that maximises F1 when every candidate scoring at least it is kept: candidates by
    descending score, F1 after each; the threshold is midway between the best cut's last kept candidate and the
    next one (that candidate's own score when it is the last). No correct candidate: +inf (keep nothing)."""
    items = sorted(scored, key=lambda item: -item[1])
    gold = set(gold)
    correct, best_f1, threshold = 0, 0.0, float("inf")
    for n, (pair, score) in enumerate(items, start=1):
        correct += pair in gold
        if correct:
            p, r = correct / n, correct / len(gold)
            f1 = 2 * p * r / (p + r)
            if f1 > best_f1:
                best_f1 = f1
                threshold = (score + items[n][1]) / 2 if n < len(items) else score
    return threshold


def extract(scored: Sequence[tuple[tuple, float]], threshold: float) -> set[tuple]:
    """The candidate pairs scoring at least `threshold`."""
    return {pair for pair, score in scored if score >= threshold}


def scored_pairs(source_ids: Sequence[str], target_ids: Sequence[str],
                 mined: Sequence[tuple[int, int, float]]) -> list[tuple[tuple[str, str], float]]:
    """Mined index pairs as ((source id, target id), score)."""
    return [((source_ids[i], target_ids[j]), score) for i, j, score in mined]


def evaluate_bucc(dev: tuple[np.ndarray, np.ndarray, Sequence[str], Sequence[str], Collection[tuple]],
                  test: tuple[np.ndarray, np.ndarray, Sequence[str], Sequence[str], Collection[tuple]],
                  k: int = K_MARGIN) -> dict[str, float]:
    """BUCC F1 of one language pair: `dev` and `test` are (source embeddings, target embeddings, source ids,
    target ids, gold (source id, target id) pairs). The threshold is chosen on dev and applied to test."""
    dev_scored = scored_pairs(dev[2], dev[3], mine(dev[0], dev[1], k))
    threshold = best_threshold(dev_scored, dev[4])
    test_scored = scored_pairs(test[2], test[3], mine(test[0], test[1], k))
    p, r, f1 = prf(extract(test_scored, threshold), test[4])
    dev_p, dev_r, dev_f1 = prf(extract(dev_scored, threshold), dev[4])
    return {"threshold": threshold, "precision": p, "recall": r, "f1": f1, "dev_f1": dev_f1,
            "dev_precision": dev_p, "dev_recall": dev_r}
