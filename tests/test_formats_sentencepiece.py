"""The formats audited with SentencePiece tokenizers (xstilts.rehearsal.tokenizer), in both offset behaviours:
XLM-R's hub pipeline (WhitespaceSplit + Metaspace: "▁word" offsets exclude the space, a standalone "▁" piece
overlaps the next piece) and the plain SentencePieceUnigramTokenizer one ("▁word" offsets include the space).
Also: the rehearsal tokenizer loads in transformers as XLM-R's does, and the QA measures (EM, (EM + F1) / 2) and
truncation counts reach the evaluation's result rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from xstilts import formats
from xstilts.core import tasks, vocab
from xstilts.eval import zeroshot as evaluation
from xstilts.formats.mc import truncated_lengths
from xstilts.formats.tagging import IGNORE
from xstilts.rehearsal.tokenizer import MASK, SPECIALS, build_xlmr_like_tokenizer, pipeline
from xstilts.train import common, modeling

CTX = ("The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in "
       "France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway who, under their "
       "leader Rollo, agreed to swear fealty to King Charles III of West Francia.")
QA = [("In what country is Normandy located?", "France"),
      ("When were the Normans in Normandy?", "10th and 11th centuries"),
      ("From which countries did the Norse originate?", "Denmark, Iceland and Norway"),
      ("Who was the Norse leader?", "Rollo")]
CORPUS = [CTX] * 50 + [q for q, _ in QA] * 20
BEHAVIOURS = ["hub", "leading_space"]


def squad_rows(ctx: str = CTX) -> pd.DataFrame:
    return pd.DataFrame([{"id": f"q{i}", "lang": "en", "question": q, "context": ctx, "answers_text": [a],
                          "answers_start": [ctx.index(a)], "meta": ""} for i, (q, a) in enumerate(QA)])


@pytest.fixture(scope="module")
def sp_dirs(tmp_path_factory):
    out = {}
    for b in BEHAVIOURS:
        d = tmp_path_factory.mktemp(f"sp-{b}")
        build_xlmr_like_tokenizer(CORPUS, d, vocab_size=300, leading_space_offsets=b == "leading_space")
        out[b] = d
    return out


@pytest.fixture(scope="module")
def sp(sp_dirs):
    return {b: modeling.load_tokenizer(d) for b, d in sp_dirs.items()}


def hand_vocab() -> list[tuple[str, float]]:
    """A vocabulary in which "sufficient" exists only without "▁": "▁sufficient" becomes "▁" + "sufficient"."""
    pieces = [("▁", -2.0), ("▁This", -3.0), ("▁is", -3.0), ("is", -3.0), ("sufficient", -3.0), ("▁a", -3.0),
              ("▁word", -3.0), ("中国", -3.0), (".", -3.0)]
    pieces += [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyzT"]
    return [(s, 0.0) for s in SPECIALS] + pieces + [(MASK, 0.0)]


# ---- the rehearsal tokenizer -------------------------------------------------------------------------------------
def test_rehearsal_tokenizer_has_xlmrs_pipeline(sp_dirs, sp):
    tok = sp["hub"]
    assert {p.name for p in sp_dirs["hub"].iterdir()} >= {"tokenizer.json", "tokenizer_config.json",
                                                          "special_tokens_map.json"}
    assert [tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2, 3]
    assert tok.token_to_id(MASK) == tok.get_vocab_size() - 1
    spec = json.loads(tok.to_str())
    assert spec["model"]["type"] == "Unigram" and spec["model"]["unk_id"] == 3
    assert [p["type"] for p in spec["pre_tokenizer"]["pretokenizers"]] == ["WhitespaceSplit", "Metaspace"]
    assert spec["pre_tokenizer"]["pretokenizers"][1]["prepend_scheme"] == "always"
    single, pair = tok.encode("Rollo"), tok.encode("Rollo", "Rollo")
    n = len(single.ids) - 2
    assert single.ids[0] == 0 and single.ids[-1] == 2
    assert pair.ids == [0] + single.ids[1:-1] + [2, 2] + single.ids[1:-1] + [2] and len(pair.ids) == 2 * n + 4
    assert (json.loads((sp_dirs["hub"] / "tokenizer_config.json").read_text())["tokenizer_class"]
            == "XLMRobertaTokenizer")
    lead = json.loads(sp["leading_space"].to_str())
    assert lead["pre_tokenizer"]["type"] == "Metaspace" and lead["normalizer"]["type"] == "Sequence"


def test_transformers_loads_it_as_xlmr_and_saves_the_same_pipeline(sp_dirs, tmp_path):
    """XLMRobertaTokenizer (what AutoTokenizer picks for the hub model) rebuilds XLM-R's pipeline around the
    vocabulary: re-saved, the file is the same, so the rehearsal tokenizer is what the hub path produces."""
    from transformers import AutoTokenizer, XLMRobertaTokenizerFast

    hf = XLMRobertaTokenizerFast.from_pretrained(str(sp_dirs["hub"]))
    assert (hf.cls_token_id, hf.pad_token_id, hf.sep_token_id, hf.unk_token_id) == (0, 1, 2, 3)
    assert hf.mask_token_id == len(hf) - 1
    hf.save_pretrained(str(tmp_path / "resaved"))
    assert (json.loads((tmp_path / "resaved" / "tokenizer.json").read_text())
            == json.loads((sp_dirs["hub"] / "tokenizer.json").read_text()))
    assert type(AutoTokenizer.from_pretrained(str(sp_dirs["hub"]))).__name__ == "XLMRobertaTokenizer"
    lead = AutoTokenizer.from_pretrained(str(sp_dirs["leading_space"]))  # read as it is, not rebuilt
    e = lead.backend_tokenizer.encode(CTX)
    assert e.offsets == modeling.load_tokenizer(sp_dirs["leading_space"]).encode(CTX).offsets


def test_pin_hub_model_takes_the_rehearsal_tokenizer(sp_dirs, sp, tmp_path):
    from xstilts.train.modeling import encoder_config, new_encoder
    from xstilts.train.pretrain import pin_hub_model

    src = tmp_path / "tiny-xlmr"
    src.mkdir()
    for f in sp_dirs["hub"].iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    cfg = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 64}
    new_encoder(encoder_config(sp["hub"].get_vocab_size(), cfg)).save_pretrained(str(src))
    outs = [tmp_path / n for n in ("tok", "base", "rand")]
    pin_hub_model(str(src), "main", *outs, seed=3)
    pinned = modeling.load_tokenizer(outs[0])
    for text in (CTX, "This is sufficient 中国"):
        a, b = pinned.encode(text, CTX), sp["hub"].encode(text, CTX)
        assert (a.ids, a.offsets) == (b.ids, b.offsets)


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_the_two_offset_behaviours(behaviour):
    tok = pipeline(hand_vocab(), leading_space_offsets=behaviour == "leading_space")
    e = tok.encode("This is sufficient")
    got = list(zip(e.tokens, e.offsets))[1:-1]
    if behaviour == "hub":  # offsets exclude the space; the standalone "▁" overlaps the next piece (#17454)
        assert got == [("▁This", (0, 4)), ("▁is", (5, 7)), ("▁", (8, 9)), ("sufficient", (8, 18))]
    else:  # offsets include the space before the word
        assert got == [("▁This", (0, 4)), ("▁is", (4, 7)), ("▁", (7, 8)), ("sufficient", (8, 18))]


# ---- span QA ---------------------------------------------------------------------------------------------------
def old_boundary_check(offsets: np.ndarray, ctx_pos: np.ndarray, a0: int, a1: int) -> bool:
    """The previous Span.encode's rule: a start token whose offset equals the answer start exactly."""
    s = [j for j in ctx_pos if offsets[j, 0] <= a0 < offsets[j, 1] or offsets[j, 0] >= a0]
    en = [j for j in ctx_pos if offsets[j, 1] >= a1]
    return bool(s and en and offsets[s[0], 0] == a0 and offsets[en[0], 1] == a1)


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_every_squad_answer_gets_a_target_with_either_offset_behaviour(sp, behaviour):
    fmt = formats.get("span")
    df = squad_rows()
    feats = fmt.encode(df, sp[behaviour], 384, train=True)
    assert [f.example for f in feats] == [0, 1, 2, 3]  # one window each, none dropped
    old = 0
    for f, (_, answer) in zip(feats, QA):
        mask, offsets, _ = f.extra
        s, e = f.target
        assert mask[s] and mask[e] and (s, e) != (0, 0)
        assert CTX[offsets[s, 0]: offsets[e, 1]].strip() == answer
        a0 = CTX.index(answer)
        old += old_boundary_check(offsets, np.flatnonzero(mask), a0, a0 + len(answer))
    # the previous rule dropped the 2 answers ("France", "10th ...") whose first piece carries the space
    assert old == (4 if behaviour == "hub" else 2)
    batch = fmt.collate(feats)
    logits = torch.zeros(*batch["input_ids"].shape, 2)
    for b, f in enumerate(feats):
        logits[b, f.target[0], 0] = logits[b, f.target[1], 1] = 9.0
    preds = fmt.combine(df, feats, fmt.decode(logits, batch, feats))
    assert [CTX[a:b] for a, b in preds] == [a for _, a in QA]  # whitespace dropped, exact answers
    assert fmt.exact_match(df, preds, "squad_f1") == (100.0, [1.0] * 4)


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_a_standalone_meta_piece_is_never_the_answer_start(behaviour):
    tok = pipeline(hand_vocab(), leading_space_offsets=behaviour == "leading_space")
    fmt = formats.get("span")
    ctx = "This is sufficient"
    df = pd.DataFrame({"id": ["a"], "lang": ["en"], "question": ["This"], "context": [ctx],
                       "answers_text": [["sufficient"]], "answers_start": [[8]], "meta": [""]})
    (f,) = fmt.encode(df, tok, 32, train=True)
    ids = f.ids.tolist()
    s, e = f.target
    assert s == e and ids[s] == tok.token_to_id("sufficient") and ids[s - 1] == tok.token_to_id("▁")
    assert ctx[f.extra[1][s, 0]: f.extra[1][e, 1]] == "sufficient"


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_long_sentencepiece_contexts_are_windowed(sp, behaviour):
    fmt = formats.get("span")
    ctx = " ".join([CTX] * 6)
    df = squad_rows(ctx)
    df["answers_start"] = [[ctx.rindex(a)] for _, a in QA]  # the last copy: never in the first window
    feats = fmt.encode(df, sp[behaviour], 96, train=True, doc_stride=32)
    for i, (_, answer) in enumerate(QA):
        mine = [f for f in feats if f.example == i]
        assert len(mine) > 2 and mine[0].target == (0, 0) and all(len(f.ids) <= 96 for f in mine)
        hits = [f for f in mine if f.target != (0, 0)]
        assert hits and all(ctx[f.extra[1][f.target[0], 0]: f.extra[1][f.target[1], 1]].strip() == answer
                            for f in hits)
        assert all(f.extra[1][f.target[0], 0] >= ctx.rindex(CTX) - 1 for f in hits)
    assert fmt.truncation(feats)["n_split"] == 4


def test_long_questions_are_cut_to_64_sub_tokens_and_counted(sp):
    fmt = formats.get("span")
    df = squad_rows()
    df.loc[0, "question"] = " ".join([QA[0][0]] * 20)
    feats = fmt.encode(df, sp["hub"], 384, train=False)
    assert feats[0].extra[2] > 0 and all(f.extra[2] == 0 for f in feats[1:])
    assert int((~feats[0].extra[0]).sum()) == 64 + 4  # the question's 64 sub-tokens, <s> </s></s> ... </s>
    assert fmt.truncation(feats) == {"n_inputs": 4, "n_split": 0, "n_truncated": 1}


# ---- tagging ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_tagging_first_real_piece_carries_the_tag(behaviour):
    tok = pipeline(hand_vocab(), leading_space_offsets=behaviour == "leading_space")
    fmt = formats.get("tagging")
    words = ["This", "is", "sufficient", "中国", "."]
    df = pd.DataFrame({"tokens": [words], "tags": [[1, 2, 3, 4, 5]]})
    (f,) = fmt.encode(df, tok, 32, train=True)
    pieces = [tok.id_to_token(i) for i in f.ids]
    assert pieces == ["<s>", "▁This", "▁is", "▁", "sufficient", "▁", "中国", "▁", ".", "</s>"]
    # the "▁" pieces stay in the input but never take a word's slot; no word id shifts
    assert f.target.tolist() == [IGNORE, 1, 2, IGNORE, 3, IGNORE, 4, IGNORE, 5, IGNORE]
    assert f.extra[0].tolist() == [-1, 0, 1, -1, 2, -1, 3, -1, 4, -1]
    logits = torch.zeros(1, len(f.ids), 8)
    for j, y in enumerate([0, 1, 2, 7, 3, 7, 4, 7, 5, 0]):  # the "▁" positions vote 7: ignored
        logits[0, j, y] = 1.0
    out = fmt.decode(logits, fmt.collate([f]), [f])
    assert fmt.combine(df, [f], out) == [[1, 2, 3, 4, 5]]


def test_tagging_words_without_pieces_or_too_long_are_unk_and_counted(sp):
    tok = sp["hub"]
    fmt = formats.get("tagging")
    long_word = "Normandy" * 20  # 20 pieces: more than a 16-token window holds (14 between <s> and </s>)
    df = pd.DataFrame({"tokens": [["Rollo", "\u3000", "Norse"], ["Rollo", long_word, "Norse"]],
                       "tags": [[1, 2, 3], [1, 2, 3]]})
    feats = fmt.encode(df, tok, 16, train=False)
    unk = tok.token_to_id("<unk>")
    for f in feats:  # every word keeps its slot and its tag, in order
        assert f.target[f.target != IGNORE].tolist() == [1, 2, 3]
        slot = f.ids[f.extra[0] == 1]
        assert slot.tolist() == [unk]
    assert fmt.truncation(feats) == {"n_inputs": 2, "n_split": 0, "n_truncated": 1, "n_unk_words": 2,
                                     "n_truncated_words": 1}


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_tagging_long_sentencepiece_sentences_are_split_between_words(sp, behaviour):
    tok = sp[behaviour]
    fmt = formats.get("tagging")
    words = CTX.split()
    tags = [i % 7 for i in range(len(words))]
    df = pd.DataFrame({"tokens": [words], "tags": [tags]})
    feats = fmt.encode(df, tok, 24, train=False)
    assert len(feats) > 3 and all(len(f.ids) <= 24 for f in feats)
    covered = np.concatenate([f.extra[0][f.extra[0] >= 0] for f in feats])
    assert covered.tolist() == list(range(len(words)))  # each word in exactly one window, in order
    whole = tok.encode_batch([words], is_pretokenized=True)[0]
    assert sum(len(f.ids) - 2 for f in feats) == len(whole.ids) - 2  # no sub-token lost
    batch = fmt.collate(feats)
    logits = torch.zeros(*batch["input_ids"].shape, 7)
    for b, f in enumerate(feats):
        for j in np.flatnonzero(f.extra[0] >= 0):
            logits[b, j, tags[f.extra[0][j]]] = 1.0
    assert fmt.combine(df, feats, fmt.decode(logits, batch, feats)) == [tags]
    counts = fmt.truncation(feats)
    assert counts["n_split"] == 1 and counts["n_truncated_words"] == 0


# ---- multiple choice -------------------------------------------------------------------------------------------
def jiant_truncate(a: int, b: int, budget: int) -> tuple[int, int]:
    """jiant.tasks.utils.truncate_sequences on two lengths, step by step."""
    lengths = np.array([a, b])
    if lengths.sum() < budget:
        return a, b
    while lengths.sum() > budget:
        lengths[np.argmax(lengths)] -= 1
    return int(lengths[0]), int(lengths[1])


def test_truncated_lengths_are_jiants():
    for a in range(0, 14):
        for b in range(0, 14):
            for budget in range(0, 20):
                assert truncated_lengths(a, b, budget) == jiant_truncate(a, b, budget), (a, b, budget)


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_mc_long_context_is_cut_the_choice_kept_and_counted(sp, behaviour):
    tok = sp[behaviour]
    fmt = formats.get("mc")
    choices = ["Rollo", "King Charles III", "Norse raiders", "France"]
    df = pd.DataFrame({"context": [CTX, "Who was the Norse leader?"], "choices": [choices, choices], "label": [0, 0]})
    feats = fmt.encode(df, tok, 32, train=False)
    lost = feats[0].extra
    assert (lost[:, 0] > 0).all() and (lost[:, 1] == 0).all() and not feats[1].extra.any()
    for j, c in enumerate(choices):
        ids = [i for i in feats[0].ids[j].tolist() if i != vocab.PAD]
        choice = tok.encode(c).ids[1:-1]
        assert len(ids) == 32 and ids[-len(choice) - 1:-1] == choice  # the whole choice, then </s>
        assert ids[1: 1 + 32 - 4 - len(choice)] == tok.encode(CTX).ids[1: 1 + 32 - 4 - len(choice)]
        # HF run_swag's truncation=True ("longest_first") gives the same sequence here
        tok.enable_truncation(32)
        assert tok.encode(CTX, c).ids == ids
        tok.no_truncation()
    assert fmt.truncation(feats) == {"n_inputs": 2, "n_split": 0, "n_truncated": 1, "n_choice_truncated": 0}


def test_mc_differs_from_hf_longest_first_only_when_both_are_cut_to_an_odd_budget(sp):
    """Both sides longer than half the budget, the context the longer: jiant gives the odd sub-token to the
    choice, tokenizers' "longest_first" (HF run_swag's truncation=True) to the context."""
    tok = sp["hub"]
    fmt = formats.get("mc")
    ctx, choice = CTX, CTX[:150]
    n_ctx, n_choice = (len(tok.encode(t, add_special_tokens=False).ids) for t in (ctx, choice))
    assert n_ctx > n_choice > 20
    for max_length in (25, 26, 33, 34):
        (f,) = fmt.encode(pd.DataFrame({"context": [ctx], "choices": [[choice]], "label": [0]}), tok, max_length,
                          train=False)
        kept = (n_ctx - int(f.extra[0, 0]), n_choice - int(f.extra[0, 1]))
        tok.enable_truncation(max_length)
        e = tok.encode(ctx, choice)
        tok.no_truncation()
        hf = (e.sequence_ids.count(0), e.sequence_ids.count(1))
        budget = max_length - 4
        assert kept == (budget // 2, budget - budget // 2)
        assert hf == (kept if budget % 2 == 0 else (kept[1], kept[0]))


def test_mc_long_choice_is_cut_once_the_context_is_shorter(sp):
    tok = sp["hub"]
    fmt = formats.get("mc")
    df = pd.DataFrame({"context": ["Rollo"], "choices": [[CTX, "France"]], "label": [1]})
    (f,) = fmt.encode(df, tok, 24, train=False)
    assert f.extra.tolist()[0][0] == 0 and f.extra[0][1] > 0 and not f.extra[1].any()
    assert fmt.truncation([f])["n_choice_truncated"] == 1


# ---- QA measures and truncation counts in the result rows --------------------------------------------------------
def test_exact_match_and_its_mean_with_f1_known_values():
    fmt = formats.get("span")
    ctx = "alice bought the red car in the park ."
    df = pd.DataFrame({"lang": ["en"] * 3, "context": [ctx] * 3,
                       "answers_text": [["car"], ["red car", "car"], ["park"]]})
    preds = [(ctx.index("red"), ctx.index("car") + 3), (ctx.index("the red"), ctx.index("car") + 3), (0, 5)]
    f1, _ = fmt.score(df, preds, "squad_f1", ())  # 2/3, 1 ("the" is an article), 0
    em, per = fmt.exact_match(df, preds, "squad_f1")
    assert per == [0.0, 1.0, 0.0] and em == pytest.approx(100 / 3)
    assert evaluation.qa_scores(fmt, df, preds, "squad_f1", f1) == pytest.approx(
        {"em": 100 / 3, "em_f1_mean": (100 / 3 + 100 * (2 / 3 + 1) / 3) / 2})
    de = pd.DataFrame({"lang": ["de"], "context": ["Es war der Hund ."], "answers_text": [["Hund"]]})
    assert fmt.exact_match(de, [(7, 15)], "mlqa_f1") == (100.0, [1.0])  # MLQA's German articles
    assert fmt.exact_match(de, [(7, 15)], "squad_f1") == (0.0, [0.0])
    nan = evaluation.qa_scores(formats.get("pair"), df, preds, "accuracy", 50.0)
    assert np.isnan(nan["em"]) and np.isnan(nan["em_f1_mean"])


def test_evaluate_model_rows_carry_em_and_truncation_counts(sp, tmp_path, monkeypatch):
    from xstilts.data import schema

    monkeypatch.setenv("XSTILTS_FEATURE_CACHE", "off")
    tok = sp["hub"]
    df = squad_rows(" ".join([CTX] * 4))
    df["answers_start"] = [[df.context[0].index(a)] for _, a in QA]
    path = tmp_path / "xquad" / "en.parquet"
    schema.write(df, path, "span")
    sets = {("en", "clean"): common.load_dataset("xquad", path)}
    cfg = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 96}
    torch.manual_seed(0)
    model = modeling.TaskModel(modeling.new_encoder(modeling.encoder_config(tok.get_vocab_size(), cfg)), 2)
    rows, preds = evaluation.evaluate_model(model, "xquad", sets, tok, 96, 8, options={"doc_stride": 48})
    (row,) = rows
    assert row["metric"] == tasks.get("xquad").metric and 0 <= row["em"] <= row["score"] <= 100
    assert row["em_f1_mean"] == pytest.approx((row["em"] + row["score"]) / 2)
    assert row["n_split"] == 4 and row["n_inputs"] > 8 and row["n_truncated"] == 0
    assert np.isnan(row["n_unk_words"]) and len(preds) == 4
