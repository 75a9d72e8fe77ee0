"""Extractive span QA as jiant and HF's `run_qa` do it: `<s> question </s></s> context-window </s>`, start/end
logits over the context tokens, answers decoded across every window of an example and mapped back to characters
through the tokenizer's offsets; scored with SQuAD F1/EM or MLQA's per-language F1/EM (max over answers).

Windows (jiant's `squad_style` and XTREME's `run_squad.py`, i.e. the original BERT SQuAD processor): the question
is cut to `max_query_tokens` (64) sub-tokens; the context is cut into windows of as many sub-tokens as `max_length`
leaves, starting every `doc_stride` context sub-tokens (the paper profile: 384 and 128), until a window reaches
the end of the context. A stride larger than a window's context room is capped at it, so no sub-token is ever
skipped. `doc_stride` here is the step between window starts, as in jiant and XTREME; HF's `run_qa` passes its
`--doc_stride` to the tokenizer as the *overlap* instead.

Training (jiant and `run_qa` alike): every window is a training feature; the target is the first answer's
(start, end) sub-tokens in the window, found by containment as `run_qa` does (the last context sub-token
starting at or before the answer's first character, the first one ending at or after its last), so an answer
that does not fall on sub-token boundaries trains on the sub-tokens that contain it; a window that does not contain
the whole answer (and a row without answers) points at position 0, `<s>` (the CLS position), which the loss can
take. Containment works with both offset behaviours of SentencePiece tokenizers: "▁word" pieces whose offsets
include the space before the word (plain `SentencePieceUnigramTokenizer`), and XLM-R's standalone "▁" piece whose
offsets overlap the next piece's (transformers issue #17454).

Decoding: `run_qa`'s `postprocess_qa_predictions` (version 1, no null answer): per window the `n_best` (20)
highest start and end logits over the context, pairs with end >= start and at most `max_answer_tokens` (30)
sub-tokens, score = start + end logit; the best pair over all windows of the example (stable order on ties:
window, then start rank, then end rank), its characters from the offsets, surrounding whitespace dropped (which
no normalisation scores). Unlike jiant, no "max context" filter on start positions.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core import metrics
from ..core.vocab import PAD
from . import Feature, pad, register

MAX_ANSWER_TOKENS = 30  # HF run_qa / jiant max_answer_length
N_BEST = 20  # HF run_qa / jiant n_best_size
MAX_QUERY_TOKENS = 64  # jiant / XTREME max_query_length
DOC_STRIDE = 128  # jiant / XTREME / HF default (finetune.doc_stride sets it in the pipeline)
CLS = 0  # position of <s>: the target of windows without the answer
METRICS = ("squad_f1", "mlqa_f1")


def answer_tokens(offsets: np.ndarray, ctx_pos: np.ndarray, a0: int, a1: int) -> tuple[int, int] | None:
    """(start, end) positions of the characters [a0, a1) among the context positions `ctx_pos` (increasing) by
    containment, as HF run_qa's `prepare_train_features`; None when the window does not contain them all."""
    if not len(ctx_pos) or not (offsets[ctx_pos[0], 0] <= a0 and offsets[ctx_pos[-1], 1] >= a1):
        return None
    after = ctx_pos[offsets[ctx_pos, 0] > a0]  # run_qa: advance while the token starts at or before a0
    start = int(after[0]) - 1 if len(after) else int(ctx_pos[-1])
    before = ctx_pos[offsets[ctx_pos, 1] < a1]  # run_qa: step back while the token ends at or after a1
    end = int(before[-1]) + 1 if len(before) else int(ctx_pos[0])
    return start, max(start, end)


class Span:
    name = "span"
    options = ("doc_stride",)  # encode() keyword options taken from the fine-tuning hyperparameters

    def __init__(self, max_answer_tokens: int = MAX_ANSWER_TOKENS, n_best: int = N_BEST,
                 max_query_tokens: int = MAX_QUERY_TOKENS):
        self.max_answer_tokens, self.n_best, self.max_query_tokens = max_answer_tokens, n_best, max_query_tokens

    def out_features(self, num_labels: int) -> int:
        return 2

    # ---- features ----------------------------------------------------------------------------------------------
    def encode(self, df, tok, max_length, train, doc_stride: int = DOC_STRIDE):
        """One feature per window (see the module docstring); `extra` = (context mask, offsets, question
        sub-tokens cut). Every row gets at least one feature, in training too."""
        if doc_stride < 1:
            raise ValueError(f"span QA: doc_stride must be >= 1, got {doc_stride}")
        tok.no_truncation()
        encs = tok.encode_batch(list(zip(df["question"], df["context"])))
        feats = []
        for i, (e, texts, starts) in enumerate(zip(encs, df["answers_text"], df["answers_start"])):
            seq = np.array([-1 if s is None else s for s in e.sequence_ids], dtype=np.int64)
            ids = np.asarray(e.ids, dtype=np.int64)
            offsets = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
            ctx = np.flatnonzero(seq == 1)
            question = np.flatnonzero(seq == 0)
            if len(ctx) and ctx[-1] - ctx[0] + 1 != len(ctx):
                raise ValueError("span QA: the tokenizer's pair template does not keep the context contiguous")
            head = np.arange(ctx[0]) if len(ctx) else np.arange(len(ids))
            tail = np.arange(ctx[-1] + 1, len(ids)) if len(ctx) else np.arange(0)
            specials = len(head) - len(question) + len(tail)
            room = max_length - specials - 1  # at least one context sub-token per window
            if room < 0:
                raise ValueError(f"span QA: max_length {max_length} leaves no room for the context after "
                                 f"{specials} special tokens")
            keep_q = min(len(question), self.max_query_tokens, room)
            cut_q = len(question) - keep_q
            head = head[(seq[head] != 0) | np.isin(head, question[:keep_q])]
            size = max_length - len(head) - len(tail)  # context sub-tokens per window
            step = min(doc_stride, size)
            answer = (int(starts[0]), int(starts[0]) + len(texts[0])) if len(texts) else None
            begin = 0
            while True:
                end = min(begin + size, len(ctx))
                pos = np.concatenate([head, ctx[begin:end], tail]).astype(np.int64)
                w_offsets = offsets[pos]
                mask = seq[pos] == 1
                target = None
                if answer is not None:
                    target = answer_tokens(w_offsets, np.flatnonzero(mask), *answer) or (CLS, CLS)
                feats.append(Feature(ids[pos], i, target, (mask, w_offsets, cut_q)))
                if end >= len(ctx):
                    break
                begin += step
        return feats

    def truncation(self, feats) -> dict[str, int]:
        """Rows spread over more than one window, and rows whose question lost sub-tokens (max_query_tokens)."""
        windows = np.bincount([f.example for f in feats]) if feats else np.zeros(0, dtype=np.int64)
        cut = {f.example for f in feats if f.extra[2] > 0}
        return {"n_inputs": len(feats), "n_split": int((windows > 1).sum()), "n_truncated": len(cut)}

    def collate(self, feats):
        ids = pad([f.ids for f in feats], PAD)
        ctx = torch.zeros(ids.shape, dtype=torch.bool)
        for i, f in enumerate(feats):
            ctx[i, : len(f.ids)] = torch.from_numpy(f.extra[0])
        answer = ctx.clone()
        answer[:, CLS] = True  # windows without the answer point at <s>
        tgt = torch.tensor([f.target if f.target is not None else (CLS, CLS) for f in feats])
        return {"input_ids": ids, "attention_mask": (ids != PAD).long(), "context_mask": ctx, "answer_mask": answer,
                "start": tgt[:, 0], "end": tgt[:, 1]}

    # ---- training ----------------------------------------------------------------------------------------------
    def loss(self, logits, batch):
        """Cross-entropy of the start and end positions over the context and the CLS position."""
        neg = torch.finfo(logits.dtype).min
        mask = batch["answer_mask"]
        s, e = logits[..., 0].masked_fill(~mask, neg), logits[..., 1].masked_fill(~mask, neg)
        return (F.cross_entropy(s, batch["start"]) + F.cross_entropy(e, batch["end"])) / 2

    # ---- prediction --------------------------------------------------------------------------------------------
    def context_logits(self, logits, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits with every position outside the context at -inf: what decoding ranks."""
        mask = batch["context_mask"]
        return (logits[..., 0].masked_fill(~mask, float("-inf")), logits[..., 1].masked_fill(~mask, float("-inf")))

    def candidates(self, start: np.ndarray, end: np.ndarray, ctx: np.ndarray, offsets: np.ndarray) -> list:
        """run_qa's preliminary predictions of one window, best first: (score, first char, end char) of the valid
        pairs among the `n_best` highest start and end logits, at most `n_best` of them."""
        n = self.n_best
        si = np.argsort(start)[-1: -n - 1: -1]
        ei = np.argsort(end)[-1: -n - 1: -1]
        S, E = np.meshgrid(si, ei, indexing="ij")  # row-major = run_qa's loop order (start rank, then end rank)
        ok = ctx[S] & ctx[E] & (E >= S) & (E - S + 1 <= self.max_answer_tokens)
        S, E = S[ok], E[ok]
        score = start[S] + end[E]
        order = np.argsort(-score, kind="stable")[:n]
        return [(float(score[k]), int(offsets[S[k], 0]), int(offsets[E[k], 1])) for k in order]

    def decode(self, logits, batch, feats):
        """Per feature (window): its candidates (see `candidates`); `combine` picks each row's answer."""
        s, e = self.context_logits(logits.float(), batch)
        s, e = s.numpy(), e.numpy()
        return [self.candidates(s[b, : len(f.ids)], e[b, : len(f.ids)], f.extra[0], f.extra[1])
                for b, f in enumerate(feats)]

    def combine(self, df, feats, outputs):
        """Each row's answer, (first char, end char) in its context: the best candidate over all its windows (the
        first of equal scores, in window order), whitespace at either end dropped; (0, 0) when no window has a
        valid span."""
        per_row: list[list] = [[] for _ in range(len(df))]
        for f, cands in zip(feats, outputs):
            per_row[f.example].extend(cands)
        out = []
        for cands, ctx in zip(per_row, df["context"]):
            if not cands:
                out.append((0, 0))
                continue
            _, c0, c1 = max(cands, key=lambda c: c[0])  # max keeps the first of equal scores
            while c0 < c1 and ctx[c0].isspace():
                c0 += 1
            while c1 > c0 and ctx[c1 - 1].isspace():
                c1 -= 1
            out.append((c0, c1))
        return out

    # ---- scoring -----------------------------------------------------------------------------------------------
    def _per_example(self, df, preds, metric, squad_fn, mlqa_fn) -> list[float]:
        if metric not in METRICS:
            raise ValueError(f"span QA is scored with squad_f1 or mlqa_f1, not {metric!r}")
        out = []
        langs = df["lang"] if metric == "mlqa_f1" else [None] * len(df)
        for (c0, c1), ctx, truths, lang in zip(preds, df["context"], df["answers_text"], langs):
            if metric == "mlqa_f1":
                out.append(max(mlqa_fn(ctx[c0:c1], t, lang) for t in truths))
            else:
                out.append(metrics.best_over_truths(squad_fn, ctx[c0:c1], list(truths)))
        return out

    def score(self, df, preds, metric, labels):
        """squad_f1: SQuAD v1.1 F1 with English normalisation for every language (XQuAD, TyDiQA, as XTREME);
        mlqa_f1: MLQA's F1 with the normalisation of each row's language."""
        f1 = self._per_example(df, preds, metric, metrics.squad_f1, metrics.mlqa_f1)
        return 100.0 * float(np.mean(f1)) if f1 else float("nan"), f1

    def exact_match(self, df, preds, metric):
        """Exact match under the same normalisation as `score`'s F1 (squad_f1: SQuAD's; mlqa_f1: MLQA's for each
        row's language): (points, per example)."""
        em = self._per_example(df, preds, metric, metrics.squad_em, metrics.mlqa_em)
        return 100.0 * float(np.mean(em)) if em else float("nan"), em


register(Span())
