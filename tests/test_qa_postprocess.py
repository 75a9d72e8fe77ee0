"""Span QA decoding against a reference: HF's published QA post-processing algorithm (`postprocess_qa_predictions`
in transformers' examples/pytorch/question-answering/utils_qa.py, version 1: no null answer), written out below
from its description, fed the same logits as `Span.decode` + `Span.combine`. Contexts longer than one window,
with the answer in the second window, on the word-level tokenizer and on the XLM-R-like SentencePiece one."""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd
import pytest
import torch

from xstilts import formats
from xstilts.formats.span import MAX_ANSWER_TOKENS, N_BEST, Span
from xstilts.rehearsal.tokenizer import build_xlmr_like_tokenizer
from xstilts.train import modeling

WORDS = ("alice bob carol dave erin frank grace heidi ivan judy ken lena mike nina oscar peggy quinn rob sybil "
         "trent ursula victor wendy xena yuri zoe").split()


def reference_postprocess(examples, features, all_start_logits, all_end_logits, n_best_size=20,
                          max_answer_length=30):
    """HF utils_qa.postprocess_qa_predictions with version_2_with_negative=False: for every feature of an example,
    the n_best_size largest start and end logits; skip pairs out of the context (offset None), with end < start
    or longer than max_answer_length; score = start + end logit; sort all the example's candidates by score
    (stable), keep n_best_size, answer = the best one's text from the offsets ("empty" if there is none)."""
    features_per_example = collections.defaultdict(list)
    for i, feature in enumerate(features):
        features_per_example[feature["example_id"]].append(i)
    answers = {}
    for example_index, example in enumerate(examples):
        prelim_predictions = []
        for feature_index in features_per_example[example_index]:
            start_logits = all_start_logits[feature_index]
            end_logits = all_end_logits[feature_index]
            offset_mapping = features[feature_index]["offset_mapping"]
            start_indexes = np.argsort(start_logits)[-1: -n_best_size - 1: -1].tolist()
            end_indexes = np.argsort(end_logits)[-1: -n_best_size - 1: -1].tolist()
            for start_index in start_indexes:
                for end_index in end_indexes:
                    if (start_index >= len(offset_mapping) or end_index >= len(offset_mapping)
                            or offset_mapping[start_index] is None or offset_mapping[end_index] is None):
                        continue
                    if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                        continue
                    prelim_predictions.append({
                        "offsets": (offset_mapping[start_index][0], offset_mapping[end_index][1]),
                        "score": start_logits[start_index] + end_logits[end_index]})
        predictions = sorted(prelim_predictions, key=lambda x: x["score"], reverse=True)[:n_best_size]
        context = example["context"]
        for pred in predictions:
            offsets = pred.pop("offsets")
            pred["text"] = context[offsets[0]: offsets[1]]
        if len(predictions) == 0 or (len(predictions) == 1 and predictions[0]["text"] == ""):
            predictions.insert(0, {"text": "empty", "score": 0.0})
        answers[example["id"]] = predictions[0]["text"]
    return answers


def long_rows(n: int, seed: int, words_per_context: int = 60) -> pd.DataFrame:
    """Contexts of `words_per_context` words, the answer (one or two words) in the last quarter."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice(WORDS, words_per_context))
        a = int(rng.integers(3 * words_per_context // 4, words_per_context - 3))
        k = int(rng.integers(1, 3))
        ctx = " ".join(words)
        start = len(" ".join(words[:a])) + 1
        text = " ".join(words[a: a + k])
        assert ctx[start: start + len(text)] == text
        rows.append({"id": f"q{i}", "lang": "en", "question": f"who met {words[a]} ?", "context": ctx,
                     "answers_text": [text], "answers_start": [start], "meta": ""})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def word_tok(tmp_path_factory):
    out = tmp_path_factory.mktemp("wtok")
    modeling.train_tokenizer(WORDS + ["who met ?"], out, max_length=64)
    return modeling.load_tokenizer(out)


@pytest.fixture(scope="module")
def sp_tok(tmp_path_factory):
    out = tmp_path_factory.mktemp("sptok")
    corpus = [" ".join(np.random.default_rng(s).choice(WORDS, 12)) + " who met ?" for s in range(300)]
    build_xlmr_like_tokenizer(corpus, out, vocab_size=120)
    return modeling.load_tokenizer(out)


def logits_for(fmt: Span, feats, seed: int, answer_bias: float = 0.0):
    """Random start/end logits per feature (float32); with `answer_bias`, the gold window's gold positions
    raised so the right answer usually wins, but not always."""
    rng = np.random.default_rng(seed)
    batch = fmt.collate(feats)
    logits = torch.from_numpy(rng.normal(size=(*batch["input_ids"].shape, 2)).astype(np.float32))
    for b, f in enumerate(feats):
        if f.target is not None and f.target != (0, 0) and answer_bias:
            logits[b, f.target[0], 0] += answer_bias
            logits[b, f.target[1], 1] += answer_bias
    return batch, logits


def reference_inputs(fmt: Span, feats, batch, logits):
    """What the reference gets: the same logits, as the format defines them (-inf outside the context), one array
    per feature of its own length, and HF's offset_mapping (None outside the context)."""
    s, e = fmt.context_logits(logits.float(), batch)
    starts = [s[b, : len(f.ids)].numpy() for b, f in enumerate(feats)]
    ends = [e[b, : len(f.ids)].numpy() for b, f in enumerate(feats)]
    features = [{"example_id": f.example,
                 "offset_mapping": [tuple(int(x) for x in o) if m else None for o, m in zip(f.extra[1], f.extra[0])]}
                for f in feats]
    return features, starts, ends


@pytest.mark.parametrize("which", ["word", "sentencepiece"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoding_matches_the_reference_across_windows(request, which, seed):
    tok = request.getfixturevalue("word_tok" if which == "word" else "sp_tok")
    fmt = formats.get("span")
    df = long_rows(12, seed)
    feats = fmt.encode(df, tok, 48, train=False, doc_stride=16)
    windows = collections.Counter(f.example for f in feats)
    assert min(windows.values()) >= 2  # every context is longer than one window
    # the gold answer is inside a window other than the first one, for every row
    for i in range(len(df)):
        first = next(f for f in feats if f.example == i)
        assert first.target == (0, 0)
        assert any(f.target != (0, 0) for f in feats if f.example == i)
    for bias in (0.0, 3.0):
        batch, logits = logits_for(fmt, feats, seed, bias)
        ours = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
        features, starts, ends = reference_inputs(fmt, feats, batch, logits)
        ref = reference_postprocess(df.to_dict("records"), features, starts, ends, N_BEST, MAX_ANSWER_TOKENS)
        assert [c[a:b] for (a, b), c in zip(ours, df.context)] == [ref[i].strip() for i in df.id]
    # with the gold positions far above the rest, the answer is the gold text, found in a later window
    batch, logits = logits_for(fmt, feats, seed, 50.0)
    ours = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
    assert [c[a:b] for (a, b), c in zip(ours, df.context)] == [t[0] for t in df.answers_text]
    assert fmt.score(df, ours, "squad_f1", ())[0] == 100.0 and fmt.exact_match(df, ours, "squad_f1")[0] == 100.0


def test_small_n_best_and_short_max_answer_match_the_reference(word_tok):
    """The same algorithm with other settings: n_best 3, answers of at most 2 sub-tokens."""
    fmt = Span(max_answer_tokens=2, n_best=3)
    df = long_rows(10, 7)
    feats = fmt.encode(df, word_tok, 40, train=False, doc_stride=10)
    batch, logits = logits_for(fmt, feats, 7, 1.0)
    ours = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
    features, starts, ends = reference_inputs(fmt, feats, batch, logits)
    ref = reference_postprocess(df.to_dict("records"), features, starts, ends, 3, 2)
    got = [c[a:b] for (a, b), c in zip(ours, df.context)]
    assert got == [ref[i].strip() if ref[i] != "empty" else "" for i in df.id]
    assert all(len(t.split()) <= 2 for t in got)


def test_equal_scores_keep_the_first_window_like_the_reference(word_tok):
    """Ties: the candidate of the earlier window (then the higher start rank) wins, as run_qa's stable sort."""
    fmt = formats.get("span")
    df = long_rows(1, 3, words_per_context=30)
    feats = fmt.encode(df, word_tok, 24, train=False, doc_stride=8)
    assert len(feats) >= 3
    batch = fmt.collate(feats)
    logits = torch.zeros(*batch["input_ids"].shape, 2)
    for b, f in enumerate(feats):  # the same best score, 10, in every window, at its first context sub-token
        p = int(np.flatnonzero(f.extra[0])[0])
        logits[b, p, 0] = logits[b, p, 1] = 5.0
    ours = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
    features, starts, ends = reference_inputs(fmt, feats, batch, logits)
    ref = reference_postprocess(df.to_dict("records"), features, starts, ends)
    assert df.context[0][ours[0][0]: ours[0][1]] == ref["q0"] == df.context[0].split()[0]


def test_a_row_without_any_valid_span_gets_an_empty_answer(word_tok):
    fmt = formats.get("span")
    df = pd.DataFrame({"id": ["a"], "lang": ["en"], "question": ["who ?"], "context": [""],
                       "answers_text": [["x"]], "answers_start": [[0]], "meta": [""]})
    feats = fmt.encode(df, word_tok, 16, train=False)
    assert len(feats) == 1 and not feats[0].extra[0].any() and feats[0].target == (0, 0)
    batch = fmt.collate(feats)
    assert fmt.combine(df, feats, fmt.decode(torch.zeros(*batch["input_ids"].shape, 2), batch, feats)) == [(0, 0)]
