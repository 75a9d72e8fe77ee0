"""The final report: does the intermediate-task training-set size correlate with zero-shot degradation?

:func:`build_report` turns the results table (one row per model x target task x language x subset) and the
per-example predictions into

* ``correlation.json`` - every table and statistic below, machine readable (NaN is written as null);
* ``metrics.json`` - a flat ``{name: float}`` of headline numbers for ``dvc metrics show``;
* ``correlation.md`` and ``correlation.html`` (the same text, figures inline as base64 PNG) - the generated
  answer, methods, baseline checks, the paper comparison, degradation tables, correlations, models with task
  effects, the multiple-comparison table, figures and provenance;
* ``degradation_vs_size.png``, ``zero_shot_heatmap.png``, ``seed_spread.png`` and
  ``plots/pooled_degradation.csv`` (for ``dvc plots show``).

Definitions. Degradation of a model on an adversarial subset = ``clean_score - score`` (absolute points,
paired with the matched clean source examples); relative degradation = degradation / clean_score. Both are
computed per (arm, size_label, seed, target_task, language, subset) and averaged (unweighted) over the
zero-shot languages (every language but English) for the key ``<target>/<adversary>``; the key
``<target>/<adversary>/<language>`` keeps one language; "pooled" is the per-model mean over all target tasks and
adversaries. Only intermediate-task arms enter the correlations with ln(train_size): *across* tasks uses one
point per task at its natural size ("full", mean over seeds); *within* tasks uses every size of every task (mean
over seeds) with task fixed effects (see :mod:`xstilts.analysis.stats`). Confidence intervals come from a hierarchical
bootstrap over seeds and paired test examples (:mod:`xstilts.analysis.paired`); p-values from permutations that respect
the design (sizes shuffled within task for the within analysis); Holm and Benjamini-Hochberg corrections are
applied across the target task x language x adversary tests.

Every output is written atomically and rendered deterministically (sorted rows and keys, fixed float
formatting, PNGs without software/time metadata).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from xstilts import published, report_html, tasks
from xstilts.analysis import paired as paired_mod
from xstilts.analysis import stats

TRAINING_LANGUAGE = "en"
CLEAN = "clean"
CONTROL_ARMS = ("baseline", "random")
FULL = "full"
POOLED = paired_mod.POOLED
ALL_TARGETS = paired_mod.ALL_TARGETS
MEASURES = paired_mod.MEASURES
ANALYSES = ("across", "within")
MODEL_KEYS = ["arm", "size_label", "train_size", "seed"]
CELL_KEYS = ["arm", "size_label", "train_size"]
REQUIRED_COLUMNS = (
    "arm", "train_size", "size_label", "seed", "target_task", "language", "subset", "metric", "score",
    "clean_score", "target_run_id", "intermediate_run_id",
)
FIGURES = {"scatter": "degradation_vs_size.png", "heatmap": "zero_shot_heatmap.png", "seeds": "seed_spread.png"}
PLOTS_CSV = "plots/pooled_degradation.csv"
HTML = "correlation.html"
JSON_DIGITS = 10
PNG_DPI = 110
SCHEMA_VERSION = 2
SMALL_N = 6
"""Below this many points the answer warns that percentile intervals and rank statistics are coarse."""
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}
FAMILIES = {"per_language": 2, "per_pair": 1}
"""Multiple-comparison families: the (target task, adversary, language) keys and the (target task, adversary)
keys; each family is corrected for every measure x analysis x statistic separately."""
PRIMARY_FAMILY = "per_language"


# ------------------------------------------------------------------------------------------- tables


def validate_results(results: pd.DataFrame) -> pd.DataFrame:
    """A typed copy of the results table; raises ValueError naming any missing column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks column(s) {missing}")
    df = results.copy()
    if "chance" not in df.columns:
        df["chance"] = np.nan
    for col in ("arm", "size_label", "target_task", "language", "subset", "metric",
                "target_run_id", "intermediate_run_id"):
        df[col] = df[col].fillna("").astype(str)
    df["train_size"] = df["train_size"].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    for col in ("score", "clean_score", "chance"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def arm_order(arms: Iterable[str]) -> list[str]:
    """Controls first (baseline, random), then the intermediate tasks alphabetically."""
    unique = set(arms)
    return [a for a in CONTROL_ARMS if a in unique] + sorted(unique - set(CONTROL_ARMS))


def language_order(languages: Iterable[str]) -> list[str]:
    """The training language first, then the zero-shot languages alphabetically."""
    unique = set(languages)
    return [TRAINING_LANGUAGE] * (TRAINING_LANGUAGE in unique) + sorted(unique - {TRAINING_LANGUAGE})


def adversaries(results: pd.DataFrame) -> list[str]:
    """Adversary names (every subset except clean), sorted."""
    return sorted(set(results["subset"]) - {CLEAN})


def degradation_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Adversarial rows with ``degradation = clean_score - score`` and ``relative = degradation / clean_score``.

    ``relative`` is NaN where the matched clean score is 0.
    """
    adv = results[results["subset"] != CLEAN].copy()
    adv["degradation"] = adv["clean_score"] - adv["score"]
    clean = adv["clean_score"].where(adv["clean_score"] != 0.0)
    adv["relative"] = adv["degradation"] / clean
    return adv



def is_adversary_key(key: str) -> bool:
    """``all/<adversary>``: a summary over target tasks, not a test of its own (never in a correction family)."""
    return key.startswith(ALL_TARGETS + "/")


def key_level(key: str) -> int:
    """0 for "pooled", 1 for ``<target>/<adversary>``, 2 for ``<target>/<adversary>/<language>``."""
    return 0 if key == POOLED else key.count("/")


def zero_shot_degradation(results: pd.DataFrame) -> pd.DataFrame:
    """Per (model, target task, adversary): degradation averaged over the zero-shot languages.

    Columns: arm, size_label, train_size, seed, target_task, subset, absolute, relative, n_languages.
    """
    adv = degradation_rows(results)
    adv = adv[adv["language"] != TRAINING_LANGUAGE]
    keys = [*MODEL_KEYS, "target_task", "subset"]
    out = adv.groupby(keys, sort=True).agg(
        absolute=("degradation", "mean"), relative=("relative", "mean"), n_languages=("language", "nunique")
    )
    return out.reset_index()


def model_degradation(results: pd.DataFrame) -> pd.DataFrame:
    """Zero-shot degradation per model and analysis key.

    ``key`` is ``"<target>/<adversary>/<language>"`` (one zero-shot language), ``"<target>/<adversary>"`` (mean
    over the zero-shot languages), ``"all/<adversary>"`` (mean over the target tasks of an adversary used by two
    or more) or ``"pooled"`` (mean over every target task and adversary of that model).
    Columns: arm, size_label, train_size, seed, key, absolute, relative.
    """
    adv = degradation_rows(results)
    adv = adv[adv["language"] != TRAINING_LANGUAGE]
    per_lang = adv.assign(
        key=[paired_mod.pair_key(t, s, lg)
             for t, s, lg in zip(adv["target_task"], adv["subset"], adv["language"], strict=True)],
        absolute=adv["degradation"],
    )[[*MODEL_KEYS, "key", *MEASURES]]
    zs = zero_shot_degradation(results)
    per_pair = zs.assign(key=[paired_mod.pair_key(t, s)
                              for t, s in zip(zs["target_task"], zs["subset"], strict=True)])
    pooled = zs.groupby(MODEL_KEYS, sort=True)[list(MEASURES)].mean().reset_index().assign(key=POOLED)
    shared = zs.groupby("subset")["target_task"].nunique()
    multi = zs[zs["subset"].isin(shared[shared >= 2].index)]
    per_adv = multi.groupby([*MODEL_KEYS, "subset"], sort=True)[list(MEASURES)].mean().reset_index()
    per_adv["key"] = [paired_mod.pair_key(ALL_TARGETS, s) for s in per_adv["subset"]]
    cols = [*MODEL_KEYS, "key", *MEASURES]
    out = pd.concat([pooled[cols], per_adv[cols], per_pair[cols], per_lang[cols]], ignore_index=True)
    return out.sort_values([*MODEL_KEYS, "key"], kind="stable").reset_index(drop=True)


def seed_mean(model_deg: pd.DataFrame) -> pd.DataFrame:
    """Average :func:`model_degradation` over seeds: one row per (arm, size_label, train_size, key)."""
    keys = [*CELL_KEYS, "key"]
    grouped = model_deg.groupby(keys, sort=True)
    out = grouped[list(MEASURES)].mean()
    out["n_seeds"] = grouped["seed"].nunique()
    return out.reset_index()


def ordered_keys(keys: Iterable[str]) -> list[str]:
    """``"pooled"`` first, then the (target task/adversary[/language]) keys sorted."""
    unique = set(keys)
    return [POOLED] * (POOLED in unique) + sorted(unique - {POOLED})


def analysis_keys(model_deg: pd.DataFrame, max_level: int = 2) -> list[str]:
    """The analysis keys present in a degradation table up to ``max_level``, in :func:`ordered_keys` order."""
    return [k for k in ordered_keys(model_deg["key"]) if key_level(k) <= max_level]


def correlation_points(
    means: pd.DataFrame, key: str, measure: str, analysis: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[tuple[str, str, int]]]:
    """``(x = ln(train_size), y = degradation, groups, cells)`` of the intermediate arms for one analysis.

    ``across``: one point per intermediate task at size "full"; ``groups`` is None.
    ``within``: every size of every intermediate task; ``groups`` are the task names.
    ``cells`` names the (arm, size_label, train_size) of every point, in order.
    """
    sel = means[(means["key"] == key) & ~means["arm"].isin(CONTROL_ARMS)]
    if analysis == "across":
        sel = sel[sel["size_label"] == FULL]
    elif analysis != "within":
        raise ValueError(f"unknown analysis {analysis!r}")
    sel = sel.sort_values(["arm", "train_size", "size_label"], kind="stable")
    sizes = sel["train_size"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(sizes > 0, np.log(np.where(sizes > 0, sizes, 1.0)), np.nan)
    y = sel[measure].to_numpy(dtype=np.float64)
    groups = sel["arm"].to_numpy(dtype=str) if analysis == "within" else None
    cells = [(str(a), str(lab), int(t))
             for a, lab, t in zip(sel["arm"], sel["size_label"], sel["train_size"], strict=True)]
    return x, y, groups, cells


def design_data(results: pd.DataFrame, predictions: pd.DataFrame | None,
                gold: paired_mod.GoldLoader | None) -> paired_mod.PairedData | None:
    """The paired design of the intermediate arms' zero-shot adversarial rows (None without any)."""
    adv = results[(results["subset"] != CLEAN) & (results["language"] != TRAINING_LANGUAGE)
                  & ~results["arm"].isin(CONTROL_ARMS)]
    if adv.empty:
        return None
    if predictions is None:
        return paired_mod.from_results(adv)
    return paired_mod.from_predictions(adv, predictions, gold)


def _analyse_key(means: pd.DataFrame, key: str, measure: str, reps: np.ndarray | None,
                 cell_index: Mapping[tuple[str, str, int], int], rp: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for analysis in ANALYSES:
        x, y, groups, cells = correlation_points(means, key, measure, analysis)
        y_reps = None
        if reps is not None and cells and all(c in cell_index for c in cells):
            y_reps = reps[:, [cell_index[c] for c in cells]]
        res = stats.analyse(x, y, n_perm=rp["n_permutations"], seed=rp["seed"], groups=groups, y_reps=y_reps)
        if analysis == "across":
            res["model"] = stats.ols_fit(x, y)
            res["mixed"] = None
        else:
            res["model"] = stats.fixed_effects_fit(x, y, groups)
            res["mixed"] = stats.mixed_fit(x, y, groups) if key_level(key) < 2 else None
        out[analysis] = res
    return out


def correlations(means: pd.DataFrame, design: paired_mod.PairedData | None, rp: Mapping[str, Any]
                 ) -> tuple[dict[str, Any], pd.DataFrame]:
    """``({key: {measure: {analysis: stats.analyse(...) + "model"/"mixed" fits}}}, means with point CIs)``.

    The replicate ``y`` vectors come from the hierarchical bootstrap of ``design`` (seeds and paired test
    examples); each point's own percentile interval is added to ``means`` as ``<measure>_ci_low/high``.
    """
    corr: dict[str, dict[str, Any]] = {}
    point_ci: dict[tuple[str, str, int, str, str], tuple[float, float]] = {}
    cell_index: dict[tuple[str, str, int], int] = {}
    if design is not None:
        cell_index = {(str(a), str(lab), int(t)): i
                      for i, (a, lab, t) in enumerate(design.cells[CELL_KEYS].itertuples(index=False))}
        for key, measure, reps in paired_mod.replicates(design, rp["n_bootstrap"], rp["seed"]):
            corr.setdefault(key, {})[measure] = _analyse_key(means, key, measure, reps, cell_index, rp)
            for cell, i in cell_index.items():
                point_ci[(*cell, key, measure)] = stats.percentile_ci(reps[:, i])
    for key in analysis_keys(means):
        for measure in MEASURES:
            if measure not in corr.get(key, {}):
                corr.setdefault(key, {})[measure] = _analyse_key(means, key, measure, None, cell_index, rp)
    ordered = {k: {m: corr[k][m] for m in MEASURES} for k in ordered_keys(corr)}
    means = means.copy()
    for measure in MEASURES:
        cis = [point_ci.get((a, lab, int(t), k, measure), (math.nan, math.nan))
               for a, lab, t, k in zip(means["arm"], means["size_label"], means["train_size"], means["key"],
                                       strict=True)]
        means[f"{measure}_ci_low"] = [c[0] for c in cis]
        means[f"{measure}_ci_high"] = [c[1] for c in cis]
    return ordered, means


def apply_corrections(corr: dict[str, Any]) -> dict[str, Any]:
    """Add Holm and BH adjusted p-values (``<stat>_p_holm``, ``<stat>_p_bh``) to every key of each family.

    Families (:data:`FAMILIES`) are corrected separately for every measure x analysis x statistic; the family
    size ``m`` counts the keys with a finite p-value. Returns ``{family: {"keys": [...], "m": {...}}}``.
    """
    families: dict[str, Any] = {}
    for name, level in FAMILIES.items():
        keys = [k for k in corr if key_level(k) == level and not is_adversary_key(k)]
        sizes: dict[str, int] = {}
        for measure in MEASURES:
            for analysis in ANALYSES:
                for stat in stats.RANK_TESTS:
                    p = [corr[k][measure][analysis][f"{stat}_p"] for k in keys]
                    sizes[f"{measure}.{analysis}.{stat}"] = int(np.isfinite(np.asarray(p, dtype=float)).sum())
                    for method in stats.CORRECTIONS:
                        adjusted = stats.adjust_pvalues(p, method) if keys else []
                        for k, v in zip(keys, adjusted, strict=True):
                            corr[k][measure][analysis][f"{stat}_p_{method}"] = float(v)
        families[name] = {"keys": keys, "m": sizes}
    return families


def significant_keys(corr: Mapping[str, Any], family: str, measure: str, analysis: str, stat: str,
                     method: str, alpha: float) -> list[str]:
    """Keys of a family whose adjusted p-value is below ``alpha``."""
    level = FAMILIES[family]
    return [k for k in corr if key_level(k) == level and not is_adversary_key(k)
            and _below(corr[k][measure][analysis].get(f"{stat}_p_{method}"), alpha)]


def control_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of score, matched clean score and chance for the control arms.

    One row per (arm, target_task, metric, language, subset) with arm in baseline/random.
    """
    ctrl = results[results["arm"].isin(CONTROL_ARMS)]
    keys = ["arm", "target_task", "metric", "language", "subset"]
    out = ctrl.groupby(keys, sort=True).agg(
        score=("score", "mean"), clean_score=("clean_score", "mean"), chance=("chance", "mean"),
        n_seeds=("seed", "nunique"),
    )
    return out.reset_index()


def _lookup(ctrl: pd.DataFrame, arm: str, target: str, language: str, subset: str, col: str) -> float:
    """One value of :func:`control_scores` (NaN when absent)."""
    sel = ctrl[(ctrl["arm"] == arm) & (ctrl["target_task"] == target) & (ctrl["language"] == language)
               & (ctrl["subset"] == subset)]
    return float(sel[col].iloc[0]) if len(sel) else math.nan


def _all_or_none(flags: Sequence[bool]) -> bool | None:
    """``all(flags)``, or None when there is nothing to check."""
    return bool(all(flags)) if flags else None


def baseline_checks(ctrl: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Sanity checks of the baseline per target task (None = not checkable).

    * ``above_chance``: every zero-shot language's clean score exceeds the chance level;
    * ``english_highest``: the English clean score is the highest of all languages;
    * ``adversarial_below_clean``: every adversarial score is below its matched clean score;
    * ``above_random``: the zero-shot mean clean score exceeds that of the random-init control.
    """
    out: dict[str, dict[str, Any]] = {}
    base = ctrl[ctrl["arm"] == "baseline"]
    for target in sorted(set(base["target_task"])):
        rows = base[base["target_task"] == target]
        clean = rows[rows["subset"] == CLEAN].set_index("language")
        zero = clean[clean.index != TRAINING_LANGUAGE]
        with_chance = zero[np.isfinite(zero["chance"])]
        adv = rows[rows["subset"] != CLEAN]
        random_clean = ctrl[(ctrl["arm"] == "random") & (ctrl["target_task"] == target)
                            & (ctrl["subset"] == CLEAN) & (ctrl["language"] != TRAINING_LANGUAGE)]
        en = clean["score"].get(TRAINING_LANGUAGE, math.nan)
        out[target] = {
            "above_chance": _all_or_none(list(with_chance["score"] > with_chance["chance"])),
            "english_highest": (bool(en >= clean["score"].max()) if np.isfinite(en) and len(clean) > 1
                                else None),
            "adversarial_below_clean": _all_or_none(list(adv["score"] < adv["clean_score"])),
            "above_random": (bool(zero["score"].mean() > random_clean["score"].mean())
                             if len(zero) and len(random_clean) else None),
            "n_adversarial_below_clean": int((adv["score"] < adv["clean_score"]).sum()),
            "n_adversarial": int(len(adv)),
        }
    return out


def baseline_summary(ctrl: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON rows of the control-arm scores, sorted by arm, target task, language and subset."""
    cols = ["arm", "target_task", "metric", "language", "subset", "score", "clean_score", "chance", "n_seeds"]
    rows = ctrl[cols].copy()
    rows["_arm"] = rows["arm"].map({a: i for i, a in enumerate(arm_order(rows["arm"]))})
    rows["_lang"] = rows["language"].map({lg: i for i, lg in enumerate(language_order(rows["language"]))})
    rows = rows.sort_values(["_arm", "target_task", "_lang", "subset"], kind="stable")
    return rows[cols].to_dict(orient="records")

def degradation_summary(means: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON rows of the seed-mean zero-shot degradation (with each point's bootstrap CI), every arm and key."""
    cols = ["arm", "size_label", "train_size", "key", *MEASURES, "n_seeds"]
    cols += [c for m in MEASURES for c in (f"{m}_ci_low", f"{m}_ci_high") if c in means.columns]
    return _display_sorted(means)[cols].to_dict(orient="records")


def _display_sorted(means: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by arm (controls first), train size, size label and key."""
    order = {a: i for i, a in enumerate(arm_order(means["arm"]))}
    keys = {k: i for i, k in enumerate(analysis_keys(means))}
    tmp = means.assign(_arm=means["arm"].map(order), _key=means["key"].map(keys))
    return tmp.sort_values(["_arm", "train_size", "size_label", "_key"], kind="stable").drop(
        columns=["_arm", "_key"]
    )


def headline_metrics(corr: Mapping[str, Any], families: Mapping[str, Any], ctrl: pd.DataFrame,
                     means: pd.DataFrame, comparison: Mapping[str, Any], rp: Mapping[str, Any]
                     ) -> dict[str, float]:
    """Flat ``{name: float}`` headline numbers; undefined (NaN) values are left out."""
    out: dict[str, float] = {}
    if POOLED in corr:
        for measure in MEASURES:
            prefix = POOLED if measure == "absolute" else f"{POOLED}.{measure}"
            for analysis in ANALYSES:
                res = corr[POOLED][measure][analysis]
                for name in stats.STATS:
                    out[f"{prefix}.{analysis}.{name}"] = res[name]
                    out[f"{prefix}.{analysis}.{name}_ci_low"] = res[f"{name}_ci"][0]
                    out[f"{prefix}.{analysis}.{name}_ci_high"] = res[f"{name}_ci"][1]
                for name in stats.RANK_TESTS:
                    out[f"{prefix}.{analysis}.{name}_p"] = res[f"{name}_p"]
                out[f"{prefix}.{analysis}.n"] = float(res["n"])
                fits = [("ols" if analysis == "across" else "fe", res["model"]), ("mixed", res["mixed"])]
                for tag, fit in fits:
                    if fit is None:
                        continue
                    out[f"{prefix}.{analysis}.{tag}_slope"] = fit["slope"]
                    out[f"{prefix}.{analysis}.{tag}_slope_ci_low"] = fit["ci"][0]
                    out[f"{prefix}.{analysis}.{tag}_slope_ci_high"] = fit["ci"][1]
                    out[f"{prefix}.{analysis}.{tag}_slope_p"] = fit["p"]
        method, alpha = rp["correction"], rp["alpha"]
        for family in FAMILIES:
            for measure in MEASURES:
                for analysis in ANALYSES:
                    hits = significant_keys(corr, family, measure, analysis, "pearson", method, alpha)
                    m = families[family]["m"][f"{measure}.{analysis}.pearson"]
                    out[f"tests.{family}.{measure}.{analysis}.m"] = float(m)
                    out[f"tests.{family}.{measure}.{analysis}.significant_{method}"] = float(len(hits))
    clean = ctrl[ctrl["subset"] == CLEAN]
    for arm in CONTROL_ARMS:
        rows = clean[clean["arm"] == arm]
        zero = rows[rows["language"] != TRAINING_LANGUAGE]
        out[f"{arm}.zero_shot.clean"] = float(zero["score"].mean()) if len(zero) else math.nan
        out[f"{arm}.en.clean"] = float(rows[rows["language"] == TRAINING_LANGUAGE]["score"].mean())
        for target in sorted(set(rows["target_task"])):
            sel = zero[zero["target_task"] == target]
            out[f"{arm}.{target}.zero_shot.clean"] = float(sel["score"].mean()) if len(sel) else math.nan
        pooled = means[(means["arm"] == arm) & (means["key"] == POOLED)]
        out[f"{arm}.zero_shot.degradation"] = float(pooled["absolute"].mean()) if len(pooled) else math.nan
    out["comparison.mean_best_gain"] = comparison["headline"]["ours"]
    for t in comparison["targets"]:
        out[f"comparison.{t['target']}.best_gain"] = t["best_gain"]
    return {k: _round(float(v)) for k, v in sorted(out.items()) if v is not None and np.isfinite(v)}


# ------------------------------------------------------------------------------------------- formatting


def _round(value: float) -> float:
    """Round to :data:`JSON_DIGITS` decimals (stable JSON across summation-order noise); -0.0 becomes 0.0."""
    return round(value, JSON_DIGITS) + 0.0


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy/pandas values to JSON types; NaN/inf become None, floats are rounded."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _round(float(obj)) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def fmt(value: float | None, digits: int = 2) -> str:
    """Fixed-point number; "n/a" for None/NaN; never "-0.00"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def fmt_p(p: float | None) -> str:
    """A p-value with three decimals ("<0.001" below that)."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(ci: Sequence[float], digits: int = 2) -> str:
    """``[lo, hi]``."""
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def mark(flag: bool | None) -> str:
    """✓ / ✗ / n/a."""
    return "n/a" if flag is None else ("✓" if flag else "✗")


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; ``align`` holds one of "l"/"r" per column (default: l then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "--:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def magnitude(r: float) -> str:
    """Cohen's verbal label of |r|."""
    size = abs(r)
    if size < 0.1:
        return "negligible"
    if size < 0.3:
        return "weak"
    if size < 0.5:
        return "moderate"
    return "strong"


# ------------------------------------------------------------------------------------------- markdown


def _key_label(key: str) -> str:
    """Human label of an analysis key."""
    return "pooled (all targets and adversaries)" if key == POOLED else key.replace("/", " · ")


def _below(p: float | None, level: float) -> bool:
    """``p < level`` for a finite p-value (False for None/NaN)."""
    return p is not None and math.isfinite(p) and p < level


def _unit(measure: str) -> tuple[str, float, int]:
    """(unit, scale, digits) of a slope per doubling: points, or % of the clean score for relative."""
    return ("points", 1.0, 2) if measure == "absolute" else ("% of the clean score", 100.0, 2)


def per_doubling(value: float | None, measure: str) -> str:
    """A slope per unit of ln(size) expressed per doubling of the training set, with its unit."""
    unit, scale, digits = _unit(measure)
    if value is None or not math.isfinite(value):
        return "n/a"
    sep = "" if unit.startswith("%") else " "
    return f"{fmt(value * math.log(2) * scale, digits)}{sep}{unit}"


def ci_per_doubling(ci: Sequence[float | None], measure: str) -> str:
    """A slope CI per unit of ln(size) expressed per doubling."""
    _, scale, digits = _unit(measure)
    return fmt_ci([None if v is None else v * math.log(2) * scale for v in ci], digits)


def verdict(res: Mapping[str, Any], alpha: float) -> str:
    """positive / negative / none / inconclusive / undefined for one within-task result.

    The size effect is tested by the within-task permutation test (p < alpha) and the fixed-effects CI. A
    direction is claimed when both reject zero and the seeds-and-examples bootstrap CI of the slope (when
    available) excludes zero too, i.e. measurement noise alone does not explain it; "none" when neither test
    rejects (the bootstrap CI describes measurement precision only and cannot establish an effect on its own);
    "inconclusive" otherwise.
    """
    fit = res.get("model") or {}
    if res["reason"] or fit.get("reason") or not math.isfinite(fit.get("slope", math.nan)):
        return "undefined"
    tests = [_below(res["pearson_p"], alpha), bool(stats.ci_excludes_zero(fit["ci"]))]
    if not any(tests):
        return "none"
    if all(tests) and stats.ci_excludes_zero(res["slope_ci"]) is not False:
        return "positive" if fit["slope"] > 0 else "negative"
    return "inconclusive"


def _resampling_label(design: Mapping[str, Any]) -> str:
    return "seeds-and-test-examples" if design.get("examples_resampled") else "seeds-only"


def _rank_sentence(res: Mapping[str, Any]) -> str:
    return (f"Pearson r = {fmt(res['pearson'])} (95% CI {fmt_ci(res['pearson_ci'])}), Spearman ρ = "
            f"{fmt(res['spearman'])}, Kendall τ = {fmt(res['kendall'])}")


def answer_paragraph(corr: Mapping[str, Any], families: Mapping[str, Any], rp: Mapping[str, Any],
                     design: Mapping[str, Any]) -> str:
    """The one-paragraph answer, generated from the numbers (direction, size, CI, after correction)."""
    if POOLED not in corr:
        return "No intermediate-task results with adversarial subsets: there is nothing to correlate."
    alpha, method = rp["alpha"], rp["correction"]
    w = corr[POOLED]["absolute"]["within"]
    fe = w["model"]
    v = verdict(w, alpha)
    scope = "within an intermediate task (controlled subsamples)"
    opening = {
        "positive": f"Yes: {scope}, a larger English training set goes with more zero-shot adversarial "
                    "degradation",
        "negative": f"Yes, with a negative sign: {scope}, a larger English training set goes with less zero-shot "
                    "adversarial degradation",
        "none": f"No relation is detectable: {scope}, the size of the English training set does not change "
                "zero-shot adversarial degradation distinguishably from zero",
        "inconclusive": f"Inconclusive: {scope}, the evidence for a size effect on zero-shot adversarial "
                        "degradation is mixed (the permutation test, the fixed-effects CI and the bootstrap CI do "
                        "not agree)",
        "undefined": "This run cannot answer the question: the within-task analysis is not computable "
                     f"({w['reason'] or fe.get('reason')})",
    }[v]
    parts = [opening + "."]
    if v != "undefined":
        parts.append(
            f"The slope is {per_doubling(fe['slope'], 'absolute')} per doubling of the training set (OLS with "
            f"task fixed effects over {fe['n']} models of {fe['n_groups']} tasks, 95% CI "
            f"{ci_per_doubling(fe['ci'], 'absolute')}; {_resampling_label(design)} bootstrap CI "
            f"{ci_per_doubling(w['slope_ci'], 'absolute')}; within-task permutation p = {fmt_p(w['pearson_p'])}); "
            f"within task {_rank_sentence(w)}."
        )
        if v == "none":
            parts.append(f"The fixed-effects CI bounds the effect to {ci_per_doubling(fe['ci'], 'absolute')} "
                         "per doubling.")
    a = corr[POOLED]["absolute"]["across"]
    if a["reason"]:
        parts.append(f"Across tasks at their natural sizes the correlation is not computable ({a['reason']}).")
    else:
        relation = "significant" if _below(a["pearson_p"], alpha) else "not significant"
        if v in ("positive", "negative") and math.isfinite(a["pearson"]) and a["pearson"] != 0:
            same = (a["pearson"] > 0) == (fe["slope"] > 0)
            relation += f", {'the same sign as' if same else 'the opposite sign to'} the within-task slope"
        parts.append(f"Across tasks at their natural sizes (n = {a['n']}, confounded with task type) r = "
                     f"{fmt(a['pearson'])} (permutation p = {fmt_p(a['pearson_p'])}): {relation} at "
                     f"α = {fmt(alpha, 2)}.")
    r = corr[POOLED]["relative"]["within"]
    if not r["reason"] and not r["model"]["reason"]:
        parts.append(f"Relative to the clean score the within-task slope is "
                     f"{per_doubling(r['model']['slope'], 'relative')} per doubling (95% CI "
                     f"{ci_per_doubling(r['model']['ci'], 'relative')}, permutation p = {fmt_p(r['pearson_p'])}).")
    fam = families.get(PRIMARY_FAMILY, {})
    m = fam.get("m", {}).get("absolute.within.pearson", 0)
    if m:
        hits = significant_keys(corr, PRIMARY_FAMILY, "absolute", "within", "pearson", method, alpha)
        listed = ", ".join(f"{_key_label(k)} ({'+' if corr[k]['absolute']['within']['pearson'] > 0 else '−'})"
                           for k in hits[:6]) + (" …" if len(hits) > 6 else "")
        parts.append(f"After {CORRECTION_NAMES[method]} correction over the {m} target task × adversary × "
                     f"language tests (within-task Pearson, absolute degradation), {len(hits)} "
                     f"{'remains' if len(hits) == 1 else 'remain'} significant at α = {fmt(alpha, 2)}"
                     + (f": {listed}." if hits else "."))
    seeds = design.get("seeds_per_cell", [0, 0])
    if seeds and seeds[1] <= 1:
        parts.append("Each model was trained with one seed, so seed-to-seed variance is not part of these "
                     "intervals.")
    if w["n"] < SMALL_N or (not a["reason"] and a["n"] < SMALL_N):
        parts.append(f"With fewer than {SMALL_N} points in an analysis, its intervals and rank statistics are "
                     "coarse.")
    return " ".join(parts)


def describe_analysis(res: Mapping[str, Any], measure: str) -> str:
    """One generated sentence group for one analysis result."""
    if res["analysis"] == "across":
        name, detail = "Across tasks", "one point per intermediate task at its natural size"
    else:
        name, detail = "Within tasks", f"task fixed effects, every size of {res['n_groups']} tasks"
    head = f"**{name}** ({detail}, n = {res['n']})"
    if res["reason"]:
        return f"{head}: not computable ({res['reason']})."
    r = res["pearson"]
    if magnitude(r) == "negligible":
        shape = "a negligible correlation"
    else:
        shape = (f"a {magnitude(r)} {'positive' if r > 0 else 'negative'} correlation (larger English "
                 f"training sets go with {'more' if r > 0 else 'less'} degradation)")
    excludes = stats.ci_excludes_zero(res["pearson_ci"])
    ci_note = {None: "the bootstrap CI of r is undefined",
               False: "the bootstrap CI of r includes 0", True: "the bootstrap CI of r excludes 0"}[excludes]
    fit = res.get("model") or {}
    model = (f"{fit['method']}: {per_doubling(fit['slope'], measure)} per doubling (95% CI "
             f"{ci_per_doubling(fit['ci'], measure)}, p = {fmt_p(fit['p'])})"
             if fit and not fit.get("reason") else f"model fit not computable ({fit.get('reason')})")
    return (
        f"{head}: Pearson r = {fmt(r)} (95% CI {fmt_ci(res['pearson_ci'])}, permutation p = "
        f"{fmt_p(res['pearson_p'])}), Spearman ρ = {fmt(res['spearman'])} (95% CI {fmt_ci(res['spearman_ci'])}, "
        f"p = {fmt_p(res['spearman_p'])}), Kendall τ = {fmt(res['kendall'])} (95% CI "
        f"{fmt_ci(res['kendall_ci'])}, p = {fmt_p(res['kendall_p'])}); {shape}; {ci_note}. {model}."
    )


def details_markdown(corr: Mapping[str, Any]) -> str:
    """Bullets for the pooled key: both measures and both analyses."""
    if POOLED not in corr:
        return "No pooled results."
    lines = []
    for measure in MEASURES:
        label = ("Absolute degradation (points)" if measure == "absolute"
                 else "Relative degradation (degradation / clean score)")
        lines.append(f"*{label}.*")
        lines += [f"- {describe_analysis(corr[POOLED][measure][a], measure)}" for a in ANALYSES]
        lines.append("")
    return "\n".join(lines).rstrip()


def methods_markdown(rp: Mapping[str, Any], design: Mapping[str, Any], families: Mapping[str, Any]) -> str:
    """How every number was computed, generated from the parameters and the design actually found."""
    seeds = design.get("seeds_per_cell", [0, 0])
    seed_text = f"{seeds[0]}" if seeds[0] == seeds[1] else f"{seeds[0]}–{seeds[1]}"
    resampled = (
        f"(1) the seeds of every model cell (intermediate task × size; {seed_text} per cell) with replacement and "
        f"(2) the clean/adversarial example pairs of every test set (target task × language × adversary; "
        f"{design.get('n_test_sets', 0)} sets, {design.get('n_pairs', 0):,} pairs), one draw per test set shared "
        "by every model, the degradation being recomputed from the resampled pairs with the task metric "
        "(seqeval F1 from per-sentence chunk counts)"
        if design.get("examples_resampled") else
        f"the seeds of every model cell ({seed_text} per cell) only: no per-example predictions were given, so "
        "test-example noise is not in the intervals"
    )
    m = families.get(PRIMARY_FAMILY, {}).get("m", {}).get("absolute.within.pearson", 0)
    m_pair = families.get("per_pair", {}).get("m", {}).get("absolute.within.pearson", 0)
    return "\n".join([
        "- **Degradation** = matched clean score − adversarial score (points); relative = degradation / matched "
        "clean score. Averaged over the zero-shot languages (all but English), then over target tasks and "
        "adversaries for \"pooled\", then over seeds.",
        "- **x** = ln(intermediate training examples). *Across*: one point per intermediate task at its natural "
        "size (confounded with task type). *Within*: every size of every task with task fixed effects (Pearson, "
        "Spearman and the slope on values demeaned within task; Kendall's τ-b over pairs of models of the same "
        "task).",
        "- **Models with task effects** (statsmodels): OLS with one intercept per task (primary; t-based 95% CI) "
        "and a linear mixed model with a random intercept per task (REML, Wald CI; it assumes intercepts "
        "independent of size, which natural dataset sizes need not satisfy). Across: OLS.",
        f"- **Hierarchical bootstrap** ({rp['n_bootstrap']} replicates, seed {rp['seed']}): resamples {resampled}. "
        "x is fixed by design. Percentile 95% intervals. These intervals measure how much the points move with "
        "the seeds and test examples, given the tasks and sizes; the model-based CIs also reflect how far the "
        "models scatter around the fitted slope, and are the ones the answer uses for the size of the effect.",
        f"- **Permutation tests** ({rp['n_permutations']} permutations, two-sided, p = (count + 1)/(permutations "
        "+ 1)): across, ln(size) shuffled over tasks; within, shuffled within each task only.",
        f"- **Multiple comparisons**: Holm (family-wise) and Benjamini–Hochberg (false discovery rate) over the "
        f"{m} target task × adversary × language keys and, separately, over the {m_pair} target task × adversary "
        f"keys, for every measure × analysis × statistic; the answer uses "
        f"{CORRECTION_NAMES[rp['correction']]} at α = {fmt(rp['alpha'], 2)}. The pooled key is the single "
        "pre-specified primary test and is not corrected.",
    ])


def baseline_markdown(ctrl: pd.DataFrame, checks: Mapping[str, Mapping[str, Any]]) -> str:
    """Per target task: baseline vs random-init clean/adversarial scores, chance, and the computed checks."""
    parts = []
    for target in sorted(set(ctrl["target_task"])):
        rows = ctrl[ctrl["target_task"] == target]
        advs = adversaries(rows)  # only the adversaries this target task has
        metric = ", ".join(sorted(set(rows["metric"])))
        header = ["language", "baseline clean", *[f"baseline {a} (Δ)" for a in advs],
                  "random clean", *[f"random {a} (Δ)" for a in advs], "chance"]
        body = []
        for lang in language_order(rows["language"]):
            row = [lang + (" (train)" if lang == TRAINING_LANGUAGE else "")]
            for arm in CONTROL_ARMS:
                row.append(fmt(_lookup(rows, arm, target, lang, CLEAN, "score"), 1))
                for adv in advs:
                    score = _lookup(rows, arm, target, lang, adv, "score")
                    delta = _lookup(rows, arm, target, lang, adv, "clean_score") - score
                    row.append(f"{fmt(score, 1)} ({fmt(delta, 1)})")
            row.append(fmt(_lookup(rows, "baseline", target, lang, CLEAN, "chance"), 1))
            body.append(row)
        c = checks.get(target, {})
        check_line = (
            f"Checks: every zero-shot language above chance {mark(c.get('above_chance'))} · English highest "
            f"{mark(c.get('english_highest'))} · adversarial < matched clean "
            f"{mark(c.get('adversarial_below_clean'))} ({c.get('n_adversarial_below_clean', 0)}/"
            f"{c.get('n_adversarial', 0)}) · baseline above random-init control (zero-shot mean) "
            f"{mark(c.get('above_random'))}"
        )
        parts.append(f"### {target} ({metric}, %)\n\n{md_table(header, body)}\n\n{check_line}")
    intro = ("Mean over seeds. Δ = matched clean score − adversarial score (points). "
             "\"random\" is the random-init encoder control.")
    return intro + "\n\n" + "\n\n".join(parts)


def comparison_markdown(comp: Mapping[str, Any]) -> str:
    """Our baseline and gains per target task next to the published numbers, with status flags."""

    def pub(entry: Mapping[str, Any] | None, digits: int = 1) -> str:
        if not entry:
            return "–"
        flag = "" if entry["status"] == "verified" else " (unverified)"
        return f"{fmt(entry['value'], digits)} [{entry['source_key']}]{flag}"

    lines = [f"**Status: {comp['status']}.**", ""]
    body = []
    for t in comp["targets"]:
        p = t["published"]
        gain = p.get("gain")
        gain_text = (f"{fmt(gain['value'], 1)} ({gain['status']})" if gain else "–")
        best = f"{t['best_arm']} {fmt(t['best_gain'], 1)}" if t["best_arm"] else "–"
        task = f"{t['published_task']} ({t['published_metric']})" if t["published_task"] else "–"
        body.append([t["target"], task, fmt(t["baseline"], 1), best, pub(p.get("xlmr")), pub(p.get("stilts")),
                     pub(p.get("xstilts")), gain_text, t["comparable"]])
    lines.append(md_table(
        ["target", "published task", "ours: baseline", "ours: best task (gain)", "XLM-R Large",
         "STILTs (Phang et al.)", "X-STILTs", "published gain (STILTs − XLM-R)", "comparable?"],
        body, "ll" + "r" * 6 + "l"))
    lines += ["", "Ours: clean score averaged over the evaluated languages (English included where evaluated) and "
              "seeds; gain = intermediate task at its natural size − baseline (points)."]
    arms = sorted({a for t in comp["targets"] for a in t["gains"]})
    if arms:
        rows = [[a, *[fmt(t["gains"].get(a), 1) for t in comp["targets"]]] for a in arms]
        lines += ["", "Our gain of each intermediate task over the baseline, per target task (points; the published "
                  "per-intermediate-task numbers are not available, see below):", "",
                  md_table(["intermediate task", *[t["target"] for t in comp["targets"]]], rows)]
    h = comp["headline"]
    if h["published"]:
        e = h["published"]
        lines += ["", f"Headline: published {fmt(e['value'], 1)} points [{e['source_key']}, {e['status']}] "
                  f"({h['definition']}); ours {fmt(h['ours'], 1)} points over {h['n_targets']} target tasks — "
                  f"{h['comparable']}."]
    others = comp.get("other_claims", [])
    if others:
        lines += ["", "Other published claims (not matched to a target task here):", "",
                  md_table(["claim", "model", "split", "task", "metric", "value", "source", "status"],
                           [[o["claim"], o["model"], o["split"], o["task"], o["metric"], fmt(o["value"], 1),
                             o["source_key"], o["status"]] for o in others], "lllllrll")]
    lines += ["", "Not available (GAP):", *[f"- {g}" for g in comp["gaps"]], "", "Sources:",
              *[f"- **{k}**: {v}" for k, v in comp["references"].items()]]
    return "\n".join(lines)


def degradation_markdown(means: pd.DataFrame) -> str:
    """Per target task: zero-shot degradation per arm × size and adversary; then the pooled table."""
    sorted_means = _display_sorted(means)
    keys = [k for k in analysis_keys(means, max_level=1) if k != POOLED]
    targets = sorted({k.split("/", 1)[0] for k in keys})
    models = sorted_means[CELL_KEYS].drop_duplicates()

    def cell(sel: pd.DataFrame) -> str:
        if not len(sel):
            return "–"
        rel = sel["relative"].iloc[0]
        return f"{fmt(sel['absolute'].iloc[0], 2)} ({fmt(100 * rel, 1)}%)" if math.isfinite(rel) \
            else fmt(sel["absolute"].iloc[0], 2)

    def table(table_keys: list[str], names: list[str]) -> str:
        body = []
        for arm, label, size in models.itertuples(index=False):
            sel = sorted_means[(sorted_means["arm"] == arm) & (sorted_means["size_label"] == label)
                               & (sorted_means["train_size"] == size)]
            body.append([arm, label, str(size) if arm not in CONTROL_ARMS else "–",
                         *[cell(sel[sel["key"] == k]) for k in table_keys]])
        return md_table(["arm", "size", "train size", *names], body, "lll" + "r" * len(names))

    parts = [
        "Zero-shot degradation = clean − adversarial score (points) and, in parentheses, relative to the "
        "matched clean score; mean over the zero-shot languages, then over seeds. baseline/random rows are "
        "references and do not enter the correlations. Per-point bootstrap intervals and the per-language values "
        "are in correlation.json and plots/pooled_degradation.csv."
    ]
    for target in targets:
        tkeys = [k for k in keys if k.split("/", 1)[0] == target]
        parts.append(f"### {target}\n\n" + table(tkeys, [k.split("/", 1)[1] for k in tkeys]))
    if POOLED in set(means["key"]):
        parts.append("### pooled (mean over target tasks and adversaries)\n\n" + table([POOLED], [POOLED]))
    return "\n\n".join(parts)


def _stat_cell(res: Mapping[str, Any], name: str) -> str:
    return f"{fmt(res[name])} {fmt_ci(res[f'{name}_ci'])}"


def correlation_markdown(corr: Mapping[str, Any], rp: Mapping[str, Any]) -> str:
    """Pearson, Spearman and Kendall with bootstrap CIs and permutation p-values, pooled and per (target,
    adversary), with the per-pair family's adjusted p of Pearson r."""
    method = rp["correction"]
    body = []
    for key in [k for k in ordered_keys(corr) if key_level(k) <= 1]:
        for measure in MEASURES:
            for analysis in ANALYSES:
                res = corr[key][measure][analysis]
                n = f"{res['n']}" + (f" ({res['n_groups']} tasks)" if res["n_groups"] is not None else "")
                adj = res.get(f"pearson_p_{method}")
                body.append([
                    _key_label(key), measure, analysis, n,
                    _stat_cell(res, "pearson"), fmt_p(res["pearson_p"]), "–" if adj is None else fmt_p(adj),
                    _stat_cell(res, "spearman"), fmt_p(res["spearman_p"]),
                    _stat_cell(res, "kendall"), fmt_p(res["kendall_p"]),
                    f"{per_doubling(res['slope'], measure)} {ci_per_doubling(res['slope_ci'], measure)}",
                    res["reason"] or "",
                ])
    header = ["key", "degradation", "analysis", "n", "Pearson r [95% CI]", "p", f"p ({CORRECTION_NAMES[method]})",
              "Spearman ρ [95% CI]", "p", "Kendall τ [95% CI]", "p", "slope per doubling [95% CI]", "note"]
    intro = (
        "CIs: hierarchical bootstrap (see Methods); p: permutation tests; the adjusted p corrects over the "
        "target task × adversary keys (the pooled key is the primary test and is not corrected)."
    )
    return intro + "\n\n" + md_table(header, body, "llll" + "r" * 8 + "l")


def _fit_cell(fit: Mapping[str, Any] | None, measure: str) -> str:
    if fit is None:
        return "–"
    if fit.get("reason"):
        return f"n/a ({fit['reason']})"
    flag = " (not converged)" if fit.get("converged") is False else ""
    return (f"{per_doubling(fit['slope'], measure)} {ci_per_doubling(fit['ci'], measure)}, "
            f"p = {fmt_p(fit['p'])}{flag}")


def models_markdown(corr: Mapping[str, Any]) -> str:
    """The slope on ln(size) per doubling from the models with task effects, pooled and per (target, adversary)."""
    body, notes = [], []
    for key in [k for k in ordered_keys(corr) if key_level(k) <= 1]:
        for measure in MEASURES:
            w, a = corr[key][measure]["within"], corr[key][measure]["across"]
            mixed = w.get("mixed")
            body.append([_key_label(key), measure, _fit_cell(w["model"], measure), _fit_cell(mixed, measure),
                         fmt(mixed["group_var"], 3) if mixed and not mixed.get("reason") else "–",
                         _fit_cell(a["model"], measure)])
            for fit in (w["model"], mixed, a["model"]):
                for note in (fit or {}).get("notes", []):
                    notes.append(f"{_key_label(key)}, {measure}, {fit['method']}: {note}")
    text = md_table(["key", "degradation", "within: OLS + task fixed effects [95% CI]",
                     "within: MixedLM random intercept [95% CI]", "task intercept variance",
                     "across: OLS [95% CI]"], body, "llrrrr")
    if notes:
        text += "\n\nNotes from the fits:\n\n" + "\n".join(f"- {n}" for n in notes)
    return text


def tests_markdown(corr: Mapping[str, Any], families: Mapping[str, Any], rp: Mapping[str, Any]) -> str:
    """Every (target task, adversary, language) key: within-task Pearson r, permutation p, Holm and BH p."""
    keys = families.get(PRIMARY_FAMILY, {}).get("keys", [])
    if not keys:
        return "No per-language keys."
    alpha, method = rp["alpha"], rp["correction"]
    body = []
    for key in keys:
        for measure in MEASURES:
            res = corr[key][measure]["within"]
            adj = res.get(f"pearson_p_{method}")
            body.append([_key_label(key), measure, str(res["n"]), f"{fmt(res['pearson'])} {fmt_ci(res['pearson_ci'])}",
                         fmt_p(res["pearson_p"]), fmt_p(res.get("pearson_p_holm")), fmt_p(res.get("pearson_p_bh")),
                         "✓" if _below(adj, alpha) else "", res["reason"] or ""])
    m = families[PRIMARY_FAMILY]["m"]
    intro = (f"Within-task Pearson r per (target task, adversary, language). Family sizes: "
             f"{m['absolute.within.pearson']} (absolute) and {m['relative.within.pearson']} (relative) tests. "
             f"✓ = {CORRECTION_NAMES[method]}-adjusted p < {fmt(alpha, 2)}. Spearman, Kendall and the across-task "
             "tests of every key, with their adjusted p-values, are in correlation.json.")
    return intro + "\n\n" + md_table(["key", "degradation", "n", "r [95% CI]", "p", "p (Holm)", "p (BH)",
                                      "significant", "note"], body, "llrrrrrll")


def provenance_markdown(provenance: Mapping[str, Any]) -> str:
    """Code, parameter and data versions, and the MLflow runs behind every model."""
    head = md_table(["item", "value"], [
        ["git commit", f"`{provenance.get('git_commit', 'unknown')}`"],
        ["params.yaml sha256", f"`{provenance.get('params_sha256', 'unknown')}`"],
    ], "ll")
    data = sorted(provenance.get("data", []), key=lambda d: (d.get("path", ""), d.get("stage", "")))
    data_rows = [[str(d.get("stage", "")), f"`{d.get('path', '')}`", f"`{d.get('md5', '')}`",
                  "" if d.get("size") is None else str(d["size"])] for d in data]
    data_table = md_table(["stage", "path", "md5", "bytes"], data_rows, "lllr") if data_rows \
        else "No data outputs recorded in dvc.lock."
    inputs = provenance.get("inputs", [])
    inputs_table = (md_table(["file read by the report (not a stage output)", "md5"],
                             [[f"`{i['path']}`", f"`{i['md5']}`"] for i in inputs], "ll") if inputs else "")
    runs = provenance.get("runs", [])
    run_cols = ["arm", "size_label", "seed", "target_task", "target_run_id", "intermediate_run_id"]
    run_rows = [[str(r.get(c, "")) for c in run_cols] for r in runs]
    runs_block = (f"<details><summary>{len(runs)} MLflow runs</summary>\n\n"
                  + md_table(run_cols, run_rows, "l" * len(run_cols)) + "\n\n</details>")
    sizes = provenance.get("sizes", [])
    size_table = md_table(["intermediate task", "training examples (full)", "source", "variant"],
                          [[s["task"], f"{s['train_examples']:,}", s["source"], s["variant"]] for s in sizes],
                          "lrll") if sizes else "No intermediate-task sizes recorded."
    parts = [head, "Intermediate training sets (the size variable):", size_table,
             "Data (DVC-tracked outputs; `xstilts verify-report` checks them against dvc.lock):", data_table]
    if inputs_table:
        parts.append(inputs_table)
    return "\n\n".join([*parts, runs_block])


def render_markdown(report: Mapping[str, Any], ctrl: pd.DataFrame, means: pd.DataFrame) -> str:
    """The full ``correlation.md`` text."""
    rp = report["params"]
    corr, fam = report["correlations"], report["families"]
    sections = [
        "# Intermediate-task training-set size vs zero-shot adversarial degradation",
        "## Answer\n\n" + report["answer"],
        "## Details\n\n" + details_markdown(corr),
        "## Methods\n\n" + methods_markdown(rp, report["design"], fam),
        "## Baseline zero-shot scores\n\n" + baseline_markdown(ctrl, report["baseline_checks"]),
        "## Adversaries\n\n" + adversaries_markdown(report.get("adversaries", [])),
        "## Comparison with the published numbers\n\n" + comparison_markdown(report["comparison"]),
        "## Degradation\n\n" + degradation_markdown(means),
        "## Correlation with log(train size)\n\n" + correlation_markdown(corr, rp),
        "## Models with task effects\n\n" + models_markdown(corr),
        "## Per-language tests and multiple comparisons\n\n" + tests_markdown(corr, fam, rp),
        "## Figures\n\n"
        f"![Zero-shot degradation vs intermediate training-set size]({FIGURES['scatter']})\n\n"
        f"![Zero-shot clean scores per arm and language]({FIGURES['heatmap']})\n\n"
        f"![Seed spread of the pooled degradation and clean score]({FIGURES['seeds']})",
        "## Provenance\n\n" + provenance_markdown(report["provenance"]),
    ]
    return "\n\n".join(sections) + "\n"


# ------------------------------------------------------------------------------------------- figures


def _task_colours(tasks: Sequence[str]) -> dict[str, Any]:
    """A fixed colour per intermediate task (tab10, or tab20 beyond ten tasks)."""
    cmap = colormaps["tab10" if len(tasks) <= 10 else "tab20"]
    return {t: cmap(i % cmap.N) for i, t in enumerate(sorted(tasks))}




def degradation_figure(means: pd.DataFrame, measure: str = "absolute") -> Figure:
    """Scatter of zero-shot degradation vs train size (log axis), one panel per target task × adversary (and
    pooled), bootstrap error bars per point and a least-squares line per intermediate task."""
    keys = analysis_keys(means, max_level=1)
    inter = means[~means["arm"].isin(CONTROL_ARMS)]
    tasks = sorted(set(inter["arm"]))
    colours = _task_colours(tasks)
    ncols = min(4, max(1, len(keys)))
    nrows = max(1, math.ceil(len(keys) / ncols))
    fig = Figure(figsize=(3.4 * ncols + 1.8, 2.9 * nrows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    ylabel = "degradation (points)" if measure == "absolute" else "relative degradation"
    lo_col, hi_col = f"{measure}_ci_low", f"{measure}_ci_high"
    for ax, key in zip(axes.flat, keys, strict=False):
        sel = inter[inter["key"] == key]
        for task in tasks:
            pts = sel[sel["arm"] == task].sort_values("train_size")
            pts = pts[np.isfinite(pts[measure]) & (pts["train_size"] > 0)]
            ax.scatter(pts["train_size"], pts[measure], s=22, color=colours[task], label=task, zorder=3)
            if lo_col in pts.columns:
                ok = np.isfinite(pts[lo_col]) & np.isfinite(pts[hi_col])
                if ok.any():
                    yerr = np.vstack([(pts[measure] - pts[lo_col])[ok].clip(lower=0),
                                      (pts[hi_col] - pts[measure])[ok].clip(lower=0)])
                    ax.errorbar(pts["train_size"][ok], pts[measure][ok], yerr=yerr, fmt="none",
                                ecolor=colours[task], elinewidth=0.8, alpha=0.7, zorder=2)
            if pts["train_size"].nunique() >= 2:
                b, a = np.polyfit(np.log(pts["train_size"]), pts[measure], 1)
                xs = np.array([pts["train_size"].min(), pts["train_size"].max()], dtype=float)
                ax.plot(xs, a + b * np.log(xs), color=colours[task], lw=1.2, alpha=0.8, zorder=2)
        ref = means[(means["arm"] == "baseline") & (means["key"] == key)][measure]
        if len(ref) and np.isfinite(ref.mean()):
            ax.axhline(ref.mean(), color="0.45", ls="--", lw=1, label="baseline (no intermediate task)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(_key_label(key) if key != POOLED else "pooled", fontsize=9)
        ax.set_xlabel("intermediate training examples (log scale)", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="intermediate task",
                   title_fontsize=8, frameon=False)
    fig.suptitle("Zero-shot degradation (clean − adversarial, mean over non-English languages) vs English "
                 "intermediate-task training-set size\nbars: 95% bootstrap interval (seeds and test examples); "
                 "lines: per-task least-squares fit in ln(size)", fontsize=10)
    return fig


def seed_spread_figure(model_deg: pd.DataFrame, results: pd.DataFrame) -> Figure:
    """Per model cell (arm × size), every seed's pooled zero-shot degradation and clean score, and their mean."""
    pooled = model_deg[model_deg["key"] == POOLED]
    clean = results[(results["subset"] == CLEAN) & (results["language"] != TRAINING_LANGUAGE)]
    clean = clean.groupby(MODEL_KEYS, sort=True)["score"].mean().rename("clean").reset_index()
    panels = [("pooled zero-shot degradation (points)", pooled, "absolute"),
              ("zero-shot clean score (mean over targets and languages)", clean, "clean")]
    order = {a: i for i, a in enumerate(arm_order(pooled["arm"]) if len(pooled) else [])}
    cells = pooled[CELL_KEYS].drop_duplicates()
    cells = cells.assign(_o=cells["arm"].map(order)).sort_values(["_o", "train_size", "size_label"], kind="stable")
    labels = [a if a in CONTROL_ARMS else f"{a} {lab}"
              for a, lab in zip(cells["arm"], cells["size_label"], strict=True)]
    n_seeds = int(pooled.groupby(CELL_KEYS)["seed"].nunique().max()) if len(pooled) else 0
    fig = Figure(figsize=(max(6.0, 0.28 * len(labels) + 2.5), 6.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, squeeze=False)[:, 0]
    colours = {**_task_colours(sorted(set(cells["arm"]) - set(CONTROL_ARMS)) or ["-"]),
               **{a: "0.35" for a in CONTROL_ARMS}}
    for ax, (title, table, col) in zip(axes, panels, strict=True):
        for i, (arm, label, size) in enumerate(cells[CELL_KEYS].itertuples(index=False)):
            vals = table[(table["arm"] == arm) & (table["size_label"] == label) & (table["train_size"] == size)]
            vals = vals.sort_values("seed")[col].to_numpy(dtype=float)
            if vals.size:
                offsets = np.linspace(-0.18, 0.18, vals.size) if vals.size > 1 else np.zeros(1)
                ax.scatter(i + offsets, vals, s=14, color=colours[arm], zorder=3)
                ax.hlines(np.nanmean(vals), i - 0.3, i + 0.3, color="0.2", lw=1.2, zorder=2)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"Seed spread per model cell (dots: seeds, {n_seeds} per cell at most; bar: mean)"
                 + ("; one seed: no spread to show" if n_seeds <= 1 else ""), fontsize=10)
    return fig




def heatmap_figure(results: pd.DataFrame) -> Figure:
    """Clean score per arm × language (one panel per target task); intermediate arms at size "full"."""
    clean = results[(results["subset"] == CLEAN)
                    & (results["arm"].isin(CONTROL_ARMS) | (results["size_label"] == FULL))]
    table = clean.groupby(["target_task", "arm", "language"], sort=True)["score"].mean()
    targets = sorted(set(clean["target_task"]))
    arms = arm_order(clean["arm"])
    langs = language_order(clean["language"])
    panels = max(1, len(targets))
    fig = Figure(figsize=((0.55 * len(langs) + 2.3) * panels, 0.38 * len(arms) + 1.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, target in zip(axes, targets, strict=False):
        grid = np.array([[table.get((target, a, lg), np.nan) for lg in langs] for a in arms], dtype=float)
        finite = grid[np.isfinite(grid)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 100.0)
        im = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                light = (v - vmin) / ((vmax - vmin) or 1.0) < 0.6
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if light else "black")
        ax.set_xticks(range(len(langs)), [lg + ("*" if lg == TRAINING_LANGUAGE else "") for lg in langs],
                      fontsize=8)
        ax.set_yticks(range(len(arms)), [a if a in CONTROL_ARMS else f"{a} (full)" for a in arms], fontsize=8)
        metric = ", ".join(sorted(set(clean[clean["target_task"] == target]["metric"])))
        ax.set_title(f"{target} ({metric})", fontsize=9)
        ax.set_xlabel("evaluation language (* = training language)", fontsize=8)
        ax.set_ylabel("arm", fontsize=8)
        cbar = fig.colorbar(im, ax=ax, shrink=0.85)
        cbar.set_label("clean score (%)", fontsize=8)
        cbar.ax.tick_params(labelsize=7)
    fig.suptitle("Clean test scores per arm and language (mean over seeds)", fontsize=10)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """Render a figure to PNG bytes without software/time metadata (byte-stable)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return buf.getvalue()



# ------------------------------------------------------------------------------------------- output


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in ``path``'s directory, fsync it, then ``os.replace`` it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plots_csv(means: pd.DataFrame) -> bytes:
    """``plots/pooled_degradation.csv``: the pooled points of the intermediate arms (for ``dvc plots show``)."""
    sel = means[(means["key"] == POOLED) & ~means["arm"].isin(CONTROL_ARMS)]
    sel = sel.sort_values(["arm", "train_size", "size_label"], kind="stable")
    cols = ["arm", "size_label", "train_size", "log_train_size", "absolute", "absolute_ci_low", "absolute_ci_high",
            "relative", "relative_ci_low", "relative_ci_high", "n_seeds"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for row in sel.itertuples(index=False):
        rec = row._asdict()
        rec["log_train_size"] = math.log(rec["train_size"]) if rec["train_size"] > 0 else math.nan
        writer.writerow([_csv_value(rec.get(c, math.nan)) for c in cols])
    return buf.getvalue().encode()


def _csv_value(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not math.isfinite(v) else repr(_round(float(v)))
    return str(v)


def report_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The report settings from ``params["report"]`` and ``params["study"]["source"]``."""
    try:
        rep, source = params["report"], params["study"]["source"]
        out = {"n_bootstrap": int(rep["n_bootstrap"]), "n_permutations": int(rep["n_permutations"]),
               "seed": int(rep["seed"]), "alpha": float(rep["alpha"]), "correction": str(rep["correction"]),
               "source": str(source)}
    except KeyError as exc:
        raise ValueError(f"params.yaml: missing key {exc.args[0]!r} (the report reads report.n_bootstrap, "
                         "report.n_permutations, report.seed, report.alpha, report.correction and study.source)"
                         ) from None
    if out["correction"] not in stats.CORRECTIONS:
        raise ValueError(f"params.yaml: `report.correction` = {out['correction']!r}; allowed: "
                         f"{', '.join(stats.CORRECTIONS)}")
    if not 0.0 < out["alpha"] < 0.5:
        raise ValueError(f"params.yaml: `report.alpha` = {out['alpha']} must be in (0, 0.5)")
    return out


def design_info(design: paired_mod.PairedData | None) -> dict[str, Any]:
    """What the bootstrap resampled: tasks, size labels, seeds per cell, test sets and pairs."""
    if design is None:
        return {"n_tasks": 0, "size_labels": [], "seeds_per_cell": [0, 0], "examples_resampled": False,
                "n_test_sets": 0, "n_pairs": 0}
    per_cell = np.bincount(design.cell_of_model, minlength=len(design.cells))
    return {
        "n_tasks": int(design.cells["arm"].nunique()),
        "size_labels": sorted(set(design.cells["size_label"])),
        "seeds_per_cell": [int(per_cell.min()), int(per_cell.max())],
        "examples_resampled": bool(design.examples_resampled),
        "n_test_sets": len(design.sets),
        "n_pairs": int(sum(ts.n for ts in design.sets)) if design.examples_resampled else 0,
    }


def adversary_catalogue(results: pd.DataFrame) -> list[dict[str, Any]]:
    """Per adversary in the results: its kind, label contract, what its examples are paired with, and the
    number of adversarial examples per target task (min-max over languages), from the baseline's rows."""
    from .adversaries import PERTURBATION, REGISTRY

    adv = results[results["subset"] != CLEAN]
    if "arm" in adv and (adv["arm"] == "baseline").any():
        adv = adv[adv["arm"] == "baseline"]
    out = []
    for name in adversaries(results):
        spec = REGISTRY.get(name)
        rows = adv[adv["subset"] == name]
        counts = {} if "n" not in rows else {
            t: [int(rows[rows["target_task"] == t]["n"].min()), int(rows[rows["target_task"] == t]["n"].max())]
            for t in sorted(set(rows["target_task"]))}
        out.append({"adversary": name, "kind": spec.kind if spec else "unknown",
                    "label": spec.label if spec else "", "description": spec.description if spec else "",
                    "paired_with": ("its clean source example" if spec is None or spec.kind == PERTURBATION
                                    else "a label-matched unselected clean example (control)"),
                    "examples": counts})
    clean = results[results["subset"] == CLEAN]
    if "arm" in clean and (clean["arm"] == "baseline").any():
        clean = clean[clean["arm"] == "baseline"]
    for target in sorted(set(results["target_task"])):
        info = tasks.TASKS.get(target)
        if info is None or not info.natural_adversary:
            continue
        rows = clean[clean["target_task"] == target]
        n = [int(rows["n"].min()), int(rows["n"].max())] if "n" in rows and len(rows) else [0, 0]
        out.append({"adversary": f"{target} (natural)", "kind": "natural target", "label": "kept (real examples)",
                    "description": info.natural_adversary, "paired_with": "– (its clean score is the measure)",
                    "examples": {target: n}})
    return out


def adversaries_markdown(catalogue: Sequence[Mapping[str, Any]]) -> str:
    """The adversaries of this run: kind, label contract, pairing and subset sizes."""
    body = [[f"`{a['adversary']}`", a["kind"], a["paired_with"], a["label"],
             ", ".join(f"{t} {lo}" + (f"–{hi}" if hi != lo else "") for t, (lo, hi) in a["examples"].items()),
             a["description"]] for a in catalogue]
    intro = ("Every adversarial example is scored against a clean example of the same language: perturbations "
             "against the example they were built from, selections (real examples with a property, or that a "
             "held-out reference model fails) against a label-matched unselected control. Examples = adversarial "
             "examples per language (min–max over languages). Definitions: `xstilts.adversaries`; examples of each "
             "adversary's output: README.")
    return intro + "\n\n" + md_table(["adversary", "kind", "paired with", "gold label", "examples", "what it does"],
                                       body, "llllll")


def build_report(
    results: pd.DataFrame,
    provenance: dict[str, Any],
    params: dict[str, Any],
    out_dir: Path,
    *,
    predictions: pd.DataFrame | None = None,
    gold: paired_mod.GoldLoader | None = None,
    reference: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Compute every table and statistic, write the report files into ``out_dir``, return the report.

    ``predictions`` (the per-example predictions of every arm) lets the bootstrap resample paired test
    examples; ``gold`` supplies gold tags for seqeval-F1 targets; ``reference`` is the published-numbers table
    (:func:`xstilts.published.load_reference`; None = an empty comparison). The returned dict is exactly what
    ``correlation.json`` holds (after JSON conversion): ``schema``, ``params``, ``inputs``, ``design``,
    ``answer``, ``baseline``, ``baseline_checks``, ``adversaries``, ``comparison``, ``degradation``, ``correlations``
    (``{key: {measure: {analysis: ...}}}``), ``families``, ``metrics``, ``figures`` and ``provenance``.
    """
    out_dir = Path(out_dir)
    df = validate_results(results)
    rp = report_params(params)
    ctrl = control_scores(df)
    model_deg = model_degradation(df)
    design = design_data(df, predictions, gold)
    corr, means = correlations(seed_mean(model_deg), design, rp)
    families = apply_corrections(corr)
    checks = baseline_checks(ctrl)
    ref = reference if reference is not None else pd.DataFrame(columns=list(published.COLUMNS))
    inter_arms = [a for a in arm_order(df["arm"]) if a not in CONTROL_ARMS]
    comp = published.comparison(df, ref, rp["source"], inter_arms)
    metrics = headline_metrics(corr, families, ctrl, means, comp, rp)
    info = design_info(design)
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "params": rp,
        "inputs": {
            "n_rows": int(len(df)),
            "n_prediction_rows": int(len(predictions)) if predictions is not None else 0,
            "arms": arm_order(df["arm"]),
            "target_tasks": sorted(set(df["target_task"])),
            "languages": language_order(df["language"]),
            "zero_shot_languages": language_order(set(df["language"]) - {TRAINING_LANGUAGE}),
            "adversaries": adversaries(df),
        },
        "design": info,
        "answer": answer_paragraph(corr, families, rp, info),
        "baseline": baseline_summary(ctrl),
        "baseline_checks": checks,
        "adversaries": adversary_catalogue(df),
        "comparison": comp,
        "degradation": degradation_summary(means),
        "correlations": corr,
        "families": families,
        "metrics": metrics,
        "figures": dict(sorted(FIGURES.items())),
        "provenance": provenance,
    }
    report = json.loads(dumps(report))
    images = {
        FIGURES["scatter"]: png_bytes(degradation_figure(means)),
        FIGURES["heatmap"]: png_bytes(heatmap_figure(df)),
        FIGURES["seeds"]: png_bytes(seed_spread_figure(model_deg, df)),
    }
    markdown = render_markdown(report, ctrl, means)
    for name, data in images.items():
        atomic_write_bytes(out_dir / name, data)
    atomic_write_bytes(out_dir / PLOTS_CSV, plots_csv(means))
    atomic_write_bytes(out_dir / "correlation.md", markdown.encode())
    atomic_write_bytes(out_dir / HTML, report_html.render(markdown, images,
                                                          title="xstilts: size vs zero-shot degradation").encode())
    atomic_write_bytes(out_dir / "metrics.json", dumps(metrics).encode())
    atomic_write_bytes(out_dir / "correlation.json", dumps(report).encode())
    return report
