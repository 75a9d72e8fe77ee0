"""The final report: does the intermediate-task training-set size correlate with zero-shot degradation?

:func:`build_report` turns the results table (one row per model x target task x language x subset) into

* ``correlation.json`` - every table and statistic below, machine readable (NaN is written as null);
* ``metrics.json`` - a flat ``{name: float}`` of headline numbers for ``dvc metrics show``;
* ``correlation.md`` - the answer, baseline sanity checks, degradation tables, correlations, figures and
  provenance, all generated from the numbers;
* ``degradation_vs_size.png`` and ``zero_shot_heatmap.png``.

Definitions. Degradation of a model on an adversarial subset = ``clean_score - score`` (absolute points,
paired with the matched clean source examples); relative degradation = degradation / clean_score. Both are
computed per (arm, size_label, seed, target_task, language, subset) and averaged (unweighted) over the
zero-shot languages (every language but English). "pooled" is the per-model average over all target tasks
and adversaries. Only intermediate-task arms enter the correlations with ln(train_size): *across* tasks
uses one point per task at its natural size ("full", mean over seeds); *within* tasks uses every size of
every task (mean over seeds) with task fixed effects (see :mod:`xstilts.stats`).

Every output is written atomically and rendered deterministically (sorted rows and keys, fixed float
formatting, PNGs without software/time metadata).
"""

from __future__ import annotations

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

from xstilts import stats

TRAINING_LANGUAGE = "en"
CLEAN = "clean"
CONTROL_ARMS = ("baseline", "random")
FULL = "full"
POOLED = "pooled"
MEASURES = ("absolute", "relative")
ANALYSES = ("across", "within")
MODEL_KEYS = ["arm", "size_label", "train_size", "seed"]
REQUIRED_COLUMNS = (
    "arm", "train_size", "size_label", "seed", "target_task", "language", "subset", "metric", "score",
    "clean_score", "target_run_id", "intermediate_run_id",
)
FIGURES = {"scatter": "degradation_vs_size.png", "heatmap": "zero_shot_heatmap.png"}
JSON_DIGITS = 10
PNG_DPI = 110
SCHEMA_VERSION = 1
SMALL_N = 6
"""Below this many points the answer warns that the percentile bootstrap is unreliable."""


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
    """Zero-shot degradation per model and analysis key, pooled rows included.

    ``key`` is ``"<target_task>/<adversary>"`` or ``"pooled"`` (mean over every target task and adversary
    of that model). Columns: arm, size_label, train_size, seed, key, absolute, relative.
    """
    zs = zero_shot_degradation(results)
    per_pair = zs.assign(key=zs["target_task"] + "/" + zs["subset"])[[*MODEL_KEYS, "key", *MEASURES]]
    pooled = zs.groupby(MODEL_KEYS, sort=True)[list(MEASURES)].mean().reset_index().assign(key=POOLED)
    out = pd.concat([pooled[[*MODEL_KEYS, "key", *MEASURES]], per_pair], ignore_index=True)
    return out.sort_values([*MODEL_KEYS, "key"], kind="stable").reset_index(drop=True)


def seed_mean(model_deg: pd.DataFrame) -> pd.DataFrame:
    """Average :func:`model_degradation` over seeds: one row per (arm, size_label, train_size, key)."""
    keys = ["arm", "size_label", "train_size", "key"]
    grouped = model_deg.groupby(keys, sort=True)
    out = grouped[list(MEASURES)].mean()
    out["n_seeds"] = grouped["seed"].nunique()
    return out.reset_index()


def ordered_keys(keys: Iterable[str]) -> list[str]:
    """``"pooled"`` first, then the (target task/adversary) keys sorted."""
    unique = set(keys)
    return [POOLED] * (POOLED in unique) + sorted(unique - {POOLED})


def analysis_keys(model_deg: pd.DataFrame) -> list[str]:
    """The analysis keys present in a degradation table, in :func:`ordered_keys` order."""
    return ordered_keys(model_deg["key"])


def correlation_points(
    means: pd.DataFrame, key: str, measure: str, analysis: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(x = ln(train_size), y = degradation, groups)`` of the intermediate arms for one analysis.

    ``across``: one point per intermediate task at size "full"; ``groups`` is None.
    ``within``: every size of every intermediate task; ``groups`` are the task names.
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
    return x, y, groups


def correlations(means: pd.DataFrame, n_boot: int, n_perm: int, seed: int) -> dict[str, Any]:
    """``{key: {measure: {analysis: stats.analyse(...)}}}`` for every analysis key."""
    out: dict[str, Any] = {}
    for key in analysis_keys(means):
        out[key] = {}
        for measure in MEASURES:
            out[key][measure] = {}
            for analysis in ANALYSES:
                x, y, groups = correlation_points(means, key, measure, analysis)
                out[key][measure][analysis] = stats.analyse(
                    x, y, n_boot=n_boot, n_perm=n_perm, seed=seed, groups=groups
                )
    return out


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
    """JSON rows of the seed-mean zero-shot degradation, every arm and key, in display order."""
    return _display_sorted(means)[
        ["arm", "size_label", "train_size", "key", *MEASURES, "n_seeds"]
    ].to_dict(orient="records")


def _display_sorted(means: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by arm (controls first), train size, size label and key."""
    order = {a: i for i, a in enumerate(arm_order(means["arm"]))}
    keys = {k: i for i, k in enumerate(analysis_keys(means))}
    tmp = means.assign(_arm=means["arm"].map(order), _key=means["key"].map(keys))
    return tmp.sort_values(["_arm", "train_size", "size_label", "_key"], kind="stable").drop(
        columns=["_arm", "_key"]
    )


def headline_metrics(
    corr: Mapping[str, Any], ctrl: pd.DataFrame, means: pd.DataFrame
) -> dict[str, float]:
    """Flat ``{name: float}`` headline numbers; undefined (NaN) values are left out."""
    out: dict[str, float] = {}
    if POOLED in corr:
        for measure in MEASURES:
            prefix = POOLED if measure == "absolute" else f"{POOLED}.{measure}"
            for analysis in ANALYSES:
                res = corr[POOLED][measure][analysis]
                for name in ("pearson", "spearman", "slope"):
                    out[f"{prefix}.{analysis}.{name}"] = res[name]
                    out[f"{prefix}.{analysis}.{name}_ci_low"] = res[f"{name}_ci"][0]
                    out[f"{prefix}.{analysis}.{name}_ci_high"] = res[f"{name}_ci"][1]
                out[f"{prefix}.{analysis}.pearson_p"] = res["pearson_p"]
                out[f"{prefix}.{analysis}.spearman_p"] = res["spearman_p"]
                out[f"{prefix}.{analysis}.n"] = float(res["n"])
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
    return {k: _round(float(v)) for k, v in sorted(out.items()) if np.isfinite(v)}


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


def describe_analysis(res: Mapping[str, Any], measure: str) -> str:
    """One generated sentence group for one analysis result."""
    if res["analysis"] == "across":
        name, detail = "Across tasks", "one point per intermediate task at its natural size"
    else:
        name, detail = "Within tasks", f"task fixed effects, every size of {res['n_groups']} tasks"
    head = f"**{name}** ({detail}, n = {res['n']})"
    if res["reason"]:
        return f"{head}: not computable ({res['reason']})."
    r, unit = res["pearson"], "points" if measure == "absolute" else "(fraction of the clean score)"
    if magnitude(r) == "negligible":
        shape = "a negligible correlation"
    else:
        shape = (f"a {magnitude(r)} {'positive' if r > 0 else 'negative'} correlation - larger English "
                 f"training sets go with {'more' if r > 0 else 'less'} degradation -")
    excludes = stats.ci_excludes_zero(res["pearson_ci"])
    ci_note = {None: "the 95% CI of r is undefined",
               False: "the 95% CI of r includes 0, so this sample does not establish a correlation",
               True: "the 95% CI of r excludes 0"}[excludes]
    if res["n"] < SMALL_N:
        ci_note += f" (with only {res['n']} points the bootstrap CI is unreliable; prefer the permutation p)"
    slope_digits = 2 if measure == "absolute" else 4
    return (
        f"{head}: Pearson r = {fmt(r)} (95% CI {fmt_ci(res['pearson_ci'])}, permutation p = "
        f"{fmt_p(res['pearson_p'])}), Spearman ρ = {fmt(res['spearman'])} (95% CI "
        f"{fmt_ci(res['spearman_ci'])}, p = {fmt_p(res['spearman_p'])}); {shape} and {ci_note}. "
        f"Slope: {fmt(res['slope'], slope_digits)} {unit} per unit of ln(train size) "
        f"(95% CI {fmt_ci(res['slope_ci'], slope_digits)}), i.e. {fmt(res['slope'] * math.log(2), slope_digits)} "
        f"per doubling."
    )


def _significant(res: Mapping[str, Any]) -> bool:
    """CI of r excludes 0 and the permutation p is below 0.05."""
    return bool(stats.ci_excludes_zero(res["pearson_ci"])) and _below(res["pearson_p"], 0.05)


def _below(p: float | None, level: float) -> bool:
    """``p < level`` for a finite p-value (False for None/NaN)."""
    return p is not None and math.isfinite(p) and p < level


def conclusion(corr: Mapping[str, Any]) -> str:
    """The generated bottom line for the pooled absolute degradation."""
    pooled = corr[POOLED]["absolute"]
    sig = {a: _significant(pooled[a]) for a in ANALYSES if not pooled[a]["reason"]}
    if not sig:
        return "**Bottom line:** there are too few usable points to answer the question."
    hits = [a for a, ok in sig.items() if ok]
    if not hits:
        line = ("**Bottom line:** no analysis finds a correlation between ln(train size) and zero-shot "
                "degradation that is distinguishable from zero at the 95% level.")
    else:
        signs = {a: "positive" if pooled[a]["pearson"] > 0 else "negative" for a in hits}
        parts = ", ".join(f"{a}-task ({signs[a]})" for a in hits)
        line = (f"**Bottom line:** the correlation is distinguishable from zero (95% CI excludes 0 and "
                f"permutation p < 0.05) in the {parts} analysis{'es' if len(hits) > 1 else ''}.")
    split = [a for a in sig if bool(stats.ci_excludes_zero(pooled[a]["pearson_ci"]))
             != _below(pooled[a]["pearson_p"], 0.05)]
    if split:
        line += (f" In the {' and '.join(f'{a}-task' for a in split)} analysis the bootstrap CI and the "
                 "permutation test disagree, so that result is inconclusive.")
    return line


def answer_markdown(corr: Mapping[str, Any]) -> str:
    """The **Answer** section, generated from the pooled and per-pair results."""
    if POOLED not in corr:
        return "No intermediate-task results with adversarial subsets: nothing to correlate."
    lines = [
        "Question: does the size of the English intermediate-task training set correlate with the "
        "accuracy degradation (clean − adversarial score) of zero-shot cross-lingual transfer? "
        "Degradation is averaged over the zero-shot languages, all target tasks and all adversaries "
        "(\"pooled\"); x = ln(intermediate training examples).",
        "",
    ]
    for measure in MEASURES:
        label = "Absolute degradation (points)" if measure == "absolute" else \
            "Relative degradation (degradation / clean score)"
        lines.append(f"*{label}.*")
        lines += [f"- {describe_analysis(corr[POOLED][measure][a], measure)}" for a in ANALYSES]
        lines.append("")
    pairs = ordered_keys(corr)[1:]
    usable = [k for k in pairs if not corr[k]["absolute"]["within"]["reason"]]
    hits = [k for k in usable if _below(corr[k]["absolute"]["within"]["pearson_p"], 0.05)]
    if pairs:
        lines.append(
            f"Per (target task, adversary): {len(hits)} of {len(usable)} usable pairs have a within-task "
            f"permutation p < 0.05 for absolute degradation (uncorrected for multiple comparisons)"
            + (f": {', '.join(hits)}." if hits else ".")
        )
        lines.append("")
    lines.append(conclusion(corr))
    return "\n".join(lines)


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


def degradation_markdown(means: pd.DataFrame) -> str:
    """Per target task: zero-shot degradation per arm × size and adversary; then the pooled table."""
    sorted_means = _display_sorted(means)
    keys = [k for k in analysis_keys(means) if k != POOLED]
    targets = sorted({k.split("/", 1)[0] for k in keys})
    models = sorted_means[["arm", "size_label", "train_size"]].drop_duplicates()

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
        "references and do not enter the correlations."
    ]
    for target in targets:
        tkeys = [k for k in keys if k.split("/", 1)[0] == target]
        parts.append(f"### {target}\n\n" + table(tkeys, [k.split("/", 1)[1] for k in tkeys]))
    if POOLED in set(means["key"]):
        parts.append("### pooled (mean over target tasks and adversaries)\n\n" + table([POOLED], [POOLED]))
    return "\n\n".join(parts)


def correlation_markdown(corr: Mapping[str, Any], n_boot: int, n_perm: int, seed: int) -> str:
    """The table of every correlation (key × measure × analysis)."""
    body = []
    for key in ordered_keys(corr):
        for measure in MEASURES:
            for analysis in ANALYSES:
                res = corr[key][measure][analysis]
                digits = 2 if measure == "absolute" else 4
                n = f"{res['n']}" + (f" ({res['n_groups']} tasks)" if res["n_groups"] is not None else "")
                body.append([
                    _key_label(key), measure, analysis, n,
                    f"{fmt(res['pearson'])} {fmt_ci(res['pearson_ci'])}", fmt_p(res["pearson_p"]),
                    f"{fmt(res['spearman'])} {fmt_ci(res['spearman_ci'])}", fmt_p(res["spearman_p"]),
                    f"{fmt(res['slope'], digits)} {fmt_ci(res['slope_ci'], digits)}",
                    res["reason"] or "",
                ])
    header = ["key", "degradation", "analysis", "n", "Pearson r [95% CI]", "p", "Spearman ρ [95% CI]", "p",
              "slope per ln(size) [95% CI]", "note"]
    intro = (
        f"x = ln(intermediate training examples); y = zero-shot degradation. Across: one point per "
        f"intermediate task at its natural (\"full\") size. Within: every size of every task, x and y demeaned "
        f"within task (task fixed effects); slope = pooled within-task OLS slope. 95% percentile bootstrap CIs "
        f"({n_boot} resamples, stratified by task for within), two-sided permutation p-values ({n_perm} "
        f"permutations, shuffled within task for within), seed {seed}. Only intermediate-task arms enter."
    )
    return intro + "\n\n" + md_table(header, body, "lll" + "r" * 6 + "l")


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
    runs = provenance.get("runs", [])
    run_cols = ["arm", "size_label", "seed", "target_task", "target_run_id", "intermediate_run_id"]
    run_rows = [[str(r.get(c, "")) for c in run_cols] for r in runs]
    runs_block = (f"<details><summary>{len(runs)} MLflow runs</summary>\n\n"
                  + md_table(run_cols, run_rows, "l" * len(run_cols)) + "\n\n</details>")
    sizes = provenance.get("sizes", [])
    size_table = md_table(["intermediate task", "training examples (full)", "source", "variant"],
                          [[s["task"], f"{s['train_examples']:,}", s["source"], s["variant"]] for s in sizes],
                          "lrll") if sizes else "No intermediate-task sizes recorded."
    return "\n\n".join([head, "Intermediate training sets (the size variable):", size_table,
                         "Data (DVC-tracked outputs):", data_table, runs_block])


def render_markdown(report: Mapping[str, Any], ctrl: pd.DataFrame, means: pd.DataFrame) -> str:
    """The full ``correlation.md`` text."""
    p = report["params"]
    sections = [
        "# Intermediate-task training-set size vs zero-shot adversarial degradation",
        "## Answer\n\n" + report["answer"],
        "## Baseline zero-shot scores\n\n" + baseline_markdown(ctrl, report["baseline_checks"]),
        "## Degradation\n\n" + degradation_markdown(means),
        "## Correlation with log(train size)\n\n"
        + correlation_markdown(report["correlations"], p["n_bootstrap"], p["n_permutations"], p["seed"]),
        "## Figures\n\n"
        f"![Zero-shot degradation vs intermediate training-set size]({FIGURES['scatter']})\n\n"
        f"![Clean scores per arm and language]({FIGURES['heatmap']})",
        "## Provenance\n\n" + provenance_markdown(report["provenance"]),
    ]
    return "\n\n".join(sections) + "\n"


# ------------------------------------------------------------------------------------------- figures


def _task_colours(tasks: Sequence[str]) -> dict[str, Any]:
    """A fixed colour per intermediate task (tab10, or tab20 beyond ten tasks)."""
    cmap = colormaps["tab10" if len(tasks) <= 10 else "tab20"]
    return {t: cmap(i % cmap.N) for i, t in enumerate(sorted(tasks))}


def degradation_figure(means: pd.DataFrame, measure: str = "absolute") -> Figure:
    """Scatter of zero-shot degradation vs train size (log axis), one panel per key, per-task fit lines."""
    keys = analysis_keys(means)
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
    for ax, key in zip(axes.flat, keys):
        sel = inter[inter["key"] == key]
        for task in tasks:
            pts = sel[sel["arm"] == task].sort_values("train_size")
            pts = pts[np.isfinite(pts[measure]) & (pts["train_size"] > 0)]
            ax.scatter(pts["train_size"], pts[measure], s=22, color=colours[task], label=task, zorder=3)
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
    fig.suptitle("Zero-shot degradation (clean − adversarial, mean over non-English languages)\n"
                 "vs English intermediate-task training-set size; lines: per-task least-squares fit in ln(size)",
                 fontsize=10)
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
    for ax, target in zip(axes, targets):
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


def report_params(params: Mapping[str, Any]) -> dict[str, int]:
    """The resampling settings from ``params["report"]``."""
    rep = params["report"]
    return {"n_bootstrap": int(rep["n_bootstrap"]), "n_permutations": int(rep["n_permutations"]),
            "seed": int(rep["seed"])}


def build_report(
    results: pd.DataFrame, provenance: dict[str, Any], params: dict[str, Any], out_dir: Path
) -> dict[str, Any]:
    """Compute every table and statistic, write the five report files into ``out_dir``, return the report.

    The returned dict is exactly what ``correlation.json`` holds (after JSON conversion): ``schema``,
    ``params``, ``inputs``, ``answer``, ``baseline`` (control-arm scores), ``baseline_checks``,
    ``degradation`` (seed-mean zero-shot degradation per arm × size × key), ``correlations``
    (``{key: {measure: {analysis: ...}}}``), ``metrics`` (as in ``metrics.json``), ``figures`` and
    ``provenance``.
    """
    out_dir = Path(out_dir)
    df = validate_results(results)
    rp = report_params(params)
    ctrl = control_scores(df)
    means = seed_mean(model_degradation(df))
    corr = correlations(means, rp["n_bootstrap"], rp["n_permutations"], rp["seed"])
    checks = baseline_checks(ctrl)
    metrics = headline_metrics(corr, ctrl, means)
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "params": rp,
        "inputs": {
            "n_rows": int(len(df)),
            "arms": arm_order(df["arm"]),
            "target_tasks": sorted(set(df["target_task"])),
            "languages": language_order(df["language"]),
            "zero_shot_languages": language_order(set(df["language"]) - {TRAINING_LANGUAGE}),
            "adversaries": adversaries(df),
        },
        "answer": answer_markdown(corr),
        "baseline": baseline_summary(ctrl),
        "baseline_checks": checks,
        "degradation": degradation_summary(means),
        "correlations": corr,
        "metrics": metrics,
        "figures": dict(sorted(FIGURES.items())),
        "provenance": provenance,
    }
    report = json.loads(dumps(report))
    atomic_write_bytes(out_dir / FIGURES["scatter"], png_bytes(degradation_figure(means)))
    atomic_write_bytes(out_dir / FIGURES["heatmap"], png_bytes(heatmap_figure(df)))
    atomic_write_bytes(out_dir / "correlation.md", render_markdown(report, ctrl, means).encode())
    atomic_write_bytes(out_dir / "metrics.json", dumps(metrics).encode())
    atomic_write_bytes(out_dir / "correlation.json", dumps(report).encode())
    return report
