"""The generated sentences: the size of a correlation in words, the verdict of the within-task analysis, the
one-paragraph answer and the description of each analysis, all from the numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


def verdict(res: Mapping[str, Any], alpha: float, full_ci: Sequence[float] | None = None) -> str:
    """positive / negative / none / inconclusive / undefined for one within-task result.

    The size effect is tested by the within-task permutation test (p < alpha) and the fixed-effects CI. A
    direction is claimed when both reject zero and the interval that carries every source of variance (the
    bootstrap over models within task, seeds and test examples: ``full_ci``; without it the seeds-and-examples
    bootstrap CI of the slope) excludes zero too; "none" when neither test rejects; "inconclusive" otherwise.
    """
    fit = res.get("model") or {}
    if res["reason"] or fit.get("reason") or not math.isfinite(fit.get("slope", math.nan)):
        return "undefined"
    tests = [_below(res["pearson_p"], alpha), bool(stats.ci_excludes_zero(fit["ci"]))]
    if not any(tests):
        return "none"
    check = full_ci if full_ci is not None else res["slope_ci"]
    if all(tests) and stats.ci_excludes_zero(check) is not False:
        return "positive" if fit["slope"] > 0 else "negative"
    return "inconclusive"


def _resampling_label(design: Mapping[str, Any]) -> str:
    return "seeds-and-test-examples" if design.get("examples_resampled") else "seeds-only"


def _rank_sentence(res: Mapping[str, Any]) -> str:
    return (f"Pearson r = {fmt(res['pearson'])}, Spearman ρ = {fmt(res['spearman'])}, Kendall τ = "
            f"{fmt(res['kendall'])}")


def _slope(value: float | None) -> str:
    return per_doubling(value, "absolute")


def _sig(p: float | None, alpha: float) -> str:
    return f"p = {fmt_p(p)}, {'significant' if _below(p, alpha) else 'not significant'}"


def _check_sentence(sens: Mapping[str, Any], alpha: float) -> list[str]:
    parts = []
    ref = sens["primary"]["slope"]
    for row in sens["variants"]:
        p = row.get("permutation_p")
        ptxt = f"; within-task permutation p = {fmt_p(p)}" if p is not None else ""
        parts.append(f"{row['label']}: {_slope(row['slope'])} ({ci_per_doubling(row['ci'], 'absolute')}, "
                     f"{_sig(row['p'], alpha)}{ptxt})")
    for key, name in (("leave_one_model_out", "one model"), ("leave_one_task_out", "one task")):
        s = sens[key]["summary"]
        if s["n"]:
            parts.append(f"leaving out {name} at a time: {_slope(s['min'])} (without {s['min_left_out']}) to "
                         f"{_slope(s['max'])} (without {s['max_left_out']}), the same sign in {s['same_sign']} of "
                         f"{s['n']} fits and significant with it in {s['significant']}")
    out = ["Refits of the primary: " + "; ".join(parts) + "."] if parts else []
    infl = sens.get("influence") or []
    if infl and math.isfinite(infl[0]["cooks_distance"]):
        out.append(f"The most influential model of the primary fit is {infl[0]['model']} (Cook's distance "
                   f"{fmt(infl[0]['cooks_distance'])}).")
    surv = sens.get("survives", {})
    if surv and math.isfinite(ref):
        sign = [k for k, v in surv.items() if not v["sign"]]
        sig = [k for k, v in surv.items() if not v["significance"]]
        text = (f"The sign of the primary slope survives {len(surv) - len(sign)} of {len(surv)} checks"
                + (f" (not: {', '.join(sign)})" if sign else "")
                + f"; a significant slope of that sign survives {len(surv) - len(sig)} of {len(surv)}"
                + (f" (not: {', '.join(sig)})" if sig else "") + ".")
        out.append(text)
    return out


def _secondary_sentence(second: Mapping[str, Any], alpha: float) -> str:
    lm, er, cc = second["label_matched_pooled"], second["effective_robustness"], second["clean_covariate"]
    parts = []
    if second.get("label_changing_adversaries"):
        parts.append(f"pooled degradation with label-matched clean references for "
                     f"{', '.join(second['label_changing_adversaries'])} {_slope(lm['slope'])} "
                     f"({ci_per_doubling(lm['ci'], 'absolute')}, {_sig(lm['p'], alpha)})")
    parts.append(f"effective robustness {fmt(er['slope'], 3)} logit per doubling ({fmt_ci(er['ci'], 3)}, "
                 f"{_sig(er['p'], alpha)}; positive = more robust than the clean score predicts)")
    parts.append(f"degradation with the clean score as a covariate {_slope(cc['slope'])} "
                 f"({ci_per_doubling(cc['ci'], 'absolute')}, {_sig(cc['p'], alpha)})")
    cs = second.get("clean_score")
    if cs:
        parts.append(f"the matched clean score itself {_slope(cs['slope'])} per doubling "
                     f"({ci_per_doubling(cs['ci'], 'absolute')}, {_sig(cs['p'], alpha)})")
    return "Pre-specified secondary measures: " + "; ".join(parts) + "."


def answer_paragraph(corr: Mapping[str, Any], families: Mapping[str, Any], rp: Mapping[str, Any],
                     design: Mapping[str, Any], *, sens: Mapping[str, Any] | None = None,
                     secondary: Mapping[str, Any] | None = None, health: Mapping[str, Any] | None = None) -> str:
    """The answer, generated from the numbers: the primary analysis (flagged models excluded by the declared
    rule) with its intervals, its sensitivity, the secondary measures, the across-task view and the corrections.
    Slopes are points of degradation per doubling of the English intermediate training set."""
    if POOLED not in corr:
        return "No intermediate-task results with adversarial subsets: there is nothing to correlate."
    alpha, method = rp["alpha"], rp["correction"]
    w = corr[POOLED]["absolute"]["within"]
    fe = w["model"]
    full_ci = sens["cluster_bootstrap_ci"] if sens else None
    v = verdict(w, alpha, full_ci)
    scope = "within an intermediate task (controlled subsamples)"
    opening = {
        "positive": f"Yes: {scope}, a larger English training set goes with more zero-shot adversarial "
                    "degradation",
        "negative": f"Yes, with a negative sign: {scope}, a larger English training set goes with less zero-shot "
                    "adversarial degradation",
        "none": f"No relation is detectable at α = {fmt(alpha, 2)}: {scope}, the size of the English training set "
                "does not change zero-shot adversarial degradation distinguishably from zero",
        "inconclusive": f"Inconclusive at α = {fmt(alpha, 2)}: {scope}, the tests of a size effect on zero-shot "
                        "adversarial degradation disagree (the within-task permutation test, the fixed-effects CI "
                        "and the bootstrap over models, seeds and test examples do not all exclude zero)",
        "undefined": "This run cannot answer the question: the within-task analysis is not computable "
                     f"({w['reason'] or fe.get('reason')})",
    }[v]
    parts = [opening + "."]
    excluded = (health or {}).get("excluded", [])
    if v != "undefined":
        who = (f"{len(excluded)} flagged model{'s' if len(excluded) != 1 else ''} excluded by the declared rule "
               f"({', '.join(excluded)})" if excluded else "no model excluded")
        full = (f"; {fmt_ci(full_ci)} from a bootstrap over models within task, seeds and test examples"
                if full_ci is not None else "")
        parts.append(
            f"Primary analysis (pre-specified: pooled absolute degradation on log2 size, OLS with task fixed "
            f"effects, {fe['n']} models of {fe['n_groups']} tasks, {who}): {_slope(fe['slope'])} per doubling of "
            f"the training set (95% CI {ci_per_doubling(fe['ci'], 'absolute')} model-based{full}; within-task "
            f"permutation p = {fmt_p(w['pearson_p'])}); within task {_rank_sentence(w)}."
        )
    lead = " ".join(parts)
    bullets: list[str] = []
    if v != "undefined":
        if sens:
            bullets.append("**Sensitivity.** " + " ".join(_check_sentence(sens, alpha)))
        if secondary:
            bullets.append("**Robustness separated from clean accuracy.** " + _secondary_sentence(secondary, alpha))
            reading = _reading(v, secondary, alpha)
            if reading:
                bullets.append("**Reading.** " + reading)
    parts = []
    a = corr[POOLED]["absolute"]["across"]
    if a["reason"]:
        parts.append(f"Across tasks at their natural sizes the correlation is not computable ({a['reason']}).")
    else:
        relation = "significant" if _below(a["pearson_p"], alpha) else "not significant"
        parts.append(f"Across tasks at their natural sizes (n = {a['n']}, confounded with task type): r = "
                     f"{fmt(a['pearson'])}, permutation p = {fmt_p(a['pearson_p'])}, {relation} at "
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
    if v != "undefined":
        parts.append(f"Measurement noise alone (the {_resampling_label(design)} bootstrap, models and sizes fixed) "
                     f"moves the primary slope within {ci_per_doubling(w['slope_ci'], 'absolute')}; that interval "
                     "is not the slope's uncertainty.")
    seeds = design.get("seeds_per_cell", [0, 0])
    if seeds and seeds[1] <= 1:
        parts.append("Each model was trained with one seed, so seed-to-seed variance is not a separate component "
                     "of these intervals; it enters only through the models' scatter around the fit (the "
                     "model-based CI and the bootstrap over models).")
    if w["n"] < SMALL_N or (not a["reason"] and a["n"] < SMALL_N):
        parts.append(f"With fewer than {SMALL_N} points in an analysis, its intervals and rank statistics are "
                     "coarse.")
    bullets.append("**Also.** " + " ".join(parts))
    return lead + "\n\n" + "\n".join(f"- {b}" for b in bullets)


def _reading(v: str, second: Mapping[str, Any], alpha: float) -> str:
    """What the secondary measures say about the primary result (generated only from their tests)."""
    cc, er = second["clean_covariate"], second["effective_robustness"]
    cc_sig, er_sig = _below(cc["p"], alpha), _below(er["p"], alpha)
    cs = second.get("clean_score") or {}
    if v in ("positive", "negative") and not cc_sig and not er_sig:
        same = _below(cs.get("p"), alpha) and (cs["slope"] > 0) == (v == "positive")
        why = (f"the {'higher' if v == 'positive' else 'lower'} clean scores of the models of larger sets "
               f"({_slope(cs['slope'])} per doubling, significant), which leave "
               f"{'more' if v == 'positive' else 'less'} to lose" if same else
               "degradation tracking clean accuracy")
        return ("The size association of raw degradation is not distinguishable from zero once clean accuracy is "
                "accounted for (neither the slope with the clean score as a covariate nor effective robustness is "
                f"significant at α = {fmt(alpha, 2)}): it is consistent with {why}, not with more robust models.")
    if v in ("positive", "negative") and (cc_sig or er_sig):
        return ("Part of the size association survives accounting for clean accuracy ("
                + ", ".join(n for n, sig in (("the clean-score covariate fit", cc_sig),
                                              ("effective robustness", er_sig)) if sig)
                + f" significant at α = {fmt(alpha, 2)}).")
    if v == "none" and (cc_sig or er_sig):
        return ("Raw degradation shows no size association, but a measure adjusted for clean accuracy does ("
                + ", ".join(n for n, sig in (("the clean-score covariate fit", cc_sig),
                                              ("effective robustness", er_sig)) if sig) + ").")
    return ""


def describe_analysis(res: Mapping[str, Any], measure: str, alpha: float = 0.05) -> str:
    """One generated sentence group for one analysis result."""
    if res["analysis"] == "across":
        name, detail = "Across tasks", "one point per intermediate task at its natural size"
    else:
        name, detail = "Within tasks", f"task fixed effects, every size of {res['n_groups']} tasks"
    head = f"**{name}** ({detail}, n = {res['n']})"
    if res["reason"]:
        return f"{head}: not computable ({res['reason']})."
    r = res["pearson"]
    if not _below(res["pearson_p"], alpha):
        shape = f"no significant correlation at α = {fmt(alpha, 2)}"
    elif magnitude(r) == "negligible":
        shape = "a significant but negligible correlation"
    else:
        shape = (f"a significant, {magnitude(r)} {'positive' if r > 0 else 'negative'} correlation (larger "
                 f"English training sets go with {'more' if r > 0 else 'less'} degradation)")
    ci_note = "its CIs are measurement-noise intervals (seeds and test examples resampled, models fixed)"
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
