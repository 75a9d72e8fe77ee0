"""The report's tables: the validated results table, display orders, degradation per model and analysis key
(zero-shot mean, per language, per adversary, pooled), seed means, analysis keys, the control arms' scores and
the baseline checks, the JSON rows of those tables, and the adversary catalogue."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import paired as paired_mod
from ..core import tasks
from .constants import (
    ALL_TARGETS,
    CELL_KEYS,
    CLEAN,
    CONTROL_ARMS,
    MEASURES,
    MODEL_KEYS,
    OPTIONAL_COLUMNS,
    POOLED,
    REQUIRED_COLUMNS,
    TRAINING_LANGUAGE,
)


def validate_results(results: pd.DataFrame) -> pd.DataFrame:
    """A typed copy of the results table; raises ValueError naming any missing column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks column(s) {missing}")
    df = results.copy()
    for col, default in OPTIONAL_COLUMNS.items():
        if col not in df.columns:
            df[col] = default
    for col in ("arm", "size_label", "target_task", "language", "subset", "metric",
                "target_run_id", "intermediate_run_id", "health_reasons"):
        df[col] = df[col].fillna("").astype(str)
    df["train_size"] = df["train_size"].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    for col in ("score", "clean_score", "chance", "label_matched_clean_score", "balanced_score", "health_majority",
                "health_top_share", "health_entropy", "target_dev_score", "target_dev_top_share",
                "intermediate_dev_score"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ("target_restarts", "intermediate_restarts"):
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
    for col in ("health_degenerate", "target_degenerate", "intermediate_degenerate"):
        df[col] = df[col].map(lambda v: bool(v) if isinstance(v, (bool, np.bool_)) or v in (0, 1) else False)
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


def adversary_catalogue(results: pd.DataFrame) -> list[dict[str, Any]]:
    """Per adversary in the results: its kind, label contract, what its examples are paired with, and the
    number of adversarial examples per target task (min-max over languages), from the baseline's rows."""
    from ..adversaries import PERTURBATION, REGISTRY

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
