"""The report's figures (matplotlib, drawn without pyplot's global state): degradation vs train size, clean
scores per arm and language, the seed spread; :func:`png_bytes` renders them without metadata (byte-stable)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .constants import (
    CELL_KEYS,
    CLEAN,
    CONTROL_ARMS,
    FULL,
    MODEL_KEYS,
    PNG_DPI,
    POOLED,
    TRAINING_LANGUAGE,
)
from .format import _key_label
from .tables import analysis_keys, arm_order, language_order


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
                b, a = np.polyfit(np.log2(pts["train_size"]), pts[measure], 1)
                xs = np.array([pts["train_size"].min(), pts["train_size"].max()], dtype=float)
                ax.plot(xs, a + b * np.log2(xs), color=colours[task], lw=1.2, alpha=0.8, zorder=2)
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
                 "intermediate-task training-set size\nbars: 95% measurement-noise interval "
                 "(seeds and test examples resampled); "
                 "lines: per-task least-squares fit in log2(size)", fontsize=10)
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


HEATMAP_COLUMNS = 2
"""Panels per row of the heatmap: two keep the figure about as wide as the report page (1,200 px), so its cell
numbers are not scaled down to a few pixels."""


def heatmap_figure(results: pd.DataFrame) -> Figure:
    """Clean score per arm × language (one panel per target task, HEATMAP_COLUMNS per row); intermediate arms at
    size "full"."""
    clean = results[(results["subset"] == CLEAN)
                    & (results["arm"].isin(CONTROL_ARMS) | (results["size_label"] == FULL))]
    table = clean.groupby(["target_task", "arm", "language"], sort=True)["score"].mean()
    targets = sorted(set(clean["target_task"]))
    arms = arm_order(clean["arm"])
    langs = language_order(clean["language"])
    panels = max(1, len(targets))
    cols = min(panels, HEATMAP_COLUMNS)
    rows = -(-panels // cols)
    fig = Figure(figsize=((0.55 * len(langs) + 2.6) * cols, (0.38 * len(arms) + 1.4) * rows + 0.4),
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(targets):]:
        ax.set_axis_off()
    for ax, target in zip(axes, targets, strict=False):
        grid = np.array([[table.get((target, a, lg), np.nan) for lg in langs] for a in arms], dtype=float)
        finite = grid[np.isfinite(grid)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 100.0)
        im = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                light = (v - vmin) / ((vmax - vmin) or 1.0) < 0.6
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8,
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


def _num(v: Any) -> float:
    """A JSON number (None = NaN) as a float."""
    return float("nan") if v is None else float(v)


def _sig(fit: dict[str, Any], reference: float, alpha: float) -> bool:
    slope, p = _num(fit.get("slope")), _num(fit.get("p"))
    return bool(np.isfinite(slope) and np.sign(slope) == np.sign(reference) and p < alpha)


def sensitivity_figure(sens: dict[str, Any], secondary: dict[str, Any] | None = None, alpha: float = 0.05) -> Figure:
    """Forest plot of the primary within-task slope (points per doubling) and every refit of it: every model,
    without model-selected subsets, each task left out, each (task, size) cell left out; the secondary
    degradation measures beside it. Filled marker = significant with the primary's sign."""
    rows: list[tuple[str, float, Sequence[float], bool, str]] = []
    prim = sens["primary"]
    ref = _num(prim["slope"])
    rows.append((prim["label"], ref, prim["ci"], _sig(prim, ref, alpha), "black"))
    rows.append(("  bootstrap over models, seeds, examples", ref, sens["cluster_bootstrap_ci"],
                 _sig(prim, ref, alpha), "dimgray"))
    for r in sens["variants"]:
        rows.append((r["label"], _num(r["slope"]), r["ci"], _sig(r, ref, alpha), "tab:blue"))
    for f in sens["leave_one_task_out"]["fits"]:
        rows.append((f"without task {f['left_out']}", _num(f["slope"]), f["ci"], _sig(f, ref, alpha), "tab:green"))
    if secondary:
        for key, label in (("label_matched_pooled", "label-matched degradation (secondary)"),
                           ("clean_covariate", "clean score as covariate (secondary)")):
            f = secondary[key]
            rows.append((label, _num(f["slope"]), f["ci"], _sig(f, ref, alpha), "tab:purple"))
    cells = sens["leave_one_model_out"]["fits"]
    fig = Figure(figsize=(8.4, 0.34 * (len(rows) + 3) + 1.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ys = np.arange(len(rows))[::-1] + 1
    for y, (_label, slope, ci, sig, colour) in zip(ys, rows, strict=True):
        lo, hi = (_num(ci[0]), _num(ci[1])) if ci else (np.nan, np.nan)
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [y, y], color=colour, lw=1.6)
        if slope is not None and np.isfinite(slope):
            ax.plot([slope], [y], "o", color=colour, mfc=colour if sig else "white", ms=6)
    loo = np.array([_num(f["slope"]) for f in cells], dtype=float)
    loo = loo[np.isfinite(loo)]
    if loo.size:
        ax.scatter(loo, np.zeros_like(loo), marker="|", s=90, color="tab:orange")
    ax.axvline(0.0, color="gray", lw=0.8, ls="--")
    ax.set_yticks([*ys, 0], [r[0] for r in rows] + [f"each (task, size) cell left out ({loo.size} fits)"], fontsize=8)
    ax.set_xlabel("within-task slope of pooled degradation (points per doubling of the training set)")
    ax.set_title("Does the primary slope survive? (95% CIs; filled = significant with the primary's sign)",
                 fontsize=10)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}".replace("-", "\u2212")))
    return fig


def health_figure(health: pd.DataFrame) -> Figure:
    """One panel per target task: each model's clean English test score against the share of its most predicted
    label (or answer), with chance and the majority-class score; flagged models in red."""
    targets = sorted(set(health["target_task"])) if len(health) else []
    fig = Figure(figsize=(3.6 * max(1, len(targets)) + 0.6, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(1, len(targets)), squeeze=False)[0]
    for ax, target in zip(axes, targets, strict=False):
        rows = health[health["target_task"] == target]
        share = rows["health_top_share"].astype(float)
        has_share = np.isfinite(share).any()
        yv = share if has_share else rows["target_dev_score"].astype(float)
        ok = rows["flagged"].astype(bool)
        ax.scatter(rows["score"][~ok], yv[~ok], s=18, color="tab:blue", label="healthy", zorder=3)
        ax.scatter(rows["score"][ok], yv[ok], s=28, color="tab:red", marker="x", label="flagged", zorder=4)
        for _, r in rows[ok].iterrows():
            ax.annotate(r["model"], (r["score"], yv[_]), fontsize=6, color="tab:red", xytext=(3, 2),
                        textcoords="offset points")
        chance = rows["chance"].astype(float)
        if np.isfinite(chance).any():
            ax.axvline(float(np.nanmean(chance)), color="gray", ls="--", lw=0.8, label="chance")
        maj = rows["health_majority"].astype(float)
        if np.isfinite(maj).any():
            ax.axvline(float(np.nanmean(maj)), color="tab:orange", ls=":", lw=0.9, label="majority class")
        ax.set_title(f"{target} ({rows['metric'].iloc[0]})", fontsize=10)
        ax.set_xlabel("clean English test score")
        ax.set_ylabel("share of the most predicted label" if has_share else "English dev score")
        if has_share:
            ax.set_ylim(0, 1.02)
    if targets:
        axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("Model health (collapsed models predict one label for most examples)", fontsize=10)
    return fig

