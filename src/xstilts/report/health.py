"""The model-health section: for every model (arm x size x seed) and target task, its clean English dev and test
scores against chance and the majority-class score, the share of its most predicted label, the restarts of its
fine-tunings and the degenerate flags; and the models the primary analysis leaves out by the rule declared in
params.yaml (``report.exclude_degenerate``):

a model is **flagged** when one of its target fine-tunings is still degenerate on the English dev set after its
restarts (:mod:`xstilts.pipeline.cellrun`), or when its clean English test predictions on a target meet the same rule
(:mod:`xstilts.train.health`, computed by the evaluate stage). Degeneracy of the intermediate fine-tuning itself is
reported but flags nothing: a small intermediate set that teaches the encoder nothing is a size effect, not a
broken model. Retrieval targets (no fine-tuning) are not checked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..core.cells import cell_name
from .constants import CLEAN, CONTROL_ARMS, MODEL_KEYS, TRAINING_LANGUAGE


def model_id(arm: str, size_label: str, seed: int) -> str:
    """``<arm>/<size>-s<seed>`` (controls: ``baseline/none-s1``), the name of a model in the report."""
    return f"{arm}/{cell_name(size_label, int(seed))}"


def health_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model x fine-tuned target task (English clean test row), with its health columns."""
    rows = results[(results["subset"] == CLEAN) & (results["language"] == TRAINING_LANGUAGE)
                   & (results["target_run_id"] != "")]
    cols = [*MODEL_KEYS, "target_task", "metric", "score", "chance", "health_majority", "health_top_share",
            "health_entropy", "health_degenerate", "health_reasons", "target_dev_score", "target_dev_top_share",
            "target_restarts", "target_degenerate", "intermediate_dev_score", "intermediate_restarts",
            "intermediate_degenerate"]
    out = rows[cols].copy()
    out.insert(0, "model", [model_id(a, s, e) for a, s, e in zip(out["arm"], out["size_label"], out["seed"],
                                                                  strict=True)])
    out["flagged"] = out["target_degenerate"] | out["health_degenerate"]
    return out.sort_values(["arm", "train_size", "seed", "target_task"], kind="stable").reset_index(drop=True)


def _reasons(rows: pd.DataFrame) -> list[str]:
    out = []
    for r in rows.itertuples(index=False):
        if r.target_degenerate:
            out.append(f"{r.target_task}: degenerate on dev after {r.target_restarts} restart(s)")
        if r.health_degenerate:
            out.append(f"{r.target_task}: English test {r.health_reasons}")
    return out


def flagged_models(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Every flagged model with its reasons, in table order."""
    out = []
    for model, rows in table.groupby("model", sort=False):
        if rows["flagged"].any():
            first = rows.iloc[0]
            out.append({"model": model, "arm": first["arm"], "size_label": first["size_label"],
                        "seed": int(first["seed"]), "control": first["arm"] in CONTROL_ARMS,
                        "reasons": _reasons(rows)})
    return out


def exclude(frame: pd.DataFrame, flagged: Iterable[dict[str, Any]], *, cell_column: str | None = None) -> pd.DataFrame:
    """``frame`` without the rows of the flagged intermediate-task models (controls are never in the correlations
    and are kept). Rows are matched on arm, size_label and seed, or on arm and ``cell_column``
    (``<size>-s<seed>``, the predictions table)."""
    drop = [f for f in flagged if not f["control"]]
    if not drop or frame.empty:
        return frame
    if cell_column is None:
        keys = {(f["arm"], f["size_label"], f["seed"]) for f in drop}
        mask = [(a, s, int(e)) in keys for a, s, e in zip(frame["arm"], frame["size_label"], frame["seed"],
                                                         strict=True)]
    else:
        keys = {(f["arm"], cell_name(f["size_label"], f["seed"])) for f in drop}
        mask = [(a, c) in keys for a, c in zip(frame["arm"], frame[cell_column], strict=True)]
    return frame[~np.asarray(mask, dtype=bool)].reset_index(drop=True)


def summary(table: pd.DataFrame, flagged: list[dict[str, Any]], excluded: bool) -> dict[str, Any]:
    """The JSON block of the section: counts, restarts and the flagged / excluded models."""
    per_model = table.groupby("model", sort=False).agg(
        target_restarts=("target_restarts", "sum"), intermediate_restarts=("intermediate_restarts", "first"),
        intermediate_degenerate=("intermediate_degenerate", "first"))
    return {
        "rule": "a target fine-tuning still degenerate on dev after its restarts, or clean English test "
                "predictions that meet the degenerate rule (finetune.degenerate_margin, "
                "finetune.degenerate_collapse); intermediate-task degeneracy is reported only",
        "exclude_degenerate": bool(excluded),
        "n_models": int(table["model"].nunique()),
        "n_target_fine_tunings": int(len(table)),
        "target_fine_tunings_restarted": int((table["target_restarts"] > 0).sum()),
        "target_restarts": int(table["target_restarts"].sum()),
        "intermediate_fine_tunings_restarted": int((per_model["intermediate_restarts"] > 0).sum()),
        "intermediate_restarts": int(per_model["intermediate_restarts"].sum()),
        "intermediate_degenerate": sorted(per_model.index[per_model["intermediate_degenerate"]].tolist()),
        "target_degenerate_on_dev": int(table["target_degenerate"].sum()),
        "test_degenerate": int(table["health_degenerate"].sum()),
        "flagged": flagged,
        "excluded": [f["model"] for f in flagged if not f["control"]] if excluded else [],
        "rows": table.drop(columns=["health_reasons"]).to_dict(orient="records"),
    }
