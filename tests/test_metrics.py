"""Metrics on tiny inputs with known answers (as xtreme's evaluate_test.py)."""

from __future__ import annotations

import pytest

from xstilts import metrics


def test_squad_normalisation_and_f1():
    assert metrics.normalize_answer("The  Red, car!") == "red car"
    assert metrics.squad_em("the red car", "Red car.") == 1.0
    assert metrics.squad_f1("red car", "blue car") == pytest.approx(0.5)
    assert metrics.squad_f1("", "car") == 0.0
    assert metrics.best_over_truths(metrics.squad_f1, "car", ["bus", "the car"]) == 1.0


def test_entities_conlleval_semantics():
    assert metrics.entities(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4)}
    assert metrics.entities(["I-PER", "I-LOC"]) == {("PER", 0, 1), ("LOC", 1, 2)}


def test_entity_f1_known_value():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"]]  # 1 of 2 right, precision 1/2, recall 1/2
    assert metrics.entity_f1(gold, pred) == pytest.approx(0.5)
    assert metrics.entity_f1(gold, gold) == 1.0
