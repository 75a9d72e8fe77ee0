"""Task formats (pair, mc, span, tagging): encode -> collate -> decode -> score on a tiny word-level tokenizer, plus
a tiny TaskModel: training learns, is deterministic, and checkpoints round-trip as safetensors only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from xstilts import formats
from xstilts.core.tasks import NER_LABELS, NLI_LABELS
from xstilts.core.vocab import BOS, EOS, PAD, UNK
from xstilts.data import synthetic
from xstilts.data.world import ENGLISH, Lexicon
from xstilts.formats.span import Span
from xstilts.formats.tagging import IGNORE
from xstilts.train import loop as training
from xstilts.train import modeling

EXTRA = ["new york", "yes", "no", "maybe"]


pytestmark = pytest.mark.usefixtures("one_thread")


def rows(task: str, n: int, seed: int = 1) -> pd.DataFrame:
    return pd.DataFrame(synthetic.to_rows(task, synthetic.generate(task, n, seed, "test"), ENGLISH, Lexicon({}, 0),
                                          "test"))


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    texts = EXTRA[:]
    for task in ("xnli", "xquad", "hellaswag"):
        df = rows(task, 20)
        texts += [" ".join(str(v) for v in r if isinstance(v, str)) for r in df.itertuples(index=False)]
        if "choices" in df:
            texts += [c for ch in df.choices for c in ch]
    texts += [" ".join(t) for t in rows("panx", 20).tokens]
    out = tmp_path_factory.mktemp("tok")
    modeling.train_tokenizer(texts, out, max_length=64)
    assert (out / "tokenizer.json").exists()
    return modeling.load_tokenizer(out)


def test_registry_and_out_features():
    assert set(formats.REGISTRY) >= {"pair", "mc", "span", "tagging"}
    assert formats.get("pair").out_features(3) == 3
    assert formats.get("mc").out_features(0) == 1
    assert formats.get("span").out_features(0) == 2
    assert formats.get("tagging").out_features(7) == 7
    with pytest.raises(KeyError, match="unknown task format 'nope'"):
        formats.get("nope")


def test_tokenizer_is_word_level(tok):
    enc = tok.encode("alice bought the car .")
    assert enc.ids[0] == BOS and enc.ids[-1] == EOS and len(enc.ids) == 7
    assert UNK not in enc.ids
    assert tok.encode("qwertyzzz").ids == [BOS, UNK, EOS]
    assert tok.encode("the car", "the car").ids.count(EOS) == 3  # <s> a </s></s> b </s>


# ---- pair -----------------------------------------------------------------------------------------------------------
def test_pair(tok):
    fmt = formats.get("pair")
    df = rows("xnli", 5)
    feats = fmt.encode(df, tok, 64, train=True)
    assert [f.example for f in feats] == list(range(5)) and [f.target for f in feats] == df.label.tolist()
    for f, a, b in zip(feats, df.text_a, df.text_b):
        assert f.ids.tolist() == tok.encode(a, b).ids
    batch = fmt.collate(feats)
    lengths = [len(f.ids) for f in feats]
    assert batch["input_ids"].shape == (5, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert (batch["input_ids"][batch["attention_mask"] == 0] == PAD).all()
    assert batch["labels"].tolist() == df.label.tolist()

    want = [2, 0, 1, 1, 0]
    logits = torch.zeros(5, batch["input_ids"].shape[1], 3)
    logits[torch.arange(5), 0, want] = 5.0
    logits[:, 1:, 2] = 50.0  # other positions do not matter
    assert fmt.decode(logits, batch, feats) == want
    good = torch.zeros_like(logits)
    good[torch.arange(5), 0, batch["labels"]] = 20.0
    assert fmt.loss(good, batch).item() < 1e-6 < fmt.loss(logits, batch).item()

    score, per = fmt.score(df, df.label.tolist(), "accuracy", NLI_LABELS)
    assert score == 100.0 and per == [1.0] * 5
    wrong = [(y + 1) % 3 for y in df.label]
    wrong[0] = int(df.label[0])
    score, per = fmt.score(df, wrong, "accuracy", NLI_LABELS)
    assert score == pytest.approx(20.0) and per == [1.0, 0, 0, 0, 0]


def test_pair_truncation(tok):
    feats = formats.get("pair").encode(rows("xnli", 3), tok, 8, train=True)
    assert all(len(f.ids) <= 8 for f in feats)


# ---- multiple choice ------------------------------------------------------------------------------------------------
def test_mc(tok):
    fmt = formats.get("mc")
    df = rows("hellaswag", 3)
    feats = fmt.encode(df, tok, 64, train=True)
    assert all(f.ids.shape[0] == 4 for f in feats)
    batch = fmt.collate(feats)
    L = batch["input_ids"].shape[1]
    assert batch["input_ids"].shape == (3 * 4, L) and batch["choice_mask"].shape == (3, 4)
    grid = batch["input_ids"].view(3, 4, L)
    for i, (ctx, choices) in enumerate(zip(df.context, df.choices)):
        for j, c in enumerate(choices):
            ids = tok.encode(ctx, c).ids
            assert grid[i, j, : len(ids)].tolist() == ids
            assert (grid[i, j, len(ids):] == PAD).all()
    assert (batch["attention_mask"] == (batch["input_ids"] != PAD)).all()

    want = [3, 0, 2]
    logits = torch.zeros(12, L, 1)
    for i, j in enumerate(want):
        logits[i * 4 + j, 0, 0] = 3.0
    logits[:, 1:, 0] = torch.arange(12.0)[:, None] * 10  # not the first token: ignored
    assert fmt.decode(logits, batch, feats) == want
    score, per = fmt.score(df, want, "accuracy", ())
    assert per == [float(w == y) for w, y in zip(want, df.label)]
    score, per = fmt.score(df, df.label.tolist(), "accuracy", ())
    assert score == 100.0


def test_mc_ragged_choices_never_predicts_padding(tok):
    fmt = formats.get("mc")
    df = pd.DataFrame({"context": ["the car", "the car"], "choices": [["red", "blue", "green"],
                                                                      ["red", "blue", "green", "black"]],
                       "label": [0, 1]})
    feats = fmt.encode(df, tok, 64, train=False)
    batch = fmt.collate(feats)
    assert batch["choice_mask"].tolist() == [[True, True, True, False], [True] * 4]
    assert batch["input_ids"].shape[0] == 8
    assert (batch["input_ids"][3] == PAD).all()  # row 0's padded 4th choice
    logits = torch.zeros(8, batch["input_ids"].shape[1], 1)
    logits[0, 0, 0] = 1.0  # row 0: choice 0 is the best real choice
    logits[3, 0, 0] = 2.0  # whatever the model outputs on the all-<pad> sequence
    logits[5, 0, 0] = 1.0
    preds = fmt.decode(logits, batch, feats)
    assert preds[0] < 3 and preds == [0, 1]


# ---- span -----------------------------------------------------------------------------------------------------------
def test_span_encode_targets_and_mask(tok):
    fmt = formats.get("span")
    df = rows("xquad", 8)
    feats = fmt.encode(df, tok, 64, train=True)
    assert len(feats) == 8  # the generated contexts fit in one window
    assert fmt.truncation(feats) == {"n_inputs": 8, "n_split": 0, "n_truncated": 0}
    for f, ctx, q, texts, starts in zip(feats, df.context, df.question, df.answers_text, df.answers_start):
        mask, offsets, cut = f.extra
        assert cut == 0
        assert f.ids[mask].tolist() == tok.encode(ctx).ids[1:-1]  # exactly the context tokens
        assert f.ids[~mask].tolist() == [BOS] + tok.encode(q).ids[1:-1] + [EOS, EOS, EOS]
        s, e = f.target
        assert mask[s] and mask[e] and s <= e
        assert ctx[offsets[s, 0]:offsets[e, 1]] == texts[0] and offsets[s, 0] == starts[0]
    batch = fmt.collate(feats)
    for i, f in enumerate(feats):
        assert batch["context_mask"][i, : len(f.ids)].tolist() == f.extra[0].tolist()
        assert not batch["context_mask"][i, len(f.ids):].any()
    assert batch["start"].tolist() == [f.target[0] for f in feats]
    assert batch["end"].tolist() == [f.target[1] for f in feats]


def test_span_windows_containment_and_cls_targets(tok):
    """Nothing is dropped any more: an answer off token boundaries trains on the tokens containing it (run_qa),
    a long context becomes overlapping windows (step doc_stride), windows without the answer point at <s>."""
    fmt = formats.get("span")
    df = pd.DataFrame({"id": ["a", "b", "c"], "lang": "en", "question": ["what was bought ?"] * 3,
                       "context": ["alice bought the red car .", "alice bought the red car .",
                                   "alice bought the red car . " * 20],
                       "answers_text": [["red car"], ["ar"], ["car"]],
                       "answers_start": [[17], [22], [21 + 27 * 19]], "meta": ""})
    for train in (True, False):
        feats = fmt.encode(df, tok, 32, train=train, doc_stride=10)
        by_row = {i: [f for f in feats if f.example == i] for i in range(3)}
        assert len(by_row[0]) == len(by_row[1]) == 1
        (a,), (b,) = by_row[0], by_row[1]
        assert a.extra[1][a.target[0], 0] == 17 and a.extra[1][a.target[1], 1] == 24  # "red car"
        assert b.target[0] == b.target[1] and tuple(b.extra[1][b.target[0]]) == (21, 24)  # "car" contains "ar"
        # 20 x 6 = 120 context tokens, 32 - 4 (question) - 4 (specials) = 24 per window, a window every 10
        windows = by_row[2]
        assert len(windows) == 11 and all(len(f.ids) <= 32 for f in windows)
        starts = [int(f.extra[1][np.flatnonzero(f.extra[0])[0], 0]) for f in windows]
        assert starts == [27 * (10 * k // 6) + [0, 6, 13, 17, 21, 25][10 * k % 6] for k in range(11)]
        hits = [k for k, f in enumerate(windows) if f.target != (0, 0)]
        assert hits == [10]  # token 118, the last sentence's "car", is only in the last window (100..119)
        assert all(tuple(windows[k].extra[1][windows[k].target[0]]) == (21 + 27 * 19, 24 + 27 * 19) for k in hits)
        assert fmt.truncation(feats) == {"n_inputs": 13, "n_split": 1, "n_truncated": 0}
    misses = [f for f in windows if f.target == (0, 0)]
    batch = fmt.collate(misses)
    assert batch["answer_mask"][:, 0].all() and not batch["context_mask"][:, 0].any()
    logits = torch.zeros(*batch["input_ids"].shape, 2)
    logits[:, 0, :] = 30.0  # the windows without the answer say "not here": the CLS position takes the loss ...
    assert fmt.loss(logits, batch).item() < 1e-6 < fmt.loss(torch.zeros_like(logits), batch).item()
    # ... and is never decoded
    batch = fmt.collate(feats)
    logits = torch.zeros(*batch["input_ids"].shape, 2)
    logits[:, 0, :] = 30.0
    preds = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
    assert all(c1 > c0 for c0, c1 in preds)


def test_span_decode_and_score(tok):
    fmt = formats.get("span")
    df = rows("xquad", 6)
    feats = fmt.encode(df, tok, 64, train=False)
    batch = fmt.collate(feats)
    B, L = batch["input_ids"].shape
    logits = torch.zeros(B, L, 2)
    for i, f in enumerate(feats):
        s, e = f.target
        logits[i, s, 0] = 5.0
        logits[i, e, 1] = 5.0
        logits[i, 1, :] = 100.0  # a question token: masked out
        logits[i, -1, :] = 100.0  # padding / final separator: masked out
    preds = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
    assert [c[a:b] for (a, b), c in zip(preds, df.context)] == [t[0] for t in df.answers_text]
    assert preds == [(s[0], s[0] + len(t[0])) for s, t in zip(df.answers_start, df.answers_text)]
    assert fmt.score(df, preds, "squad_f1", ())[0] == 100.0
    assert fmt.exact_match(df, preds, "squad_f1")[0] == 100.0

    # end before start is never decoded; among valid spans the best one wins, on ties the first in run_qa's
    # order (start candidates by falling start logit, then end candidates by falling end logit)
    k = next(k for k, f in enumerate(feats) if f.target[0] < f.target[1])  # a multi-token answer
    f, row = feats[k], df.iloc[[feats[k].example]].reset_index(drop=True)
    f = type(f)(f.ids, 0, f.target, f.extra)
    s, e = f.target
    offsets = f.extra[1]
    one = fmt.collate([f])
    logits2 = torch.zeros(1, len(f.ids), 2)
    logits2[0, e, 0], logits2[0, s, 0] = 9.0, 5.0
    logits2[0, s, 1], logits2[0, e, 1] = 9.0, 5.0
    assert fmt.combine(row, [f], fmt.decode(logits2, one, [f])) == [(int(offsets[e, 0]), int(offsets[e, 1]))]
    logits2[0, s, 0] = 9.5  # now (s, s) scores 18.5, (e, e) 14 and (s, e) 14.5
    assert fmt.combine(row, [f], fmt.decode(logits2, one, [f])) == [(int(offsets[s, 0]), int(offsets[s, 1]))]
    # spans longer than max_answer_tokens (30 by default, as run_qa; 3 here) are never decoded
    short = Span(max_answer_tokens=3)
    p = int(np.flatnonzero(f.extra[0])[0])
    assert f.extra[0][p + 3]
    logits3 = torch.zeros(1, len(f.ids), 2)
    logits3[0, p, 0] = 9.0
    logits3[0, p + 3, 1] = 9.0
    logits3[0, p + 2, 1] = 1.0
    assert short.combine(row, [f], short.decode(logits3, one, [f])) == [(int(offsets[p, 0]), int(offsets[p + 2, 1]))]
    assert fmt.combine(row, [f], fmt.decode(logits3, one, [f])) == [(int(offsets[p, 0]), int(offsets[p + 3, 1]))]


def test_span_score_known_values():
    fmt = formats.get("span")
    ctx = "alice bought the red car in the park ."
    df = pd.DataFrame({"context": [ctx, ctx, ctx], "answers_text": [["car"], ["red car", "car"], ["park"]]})
    preds = [(ctx.index("red"), ctx.index("car") + 3), (ctx.index("red"), ctx.index("car") + 3), (0, 5)]
    score, per = fmt.score(df, preds, "squad_f1", ())
    assert per == pytest.approx([2 / 3, 1.0, 0.0])
    assert score == pytest.approx(100 * (2 / 3 + 1) / 3)


# ---- tagging --------------------------------------------------------------------------------------------------------
def test_tagging(tok):
    fmt = formats.get("tagging")
    ner = {t: i for i, t in enumerate(NER_LABELS)}
    df = pd.DataFrame({"tokens": [["alice", "visited", "new york", "."], ["bob", "."]],
                       "tags": [[ner["B-PER"], ner["O"], ner["B-LOC"], ner["O"]], [ner["B-PER"], ner["O"]]]})
    feats = fmt.encode(df, tok, 64, train=True)
    # <s> alice visited new york . </s>: 'york' is the second sub-token of word 2
    assert feats[0].target.tolist() == [IGNORE, ner["B-PER"], ner["O"], ner["B-LOC"], IGNORE, ner["O"], IGNORE]
    assert feats[1].target.tolist() == [IGNORE, ner["B-PER"], ner["O"], IGNORE]
    batch = fmt.collate(feats)
    assert batch["input_ids"].shape == batch["labels"].shape == (2, 7)
    assert batch["labels"][1, 4:].tolist() == [IGNORE] * 3
    assert batch["attention_mask"][1].tolist() == [1, 1, 1, 1, 0, 0, 0]

    logits = torch.zeros(2, 7, len(NER_LABELS))
    logits[0, 1, ner["B-PER"]] = 1
    logits[0, 2, ner["O"]] = 1
    logits[0, 3, ner["B-LOC"]] = 1
    logits[0, 4, ner["B-ORG"]] = 9  # second sub-token: ignored
    logits[0, 5, ner["I-LOC"]] = 1
    logits[1, 1, ner["B-ORG"]] = 1
    logits[1, 2, ner["O"]] = 1
    preds = fmt.decode(logits, batch, feats)
    assert preds == [[ner["B-PER"], ner["O"], ner["B-LOC"], ner["I-LOC"]], [ner["B-ORG"], ner["O"]]]

    # gold entities: PER(0), LOC(2), PER(0'); predicted: PER(0), LOC(2-3), ORG(0') -> tp 1, p 1/3, r 1/3
    f1, per = fmt.score(df, preds, "f1", NER_LABELS)
    assert f1 == pytest.approx(100 / 3)
    assert per == pytest.approx([0.75, 0.5])
    acc, _ = fmt.score(df, preds, "accuracy", NER_LABELS)
    assert acc == pytest.approx(100 * 4 / 6)
    assert fmt.score(df, df.tags.tolist(), "f1", NER_LABELS)[0] == 100.0


def test_tagging_long_sentences_are_split_into_windows(tok):
    """XTREME's preprocessing: a sentence longer than max_length is split between words into windows that fit;
    every word is predicted by the model (none is scored as "O" for lack of a slot), and the split is counted."""
    fmt = formats.get("tagging")
    df = pd.DataFrame({"tokens": [["alice"] * 10, ["bob"]], "tags": [list(range(1, 11)), [3]]})
    feats = fmt.encode(df, tok, 5, train=False)
    assert [f.example for f in feats] == [0, 0, 0, 0, 1] and all(len(f.ids) <= 5 for f in feats)
    assert [f.target[f.target != IGNORE].tolist() for f in feats] == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10], [3]]
    assert fmt.truncation(feats) == {"n_inputs": 5, "n_split": 1, "n_truncated": 0, "n_unk_words": 0,
                                     "n_truncated_words": 0}
    batch = fmt.collate(feats)
    logits = torch.zeros(*batch["input_ids"].shape, len(NER_LABELS))
    logits[..., 1] = 1.0
    out = fmt.decode(logits, batch, feats)
    assert out[0] == [1, 1, 1] + [None] * 7  # a window predicts its own words only
    assert fmt.combine(df, feats, out) == [[1] * 10, [1]]


# ---- a tiny model ---------------------------------------------------------------------------------------------------
TINY = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 64}


def toy_pairs(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    objs = ["car", "book", "apple", "lamp", "chair", "phone", "ring", "hat"]
    rows = []
    for i in range(n):
        y = i % 2
        rows.append({"id": f"t{i}", "lang": "en", "text_a": " ".join(rng.choice(objs, 3)),
                     "text_b": ("yes " if y else "no ") + " ".join(rng.choice(objs, 2)), "label": y, "meta": ""})
    return pd.DataFrame(rows)


def tiny_model(tok, out_features: int, seed: int = 0) -> modeling.TaskModel:
    training.seed_everything(seed)
    enc = modeling.new_encoder(modeling.encoder_config(tok.get_vocab_size(), TINY))
    return modeling.TaskModel(enc, out_features)


def train_toy(tok, seed=0):
    fmt = formats.get("pair")
    df = toy_pairs()
    feats = fmt.encode(df, tok, 64, train=True)
    model = tiny_model(tok, 2, seed)
    settings = training.FitSettings(epochs=12, batch_size=8, warmup=0.1, weight_decay=0.01, max_grad_norm=1.0)
    res = training.fit(model, fmt, feats, settings, lr=0.01, seed=seed)
    return model, res, df, feats


@pytest.fixture(scope="module")
def trained(tok):
    torch.set_num_threads(1)
    return train_toy(tok)


def test_fit_learns_a_trivial_rule(trained):
    model, res, df, feats = trained
    assert len(res.losses) == 12 and all(np.isfinite(res.losses))
    assert res.losses[-1] < 0.5 * res.losses[0]
    score, per, preds = training.evaluate(model, formats.get("pair"), df, feats, "accuracy", ("no", "yes"), 16)
    assert score >= 90.0 and len(per) == len(df)


def test_fit_is_deterministic(tok, trained):
    _, res2, _, _ = train_toy(tok)
    assert res2.losses == trained[1].losses
    _, res3, _, _ = train_toy(tok, seed=1)
    assert res3.losses != trained[1].losses


def test_checkpoint_round_trip(tmp_path, trained):
    model = trained[0]
    model.eval()
    ids = torch.tensor([[BOS, 7, 8, 9, EOS, EOS, 10, EOS], [BOS, 11, EOS, EOS, 12, EOS, PAD, PAD]])
    mask = (ids != PAD).long()
    with torch.no_grad():
        before = model(ids, mask)
    model.save(tmp_path / "ckpt", {"task": "toy"})
    files = [p for p in (tmp_path / "ckpt").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")]
    names = {p.relative_to(tmp_path / "ckpt").as_posix() for p in files}
    assert {"head.safetensors", "encoder/model.safetensors", "model.json"} <= names
    assert json.loads((tmp_path / "ckpt" / "model.json").read_text()) == {"out_features": 2, "task": "toy"}
    loaded = modeling.TaskModel.load(tmp_path / "ckpt").eval()
    with torch.no_grad():
        after = loaded(ids, mask)
    assert after.shape == before.shape == (2, 8, 2)
    assert torch.equal(after, before)
    with pytest.raises(FileNotFoundError, match="model.json"):
        modeling.TaskModel.load(tmp_path / "missing")


def test_gradient_accumulation_takes_one_step_per_k_batches(tok):
    """batch 4 x accumulation 2 makes half the optimizer steps of batch 4 alone, and still learns."""
    import numpy as np

    from xstilts.train.loop import FitSettings, fit, seed_everything
    from xstilts.train.modeling import TaskModel, encoder_config, new_encoder

    torch.set_num_threads(1)
    fmt = formats.get("pair")
    df = rows("xnli", 32)
    feats = fmt.encode(df, tok, 64, train=True)
    steps = {}
    for accum in (1, 2):
        seed_everything(0)
        enc = new_encoder(encoder_config(tok.get_vocab_size(), {"hidden_size": 16, "num_layers": 1, "num_heads": 2,
                                                                "intermediate_size": 32, "max_length": 64}))
        model = TaskModel(enc, 3)
        calls = []
        orig = torch.optim.AdamW.step
        torch.optim.AdamW.step = lambda self, *a, calls=calls, orig=orig, **k: (calls.append(1), orig(self, *a, **k))[1]
        try:
            settings = FitSettings(epochs=2, batch_size=4, warmup=0.0, weight_decay=0.0, max_grad_norm=1.0,
                                   grad_accum=accum)
            res = fit(model, fmt, feats, settings, lr=3e-3, seed=0)
        finally:
            torch.optim.AdamW.step = orig
        steps[accum] = len(calls)
        assert np.isfinite(res.losses).all()
    assert steps[1] == 2 * 8 and steps[2] == 2 * 4


def test_span_scores_mlqa_with_each_rows_language():
    from xstilts import formats as F

    ctx = "Es war der Hund ."
    df = pd.DataFrame({"id": ["a"], "lang": ["de"], "context": [ctx], "question": ["Wer?"],
                       "answers_text": [["Hund"]], "answers_start": [[ctx.index("Hund")]], "meta": [""]})
    pred = [(ctx.index("der"), ctx.index("Hund") + 4)]  # "der Hund"
    squad, _ = F.get("span").score(df, pred, "squad_f1", ())
    mlqa, per_example = F.get("span").score(df, pred, "mlqa_f1", ())
    assert squad == pytest.approx(200 / 3) and mlqa == 100.0 and per_example == [1.0]
    with pytest.raises(ValueError, match="squad_f1 or mlqa_f1"):
        F.get("span").score(df, pred, "accuracy", ())
