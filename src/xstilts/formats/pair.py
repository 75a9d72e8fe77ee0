"""Pair classification (NLI, paraphrase): <s> a </s></s> b </s> -> label from the first token."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.vocab import PAD
from . import Feature, pad, register


class Pair:
    name = "pair"

    def out_features(self, num_labels: int) -> int:
        return num_labels

    def encode(self, df, tok, max_length, train):
        tok.enable_truncation(max_length=max_length)
        encs = tok.encode_batch(list(zip(df["text_a"], df["text_b"])))
        return [Feature(np.asarray(e.ids, dtype=np.int64), i, int(y))
                for i, (e, y) in enumerate(zip(encs, df["label"]))]

    def collate(self, feats):
        ids = pad([f.ids for f in feats], PAD)
        return {"input_ids": ids, "attention_mask": (ids != PAD).long(),
                "labels": torch.tensor([f.target for f in feats])}

    def loss(self, logits, batch):
        return F.cross_entropy(logits[:, 0], batch["labels"])

    def decode(self, logits, batch, feats):
        return logits[:, 0].argmax(-1).tolist()

    def score(self, df, preds, metric, labels):
        correct = [float(p == y) for p, y in zip(preds, df["label"])]
        return 100.0 * float(np.mean(correct)) if correct else float("nan"), correct


register(Pair())
