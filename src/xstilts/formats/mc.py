"""Multiple choice: one <s> context </s></s> choice </s> sequence per choice, a score per choice, softmax over
choices (as in jiant/HF multiple-choice heads).

Truncation as jiant's `multiple_choice` template does it (`jiant.tasks.utils.truncate_sequences`): while the
pair is longer than `max_length` minus the special tokens, the longer of (context, choice) loses its last
sub-token, the context first on ties. A long context is therefore cut and a short choice kept whole; a choice
is cut only once the context is no longer than it. HF's `run_swag` calls the tokenizer with `truncation=True` on
(context, ending) pairs, i.e. `tokenizers`' "longest_first", which gives the same lengths except when both sides
are cut to an odd budget and the context was the longer: then HF keeps the extra sub-token in the context, jiant
in the choice. `truncation` counts the rows that lost sub-tokens (and those whose choice did).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.vocab import PAD
from . import Feature, register


def truncated_lengths(first: int, second: int, budget: int) -> tuple[int, int]:
    """jiant's `truncate_sequences([first, second], budget)` lengths: trim the longer (the first on ties) one
    sub-token at a time until the pair fits in `budget`."""
    if budget < 0:
        raise ValueError(f"multiple choice: no room for the pair ({budget} sub-tokens)")
    if first + second <= budget:
        return first, second
    short = min(first, second)
    if budget - short >= short:  # only the longer one is cut
        return (budget - short, second) if first >= second else (first, budget - short)
    return budget // 2, budget - budget // 2  # both cut: trimmed in turns, the first on ties


class MultipleChoice:
    name = "mc"

    def out_features(self, num_labels: int) -> int:
        return 1

    def encode(self, df, tok, max_length, train):
        """One feature per row: ids [choices, L]; `extra` = sub-tokens cut from [context, choice] of each choice."""
        tok.no_truncation()
        feats = []
        for i, (ctx, choices, y) in enumerate(zip(df["context"], df["choices"], df["label"])):
            encs = tok.encode_batch([(ctx, c) for c in choices])
            rows, lost = [], []
            for e in encs:
                seq = np.array([-1 if s is None else s for s in e.sequence_ids], dtype=np.int64)
                n_a, n_b = int((seq == 0).sum()), int((seq == 1).sum())
                k_a, k_b = truncated_lengths(n_a, n_b, max_length - (len(seq) - n_a - n_b))
                rank = np.zeros(len(seq), dtype=np.int64)  # position of each token within its own sequence
                for s_id in (0, 1):
                    rank[seq == s_id] = np.arange(int((seq == s_id).sum()))
                keep = (seq == -1) | ((seq == 0) & (rank < k_a)) | ((seq == 1) & (rank < k_b))
                rows.append(np.asarray(e.ids, dtype=np.int64)[keep])
                lost.append((n_a - k_a, n_b - k_b))
            n = max(len(r) for r in rows)
            ids = np.full((len(rows), n), PAD, dtype=np.int64)
            for j, r in enumerate(rows):
                ids[j, : len(r)] = r
            feats.append(Feature(ids, i, int(y), np.asarray(lost, dtype=np.int64).reshape(-1, 2)))
        return feats

    def truncation(self, feats) -> dict[str, int]:
        """Rows any of whose choices lost sub-tokens; `truncated_choice_examples`: rows where a choice itself did."""
        return {"n_inputs": len(feats), "n_split": 0,
                "n_truncated": sum(int(f.extra.sum() > 0) for f in feats),
                "n_choice_truncated": sum(int(f.extra[:, 1].sum() > 0) for f in feats)}

    def collate(self, feats):
        c = max(f.ids.shape[0] for f in feats)
        n = max(f.ids.shape[1] for f in feats)
        ids = np.full((len(feats), c, n), PAD, dtype=np.int64)
        for i, f in enumerate(feats):
            ids[i, : f.ids.shape[0], : f.ids.shape[1]] = f.ids
        ids_t = torch.from_numpy(ids)
        choice_mask = torch.tensor([[j < f.ids.shape[0] for j in range(c)] for f in feats])
        return {"input_ids": ids_t.view(-1, n), "attention_mask": (ids_t.view(-1, n) != PAD).long(),
                "labels": torch.tensor([f.target for f in feats]), "choice_mask": choice_mask}

    def _scores(self, logits, batch):
        """One score per choice; the padding choices of rows with fewer choices can never win."""
        mask = batch["choice_mask"]
        scores = logits[:, 0, 0].view(mask.shape)
        return scores.masked_fill(~mask, torch.finfo(scores.dtype).min)

    def loss(self, logits, batch):
        return F.cross_entropy(self._scores(logits, batch), batch["labels"])

    def decode(self, logits, batch, feats):
        return self._scores(logits, batch).argmax(-1).tolist()

    def score(self, df, preds, metric, labels):
        correct = [float(p == y) for p, y in zip(preds, df["label"])]
        return 100.0 * float(np.mean(correct)) if correct else float("nan"), correct


register(MultipleChoice())
