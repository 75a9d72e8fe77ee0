"""Token tagging (POS/NER/CCG): the first sub-token of each word carries its tag; scored by seqeval's chunk F1
(metric "f1": XTREME's metric for PAN-X and UD-POS, see metrics.seqeval_f1) or token accuracy.

As XTREME does it (`utils_preprocess.py`, `panx_tokenize_preprocess` / `udpos_tokenize_preprocess`, then
`third_party/utils_tag.py`):
- every word is tokenised on its own (pre-tokenised input); a word with no sub-token at all (characters the
  tokenizer drops) or with more sub-tokens than fit in one sequence is fed as one `<unk>`, so word positions never
  shift;
- a sentence whose sub-tokens do not fit in `max_length` (with `<s>` and `</s>`) is split, between words, into
  consecutive windows that do (XTREME writes them as separate sentences); each window is its own feature and the
  row's prediction is put back together from its windows (`combine`), so every word is predicted by the model and
  none is left out or scored as "O". XTREME scores the windows as separate sentences; here the whole sentence is
  scored, which can differ only for an entity that crosses a window boundary.
- the tag goes to the word's first sub-token, except that a piece that is only the SentencePiece meta symbol "▁"
  (XLM-R writes e.g. "▁" + "中国") never takes the slot: the next piece of the word does (XTREME and HF label the
  first piece whatever it is). The "▁" piece stays in the input.
`truncation` counts what this did per file: rows split into several windows, words fed as `<unk>`, and words
whose sub-tokens were cut (fed as `<unk>` because a window could not hold them).
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from ..core import metrics
from ..core.vocab import PAD, UNK
from . import Feature, pad, register

IGNORE = -100
META = "\u2581"  # SentencePiece's "▁"


class Tagging:
    name = "tagging"

    def out_features(self, num_labels: int) -> int:
        return num_labels

    def encode(self, df, tok, max_length, train):
        """One feature per window; `extra` = (word index of each position that carries a tag, else -1; the row's
        number of words; words of the window fed as <unk>; of those, words cut because they were too long)."""
        tok.no_truncation()
        unk = tok.token_to_id("<unk>")
        unk = UNK if unk is None else unk
        encs = tok.encode_batch([list(t) for t in df["tokens"]], is_pretokenized=True)
        feats = []
        for i, (e, tags) in enumerate(zip(encs, df["tags"])):
            n_words = len(tags)
            word_ids = e.word_ids
            inside = [j for j, w in enumerate(word_ids) if w is not None]
            first_in, last_in = (inside[0], inside[-1]) if inside else (len(word_ids), len(word_ids) - 1)
            if any(word_ids[j] is None for j in range(first_in, last_in + 1)):
                raise ValueError("tagging: the tokenizer's template puts special tokens between words")
            head, tail = e.ids[:first_in], e.ids[last_in + 1:]
            room = max_length - len(head) - len(tail)
            if room < 1:
                raise ValueError(f"tagging: max_length {max_length} leaves no room after the special tokens")
            pieces: list[list[tuple[int, str]]] = [[] for _ in range(n_words)]
            for j in inside:
                pieces[word_ids[j]].append((e.ids[j], e.tokens[j]))
            unk_words = np.zeros(n_words, dtype=bool)
            long_words = np.zeros(n_words, dtype=bool)
            for w in range(n_words):
                if len(pieces[w]) > room:
                    long_words[w] = True
                if not pieces[w] or long_words[w]:
                    unk_words[w] = True
                    pieces[w] = [(unk, "<unk>")]
            for words in self._windows([len(p) for p in pieces], room):
                ids, first = list(head), [-1] * len(head)
                for w in words:
                    slot = next((k for k, (_, s) in enumerate(pieces[w]) if s.strip(META)), 0)
                    ids += [p for p, _ in pieces[w]]
                    first += [w if k == slot else -1 for k in range(len(pieces[w]))]
                ids += tail
                first += [-1] * len(tail)
                first_arr = np.asarray(first, dtype=np.int64)
                labels = np.full(len(ids), IGNORE, dtype=np.int64)
                labels[first_arr >= 0] = np.asarray(tags, dtype=np.int64)[first_arr[first_arr >= 0]]
                feats.append(Feature(np.asarray(ids, dtype=np.int64), i, labels,
                                     (first_arr, n_words, int(unk_words[words].sum()), int(long_words[words].sum()))))
        return feats

    @staticmethod
    def _windows(lengths: list[int], room: int) -> list[list[int]]:
        """Consecutive groups of words whose sub-tokens fit in `room` (XTREME's greedy split); one group, possibly
        empty, for a sentence that fits."""
        out, cur, used = [], [], 0
        for w, n in enumerate(lengths):
            if cur and used + n > room:
                out.append(cur)
                cur, used = [], 0
            cur.append(w)
            used += n
        return out + [cur] if cur or not out else out

    def truncation(self, feats) -> dict[str, int]:
        windows = np.bincount([f.example for f in feats]) if feats else np.zeros(0, dtype=np.int64)
        return {"n_inputs": len(feats), "n_split": int((windows > 1).sum()),
                "n_truncated": len({f.example for f in feats if f.extra[3] > 0}),
                "n_unk_words": int(sum(f.extra[2] for f in feats)),
                "n_truncated_words": int(sum(f.extra[3] for f in feats))}

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
        """Per feature: a tag for every word of the row, None for the words of its other windows."""
        best = logits.argmax(-1).numpy()
        out = []
        for row, f in zip(best, feats):
            first, n_words = f.extra[0], f.extra[1]
            pred = [None] * n_words
            for j in np.flatnonzero(first >= 0):
                pred[first[j]] = int(row[j])
            out.append(pred)
        return out

    def combine(self, df, feats, outputs):
        """Each row's tags, from its windows (every word is in exactly one)."""
        rows: list = [None] * len(df)
        for f, pred in zip(feats, outputs):
            if rows[f.example] is None:
                rows[f.example] = list(pred)
            else:
                rows[f.example] = [a if b is None else b for a, b in zip(rows[f.example], pred)]
        for i, pred in enumerate(rows):
            if pred is not None and any(p is None for p in pred):
                raise ValueError(f"tagging: row {i} has words that no window predicted")
        return rows

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
