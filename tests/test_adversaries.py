"""Adversary registry: pairing, label preservation, determinism, per-script character noise, error messages, and
that each adversary fools a simple reference model built on the generated benchmark."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest

from xstilts.adversaries import REGISTRY
from xstilts.adversaries import char_noise as CN
from xstilts.adversaries.dictionaries import Dictionaries
from xstilts.core import metrics
from xstilts.core.tasks import NER_LABELS, NLI_LABELS
from xstilts.data import schema, synthetic
from xstilts.data import world as W
from xstilts.data.world import ENGLISH, Language, Lexicon

LANGS = {"eb": Language("eb", "sov", "latin", 0.3), "ed": Language("ed", "sov", "greek", 0.1)}
TASK = {"pair": ("xnli", NLI_LABELS), "span": ("xquad", ()), "tagging": ("panx", NER_LABELS),
        "mc": ("hellaswag", ())}


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon(LANGS, seed=2020)


def rows(task, n, seed=1, split="test", lang=ENGLISH, lex=None):
    lex = lex or Lexicon(LANGS, 2020)
    return pd.DataFrame(synthetic.to_rows(task, synthetic.generate(task, n, seed, split), lang, lex, split))


CASES = [("word_swap", "pair"), ("char_noise", "pair"), ("char_noise", "span"), ("char_noise", "tagging"),
         ("char_noise", "mc"), ("distractor", "span"), ("entity_swap", "tagging"), ("code_switch", "pair"),
         ("code_switch", "span"), ("code_switch", "tagging"), ("code_switch", "mc")]
SELECTIONS = [("lexical_overlap", "pair")]


def dictionaries(lex: Lexicon | None = None) -> Dictionaries:
    lex = lex or Lexicon(LANGS, 2020)
    return Dictionaries({code: lex.forms[code] for code in LANGS})


def apply(name, fmt, df, seed=0, **options):
    options.setdefault("dictionaries", dictionaries())
    options.setdefault("code_switch", {"rate": 0.3, "into": sorted(LANGS)})
    return REGISTRY[name].apply(df, fmt, TASK[fmt][1], np.random.default_rng(seed), options)


def test_registry_contents():
    assert set(REGISTRY) == {"lexical_overlap", "word_swap", "distractor", "entity_swap", "char_noise",
                             "code_switch", "aflite"}
    assert REGISTRY["lexical_overlap"].formats == REGISTRY["word_swap"].formats == ("pair",)
    assert REGISTRY["distractor"].formats == ("span",)
    assert REGISTRY["entity_swap"].formats == ("tagging",)
    assert set(REGISTRY["char_noise"].formats) == set(REGISTRY["code_switch"].formats) == {
        "pair", "mc", "span", "tagging", "retrieval"}
    assert {n: a.kind for n, a in REGISTRY.items()} == {
        "lexical_overlap": "selection", "aflite": "model", "word_swap": "perturbation", "distractor": "perturbation",
        "entity_swap": "perturbation", "char_noise": "perturbation", "code_switch": "perturbation"}
    # only the synthetic-hint adversary is unusable on real data
    assert [n for n, a in sorted(REGISTRY.items()) if a.needs_hints] == ["entity_swap"]


# ---- pairing, schema, labels ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fmt", CASES)
@pytest.mark.parametrize("lang", ["en", "ed"])
def test_pairing_and_schema(name, fmt, lang, lex):
    clean = rows(TASK[fmt][0], 120, lang=lex.languages[lang], lex=lex)
    before = clean.copy(deep=True)
    adv = apply(name, fmt, clean, char_noise_rate=0.3)
    pd.testing.assert_frame_equal(clean, before)  # the clean rows are not modified in place
    schema.check(adv, fmt, f"{name}/{fmt}", adversarial=True)
    assert len(adv) > 0 and adv["source_id"].is_unique
    assert set(adv["source_id"]) <= set(clean["id"])
    assert (adv["id"] == adv["source_id"] + "~" + name).all()
    assert (adv["adversary"] == name).all() and (adv["lang"] == lang).all()
    src = clean.set_index("id").loc[adv["source_id"]].reset_index()
    if name != "word_swap":  # every clean row it can use is used, in order
        assert adv["source_id"].tolist() == clean["id"].tolist()
    if fmt in ("pair", "mc") and name != "word_swap":
        assert adv["label"].tolist() == src["label"].tolist()
    if fmt == "mc":
        assert [len(c) for c in adv.choices] == [len(c) for c in src.choices]
    if fmt == "span":
        assert adv["answers_text"].map(list).tolist() == src["answers_text"].map(list).tolist()
        assert adv["answers_start"].map(list).tolist() == src["answers_start"].map(list).tolist()
        for ctx, texts, starts in zip(adv.context, adv.answers_text, adv.answers_start):
            assert ctx[starts[0]:starts[0] + len(texts[0])] == texts[0]
    if name == "char_noise":  # something changed in every example
        col = {"pair": "text_b", "span": "question", "tagging": "tokens", "mc": "choices"}[fmt]
        changed = [a != b for a, b in zip(adv[col].map(str), src[col].map(str))]
        if fmt == "pair":
            changed = [c or a != b for c, a, b in zip(changed, adv.text_a, src.text_a)]
        assert all(changed)
        if fmt == "tagging":
            assert adv["tags"].map(list).tolist() == src["tags"].map(list).tolist()
            assert adv["tokens"].map(len).tolist() == src["tokens"].map(len).tolist()
        if fmt == "span":
            assert adv["context"].tolist() == src["context"].tolist()


@pytest.mark.parametrize("lang", ["en", "eb", "ed"])
def test_word_swap_swaps_roles_where_hinted(lang, lex):
    clean = rows("xnli", 300, lang=lex.languages[lang], lex=lex)
    adv = apply("word_swap", "pair", clean)
    eligible = clean[[y == 0 and bool(json.loads(m or "{}").get("swap")) for y, m in zip(clean.label, clean.meta)]]
    assert adv["source_id"].tolist() == eligible["id"].tolist()
    assert (adv["label"] == NLI_LABELS.index("neutral")).all()
    for a, s in zip(adv.itertuples(), eligible.itertuples()):
        assert a.text_a == s.text_a
        assert Counter(a.text_b.split(" ")) == Counter(s.text_b.split(" "))
        assert a.text_b != s.text_b
        (a0, a1), (b0, b1) = sorted(json.loads(s.meta)["swap"])
        old, new = s.text_b.split(" "), a.text_b.split(" ")
        assert new[a0:a0 + (b1 - b0)] == old[b0:b1]  # the second role now comes first
        assert new[-1] == old[-1] == "."


@pytest.mark.parametrize("lang", ["en", "eb", "ed"])
def test_lexical_overlap_selects_real_high_overlap_non_entailment(lang, lex):
    from xstilts.adversaries.text import overlap

    clean = rows("xnli", 300, lang=lex.languages[lang], lex=lex)
    adv = apply("lexical_overlap", "pair", clean, overlap_min=0.8)
    by_id = clean.set_index("id")
    picked = by_id.loc[adv["id"].str.removesuffix("~lexical_overlap")]
    expected = [i for i, a, b, y in zip(clean.id, clean.text_a, clean.text_b, clean.label)
                if y != 0 and overlap(b, a) >= 0.8]
    assert picked.index.tolist() == expected and len(expected) >= 20
    # the selected examples are the real ones, unchanged
    assert adv["text_a"].tolist() == picked["text_a"].tolist() and adv["text_b"].tolist() == picked["text_b"].tolist()
    assert adv["label"].tolist() == picked["label"].tolist()
    # each is paired with an unselected control of the same label, without replacement while possible
    controls = by_id.loc[adv["source_id"]]
    assert not set(adv["source_id"]) & set(expected)
    assert controls["label"].tolist() == adv["label"].tolist()
    assert adv["source_id"].is_unique


@pytest.mark.parametrize("lang", ["en", "ed"])
def test_entity_swap_rebuilds_tags(lang, lex):
    clean = rows("panx", 80, lang=lex.languages[lang], lex=lex)
    adv = apply("entity_swap", "tagging", clean)
    changed_len = 0
    for a, s in zip(adv.itertuples(), clean.itertuples()):
        ents = sorted(json.loads(s.meta)["entities"])
        toks, tags = list(a.tokens), [NER_LABELS[t] for t in a.tags]
        assert len(toks) == len(tags)
        shift = 0
        for start, end, kind, repl in ents:
            i = start + shift
            assert toks[i:i + len(repl)] == repl
            assert tags[i:i + len(repl)] == [f"B-{kind}"] + [f"I-{kind}"] * (len(repl) - 1)
            shift += len(repl) - (end - start)
        changed_len += shift != 0
        assert len(toks) == len(s.tokens) + shift
        # non-entity tokens are untouched, in order; entity count and types are kept
        assert [t for t, g in zip(toks, a.tags) if g == 0] == [t for t, g in zip(s.tokens, s.tags) if g == 0]
        old_ents = metrics.entities([NER_LABELS[t] for t in s.tags])
        assert sorted(k for k, _, _ in metrics.entities(tags)) == sorted(k for k, _, _ in old_ents)
    assert changed_len > 0  # replacements of another length occur


# ---- determinism ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fmt", CASES + SELECTIONS)
def test_same_seed_same_output(name, fmt):
    clean = rows(TASK[fmt][0], 60)
    pd.testing.assert_frame_equal(apply(name, fmt, clean, seed=5), apply(name, fmt, clean, seed=5))


@pytest.mark.parametrize("fmt", ["pair", "span", "tagging", "mc"])
def test_char_noise_seed_matters(fmt):
    clean = rows(TASK[fmt][0], 60)
    col = {"pair": "text_b", "span": "question", "tagging": "tokens", "mc": "choices"}[fmt]
    a, b = apply("char_noise", fmt, clean, seed=1), apply("char_noise", fmt, clean, seed=2)
    assert (a[col].map(str) != b[col].map(str)).mean() > 0.5


def test_char_noise_rate():
    clean = rows("xnli", 100)

    def frac_changed(rate):
        adv = apply("char_noise", "pair", clean, char_noise_rate=rate)
        pairs = [(x, y) for a, b in zip(adv.text_b, clean.text_b) for x, y in zip(a.split(" "), b.split(" "))
                 if sum(c.isalpha() for c in y) >= 2]
        return np.mean([x != y for x, y in pairs])
    low, high = frac_changed(0.1), frac_changed(0.9)
    assert low < 0.35 and high > 0.8


# ---- per-script character noise -----------------------------------------------------------------------------------
SCRIPTS = {
    "LATIN": "hello wonderful world",
    "CYRILLIC": "привет мир",
    "GREEK": "γειά σου κόσμε",
    "CJK": "你好世界 今天",
    "THAI": "สวัสดีครับ ขอบคุณ",
    "ARABIC": "مرحبا بالعالم",
    "DEVANAGARI": "नमस्ते दुनिया",
    "LATIN-NFD": unicodedata.normalize("NFD", "café über niño"),
    "GREEK-NFD": unicodedata.normalize("NFD", "ἄνθρωπος καλός"),
}


def _is_mark(ch):
    return unicodedata.category(ch).startswith("M")


def _check_word(orig: str, new: str):
    new.encode("utf-8")  # no lone surrogates
    scripts = {CN.script_of(c) for c in orig if c.isalpha()}
    for c in new:
        if not _is_mark(c):
            assert c.isalpha() and CN.script_of(c) in scripts, (orig, new, c)
    assert not _is_mark(new[0]), (orig, new)
    for i, c in enumerate(new):  # every mark hangs (possibly via other marks) on a letter
        if _is_mark(c):
            j = i
            while j > 0 and _is_mark(new[j - 1]):
                j -= 1
            assert j > 0 and new[j - 1].isalpha(), (orig, new)


def test_alphabets_group_base_letters_by_script():
    alpha = CN.alphabets(list(SCRIPTS.values()) + ["x1, y2!"])
    assert {"LATIN", "CYRILLIC", "GREEK", "CJK", "THAI", "ARABIC", "DEVANAGARI"} <= set(alpha)
    for script, letters in alpha.items():
        for c in letters:
            assert c.isalpha() and not _is_mark(c) and CN.script_of(c) == script
    assert "1" not in alpha["LATIN"] and "!" not in sum(alpha.values(), [])
    assert "\u094d" not in alpha["DEVANAGARI"]  # virama is a mark, not a letter to insert


@pytest.mark.parametrize("key", sorted(SCRIPTS))
def test_noise_word_per_script(key):
    text = SCRIPTS[key]
    alpha = CN.alphabets(list(SCRIPTS.values()))
    rng = np.random.default_rng(0)
    for word in text.split(" "):
        seen = set()
        for _ in range(300):
            new = CN.noise_word(word, rng, alpha)
            assert new != word
            _check_word(word, new)
            seen.add(new)
        assert len(seen) > 5  # several different edits, not one fixed corruption


@pytest.mark.parametrize("key", sorted(SCRIPTS))
def test_noise_text_per_script(key):
    text = SCRIPTS[key]
    alpha = CN.alphabets([text])
    for seed in range(30):
        out = CN.noise_text(text, 0.5, np.random.default_rng(seed), alpha)
        assert out != text
        old_words, new_words = text.split(" "), out.split(" ")
        assert len(new_words) == len(old_words)
        for o, n in zip(old_words, new_words):
            if o != n:
                _check_word(o, n)


def test_noise_skips_words_without_two_letters():
    alpha = CN.alphabets(["ab"])
    rng = np.random.default_rng(0)
    assert CN.noise_word("a", rng, alpha) == "a"
    assert CN.noise_word("7,", rng, alpha) == "7,"
    assert CN.noise_text("a . 12 ?", 1.0, rng, alpha) == "a . 12 ?"
    out = CN.noise_words(["a", "hello", "."], 0.01, rng, alpha)  # at least one eligible word is edited
    assert out[0] == "a" and out[2] == "." and out[1] != "hello"


def test_char_noise_registry_per_script():
    texts = [v for k, v in sorted(SCRIPTS.items())]
    df = pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "lang": "xx", "text_a": texts,
                       "text_b": texts[::-1], "label": 0, "meta": ""})
    for seed in range(5):
        adv = REGISTRY["char_noise"].apply(df, "pair", NLI_LABELS, np.random.default_rng(seed),
                                           {"char_noise_rate": 0.5})
        schema.check(adv, "pair", "char_noise", adversarial=True)
        for col in ("text_a", "text_b"):
            for o_text, n_text in zip(df[col], adv[col]):
                assert n_text != o_text
                for o, n in zip(o_text.split(" "), n_text.split(" ")):
                    if o != n:
                        _check_word(o, n)


# ---- errors --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fmt", [("distractor", "pair"), ("entity_swap", "span"), ("lexical_overlap", "tagging"),
                                      ("lexical_overlap", "mc"), ("entity_swap", "retrieval")])
def test_undeclared_format_rejected(name, fmt):
    df = rows("xnli", 5)
    with pytest.raises(ValueError, match=name):
        REGISTRY[name].apply(df, fmt, NLI_LABELS, np.random.default_rng(0))


def test_nothing_to_use_rejected():
    rng = np.random.default_rng(0)
    not_entailed = rows("xnli", 40).query("label != 0")
    with pytest.raises(ValueError, match="word_swap.*no examples"):
        REGISTRY["word_swap"].apply(not_entailed, "pair", NLI_LABELS, rng)
    with pytest.raises(ValueError, match="NLI labels"):
        REGISTRY["word_swap"].apply(rows("xnli", 40), "pair", ("a", "b", "c", "d"), rng)
    entailed = rows("xnli", 40).query("label == 0")
    with pytest.raises(ValueError, match="lexical_overlap.*selected no examples"):
        REGISTRY["lexical_overlap"].apply(entailed, "pair", NLI_LABELS, rng)
    one_context = rows("xquad", 10).assign(meta="")
    one_context["context"] = one_context["context"].iloc[0]
    one_context["answers_text"] = [one_context["answers_text"].iloc[0]] * 10
    one_context["answers_start"] = [one_context["answers_start"].iloc[0]] * 10
    with pytest.raises(ValueError, match="distractor.*no examples"):  # no other context to borrow a sentence from
        REGISTRY["distractor"].apply(one_context, "span", (), rng)
    with pytest.raises(ValueError, match="entity_swap"):
        REGISTRY["entity_swap"].apply(rows("ccg", 10), "tagging", synthetic.LABELS["ccg"], rng)
    with pytest.raises(ValueError, match="code_switch.*dictionaries"):
        REGISTRY["code_switch"].apply(rows("xnli", 10), "pair", NLI_LABELS, rng, {"code_switch": {"into": ["eb"]}})
    with pytest.raises(ValueError, match="aflite.*stage"):
        REGISTRY["aflite"].apply(rows("xnli", 10), "pair", NLI_LABELS, rng, {})


# ---- each adversary lowers a simple reference model ----------------------------------------------------------------
def overlap_nli(premise: str, hypothesis: str) -> int:
    """HANS's lexical-overlap heuristic."""
    p, h = set(premise.split()), hypothesis.split()
    if all(w in p for w in h):
        return NLI_LABELS.index("entailment")
    return NLI_LABELS.index("contradiction") if "not" in h else NLI_LABELS.index("neutral")


def nli_accuracy(df) -> float:
    return float(np.mean([overlap_nli(a, b) == y for a, b, y in zip(df.text_a, df.text_b, df.label)]))


@pytest.fixture(scope="module")
def xnli_test():
    return rows("xnli", 400, split="test", lex=Lexicon({}, 0))


def paired_accuracy(adv, clean) -> tuple[float, float]:
    """(accuracy on the matched clean examples, accuracy on the adversarial ones)."""
    return nli_accuracy(clean.set_index("id").loc[adv["source_id"]]), nli_accuracy(adv)


def test_lexical_overlap_fools_overlap_heuristic(xnli_test):
    adv = apply("lexical_overlap", "pair", xnli_test)
    control_acc, adv_acc = paired_accuracy(adv, xnli_test)
    assert len(adv) >= 30
    assert control_acc >= 0.8
    assert adv_acc <= control_acc - 0.3


@pytest.mark.parametrize("hints", [True, False])
def test_word_swap_fools_overlap_heuristic(xnli_test, hints):
    clean = xnli_test if hints else xnli_test.assign(meta="")  # without hints: the real-data swap of shared words
    adv = apply("word_swap", "pair", clean)
    clean_acc, adv_acc = paired_accuracy(adv, clean)
    assert len(adv) >= 30 and clean_acc >= 0.9
    assert adv_acc <= clean_acc - 0.8  # same bag of words: the heuristic still says "entailment"


def test_code_switch_fools_overlap_heuristic(xnli_test):
    lex = Lexicon(LANGS, 2020)
    clean = rows("xnli", 400, split="test", lex=lex)
    adv = apply("code_switch", "pair", clean, dictionaries=dictionaries(lex))
    clean_acc, adv_acc = paired_accuracy(adv, clean)
    assert adv_acc <= clean_acc - 0.15


def test_char_noise_fools_overlap_heuristic(xnli_test):
    adv = apply("char_noise", "pair", xnli_test, char_noise_rate=0.3)
    assert nli_accuracy(adv) <= nli_accuracy(xnli_test) - 0.15


def verb_reader(context: str, question: str, rng: np.random.Generator) -> str:
    """A shallow English reader: finds a sentence with the question's verb (random among several) and returns its
    subject / object / place according to the question word."""
    verbs = {v for v, _ in W.OBJ_VERBS}
    q = question.split()
    verb = next(w for w in q if w in verbs)
    sents = [s.split() for s in context.split(" . ") if s]
    sents = [[w for w in s if w != "."] for s in sents]
    cands = [s for s in sents if verb in s]
    if not cands:
        return ""
    s = cands[int(rng.integers(len(cands)))]
    v = s.index(verb)
    if q[0] == "who":
        return " ".join(s[:v])
    if q[0] == "what":
        return " ".join(s[v + 1: s.index("in")])
    return s[-1]


def reader_f1(df) -> float:
    rng = np.random.default_rng(0)
    return float(np.mean([metrics.best_over_truths(metrics.squad_f1, verb_reader(c, q, rng), list(t))
                          for c, q, t in zip(df.context, df.question, df.answers_text)]))


def test_distractor_fools_verb_matching_reader():
    clean = rows("xquad", 300, lex=Lexicon({}, 0))
    adv = apply("distractor", "span", clean)
    clean_f1, adv_f1 = reader_f1(clean), reader_f1(adv)
    assert clean_f1 >= 0.95
    assert adv_f1 <= clean_f1 - 0.25
    # the distractor resembles the question (same verb) but never contains the gold answer
    for a, c in zip(adv.itertuples(), clean.itertuples()):
        extra = a.context[len(c.context) + 1:]
        assert a.context.startswith(c.context + " ") and extra == json.loads(c.meta)["distractor"]
        assert set(extra.split()) & set(a.question.split()) - {"the", "a", "?", "in", "by"}
        assert a.answers_text[0] not in extra.split(" . ")[0].split()


class Memoriser:
    """Tags each token with its most frequent training tag ('O' when unseen)."""

    def __init__(self, train: pd.DataFrame):
        counts: dict[str, Counter] = defaultdict(Counter)
        for toks, tags in zip(train.tokens, train.tags):
            for w, t in zip(toks, tags):
                counts[w][t] += 1
        self.best = {w: c.most_common(1)[0][0] for w, c in counts.items()}

    def f1(self, df: pd.DataFrame) -> float:
        gold = [[NER_LABELS[t] for t in tags] for tags in df.tags]
        pred = [[NER_LABELS[self.best.get(w, 0)] for w in toks] for toks in df.tokens]
        return metrics.seqeval_f1(gold, pred)


@pytest.fixture(scope="module")
def panx():
    lex = Lexicon({}, 0)
    return rows("panx", 300, split="train", lex=lex), rows("panx", 200, split="test", lex=lex)


def test_entity_swap_fools_memorising_tagger(panx):
    train, test = panx
    tagger = Memoriser(train)
    clean_f1 = tagger.f1(test)
    assert clean_f1 >= 0.6
    assert tagger.f1(apply("entity_swap", "tagging", test)) <= clean_f1 - 0.3


def test_char_noise_fools_memorising_tagger(panx):
    train, test = panx
    tagger = Memoriser(train)
    clean_f1 = tagger.f1(test)
    assert tagger.f1(apply("char_noise", "tagging", test, char_noise_rate=0.3)) <= clean_f1 - 0.15
