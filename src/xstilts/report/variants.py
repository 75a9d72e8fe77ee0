"""The paper's intermediate-training variants (params.yaml `variants`: multi-task, MLM during intermediate
training, translated intermediate data) beside the single-task arms. They never enter the size analyses: a
multi-task arm's "size" is the total of nine tasks' examples and is not comparable with one task's subsample, and
the two others change what is trained on, not how much of one task.

Each variant arm is compared, model by model on the same test sets, with the baseline and with its single-task
reference at the same size (`variants.size`): for `mlm` and `translated` the arm of their task, for `multitask`
the mean of the single-task arms and the best of them (by zero-shot clean score). Two measures per model: the
zero-shot clean score (mean over the zero-shot languages, then over the target tasks) and the pooled degradation
(the primary analysis' measure: clean - adversarial, mean over languages, target tasks and adversaries). Models
flagged degenerate are left out as in the primary analysis. Intervals are seed bootstraps: the seeds of each arm
are resampled independently (`report.n_bootstrap`, `report.seed`); with three seeds per arm they are rough, and they
hold the test examples fixed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core import tasks
from ..core.io import stable_seed
from .constants import CLEAN, FIGURES, POOLED, TRAINING_LANGUAGE
from .health import exclude, flagged_models, health_table, model_id
from .tables import model_degradation

PAPER = {
    "multitask": ("\"multi-task intermediate offers small additional improvements\" (AACL abstract, verified); an "
                  "average gain of +8.7 for multi-task training is in the seed document only: UNVERIFIED (no "
                  "primary source found)"),
    "mlm": ("continuing multilingual MLM during intermediate training does not consistently outperform English-only "
            "intermediate training (AACL abstract, verified)"),
    "translated": ("machine-translated intermediate data does not consistently outperform English-only intermediate "
                   "training (AACL abstract, verified)"),
}
"""What Phang et al. (2020) report about each variant, with its verification status."""


def model_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Per model (arm, seed): `clean` = zero-shot clean score (mean over languages, then targets) and `degradation`
    = pooled degradation (points)."""
    clean = results[(results["subset"] == CLEAN) & (results["language"] != TRAINING_LANGUAGE)]
    per_target = clean.groupby(["arm", "size_label", "seed", "target_task"])["score"].mean()
    scores = per_target.groupby(["arm", "size_label", "seed"]).mean().rename("clean")
    deg = model_degradation(results)
    deg = deg[deg["key"] == POOLED].set_index(["arm", "size_label", "seed"])["absolute"].rename("degradation")
    return pd.concat([scores, deg], axis=1).reset_index()


def _resampled_mean(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)


def _boot_diff(a: np.ndarray, refs: list[np.ndarray], n: int, rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile interval of mean(a) - the mean of the reference arms' means, the seeds of every arm
    resampled independently."""
    if len(a) < 2 or any(len(b) < 2 for b in refs):
        return float("nan"), float("nan")
    diff = _resampled_mean(a, n, rng) - np.mean([_resampled_mean(b, n, rng) for b in refs], axis=0)
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return float(lo), float(hi)


def empty(params: Mapping[str, Any]) -> dict[str, Any]:
    """The section of a study without variant arms (its figure still shows the arms at `variants.size`)."""
    return {"arms": [], "rows": [], "size_label": str((params.get("variants") or {}).get("size", "full"))}


def summary(results: pd.DataFrame, params: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]],
            rp: Mapping[str, Any]) -> dict[str, Any]:
    """The variants section: per variant arm its size (total and per task), its scores and the differences from
    the baseline and from its single-task reference. `records`: each arm's metrics/variant/<arm>.json."""
    va = params["variants"]
    arms = [a for a in va["arms"] if a in set(results["arm"])]
    label = str(va["size"])
    if not arms:
        return empty(params)
    single = [a for a in params["study"]["intermediate_tasks"] if a in set(results["arm"])]
    keep = results[results["arm"].isin(arms + ["baseline"])
                   | (results["arm"].isin(single) & (results["size_label"] == label))]
    flagged = ([f for f in flagged_models(health_table(keep)) if not f["control"]]
               if rp.get("exclude_degenerate", True) else [])
    scores = model_scores(exclude(keep, flagged))
    by_arm = {a: g for a, g in scores.groupby("arm")}
    rng = np.random.default_rng(stable_seed("variants", rp["seed"]))
    n_boot = int(rp["n_bootstrap"])

    def values(arm: str, measure: str) -> np.ndarray:
        return by_arm[arm][measure].to_numpy() if arm in by_arm else np.array([])

    singles = [a for a in single if a in by_arm]
    best = max(singles, key=lambda a: values(a, "clean").mean()) if singles else None
    rows = []
    for arm in arms:
        task = va[arm]["task"] if arm in ("mlm", "translated") else None
        refs = {"baseline": ["baseline"]}
        if task is not None:
            refs[task] = [task]
        elif singles:
            refs["single-task mean"] = singles
            refs[f"best single task ({best})"] = [best]
        rec = records.get(arm, {})
        row: dict[str, Any] = {
            "arm": arm, "description": tasks.VARIANTS[arm], "size_label": label,
            "train_size": rec.get("train_size"),
            "shares": {k.split(".", 1)[1]: v for k, v in rec.items() if k.startswith("share.")},
            "counts": {k.split(".", 1)[1]: v for k, v in rec.items() if k.startswith("count.")},
            "n_models": int(len(by_arm.get(arm, []))),
            "excluded": [f["model"] for f in flagged if f["arm"] == arm],
            "in_size_analysis": False, "paper": PAPER[arm], "measures": {},
        }
        for measure in ("clean", "degradation"):
            own = values(arm, measure)
            entry: dict[str, Any] = {"mean": float(own.mean()) if own.size else float("nan"),
                                     "sd": float(own.std(ddof=1)) if own.size > 1 else float("nan"), "vs": {}}
            for name, ref_arms in refs.items():
                ref = [values(a, measure) for a in ref_arms]
                if own.size == 0 or any(r.size == 0 for r in ref):
                    continue
                mean_ref = float(np.mean([r.mean() for r in ref]))
                lo, hi = _boot_diff(own, ref, n_boot, rng)
                entry["vs"][name] = {"reference": mean_ref, "diff": float(own.mean() - mean_ref), "ci": [lo, hi]}
            row["measures"][measure] = entry
        rows.append(row)
    n_seeds = int(results.loc[results["arm"].isin(arms), "seed"].nunique())
    return {"arms": arms, "size_label": label, "rows": rows, "n_seeds": n_seeds,
            "excluded_models": [f["model"] for f in flagged]}


def figure(results: pd.DataFrame, section: Mapping[str, Any]):
    """Every model's zero-shot clean score and pooled degradation (dots: seeds; bar: mean) for the baseline, the
    single-task arms at the variants' size and each variant arm; a note only when there is no variant arm."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .figures import _task_colours

    fig = Figure(figsize=(9.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    label = str(section.get("size_label", "full"))
    variants = [r["arm"] for r in section.get("rows", [])]
    singles = sorted(set(results.loc[(results["size_label"] == label) & ~results["arm"].isin(variants)
                                     & (results["arm"] != "baseline"), "arm"]) - {"random"})
    keep = results[results["arm"].isin(["baseline", *singles, *variants])
                   & ((results["size_label"] == label) | results["arm"].isin(["baseline", *variants]))]
    excluded = set(section.get("excluded_models", []))
    scores = model_scores(keep)
    scores = scores[[model_id(a, s, e) not in excluded
                     for a, s, e in zip(scores["arm"], scores["size_label"], scores["seed"], strict=True)]]
    order = [a for a in ("baseline", *singles, *variants) if a in set(scores["arm"])]
    if not order:
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, f"no model of the baseline or at size {label}", ha="center", va="center")
        return fig
    colours = {**_task_colours(singles or ["-"]), "baseline": "0.35", **{v: "black" for v in variants}}
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (col, title) in zip(axes, (("clean", "zero-shot clean score"),
                                       ("degradation", "pooled zero-shot degradation (points)")), strict=True):
        for i, arm in enumerate(order):
            vals = scores.loc[scores["arm"] == arm, col].to_numpy(dtype=float)
            if vals.size:
                offsets = np.linspace(-0.15, 0.15, vals.size) if vals.size > 1 else np.zeros(1)
                ax.scatter(vals, i + offsets, s=16, color=colours[arm], zorder=3,
                           marker="D" if arm in variants else "o")
                ax.vlines(vals.mean(), i - 0.3, i + 0.3, color="0.2", lw=1.2, zorder=2)
        ax.set_title(title, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].set_yticks(range(len(order)), [f"{a} ({label})" if a in singles else a for a in order], fontsize=7)
    axes[0].invert_yaxis()
    head = ("The paper's variants (diamonds) beside the baseline and the single-task arms" if variants
            else "No variant arm in this study: the baseline and the single-task arms")
    fig.suptitle(f"{head} at size {label} (dots: seeds; bar: mean)", fontsize=9)
    return fig


def metrics(section: Mapping[str, Any]) -> dict[str, float]:
    """Flat numbers for metrics.json: each variant's means and its differences from its references."""
    out: dict[str, float] = {}
    for row in section.get("rows", []):
        for measure, entry in row["measures"].items():
            out[f"variants.{row['arm']}.{measure}"] = entry["mean"]
            for name, d in entry["vs"].items():
                key = "baseline" if name == "baseline" else ("single_task_mean" if name == "single-task mean"
                                                             else "best_single_task" if name.startswith("best")
                                                             else "single_task")
                out[f"variants.{row['arm']}.{measure}_minus_{key}"] = d["diff"]
        if row.get("train_size") is not None:
            out[f"variants.{row['arm']}.train_size"] = float(row["train_size"])
    return {k: float(v) for k, v in sorted(out.items()) if v is not None and np.isfinite(v)}


def analysis_note(section: Mapping[str, Any]) -> str:
    """What "size" is for each variant arm and that it stays out of the within-task analysis (one sentence for
    the correlation section; empty without variant arms)."""
    parts = []
    for row in section.get("rows", []):
        size = f"{row['train_size']:,}" if row.get("train_size") is not None else "n/a"
        if row["arm"] == "multitask":
            what = (f"its size is the total of its {len(row['shares'])} tasks' examples ({size}; each task's share "
                    "in \"The paper's variants\"), not a subsample of one task, and shares move together")
        elif row["arm"] == "translated":
            what = (f"{size} examples, of which {row['counts'].get('english', 0):,} English: translations change "
                    "what is trained on, not how much of one task")
        else:
            what = f"its task's {size} examples plus masked-LM text: one size, a different objective"
        parts.append(f"`{row['arm']}` ({what})")
    if not parts:
        return ""
    return ("The paper's variant arms do not enter these analyses (`in_size_analysis: false` in correlation.json): "
            + "; ".join(parts) + ".")


def markdown(section: Mapping[str, Any]) -> list[str]:
    """The report's variants section (markdown lines); without variant arms, a line saying so and the figure."""
    if not section.get("rows"):
        return ["## The paper's variants", "",
                f"![The baseline and the single-task arms at size {section.get('size_label', 'full')}]"
                f"({FIGURES['variants']})", "",
                "No variant arm in this study (`variants.arms` is empty): the figure shows the baseline and the "
                "single-task arms at the size the variants would train at.", ""]

    def num(x: float, signed: bool = False) -> str:
        if x is None or not np.isfinite(x):
            return "n/a"
        return (f"{x:+.2f}" if signed else f"{x:.2f}").replace("-", "\u2212")

    lines = ["## The paper's variants", "",
             f"![The paper's variants beside the single-task arms]({FIGURES['variants']})", "",
             f"Each variant is one arm at size `{section['size_label']}`, evaluated like every arm; none enters the "
             "size analyses (the degradation tables, correlations and models below; a multi-task arm's size is its "
             "tasks' total). Differences are of the means over "
             f"seeds; the intervals resample each arm's seeds (95%; rough with {section.get('n_seeds', '?')} seeds "
             "per arm, and test examples held fixed).", "",
             "| variant | training examples | zero-shot clean | vs | difference [95% CI] | pooled degradation | "
             "difference [95% CI] |", "| --- | --: | --: | --- | --: | --: | --: |"]
    for row in section["rows"]:
        clean, deg = row["measures"]["clean"], row["measures"]["degradation"]
        size = f"{row['train_size']:,}" if row.get("train_size") is not None else "n/a"
        if not clean["vs"]:  # every model of the arm (or of its references) left out
            lines.append(f"| {row['arm']} | {size} | {num(clean['mean'])} | no model to compare | n/a | "
                         f"{num(deg['mean'])} | n/a |")
            continue
        first = True
        for name in clean["vs"]:
            c, d = clean["vs"][name], deg["vs"].get(name, {})
            lines.append("| " + " | ".join([
                row["arm"] if first else "", size if first else "",
                num(clean["mean"]) if first else "", f"{name} ({num(c['reference'])} / {num(d.get('reference'))})",
                f"{num(c['diff'], True)} [{num(c['ci'][0], True)}, {num(c['ci'][1], True)}]",
                num(deg["mean"]) if first else "",
                f"{num(d.get('diff'), True)} [{num((d.get('ci') or [None, None])[0], True)}, "
                f"{num((d.get('ci') or [None, None])[1], True)}]"]) + " |")
            first = False
    lines += ["", "The reference column gives the reference's zero-shot clean score / pooled degradation.", ""]
    for row in section["rows"]:
        shares = ", ".join(f"{t} {n:,}" for t, n in row["shares"].items())
        counts = ", ".join(f"{k} {v:,}" for k, v in row["counts"].items())
        lines.append(f"- **{row['arm']}**: {row['description']}; examples per task: {shares}"
                     + (f" ({counts})" if counts else "") + f"; {row['n_models']} models"
                     + (f", {len(row['excluded'])} left out as degenerate" if row["excluded"] else "")
                     + f". Paper: {row['paper']}.")
    return lines + [""]
