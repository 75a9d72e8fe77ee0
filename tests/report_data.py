"""A small paired study for the report tests: a results table *derived from* per-example predictions.

Three intermediate tasks (anli, mnli, qqp) at sizes 200, 600 and their natural size, two seeds, the baseline
control, two target tasks scored differently (xnli: accuracy; panx: seqeval chunk F1 with gold tags) with one
adversary each, English plus two zero-shot languages. Per-example outcomes are drawn so that the adversarial
degradation rises by ``SLOPE_POINTS`` per unit of ln(train size) within every task, on top of task intercepts
that rise with the natural size. The results table is computed from the predictions with the project's own
metrics (accuracy = mean of 0/1, seqeval F1 via :func:`xstilts.core.metrics.seqeval_f1`), exactly as the evaluate
stage does, so the report's consistency check and example resampling are exercised end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from xstilts.core import metrics, tasks

TASKS = {"anli": 2400, "mnli": 3200, "qqp": 1000}  # natural sizes
SIZES = (200, 600)
SEEDS = (1, 2)
LANGS = ("en", "ea", "eb")
ADVERSARY = "char_noise"
N_EXAMPLES = 120
SLOPE_POINTS = 6.0  # planted within-task degradation per unit of ln(train size), in points
INTERCEPT_PER_LOG_NATURAL = 4.0
NER = tasks.get("panx").labels
TAG_LEN = 8


def models() -> list[tuple[str, int, str, int]]:
    out = [("baseline", 0, "-", s) for s in SEEDS]
    for task, full in TASKS.items():
        out += [(task, size, str(size) if size != full else "full", s)
                for size in (*SIZES, full) for s in SEEDS]
    return out


def planted_degradation(arm: str, size: int) -> float:
    """Expected degradation (points) of a model: a task intercept rising with natural size + the planted slope."""
    if arm == "baseline":
        return 20.0
    return (INTERCEPT_PER_LOG_NATURAL * (math.log(TASKS[arm]) - 7.0) + SLOPE_POINTS * (math.log(size) - 6.0)
            + 20.0)


def _gold_tags(rng: np.random.Generator, n: int) -> list[list[int]]:
    out = []
    for _ in range(n):
        tags, i = [0] * TAG_LEN, 0
        while i < TAG_LEN - 1:
            if rng.random() < 0.3:
                kind = int(rng.integers(0, 3))
                tags[i], tags[i + 1] = 1 + 2 * kind, 2 + 2 * kind
                i += 2
            i += 1
        out.append(tags)
    return out


def _corrupt(rng: np.random.Generator, tags: list[int], rate: float) -> list[int]:
    return [int(rng.integers(0, len(NER))) if rng.random() < rate else t for t in tags]


def make_study(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``(results, predictions, gold)``; ``gold[(target, language, subset)] = {id: tag ids}`` (panx only)."""
    rng = np.random.default_rng(seed)
    gold: dict = {}
    for lang in LANGS:
        clean = _gold_tags(rng, N_EXAMPLES)
        gold[("panx", lang, "clean")] = {f"panx-{lang}-{i:03d}": t for i, t in enumerate(clean)}
        gold[("panx", lang, ADVERSARY)] = {f"panx-{lang}-{i:03d}~{ADVERSARY}": t for i, t in enumerate(clean)}
    results, predictions = [], []
    for arm, size, label, s in models():
        cell = f"{'none' if arm == 'baseline' else label}-s{s}"
        inter_id = "" if arm == "baseline" else f"i-{arm}-{label}-{s}"
        deg = planted_degradation(arm, size) + rng.normal(scale=1.0)  # seed noise
        for target in ("xnli", "panx"):
            for lang in LANGS:
                lang_drop = {"en": 0.0, "ea": 8.0, "eb": 15.0}[lang]
                common = {"arm": arm, "train_size": size, "size_label": label, "seed": s, "target_task": target,
                          "language": lang, "target_run_id": f"t-{arm}-{label}-{s}-{target}",
                          "intermediate_run_id": inter_id}
                ids = [f"{target}-{lang}-{i:03d}" for i in range(N_EXAMPLES)]
                adv_ids = [f"{i}~{ADVERSARY}" for i in ids]
                if target == "xnli":
                    p_clean = 0.85 - lang_drop / 100
                    p_adv = max(0.02, p_clean - deg / 100)
                    clean_ok = (rng.random(N_EXAMPLES) < p_clean).astype(float)
                    adv_ok = np.where(clean_ok > 0, rng.random(N_EXAMPLES) < p_adv / p_clean, 0.0).astype(float)
                    sides = {"clean": (ids, ids, clean_ok, [int(v) for v in clean_ok]),
                             ADVERSARY: (adv_ids, ids, adv_ok, [int(v) for v in adv_ok])}
                    for subset, (sid, src, scores, preds) in sides.items():
                        predictions += [{**common, "cell": cell, "subset": subset, "id": i, "source_id": so,
                                         "prediction": json.dumps(pr), "example_score": float(sc)}
                                        for i, so, sc, pr in zip(sid, src, scores, preds, strict=True)]
                    score, clean_matched = 100 * adv_ok.mean(), 100 * clean_ok.mean()
                    results.append({**common, "subset": "clean", "metric": "accuracy", "score": 100 * clean_ok.mean(),
                                    "clean_score": 100 * clean_ok.mean(), "n": N_EXAMPLES, "chance": 100 / 3})
                    results.append({**common, "subset": ADVERSARY, "metric": "accuracy", "score": score,
                                    "clean_score": clean_matched, "n": N_EXAMPLES, "chance": 100 / 3})
                    continue
                clean_rate = 0.05 + lang_drop / 200
                adv_rate = min(0.95, clean_rate + deg / 150)
                golds = [gold[("panx", lang, "clean")][i] for i in ids]
                clean_pred = [_corrupt(rng, g, clean_rate) for g in golds]
                adv_pred = [_corrupt(rng, g, adv_rate) for g in golds]
                names = lambda seqs: [[NER[t] for t in q] for q in seqs]  # noqa: E731
                for subset, sid, src, preds in (("clean", ids, ids, clean_pred), (ADVERSARY, adv_ids, ids, adv_pred)):
                    predictions += [{**common, "cell": cell, "subset": subset, "id": i, "source_id": so,
                                     "prediction": json.dumps(pr),
                                     "example_score": float(np.mean([a == b
                                                                     for a, b in zip(pr, g, strict=True)]))}
                                    for i, so, pr, g in zip(sid, src, preds, golds, strict=True)]
                clean_f1 = 100 * metrics.seqeval_f1(names(golds), names(clean_pred))
                adv_f1 = 100 * metrics.seqeval_f1(names(golds), names(adv_pred))
                results.append({**common, "subset": "clean", "metric": "f1", "score": clean_f1,
                                "clean_score": clean_f1, "n": N_EXAMPLES, "chance": math.nan})
                results.append({**common, "subset": ADVERSARY, "metric": "f1", "score": adv_f1,
                                "clean_score": clean_f1, "n": N_EXAMPLES, "chance": math.nan})
    preds = pd.DataFrame(predictions)
    preds = preds[["arm", "cell", "target_task", "language", "subset", "id", "source_id", "prediction",
                   "example_score"]]
    return pd.DataFrame(results), preds, gold


def gold_loader(gold: dict):
    def load(target: str, language: str, subset: str):
        return gold[(target, language, subset)]

    return load
