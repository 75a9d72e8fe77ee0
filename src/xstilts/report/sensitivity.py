"""The sensitivity section: does the primary answer (the within-task slope of pooled absolute degradation on
log2 size) survive every model included, each model and each task left out in turn, the most influential
models (Cook's distance), and leaving out the model-selected adversarial subsets (``aflite``)? And the interval
that carries every source of variance: a bootstrap over models within task, seeds and test examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import sensitivity as sens
from ..analysis import stats
from ..core.cells import size_label_of
from .constants import POOLED
from .correlate import _below, correlation_points

PRIMARY = (POOLED, "absolute", "within")
TOP_INFLUENCE = 3


def _points(means: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[tuple]]:
    x, y, groups, cells = correlation_points(means, *PRIMARY)
    labels = [f"{a}/{lab}" for a, lab, _ in cells]  # points are seed means: one per (task, size) cell
    return x, y, np.asarray(groups if groups is not None else [], dtype=str), labels, cells


def _fit_row(label: str, fit: Mapping[str, Any], reference: float, alpha: float, **extra: Any) -> dict[str, Any]:
    slope = fit["slope"]
    same = bool(np.isfinite(slope) and np.isfinite(reference) and np.sign(slope) == np.sign(reference))
    return {"label": label, "slope": slope, "ci": fit["ci"], "p": fit["p"], "n": fit["n"],
            "same_sign": same, "significant": bool(same and _below(fit["p"], alpha)),
            "reason": fit.get("reason"), **extra}


def sensitivity(means: pd.DataFrame, means_all: pd.DataFrame, means_no_model_selected: pd.DataFrame | None,
                reps: np.ndarray | None, rep_cells: list[tuple] | None, rp: Mapping[str, Any],
                excluded: list[str]) -> dict[str, Any]:
    """Every refit of the primary slope (per doubling), with its sign and significance against the primary's."""
    alpha = rp["alpha"]
    x, y, g, labels, cells = _points(means)
    primary = stats.fixed_effects_fit(x, y, g)
    ref = primary["slope"]
    out: dict[str, Any] = {"primary": _fit_row("primary (flagged models excluded)" if excluded else "primary",
                                               primary, ref, alpha)}
    # the interval beside the answer: models resampled within task, on top of seeds and test examples
    y_reps = None
    if reps is not None and rep_cells is not None:
        index = {c: i for i, c in enumerate(rep_cells)}
        if all(c in index for c in cells):
            y_reps = reps[:, [index[c] for c in cells]]
    if x.size and np.isfinite(ref):
        ci, _ = sens.cluster_bootstrap(x, y, g, rp["n_bootstrap"], rp["seed"], y_reps=y_reps)
    else:
        ci = (float("nan"), float("nan"))
    out["cluster_bootstrap_ci"] = list(ci)
    out["cluster_bootstrap_resamples"] = ("models within task, seeds and paired test examples" if y_reps is not None
                                          else "models within task")
    # every model included
    xa, ya, ga, labels_all, _ = _points(means_all)
    fit_all = stats.fixed_effects_fit(xa, ya, ga)
    perm_all = stats.analyse(xa, ya, n_perm=rp["n_permutations"], seed=rp["seed"], groups=ga) if xa.size else {}
    variants = [_fit_row("every model included", fit_all, ref, alpha, permutation_p=perm_all.get("pearson_p"))]
    if means_no_model_selected is not None:
        xs, ys, gs, _, _ = _points(means_no_model_selected)
        variants.append(_fit_row("without model-selected subsets (aflite)", stats.fixed_effects_fit(xs, ys, gs),
                                 ref, alpha))
    out["variants"] = variants
    # leave one out
    loo_model = sens.leave_one_out(x, y, g, labels, by="model") if x.size else []
    loo_task = sens.leave_one_out(x, y, g, labels, by="task") if x.size else []
    out["leave_one_model_out"] = {"summary": sens.summarise(loo_model, ref, alpha), "fits": loo_model}
    out["leave_one_task_out"] = {"summary": sens.summarise(loo_task, ref, alpha), "fits": loo_task}
    # influence: in the primary fit, and in the fit with every model (where a flagged model's pull shows)
    out["influence"] = _influence(x, y, g, labels, excluded=[])
    out["influence_all_models"] = _influence(xa, ya, ga, labels_all, excluded=excluded)
    return out


def _influence(x, y, g, labels: list[str], excluded: list[str]) -> list[dict[str, Any]]:
    if not len(x):
        return []
    d = sens.cooks_distance(x, y, g)
    order = [int(i) for i in np.argsort(-np.nan_to_num(d, nan=-1.0), kind="stable")[:TOP_INFLUENCE]]
    cells = {size_label_of(e) for e in excluded}  # model ids name seeds; points are (task, size) cells
    return [{"model": labels[i], "cooks_distance": float(d[i]), "flagged": labels[i] in cells} for i in order]


def survives(sens_block: Mapping[str, Any]) -> dict[str, Any]:
    """Whether the primary's sign and significance survive each check (for the answer and the figure)."""
    rows = [*sens_block["variants"]]
    out = {r["label"]: {"sign": r["same_sign"], "significance": r["significant"]} for r in rows}
    for key, name in (("leave_one_model_out", "each model left out"), ("leave_one_task_out", "each task left out")):
        s = sens_block[key]["summary"]
        out[name] = {"sign": s["n"] > 0 and s["same_sign"] == s["n"],
                     "significance": s["n"] > 0 and s["significant"] == s["n"]}
    return out
