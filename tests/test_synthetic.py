"""The generated benchmark: determinism, derived languages, word order, canonical rows and task structure."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter

import pandas as pd
import pytest

from xstilts.core.io import md5_file, write_parquet
from xstilts.core.tasks import NLI_LABELS
from xstilts.data import schema, synthetic
from xstilts.data import world as W
from xstilts.data.world import ENGLISH, Language, Lexicon, realize

# the committed params.yaml languages (two orders, three scripts, four anchor shares)
LANGS = {
    "ea": Language("ea", "svo", "latin", 0.4, 0.5),
    "eb": Language("eb", "sov", "latin", 0.3, 0.6),
    "ec": Language("ec", "svo", "cyrillic", 0.2, 0.7),
    "ed": Language("ed", "sov", "greek", 0.1, 0.9),
}
ALL_LANGS = [ENGLISH, *LANGS.values()]


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon(LANGS, seed=2020)


def _df(task, n, seed, split, lang=ENGLISH, lex=None):
    lex = lex or Lexicon({}, 0)
    return pd.DataFrame(synthetic.to_rows(task, synthetic.generate(task, n, seed, split), lang, lex, split))


# ---- determinism --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["xnli", "xquad", "panx", "hellaswag"])
def test_generation_is_deterministic_and_seeded(task, lex):
    a = _df(task, 30, 1, "test", LANGS["ed"], lex)
    b = _df(task, 30, 1, "test", LANGS["ed"], lex)
    pd.testing.assert_frame_equal(a, b)
    text = "context" if "context" in a else ("text_a" if "text_a" in a else "tokens")
    other_split = _df(task, 30, 1, "train", LANGS["ed"], lex)
    other_seed = _df(task, 30, 2, "test", LANGS["ed"], lex)
    # different streams: (almost) every example differs, not just the ids
    assert (a[text].astype(str) != other_split[text].astype(str)).mean() > 0.5
    assert (a[text].astype(str) != other_seed[text].astype(str)).mean() > 0.5


def test_lexicon_is_deterministic_and_seeded():
    a, b, c = Lexicon(LANGS, 7), Lexicon(LANGS, 7), Lexicon(LANGS, 8)
    assert a.forms == b.forms
    assert a.forms["ea"] != c.forms["ea"]


def test_parquet_bytes_reproducible(tmp_path, lex):
    for i in range(2):  # regenerate from scratch each time, then write
        df = _df("panx", 40, 3, "test", LANGS["ec"], Lexicon(LANGS, 2020))
        write_parquet(df, tmp_path / f"{i}.parquet")
    assert md5_file(tmp_path / "0.parquet") == md5_file(tmp_path / "1.parquet")
    back = pd.read_parquet(tmp_path / "0.parquet")
    assert back["tokens"].map(list).tolist() == df["tokens"].tolist()


# ---- derived languages --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("share", [0.0, 0.1, 0.4, 0.75, 1.0])
def test_anchor_share(share):
    lex = Lexicon({"xx": Language("xx", share=share)}, seed=1)
    kept = sum(lex.form("xx", w) == w for w in lex.english) / len(lex.english)
    assert abs(kept - share) <= 0.02
    assert kept == sum(lex.is_anchor("xx", w) for w in lex.english) / len(lex.english)


def test_params_languages_share(lex):
    for code, lang in LANGS.items():
        kept = sum(lex.is_anchor(code, w) for w in lex.english) / len(lex.english)
        assert abs(kept - lang.share) <= 0.02, code


@pytest.mark.parametrize("code,script", [("ec", "CYRILLIC"), ("ed", "GREEK")])
def test_script_of_non_anchor_forms(lex, code, script):
    non_anchor = [lex.form(code, w) for w in lex.english if not lex.is_anchor(code, w)]
    assert len(non_anchor) > 0.5 * len(lex.english)
    for form in non_anchor:
        assert form and all(unicodedata.name(ch).startswith(script + " ") and ch.isalpha() for ch in form), form


def test_latin_forms_are_ascii_letters(lex):
    for code in ("ea", "eb"):
        for w in lex.english:
            assert lex.form(code, w).isascii() and lex.form(code, w).isalpha()


def test_non_anchor_forms_are_new_words(lex):
    english = set(lex.english)
    for code in LANGS:
        for w in lex.english:
            f = lex.form(code, w)
            if f != w:
                assert f not in english, (code, w, f)


def test_source_inverts_form(lex):
    for code in ["en", *LANGS]:
        for w in lex.english + W.PUNCT:
            assert lex.source(code, lex.form(code, w)) == w
        assert len(set(lex.forms[code].values())) == len(lex.forms[code])  # injective
    assert lex.source("ec", "definitely-not-a-form") is None


# ---- word order ---------------------------------------------------------------------------------------------------
SENT = [("S", [("alice", "a")]), ("V", [("bought", "v")]), ("O", [("the", "d"), ("car", "n")]),
        ("CONJ", [("and", "c")]), ("S", [("bob", "a")]), ("V", [("did", "v"), ("not", "v"), ("sell", "v")]),
        ("O", [("a", "d"), ("hat", "n")]), ("X", [("in", "p"), ("the", "d"), ("park", "n")]), ("P", [(".", ".")])]


def test_sov_moves_verb_to_clause_end():
    lex = Lexicon({"so": Language("so", order="sov", share=1.0), "sv": Language("sv", share=1.0)}, seed=0)
    sov = realize(SENT, lex.languages["so"], lex)
    assert " ".join(w for w, _ in sov) == "alice the car bought and bob a hat in the park did not sell ."
    assert [t for _, t in sov] == list("adnvcadnpdnvvv.")
    assert " ".join(w for w, _ in realize(SENT, lex.languages["sv"], lex)) == " ".join(W.words_of(SENT))


def test_sov_with_substituted_words():
    lex = Lexicon({"zz": Language("zz", order="sov", share=0.0)}, seed=0)
    out = realize(SENT, lex.languages["zz"], lex)
    back = [lex.source("zz", w) for w, _ in out]
    assert back == "alice the car bought and bob a hat in the park did not sell .".split()
    assert all(w != e for (w, _), e in zip(out, back) if e != ".")
    assert out[-1][0] == "."


# ---- canonical rows -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", sorted(synthetic.GENERATORS))
def test_every_task_canonical_in_every_language(task, lex):
    _, fmt = synthetic.GENERATORS[task]
    structs = synthetic.generate(task, 25, 4, "test")
    per_lang = {}
    for lang in ALL_LANGS:
        df = pd.DataFrame(synthetic.to_rows(task, structs, lang, lex, "test"))
        schema.check(df, fmt, f"{task}/{lang.code}")
        assert len(df) == 25 and (df["lang"] == lang.code).all()
        per_lang[lang.code] = df
        if fmt == "span":
            for ctx, texts, starts in zip(df.context, df.answers_text, df.answers_start):
                assert texts[0] and ctx[starts[0]:][:len(texts[0])] == texts[0]
        elif fmt == "tagging":
            n_labels = len(synthetic.LABELS[task])
            for toks, tags in zip(df.tokens, df.tags):
                assert len(toks) == len(tags) > 0
                assert all(0 <= t < n_labels for t in tags)
        elif fmt == "pair":
            n_labels = len(synthetic.LABELS.get(task, ("no", "yes")))
            assert df.label.between(0, n_labels - 1).all()
        else:
            assert all(0 <= y < len(c) for y, c in zip(df.label, df.choices))
            assert all(len(set(c)) == len(c) for c in df.choices)  # distinct options
    # parallel test sets: the same ids, labels and (tagging) tag sequences in every language
    en = per_lang["en"]
    for df in per_lang.values():
        assert df["id"].tolist() == en["id"].tolist()
        if "label" in df:
            assert df["label"].tolist() == en["label"].tolist()
        if fmt == "tagging":  # SOV reorders tags together with their words
            assert sorted(map(sorted, df.tags)) == sorted(map(sorted, en.tags))


def test_span_answer_is_the_same_words_in_every_language(lex):
    structs = synthetic.generate("xquad", 40, 5, "test")
    en = synthetic.to_rows("xquad", structs, ENGLISH, lex, "test")
    for code in LANGS:
        for e, r in zip(en, synthetic.to_rows("xquad", structs, LANGS[code], lex, "test")):
            assert [lex.source(code, w) for w in r["answers_text"][0].split(" ")] == e["answers_text"][0].split(" ")


@pytest.mark.parametrize("task", ["mnli", "xnli"])
def test_swap_spans_on_entailed_rows(task, lex):
    structs = synthetic.generate(task, 200, 6, "train")
    n_swap = 0
    for lang in ALL_LANGS:
        for row in synthetic.to_rows(task, structs, lang, lex, "train"):
            if "swap" not in row["meta"]:
                continue
            assert row["label"] == 0
            if json.loads(row["meta"])["swap"] is None:  # entailed, no meaning-changing swap of two roles
                continue
            n_swap += 1
            (a0, a1), (b0, b1) = sorted(json.loads(row["meta"])["swap"])
            n = len(row["text_b"].split(" "))
            assert 0 <= a0 < a1 <= b0 < b1 <= n  # two non-empty, non-overlapping spans
    assert n_swap > 20


@pytest.mark.parametrize("task,k", [("mnli", 3), ("xnli", 3), ("anli", 3), ("qqp", 2)])
def test_pair_labels_balanced(task, k):
    counts = Counter(_df(task, 300, 1, "train")["label"])
    assert set(counts) == set(range(k))
    assert min(counts.values()) >= 0.2 * 300


@pytest.mark.parametrize("task,k", [("hellaswag", 4), ("cosmosqa", 4), ("commonsenseqa", 5), ("socialiqa", 3)])
def test_mc_gold_position_not_constant(task, k):
    counts = Counter(_df(task, 300, 1, "train")["label"])
    assert set(counts) == set(range(k))
    assert max(counts.values()) < 0.5 * 300


def test_nli_labels_follow_construction():
    """Entailed hypotheses only reuse premise words; contradictions negate or use the antonym verb."""
    df = _df("mnli", 300, 2, "train")
    for a, b, y in zip(df.text_a, df.text_b, df.label):
        new = set(b.split()) - set(a.split())
        if y == NLI_LABELS.index("entailment"):
            assert not new, (a, b)
        else:
            assert new, (a, b)
        if y == NLI_LABELS.index("contradiction"):
            assert "not" in b.split() or new & set(W.OBJ_ANTONYM), (a, b)


def test_tasks_differ_in_structure():
    mnli, anli = _df("mnli", 200, 1, "train"), _df("anli", 200, 1, "train")
    has = lambda texts, pred: sum(map(pred, texts)) / len(texts)  # noqa: E731
    numbers = set(W.NUMBERS)
    assert has(anli.text_a, lambda t: "and" in t.split() and bool(numbers & set(t.split()))) == 1.0
    assert has(mnli.text_a, lambda t: "and" in t.split()) == 0.0
    assert has(mnli.text_a, lambda t: bool(numbers & set(t.split()))) == 0.0
    vocab = lambda df: set(" ".join(df.text_a).split())  # noqa: E731
    assert vocab(mnli) != vocab(anli)
    qqp = _df("qqp", 200, 1, "train")
    assert has(qqp.text_a, lambda t: t.endswith("?")) == 1.0 and has(mnli.text_a, lambda t: t.endswith("?")) == 0.0
    ccg, panx = _df("ccg", 100, 1, "train"), _df("panx", 100, 1, "train")
    assert set(w for t in panx.tokens for w in t) & set(W.LOC_B)
    assert not set(w for t in ccg.tokens for w in t) & set(W.LOC_B)


def test_panx_replacements_are_heldout_entities(lex):
    train = _df("panx", 300, 1, "train")
    seen = {w for t in train.tokens for w in t}
    heldout = set(W.HELDOUT_FIRST + W.HELDOUT_LAST) | {w for p in W.HELDOUT_LOC + W.HELDOUT_ORG for w in p}
    assert not seen & (heldout - {"works"})  # 'works' is also an ordinary verb
    for meta in train.meta:
        for start, end, kind, repl in json.loads(meta)["entities"]:
            assert kind in ("PER", "LOC", "ORG") and set(repl) <= heldout and end > start


def test_retrieval_rows_parallel(lex):
    langs = list(ALL_LANGS)
    rows = pd.DataFrame(synthetic.retrieval_rows(20, 1, langs, lex))
    schema.check(rows, "retrieval", "tatoeba")
    assert rows.groupby("pair_id")["lang"].apply(sorted).map(tuple).nunique() == 1
    assert len(rows) == 20 * len(langs)
