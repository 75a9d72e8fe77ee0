"""Token tagging (POS/NER/CCG): the first sub-token of each word carries its tag; scored by seqeval's chunk F1
(metric "f1": XTREME's metric for PAN-X and UD-POS, see metrics.seqeval_f1) or token accuracy."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from .. import metrics
from ..modeling import PAD
from . import Feature, pad, register

IGNORE = -100


class Tagging:
    name = "tagging"

    def out_features(self, num_labels: int) -> int:
        return num_labels

    def encode(self, df, tok, max_length, train):
        tok.enable_truncation(max_length=max_length)
        encs = tok.encode_batch([list(t) for t in df["tokens"]], is_pretokenized=True)
        feats = []
        for i, (e, tags) in enumerate(zip(encs, df["tags"])):
            first = np.full(len(e.ids), -1, dtype=np.int64)
            labels = np.full(len(e.ids), IGNORE, dtype=np.int64)
            seen = set()
            for j, w in enumerate(e.word_ids):
                if w is not None and w not in seen:
                    seen.add(w)
                    first[j] = w
                    labels[j] = tags[w]
            feats.append(Feature(np.asarray(e.ids, dtype=np.int64), i, labels, (first, len(tags))))
        return feats

    def collate(self, feats):
        ids = pad([f.ids for f in feats], PAD)
        labels = pad([f.target for f in feats], IGNORE)
        return {"input_ids": ids, "attention_mask": (ids != PAD).long(), "labels": labels}

    def loss_units(self, feats) -> int:
        """The loss averages over labelled tokens (first sub-tokens), not examples: data-parallel shards of one
        batch are weighted by it (training.shard)."""
        return int(sum((f.target != IGNORE).sum() for f in feats))

    def loss(self, logits, batch):
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE)

    def decode(self, logits, batch, feats):
        best = logits.argmax(-1).numpy()
        out = []
        for row, f in zip(best, feats):
            first, n_words = f.extra
            pred = [0] * n_words  # words truncated away are predicted as the first label ("O")
            for j, w in enumerate(first):
                if w >= 0:
                    pred[w] = int(row[j])
            out.append(pred)
        return out

    def score(self, df, preds, metric, labels):
        gold = [list(t) for t in df["tags"]]
        per_example = [float(np.mean([p == g for p, g in zip(pr, go)])) if go else 0.0 for pr, go in zip(preds, gold)]
        if metric == "f1":
            names = lambda seq: [labels[i] for i in seq]  # noqa: E731
            agg = metrics.seqeval_f1([names(g) for g in gold], [names(p) for p in preds])
            return 100.0 * agg, per_example
        correct = sum(p == g for pr, go in zip(preds, gold) for p, g in zip(pr, go))
        total = sum(len(g) for g in gold)
        return 100.0 * correct / max(total, 1), per_example


register(Tagging())
