"""Metrics on tiny inputs with known answers (as xtreme's evaluate_test.py)."""

from __future__ import annotations

import pytest

from xstilts.core import metrics


def test_squad_normalisation_and_f1():
    assert metrics.normalize_answer("The  Red, car!") == "red car"
    assert metrics.squad_em("the red car", "Red car.") == 1.0
    assert metrics.squad_f1("red car", "blue car") == pytest.approx(0.5)
    assert metrics.squad_f1("", "car") == 0.0
    assert metrics.best_over_truths(metrics.squad_f1, "car", ["bus", "the car"]) == 1.0


def test_entities_conlleval_semantics():
    assert metrics.entities(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4)}
    assert metrics.entities(["I-PER", "I-LOC"]) == {("PER", 0, 1), ("LOC", 1, 2)}


def test_seqeval_f1_known_value_on_ner():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"]]  # 1 of 2 right, precision 1/2, recall 1/2
    assert metrics.seqeval_f1(gold, pred) == pytest.approx(0.5)
    assert metrics.seqeval_f1(gold, gold) == 1.0


def test_seqeval_f1_on_pos_tags_is_xtremes_chunk_f1_not_accuracy():
    """XTREME scores UD-POS with seqeval: a run of equal tags is one chunk (NOUN = prefix N + type OUN)."""
    gold = [["DET", "NOUN", "NOUN", "VERB", "PUNCT"]]  # chunks DET, NOUN NOUN, VERB, PUNCT
    pred = [["DET", "NOUN", "VERB", "VERB", "PUNCT"]]  # chunks DET, NOUN, VERB VERB, PUNCT: 2 of 4 match
    assert metrics.seqeval_f1(gold, pred) == pytest.approx(0.5)  # token accuracy would be 0.8
    # tags starting with S (SYM, SCONJ) read as S- (single): each token is its own chunk
    assert metrics.seqeval_chunks([["SYM", "SYM"]]) == {("YM", 0, 0), ("YM", 1, 1)}
    # sentences are concatenated with an "O" after each, as seqeval does for a list of lists
    assert metrics.seqeval_chunks([["NOUN"], ["NOUN"]]) == {("OUN", 0, 0), ("OUN", 2, 2)}
    with pytest.raises(ValueError, match="length"):
        metrics.seqeval_f1([["NOUN"]], [["NOUN", "VERB"]])


def test_mlqa_normalisation_per_language():
    assert metrics.mlqa_normalize("Der Hund, die Katze!", "de") == "hund katze"
    assert metrics.mlqa_normalize("Los perros «grandes»", "es") == "perros grandes"  # Unicode punctuation too
    assert metrics.mlqa_normalize("北京大学 在 Peking。", "zh") == "北 京 大 学 在 peking"  # one token per CJK char
    assert metrics.mlqa_normalize("الكتاب", "ar") == "كتاب"
    assert metrics.mlqa_normalize("The dog", "hi") == "the dog"  # no articles for Hindi
    assert metrics.mlqa_f1("der Hund", "Hund", "de") == 1.0
    assert metrics.squad_f1("der Hund", "Hund") == pytest.approx(2 / 3)  # English normalisation keeps "der"
    assert metrics.mlqa_f1("北京", "北京大学", "zh") == pytest.approx(2 / 3)
    assert metrics.mlqa_em("Die Katze.", "katze", "de") == 1.0
    with pytest.raises(ValueError, match="unknown language 'ea'"):
        metrics.mlqa_normalize("x", "ea")
