"""Retrieval with an encoder and no task training (XTREME's and jiant's recipe for Tatoeba): each text is the mean
over its tokens of one hidden layer (`hidden_states[layer]`, embeddings at 0, so XLM-R Large's layer 14 is jiant's
`retrieval_layer=14` = XTREME's `LAYER=13`), L2-normalised, and queries rank the candidates by cosine.

- Tatoeba (`retrieval_accuracy`): every non-English query retrieves its nearest English candidate; accuracy = the
  share of queries whose neighbour is their translation (same `pair_id`).
- LAReQA (`map_at_20`): every question ranks the answer sentences of every language; AP@20 against all
  candidates of its `pair_id` (xstilts.eval.ranking.map_at_k); a candidate belongs to every group its `pair_id`
  lists (xstilts.data.schema.candidate_groups: a sentence that answers several questions).
- Mewsli-X (`mrr_at_20`): every mention ranks the English entity names; reciprocal rank of its one gold entity
  within the top 20 (xstilts.eval.ranking.mrr_at_k).
- BUCC 2018 (`bucc_f1`): the non-English side (queries) and the English side (candidates) of a comparable corpus,
  most sentences without a translation (pair_id ""), are mined with the ratio margin and matched one-to-one; the
  threshold that maximises F1 on the language's dev pool is applied to its test pool (xstilts.eval.ranking).

XTREME-R fine-tunes a dual encoder for LAReQA (on English SQuAD v1.1) and Mewsli-X (on English Wikipedia
mention-entity pairs); here, as for Tatoeba, they embed with the model's encoder (`evaluate.tatoeba_encoder`).

Canonical files (schema "retrieval"): test/<lang>.parquet holds <lang>'s queries and the candidate pool (rows by
`side`, or Tatoeba's non-English queries and English candidates); adversarial/<adversary>/<lang>.parquet holds
perturbed queries only (with `source_id`), searched against the clean file's candidates, so each adversarial score
is paired with the clean score of exactly the same queries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..core.vocab import PAD
from ..data.schema import candidate_groups, retrieval_queries
from ..formats import pad


def split_pool(df: pd.DataFrame, where: str, *, mining: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(queries, candidates) of one clean retrieval file (xstilts.data.schema.retrieval_queries); ValueError naming
    `where` if either is empty or a query's `pair_id` is not among the candidates. `mining` (BUCC): the two sides
    of a comparable corpus, where pair_id "" marks a sentence without a translation (most of them)."""
    is_query = retrieval_queries(df)
    queries = df[is_query].reset_index(drop=True)
    cands = df[~is_query].reset_index(drop=True)
    if queries.empty or cands.empty:
        raise ValueError(f"{where}: a retrieval file needs queries and candidates "
                         f"(found {len(queries)} queries, {len(cands)} candidates)")
    if mining:
        gold_pairs(queries, cands, where)
        return queries, cands
    several = queries.loc[queries["pair_id"].str.contains(" ", regex=False), "pair_id"]
    if not several.empty:
        raise ValueError(f"{where}: a query's pair_id is one group, found {several.iloc[0]!r}")
    groups = {g for pair_id in cands["pair_id"] for g in candidate_groups(pair_id)}
    missing = sorted(set(queries["pair_id"]) - groups)
    if missing:
        raise ValueError(f"{where}: {len(missing)} queries have no candidate with their pair_id "
                         f"(e.g. {missing[0]!r})")
    return queries, cands


def gold_pairs(sources: pd.DataFrame, targets: pd.DataFrame, where: str) -> dict[str, str]:
    """{source id: target id} of a BUCC pool: the two sentences sharing a non-empty pair_id; ValueError naming
    `where` when a pair_id is on one side only or twice on a side."""
    pairs = {}
    for side, rows in (("source", sources), ("target", targets)):
        ids = rows.loc[rows["pair_id"] != "", "pair_id"]
        if ids.duplicated().any():
            raise ValueError(f"{where}: pair_id {ids[ids.duplicated()].iloc[0]!r} is on two {side} sentences")
        pairs[side] = dict(zip(ids, rows.loc[ids.index, "id"]))
    lonely = sorted(set(pairs["source"]) ^ set(pairs["target"]))
    if lonely:
        raise ValueError(f"{where}: pair_id {lonely[0]!r} has a sentence on one side only")
    if not pairs["source"]:
        raise ValueError(f"{where}: no gold pair (no pair_id shared by a source and a target sentence)")
    return {pairs["source"][p]: pairs["target"][p] for p in pairs["source"]}


@torch.no_grad()
def embed(encoder, tok, texts: list[str], *, layer: int, max_length: int, batch_size: int) -> np.ndarray:
    """[n, hidden] L2-normalised mean-pooled `hidden_states[layer]` of each text (padding excluded)."""
    n_layers = encoder.config.num_hidden_layers
    if not 0 <= layer <= n_layers:
        raise ValueError(f"evaluate.retrieval_layer = {layer}: the encoder has hidden states 0..{n_layers}")
    tok.enable_truncation(max_length=max_length)
    ids = [np.asarray(e.ids, dtype=np.int64) for e in tok.encode_batch(list(texts))]
    order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together: little padding
    out = np.zeros((len(ids), encoder.config.hidden_size), dtype=np.float32)
    encoder.eval()
    for start in range(0, len(order), batch_size):
        pick = order[start:start + batch_size]
        input_ids = pad([ids[i] for i in pick], PAD)
        mask = (input_ids != PAD).long()
        hidden = encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[layer]
        summed = (hidden.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        out[pick] = torch.nn.functional.normalize(summed, dim=-1).numpy()
    return out


def nearest(queries: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """Index of each query's cosine nearest candidate (inputs L2-normalised; ties -> the lowest index)."""
    return np.argmax(queries @ cands.T, axis=1)


def accuracy(queries: pd.DataFrame, cands: pd.DataFrame, q_emb: np.ndarray, c_emb: np.ndarray):
    """(accuracy in %, per-query 0/1 scores, predicted candidate ids)."""
    hit = nearest(q_emb, c_emb)
    predicted = cands["pair_id"].to_numpy()[hit]
    correct = (predicted == queries["pair_id"].to_numpy()).astype(float)
    return 100.0 * float(correct.mean()), correct.tolist(), cands["id"].to_numpy()[hit].tolist()


def score(metric: str, queries: pd.DataFrame, cands: pd.DataFrame, q_emb: np.ndarray, c_emb: np.ndarray):
    """(score 0-100, per-query scores 0-1, each query's top candidate id) under a retrieval target's metric."""
    from . import ranking

    if metric == "retrieval_accuracy":
        return accuracy(queries, cands, q_emb, c_emb)
    top = cands["id"].to_numpy()[nearest(q_emb, c_emb)].tolist()
    if metric == "map_at_20":
        value, per_query = ranking.map_at_k(q_emb, c_emb, queries["pair_id"].tolist(),
                                            [tuple(candidate_groups(g)) for g in cands["pair_id"]])
    elif metric == "mrr_at_20":
        if cands["pair_id"].str.contains(" ", regex=False).any():
            raise ValueError("mrr_at_20 needs one pair_id per candidate; a candidate's pair_id lists several groups")
        gold = pd.Series(range(len(cands)), index=cands["pair_id"])
        if gold.index.duplicated().any():
            raise ValueError(f"mrr_at_20 needs one candidate per pair_id; {gold.index[gold.index.duplicated()][0]!r} "
                             f"has several")
        value, per_query = ranking.mrr_at_k(q_emb, c_emb, gold.loc[queries["pair_id"]].tolist())
    else:
        raise ValueError(f"retrieval targets are scored with retrieval_accuracy, map_at_20 or mrr_at_20, "
                         f"not {metric!r}")
    return value, per_query, top


def bucc_threshold(sources: pd.DataFrame, targets: pd.DataFrame, s_emb: np.ndarray, t_emb: np.ndarray,
                   where: str) -> tuple[float, float]:
    """(threshold, F1 at it) of a BUCC dev pool: the ratio-margin score that maximises F1 of the mined pairs
    (xstilts.eval.ranking.best_threshold)."""
    from . import ranking

    gold = gold_pairs(sources, targets, where)
    scored = ranking.scored_pairs(sources["id"].tolist(), targets["id"].tolist(), ranking.mine(s_emb, t_emb))
    threshold = ranking.best_threshold(scored, set(gold.items()))
    return threshold, ranking.prf(ranking.extract(scored, threshold), set(gold.items()))[2]


def bucc_outcomes(sources: pd.DataFrame, targets: pd.DataFrame, s_emb: np.ndarray, t_emb: np.ndarray,
                  threshold: float, where: str) -> list[tuple[str | None, str | None]]:
    """Each source sentence's (mined partner kept at `threshold`, gold partner) in one BUCC pool."""
    from . import ranking

    gold = gold_pairs(sources, targets, where)
    scored = ranking.scored_pairs(sources["id"].tolist(), targets["id"].tolist(), ranking.mine(s_emb, t_emb))
    return ranking.source_outcomes(sources["id"].tolist(), gold, ranking.extract(scored, threshold))


def bucc_f1(outcomes) -> tuple[float, list[float]]:
    """(F1 0-100 = 2 TP / (pred + gold) over the given sources, each source's TP 0/1)."""
    from . import ranking

    counts = np.array([ranking.outcome_counts(m, g) for m, g in outcomes], dtype=np.float64).reshape(-1, 2)
    total = counts.sum(axis=0)
    score = 100.0 * total[0] / total[1] if total[1] > 0 else 0.0
    return float(score), (counts[:, 0] / 2).tolist()


def chance(metric: str, queries: pd.DataFrame, cands: pd.DataFrame) -> float:
    """The expected score (0-100) of a random ranking of the candidates (BUCC: of a random pairing)."""
    from . import ranking

    if metric == "bucc_f1":
        return ranking.chance_bucc_f1(len(queries), len(cands), int((queries["pair_id"] != "").sum()))
    if metric == "retrieval_accuracy":
        return 100.0 / len(cands)
    if metric == "mrr_at_20":
        return 100.0 * ranking.chance_rr_at_k(len(cands))
    sizes = pd.Series([g for pair_id in cands["pair_id"] for g in candidate_groups(pair_id)]).value_counts()
    return 100.0 * float(np.mean([ranking.chance_ap_at_k(int(sizes[g]), len(cands)) for g in queries["pair_id"]]))
