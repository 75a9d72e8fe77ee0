"""Sentence retrieval with an encoder and no task training (Tatoeba; XTREME's and jiant's recipe): each sentence is
the mean over its tokens of one hidden layer (`hidden_states[layer]`, embeddings at 0, so XLM-R Large's layer 14
is jiant's `retrieval_layer=14` = XTREME's `LAYER=13`), L2-normalised; every non-English query retrieves its
cosine nearest neighbour among the English candidates; accuracy = share of queries whose neighbour is their
translation (same `pair_id`).

Canonical files (schema "retrieval"): test/<lang>.parquet holds the queries (lang = <lang>) and their English
candidate pool (lang = "en"); adversarial/<adversary>/<lang>.parquet holds perturbed queries only (with
`source_id`), searched against the clean file's candidates, so each adversarial score is paired with the clean
score of exactly the same queries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..core.vocab import PAD
from ..formats import pad


def split_pool(df: pd.DataFrame, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(queries, English candidates) of one clean retrieval file; ValueError naming `where` if either is empty or a
    query's translation is not among the candidates."""
    queries = df[df["lang"] != "en"].reset_index(drop=True)
    cands = df[df["lang"] == "en"].reset_index(drop=True)
    if queries.empty or cands.empty:
        raise ValueError(f"{where}: a retrieval file needs non-English queries and English candidates "
                         f"(found {len(queries)} queries, {len(cands)} candidates)")
    missing = sorted(set(queries["pair_id"]) - set(cands["pair_id"]))
    if missing:
        raise ValueError(f"{where}: {len(missing)} queries have no English candidate with their pair_id "
                         f"(e.g. {missing[0]!r})")
    return queries, cands


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
