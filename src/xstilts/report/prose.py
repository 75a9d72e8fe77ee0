"""The generated sentences: the size of a correlation in words, the verdict of the within-task analysis, the
one-paragraph answer and the description of each analysis, all from the numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..analysis import stats
from .constants import CORRECTION_NAMES, POOLED, PRIMARY_FAMILY, SMALL_N
from .correlate import _below, significant_keys
from .format import _key_label, ci_per_doubling, fmt, fmt_ci, fmt_p, per_doubling


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
