"""Paired test examples and the hierarchical bootstrap of zero-shot degradation.

Every adversarial example was built from one clean example (its ``source_id``), and every model is evaluated on
the same examples. The bootstrap respects that design:

* **seeds**: per model cell (intermediate task x size) the fine-tuning seeds are resampled with replacement;
* **test examples**: per test set (target task x language x adversary) the clean/adversarial *pairs* are
  resampled with replacement, and the same draw is used for every model in a replicate (the test set is a
  sample shared by all models, so the draw is crossed with the models, not nested in them).

A replicate's degradation of a model on a test set is ``clean - adversarial`` recomputed from the resampled
pairs with the task metric: for a mean metric (accuracy, SQuAD/MLQA F1 per question, retrieval accuracy)
``100 * mean(example_score)`` on each side; for seqeval chunk F1 (PAN-X, UD-POS) ``100 * 2 TP / (pred + gold)``
from per-sentence chunk counts, which needs the gold tags of the prepared test sets; for BUCC's mining F1 the same
ratio from each source sentence's mined and gold partner (its prediction). Before any resampling the
per-example values are checked to reproduce every ``score`` and ``clean_score`` of the results table.

Per replicate the degradation is then aggregated exactly like the point estimates of :mod:`xstilts.report`:
mean over the zero-shot languages, mean over target tasks and adversaries ("pooled"), mean over the (resampled)
seeds of a cell. :func:`replicates` yields, key by key, a ``(n_boot, n_cells)`` array per measure; the sum of
pairs is a matrix product of multinomial counts (:func:`xstilts.analysis.stats.resample_counts`) with per-pair values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..adversaries import subset_path
from ..core import metrics, paths, tasks
from ..core.cells import cell_name
from ..core.io import stable_seed
from . import stats

PREDICTION_COLUMNS = ("arm", "cell", "target_task", "language", "subset", "id", "source_id", "prediction",
                      "example_score")
MEAN_METRICS = ("accuracy", "squad_f1", "mlqa_f1", "retrieval_accuracy", "map_at_20", "mrr_at_20")
"""Metrics that are 100 x the mean of the per-example score."""
CHUNK_F1_METRICS = ("f1",)
MINING_F1_METRICS = ("bucc_f1",)
"""BUCC's F1 of mined pairs: 2 TP / (pred + gold) from each source sentence's prediction {"match", "gold"}."""
"""seqeval micro chunk F1 (not decomposable into per-example means: rebuilt from per-sentence chunk counts)."""
CLEAN = "clean"
TOLERANCE = 1e-6
"""Largest difference (points) allowed between a score recomputed from predictions and the results table."""
CHUNK_ROWS = 1 << 22
"""Upper bound on ``n_boot_chunk x n_examples`` count-matrix entries held at once."""
MEASURES = ("absolute", "relative")
POOLED = "pooled"
ALL_TARGETS = "all"
"""Pseudo target of the per-adversary keys ``all/<adversary>``: mean over the target tasks sharing the adversary."""

GoldLoader = Callable[[str, str, str], Mapping[str, Sequence[int]]]
"""``(target_task, language, subset) -> {example id: gold tag ids}`` (only called for chunk-F1 targets)."""


def pair_key(target: str, adversary: str, language: str | None = None) -> str:
    """Analysis key of a (target task, adversary[, language])."""
    return f"{target}/{adversary}" + (f"/{language}" if language is not None else "")


def prepared_gold(root: Path) -> GoldLoader:
    """Gold tags from the prepared test sets (``data/prepared/targets/<task>/{test,adversarial/<adv>}/<lang>``)."""

    def load(target: str, language: str, subset: str) -> Mapping[str, Sequence[int]]:
        path = (paths.test_path(root, target, language) if subset == CLEAN
                else subset_path(root, target, subset, language))
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; the report needs the gold tags of {target} (seqeval F1) "
                                    f"to resample its test examples (run `dvc repro prepare`)")
        df = pd.read_parquet(path, columns=["id", "tags"])
        return {str(i): [int(t) for t in tags] for i, tags in zip(df["id"], df["tags"], strict=True)}

    return load


def _chunks(tag_ids: Sequence[int], labels: Sequence[str]) -> frozenset[tuple[str, int, int]]:
    """seqeval chunks of one sentence given as label ids."""
    return frozenset(metrics.seqeval_chunks([[labels[i] for i in tag_ids]]))


def chunk_counts(gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]) -> tuple[int, int, int]:
    """``(true positives, predicted chunks, gold chunks)`` of one sentence, chunks read as seqeval does.

    Summed over sentences these give the corpus seqeval F1 ``2 TP / (pred + gold)`` (chunks never cross a
    sentence boundary: :func:`xstilts.core.metrics.seqeval_chunks` closes every sentence with an "O").
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold ({len(gold)}) and predicted ({len(pred)}) tag sequences differ in length")
    g, p = _chunks(gold, labels), _chunks(pred, labels)
    return len(g & p), len(p), len(g)


def ratio_score(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``100 * num / den`` with 0 where ``den`` is 0 (seqeval's F1 with no chunks on either side)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1.0), 0.0)


@dataclass
class TestSet:
    """One (target task, language, adversary): the adversarial examples (pairs) and, per model, four values per
    pair: clean numerator, clean denominator, adversarial numerator, adversarial denominator."""

    target: str
    language: str
    adversary: str
    ids: np.ndarray
    values: np.ndarray  # (n_pairs, n_models, 4); NaN rows for a model without this set

    @property
    def n(self) -> int:
        return int(self.ids.size)


@dataclass
class PairedData:
    """The models (one row per arm x size x seed), their cells and the test sets with per-pair values."""

    models: pd.DataFrame  # arm, size_label, train_size, seed, cell (index 0..M-1)
    sets: list[TestSet]
    examples_resampled: bool
    cells: pd.DataFrame = field(init=False)  # arm, size_label, train_size (index 0..C-1)
    cell_of_model: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.models = self.models.reset_index(drop=True)
        keys = ["arm", "size_label", "train_size"]
        self.cells = self.models[keys].drop_duplicates().sort_values(keys, kind="stable").reset_index(drop=True)
        lookup = {tuple(r): i for i, r in enumerate(self.cells.itertuples(index=False))}
        self.cell_of_model = np.array([lookup[tuple(r)] for r in self.models[keys].itertuples(index=False)],
                                      dtype=np.intp)


def _models(adv: pd.DataFrame) -> pd.DataFrame:
    models = adv[["arm", "size_label", "train_size", "seed"]].drop_duplicates()
    models = models.sort_values(["arm", "train_size", "size_label", "seed"], kind="stable").reset_index(drop=True)
    return models.assign(cell=[cell_name(lab, s)
                               for lab, s in zip(models["size_label"], models["seed"], strict=True)])


def from_results(adv: pd.DataFrame) -> PairedData:
    """Seeds-only design: every (model, test set) is one fixed value (no predictions to resample examples from).

    ``adv`` holds the adversarial zero-shot rows of the results table.
    """
    models = _models(adv)
    index = {tuple(r): i for i, r in enumerate(models[["arm", "size_label", "seed"]].itertuples(index=False))}
    sets = []
    for (target, lang, sub), rows in adv.groupby(["target_task", "language", "subset"], sort=True):
        values = np.full((1, len(models), 4), np.nan)
        for r in rows.itertuples(index=False):
            values[0, index[(r.arm, r.size_label, r.seed)]] = [r.clean_score, 100.0, r.score, 100.0]
        sets.append(TestSet(str(target), str(lang), str(sub), np.array(["<score>"]), values))
    return PairedData(models, sets, examples_resampled=False)


def validate_predictions(predictions: pd.DataFrame, source: str = "predictions") -> pd.DataFrame:
    """A typed copy of the predictions table; raises ValueError naming ``source`` and any missing column."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"{source}: lacks column(s) {missing}")
    df = predictions[list(PREDICTION_COLUMNS)].copy()
    for col in PREDICTION_COLUMNS:
        if col != "example_score":
            df[col] = df[col].fillna("").astype(str)
    df["example_score"] = pd.to_numeric(df["example_score"], errors="coerce").astype("float64")
    return df


def _pair_values(metric: str, target: str, lang: str, sub: str, adv_rows: pd.DataFrame, clean_rows: pd.DataFrame,
                 gold: GoldLoader | None, gold_cache: dict) -> np.ndarray:
    """``(n_pairs, 4)`` values of one model on one test set (rows sorted by adversarial id)."""
    clean_pos = pd.Series(np.arange(len(clean_rows)), index=clean_rows["id"].to_numpy())
    if not clean_pos.index.is_unique:
        raise ValueError(f"predictions: duplicate clean ids for {target}/{lang}")
    missing = sorted(set(adv_rows["source_id"]) - set(clean_pos.index))
    if missing:
        raise ValueError(f"predictions: {target}/{lang}/{sub} example with source_id {missing[0]!r} has no clean "
                         f"prediction in the same cell")
    src = clean_pos.loc[adv_rows["source_id"].to_numpy()].to_numpy()
    n = len(adv_rows)
    if metric in MEAN_METRICS:
        ones = np.ones(n)
        return np.column_stack([clean_rows["example_score"].to_numpy()[src], ones,
                                adv_rows["example_score"].to_numpy(), ones])
    if metric in MINING_F1_METRICS:
        out = np.empty((n, 4))
        for side, rows in ((0, clean_rows.iloc[src]), (2, adv_rows)):
            for i, pred in enumerate(rows["prediction"]):
                p = json.loads(pred)
                out[i, side] = 2.0 * (p["match"] is not None and p["match"] == p["gold"])
                out[i, side + 1] = float(p["match"] is not None) + float(p["gold"] is not None)
        return out
    if metric not in CHUNK_F1_METRICS:
        raise ValueError(f"results: metric {metric!r} of {target} cannot be resampled by example; known: "
                         f"{', '.join(MEAN_METRICS + CHUNK_F1_METRICS + MINING_F1_METRICS)}")
    if gold is None:
        raise ValueError(f"{target} is scored with seqeval F1: resampling its examples needs the gold tags "
                         f"(pass gold=prepared_gold(root))")
    labels = tasks.get(target).labels
    pred_chunks = gold_cache.setdefault(("pred", target), {})  # identical predictions recur across models
    out = np.empty((n, 4))
    for side, rows in ((0, clean_rows.iloc[src]), (2, adv_rows)):
        subset = CLEAN if side == 0 else sub
        if (target, lang, subset) not in gold_cache:
            gold_cache[(target, lang, subset)] = {i: (len(t), _chunks(t, labels))
                                                  for i, t in gold(target, lang, subset).items()}
        gold_set = gold_cache[(target, lang, subset)]
        for i, (ex_id, pred) in enumerate(zip(rows["id"], rows["prediction"], strict=True)):
            if ex_id not in gold_set:
                raise ValueError(f"gold tags of {target}/{lang}/{subset} lack example {ex_id!r}")
            length, g = gold_set[ex_id]
            if pred not in pred_chunks:
                tags = json.loads(pred)
                pred_chunks[pred] = (len(tags), _chunks(tags, labels))
            n_tags, p = pred_chunks[pred]
            if n_tags != length:
                raise ValueError(f"predictions: {target}/{lang}/{subset} example {ex_id!r} has {n_tags} predicted "
                                 f"tags for {length} gold tags")
            out[i, side], out[i, side + 1] = 2.0 * len(g & p), len(p) + len(g)
    return out


def from_predictions(adv: pd.DataFrame, predictions: pd.DataFrame, gold: GoldLoader | None = None) -> PairedData:
    """Per-pair values of every (model, test set) in ``adv`` (adversarial zero-shot rows of the results table),
    checked against the table: each recomputed adversarial and matched clean score must equal ``score`` and
    ``clean_score`` within :data:`TOLERANCE`, and every model must have been evaluated on the same pairs."""
    preds = validate_predictions(predictions)
    models = _models(adv)
    index = {tuple(r): i for i, r in enumerate(models[["arm", "size_label", "seed"]].itertuples(index=False))}
    groups = dict(tuple(preds.groupby(["arm", "cell", "target_task", "language", "subset"], sort=False)))
    gold_cache: dict = {}
    sets = []
    for (target, lang, sub), rows in adv.groupby(["target_task", "language", "subset"], sort=True):
        metrics_used = sorted(set(rows["metric"]))
        if len(metrics_used) != 1:
            raise ValueError(f"results: {target}/{lang}/{sub} mixes metrics {metrics_used}")
        ids: np.ndarray | None = None
        values: np.ndarray | None = None
        for r in rows.sort_values(["arm", "size_label", "seed"], kind="stable").itertuples(index=False):
            cell = cell_name(r.size_label, r.seed)
            where = f"predictions/{r.arm}.parquet (cell {cell}, {target}/{lang}/{sub})"
            adv_rows = groups.get((r.arm, cell, target, lang, sub))
            clean_rows = groups.get((r.arm, cell, target, lang, CLEAN))
            if adv_rows is None or clean_rows is None:
                raise ValueError(f"{where}: no {'adversarial' if adv_rows is None else 'clean'} predictions for "
                                 f"a model in the results table")
            adv_rows = adv_rows.sort_values("id", kind="stable")
            if not adv_rows["id"].is_unique:
                raise ValueError(f"{where}: duplicate example ids")
            if ids is None:
                ids = adv_rows["id"].to_numpy()
                values = np.full((ids.size, len(models), 4), np.nan)
            elif not np.array_equal(ids, adv_rows["id"].to_numpy()):
                raise ValueError(f"{where}: the adversarial examples differ from those of the other models")
            v = _pair_values(r.metric, target, lang, sub, adv_rows, clean_rows, gold, gold_cache)
            clean, score = ratio_score(v[:, 0].sum(), v[:, 1].sum()), ratio_score(v[:, 2].sum(), v[:, 3].sum())
            for name, got, want in (("clean_score", clean, r.clean_score), ("score", score, r.score)):
                if not (abs(float(got) - want) <= TOLERANCE or (np.isnan(want) and np.isnan(got))):
                    raise ValueError(f"{where}: {name} recomputed from the predictions is {float(got):.6f} but the "
                                     f"results table says {want:.6f}; the two files are out of sync")
            values[:, index[(r.arm, r.size_label, r.seed)]] = v  # type: ignore[index]
        sets.append(TestSet(str(target), str(lang), str(sub), ids, values))  # type: ignore[arg-type]
    return PairedData(models, sets, examples_resampled=True)


def set_degradation(values: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Degradation of every model on one test set for each row of ``counts`` (``(n_boot, n_pairs)``).

    Returns ``{"absolute": (n_boot, n_models), "relative": ...}``; relative is NaN where the clean score is 0.
    """
    n, m, _ = values.shape
    sums = (counts.astype(np.float64) @ np.nan_to_num(values.reshape(n, m * 4))).reshape(-1, m, 4)
    missing = np.isnan(values).any(axis=(0, 2))
    clean = ratio_score(sums[..., 0], sums[..., 1])
    absolute = clean - ratio_score(sums[..., 2], sums[..., 3])
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(clean != 0.0, absolute / np.where(clean != 0.0, clean, 1.0), np.nan)
    absolute[:, missing] = np.nan
    relative[:, missing] = np.nan
    return {"absolute": absolute, "relative": relative}


def _set_replicates(ts: TestSet, n_boot: int, seed: int, resample: bool = True) -> dict[str, np.ndarray]:
    """Bootstrap replicates of :func:`set_degradation`, the count matrix generated in bounded chunks.

    ``resample=False`` gives the single "replicate" in which every pair is drawn once (the point estimate).
    """
    if not resample:
        return set_degradation(ts.values, np.ones((1, ts.n), dtype=np.int64))
    rng = np.random.default_rng([seed, stable_seed("pairs", ts.target, ts.language, ts.adversary)])
    step = max(1, CHUNK_ROWS // max(ts.n, 1))
    parts = [set_degradation(ts.values, stats.resample_counts(ts.n, min(step, n_boot - start), rng))
             for start in range(0, n_boot, step)]
    return {m: np.concatenate([p[m] for p in parts], axis=0) for m in MEASURES}


class _NanMean:
    """Running nan-aware mean of ``(n_boot, n_models)`` arrays (pandas' skipna mean, element by element)."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count: np.ndarray | None = None

    def add(self, arr: np.ndarray) -> None:
        ok = np.isfinite(arr)
        if self.total is None:
            self.total, self.count = np.zeros(arr.shape), np.zeros(arr.shape)
        self.total += np.where(ok, arr, 0.0)
        self.count += ok  # type: ignore[operator]

    def mean(self) -> np.ndarray:
        assert self.total is not None and self.count is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / np.where(self.count > 0, self.count, 1.0), np.nan)


def seed_draws(paired: PairedData, n_boot: int, seed: int, resample: bool = True) -> list[np.ndarray]:
    """Per cell, ``(n_boot, n_seeds)`` model indices: the cell's seeds drawn with replacement.

    ``resample=False`` gives one row holding every seed once (the point estimate).
    """
    rng = np.random.default_rng([seed, stable_seed("seeds")])
    draws = []
    for c in range(len(paired.cells)):
        members = np.flatnonzero(paired.cell_of_model == c)
        draws.append(members[rng.integers(0, members.size, size=(n_boot, members.size))] if resample
                     else members[None, :])
    return draws


def cell_means(per_model: np.ndarray, draws: list[np.ndarray]) -> np.ndarray:
    """``(n_boot, n_cells)``: per replicate and cell, the nan-aware mean over the drawn seeds' models."""
    out = np.empty((per_model.shape[0], len(draws)))
    rows = np.arange(per_model.shape[0])[:, None]
    for c, idx in enumerate(draws):
        picked = per_model[rows, idx]
        ok = np.isfinite(picked)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, c] = np.where(ok.any(axis=1), np.where(ok, picked, 0.0).sum(axis=1) / ok.sum(axis=1), np.nan)
    return out


def replicates(paired: PairedData, n_boot: int, seed: int, resample: bool = True
               ) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(key, measure, reps)`` for every analysis key: ``reps`` is ``(n_boot, n_cells)`` (``paired.cells`` order).

    Keys: ``"<target>/<adversary>/<language>"``, ``"<target>/<adversary>"`` (mean over the zero-shot languages),
    ``"all/<adversary>"`` (mean over the target tasks of an adversary that two or more targets use) and
    ``"pooled"`` (mean over target tasks and adversaries). One seed draw per cell and one pair draw per test
    set serve every key of a replicate. ``resample=False`` yields one row: the point estimates, aggregated the
    same way (what the report computes from the results table).
    """
    draws = seed_draws(paired, n_boot, seed, resample)
    pooled = {m: _NanMean() for m in MEASURES}
    by_adversary: dict[str, dict[str, _NanMean]] = {}
    by_pair: dict[tuple[str, str], list[TestSet]] = {}
    for ts in paired.sets:
        by_pair.setdefault((ts.target, ts.adversary), []).append(ts)
    for (target, adversary), sets in sorted(by_pair.items()):
        over_languages = {m: _NanMean() for m in MEASURES}
        for ts in sorted(sets, key=lambda s: s.language):
            reps = _set_replicates(ts, n_boot, seed, resample)
            for m in MEASURES:
                over_languages[m].add(reps[m])
                yield pair_key(target, adversary, ts.language), m, cell_means(reps[m], draws)
        for m in MEASURES:
            per_model = over_languages[m].mean()
            pooled[m].add(per_model)
            by_adversary.setdefault(adversary, {k: _NanMean() for k in MEASURES})[m].add(per_model)
            yield pair_key(target, adversary), m, cell_means(per_model, draws)
    for adversary in sorted(by_adversary):
        if sum(a == adversary for _, a in by_pair) >= 2:
            for m in MEASURES:
                yield pair_key(ALL_TARGETS, adversary), m, cell_means(by_adversary[adversary][m].mean(), draws)
    if by_pair:
        for m in MEASURES:
            yield POOLED, m, cell_means(pooled[m].mean(), draws)
