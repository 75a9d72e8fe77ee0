"""Multiple choice: one <s> context </s></s> choice </s> sequence per choice, a score per choice, softmax over
choices (as in jiant/HF multiple-choice heads)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..modeling import PAD
from . import Feature, register


class MultipleChoice:
    name = "mc"

    def out_features(self, num_labels: int) -> int:
        return 1

    def encode(self, df, tok, max_length, train):
        tok.enable_truncation(max_length=max_length)
        feats = []
        for i, (ctx, choices, y) in enumerate(zip(df["context"], df["choices"], df["label"])):
            encs = tok.encode_batch([(ctx, c) for c in choices])
            n = max(len(e.ids) for e in encs)
            ids = np.full((len(encs), n), PAD, dtype=np.int64)
            for j, e in enumerate(encs):
                ids[j, : len(e.ids)] = e.ids
            feats.append(Feature(ids, i, int(y)))
        return feats

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
