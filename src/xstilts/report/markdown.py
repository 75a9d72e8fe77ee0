"""``correlation.md``: one renderer per section (answer details, methods, baseline scores, adversaries, paper
comparison, degradation, correlations, models with task effects, per-language tests, provenance) and
:func:`render_markdown`, which puts them together with the figures."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from . import variants as variants_mod
from .constants import (
    ANALYSES,
    CELL_KEYS,
    CLEAN,
    CONTROL_ARMS,
    CORRECTION_NAMES,
    FIGURES,
    MEASURES,
    POOLED,
    PRIMARY_FAMILY,
    TRAINING_LANGUAGE,
)
from .correlate import _below
from .format import (
    _key_label,
    ci_per_doubling,
    fmt,
    fmt_ci,
    fmt_p,
    mark,
    md_table,
    per_doubling,
)
from .prose import describe_analysis
from .tables import (
    _display_sorted,
    _lookup,
    adversaries,
    analysis_keys,
    key_level,
    language_order,
    ordered_keys,
)


def details_markdown(corr: Mapping[str, Any], alpha: float = 0.05) -> str:
    """Bullets for the pooled key: both measures and both analyses."""
    if POOLED not in corr:
        return "No pooled results."
    lines = []
    for measure in MEASURES:
        label = ("Absolute degradation (points; slopes in points per doubling)" if measure == "absolute"
                 else "Relative degradation (degradation / clean score; slopes in % of the clean score per doubling)")
        lines.append(f"*{label}.*")
        lines += [f"- {describe_analysis(corr[POOLED][measure][a], measure, alpha)}" for a in ANALYSES]
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
        "- **Model health** (before any analysis): a model (intermediate task × size × seed) is flagged when one "
        "of its target fine-tunings is still degenerate on the English dev set after its restarts, or its clean "
        "English test predictions meet the same rule (score not above max(chance, majority-class score) + "
        "`finetune.degenerate_margin`, or a collapse onto one label); "
        + ("the primary analysis excludes flagged models (`report.exclude_degenerate`), the sensitivity analysis "
           "gives the fit with every model." if rp.get("exclude_degenerate", True) else
           "flagged models are kept (`report.exclude_degenerate: false`)."),
        "- **x** = log2(intermediate training examples), so every slope is per doubling of the training set. "
        "*Across*: one point per intermediate task at its natural "
        "size (confounded with task type). *Within*: every size of every task with task fixed effects (Pearson, "
        "Spearman and the slope on values demeaned within task; Kendall's τ-b over pairs of models of the same "
        "task).",
        "- **Models with task effects** (statsmodels): OLS with one intercept per task (primary; t-based 95% CI) "
        "and a linear mixed model with a random intercept per task (REML, Wald CI; it assumes intercepts "
        "independent of size, which natural dataset sizes need not satisfy). Across: OLS.",
        f"- **Measurement-noise bootstrap** ({rp['n_bootstrap']} replicates, seed {rp['seed']}): resamples "
        f"{resampled}. The models and x are fixed. Percentile 95% intervals. They measure how much the points move "
        "with the seeds and test examples, given the models; they are *not* the slope's uncertainty (every CI "
        "called \"bootstrap CI\" in the tables below is one of these).",
        "- **The slope's uncertainty** (beside the answer): the model-based CI of the fixed-effects fit (t-based: "
        "it includes how far the models scatter around the slope), and a bootstrap that resamples the models "
        "within each task with replacement on top of the measurement-noise replicates (between-model variance, "
        "seeds and test examples together; same replicate count and seed).",
        f"- **Permutation tests** ({rp['n_permutations']} permutations, two-sided, p = (count + 1)/(permutations "
        "+ 1)): across, log2(size) shuffled over tasks; within, shuffled within each task only.",
        "- **Sensitivity**: the primary fit with every model included, without the model-selected adversarial "
        "subsets (`aflite`), leaving out each (task, size) cell and each task in turn, and Cook's distance of each "
        "point. **Secondary measures** (pre-specified, see that section): label-matched degradation for "
        "adversaries that change the gold label, effective robustness, and the clean score as a covariate.",
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
    variants = comp.get("variants") or []
    if arms:
        rows = [[a, *[fmt(t["gains"].get(a), 1) for t in comp["targets"]]] for a in arms]
        rows += [[f"{v['arm']} (variant)", *[fmt(v["gains"].get(t["target"]), 1) for t in comp["targets"]]]
                 for v in variants]
        lines += ["", "Our gain of each intermediate task over the baseline, per target task (points; the published "
                  "per-intermediate-task numbers are not available, see below)"
                  + (", and of the paper's variants at their one size" if variants else "") + ":", "",
                  md_table(["intermediate task", *[t["target"] for t in comp["targets"]]], rows)]
    if variants:
        body = []
        for v in variants:
            body.append([v["arm"], f"{fmt(v['mean_gain'], 1)} ({v['n_targets']} targets)",
                         f"{fmt(v['mean_versus'], 1)} (vs {v['versus_label']})", v["claim_text"], v["claim_source"],
                         v["claim_status"]])
            e = v["published"]
            if e:
                body.append(["", "", "", f"average gain {fmt(e['value'], 1)} ({e['claim']})", e["source_key"],
                             f"{e['status'].upper()}, the seed document's figure: {e['note']}"])
        lines += ["", "The paper's variants against what it says about them (ours: the measure above, mean over the "
                  "target tasks; models flagged degenerate left out as in the single-task rows):", "",
                  md_table(["variant", "ours: gain over the baseline", "ours: vs English-only intermediate training",
                            "the paper", "source", "status"], body, "lrrlll")]
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
              "Spearman ρ [95% CI]", "p", "Kendall τ [95% CI]", "p", "slope per doubling [measurement-noise 95% CI]",
              "note"]
    intro = (
        "CIs: measurement-noise bootstrap (seeds and test examples resampled, models fixed; see Methods); p: "
        "permutation tests; the adjusted p corrects over the "
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


def _environment_rows(env: Mapping[str, Any]) -> list[list[str]]:
    if not env:
        return []
    pins = env.get("kernel_pins", {})
    return [["Python, platform", f"{env.get('python', '')}, {env.get('platform', '')}"],
            ["CPU", f"{env.get('cpu', '')} ({env.get('cpu_count', '')} logical CPUs)"],
            ["portable mode (CPU kernel pins)", ("on: " + ", ".join(f"{k}={v}" for k, v in sorted(pins.items()) if v))
             if env.get("portable") else "off (each library picks its kernels for this CPU)"],
            ["packages", ", ".join(f"{k} {v}" for k, v in sorted(env.get("packages", {}).items()))]]


def provenance_markdown(provenance: Mapping[str, Any]) -> str:
    """Code, parameter and data versions, and the MLflow runs behind every model."""
    head = md_table(["item", "value"], [
        ["git commit", f"`{provenance.get('git_commit', 'unknown')}`"],
        ["params.yaml sha256", f"`{provenance.get('params_sha256', 'unknown')}`"],
        *_environment_rows(provenance.get("environment", {})),
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


def health_markdown(health: Mapping[str, Any]) -> str:
    """Per model and target task: English dev/test scores against chance and majority, label share, restarts."""
    rows = health.get("rows", [])
    if not rows:
        return "No fine-tuned target models."
    body = []
    for r in rows:
        share = r.get("health_top_share")
        dev_share = r.get("target_dev_top_share")
        body.append([
            r["model"], r["target_task"], fmt(r.get("target_dev_score"), 1),
            "–" if dev_share is None or not math.isfinite(dev_share) else f"{dev_share:.0%}",
            fmt(r.get("score"), 1), fmt(r.get("chance"), 1), fmt(r.get("health_majority"), 1),
            "–" if share is None or not math.isfinite(share) else f"{share:.0%}",
            str(r.get("target_restarts", 0)),
            f"{r.get('intermediate_restarts', 0)}" + (" (degenerate)" if r.get("intermediate_degenerate") else ""),
            "**flagged**" if r.get("flagged") else "",
        ])
    excluded = health.get("excluded", [])
    lines = [
        f"Rule (fixed in params.yaml before the run): {health['rule']}.",
        f"{health['n_models']} models, {health['n_target_fine_tunings']} target fine-tunings: "
        f"{health['target_fine_tunings_restarted']} restarted ({health['target_restarts']} restarts), "
        f"{health['target_degenerate_on_dev']} still degenerate on dev after their restarts, "
        f"{health['test_degenerate']} degenerate on the clean English test set. Intermediate fine-tunings: "
        f"{health['intermediate_fine_tunings_restarted']} restarted ({health['intermediate_restarts']} restarts); "
        f"{len(health['intermediate_degenerate'])} still degenerate on their own task's dev set (reported, not "
        "excluded: a small intermediate set that teaches nothing is a size effect).",
        ("**Excluded from the primary analysis:** " + ", ".join(
            f"{f['model']} ({'; '.join(f['reasons'])})" for f in health["flagged"] if f["model"] in excluded) + "."
         if excluded else "No model is excluded from the primary analysis."),
    ]
    controls = [f for f in health["flagged"] if f["control"]]
    if controls:
        lines.append("Flagged controls (not part of the correlations): " + ", ".join(
            f"{f['model']} ({'; '.join(f['reasons'])})" for f in controls) + ".")
    header = ["model", "target", "dev score", "dev top label", "en test score", "chance", "majority",
              "en test top label", "target restarts", "intermediate restarts", "flag"]
    table = md_table(header, body, "ll" + "r" * 8 + "l")
    return "\n\n".join(lines) + f"\n\n<details><summary>Every model × target ({len(body)} rows)</summary>\n\n" \
        + table + "\n\n</details>"


def _fit_line(row: Mapping[str, Any], alpha: float) -> list[str]:
    return [row["label"], str(row["n"]), per_doubling(row["slope"], "absolute"),
            ci_per_doubling(row["ci"], "absolute"), fmt_p(row["p"]), mark(row["same_sign"]),
            mark(row["significant"])]


def sensitivity_markdown(sens: Mapping[str, Any], alpha: float) -> str:
    """The primary slope refitted: every model, no model-selected subsets, leave-one-out, influence."""
    head = ["fit", "n", "slope (points per doubling)", "95% CI (model-based)", "p", "same sign",
            "significant, same sign"]
    body = [_fit_line(sens["primary"], alpha), *[_fit_line(r, alpha) for r in sens["variants"]]]
    for key, name in (("leave_one_model_out", "leave one (task, size) cell out"),
                      ("leave_one_task_out", "leave one task out")):
        s = sens[key]["summary"]
        body.append([f"{name}: range over {s['n']} fits", str(s["n"]),
                     f"{per_doubling(s['min'], 'absolute')} to {per_doubling(s['max'], 'absolute')}", "", "",
                     f"{s['same_sign']}/{s['n']}", f"{s['significant']}/{s['n']}"])
    lines = [
        f"The interval beside the answer: {fmt_ci(sens['cluster_bootstrap_ci'])} points per doubling from a bootstrap "
        f"that resamples {sens['cluster_bootstrap_resamples']}.",
        md_table(head, body, "lrrrrll"),
    ]
    for key, title in (("influence", "primary fit"), ("influence_all_models", "fit with every model")):
        infl = sens.get(key) or []
        if infl:
            lines.append(f"Most influential points of the {title} (Cook's distance): " + ", ".join(
                f"{i['model']} {fmt(i['cooks_distance'])}" + (" (flagged)" if i["flagged"] else "") for i in infl)
                + ".")
    for key, name in (("leave_one_task_out", "task"), ("leave_one_model_out", "cell")):
        fits = sens[key]["fits"]
        if fits:
            lines.append(f"<details><summary>Slope without each {name}</summary>\n\n" + md_table(
                [f"{name} left out", "n", "slope (points per doubling)", "95% CI", "p"],
                [[f["left_out"], str(f["n"]), per_doubling(f["slope"], "absolute"),
                  ci_per_doubling(f["ci"], "absolute"), fmt_p(f["p"])] for f in fits], "lrrrr") + "\n\n</details>")
    if sens.get("model_selected_adversaries"):
        lines.append(
            "Model-selected subsets: the `aflite` reference model is fine-tuned from an encoder pretrained with its "
            "own seed (`adversaries.aflite.encoder: independent`) in the embedded default, so it shares no weights "
            "with the arms; where it cannot be (the paper profile fine-tunes it from the baseline that every arm "
            "descends from) the row without model-selected subsets is the check that the selection does not make "
            "the slope by itself.")
    return "\n\n".join(lines)


def secondary_markdown(second: Mapping[str, Any], alpha: float) -> str:
    """The pre-specified secondary measures that separate robustness from clean accuracy."""
    lm, er, cc = second["label_matched_pooled"], second["effective_robustness"], second["clean_covariate"]
    def row(name, fit, unit, digits=2):
        return [name, str(fit["n"]), f"{fmt(fit['slope'], digits)} {unit}", fmt_ci(fit["ci"], digits),
                fmt_p(fit["p"]), "✓" if _below(fit["p"], alpha) else ""]
    body = [row("pooled degradation, label-matched clean reference for label-changing adversaries", lm, "points"),
            row("effective robustness (Taori et al. 2020; higher = more robust)", er, "logit", 3),
            row("pooled degradation with the clean score as a covariate", cc, "points")]
    if second.get("clean_score"):
        body.append(row("the pooled matched clean score itself", second["clean_score"], "points"))
    for key, fits in second.get("label_matched_keys", {}).items():
        body.append(row(f"{key}: raw (against entailed sources)", fits["raw"], "points"))
        body.append(row(f"{key}: label-matched", fits["label_matched"], "points"))
    lines = [md_table(["measure (within task, task fixed effects)", "n", "slope per doubling", "95% CI", "p",
                       f"p < {fmt(alpha, 2)}"], body, "lrrrrl")]
    if second.get("label_changing_adversaries"):
        lines.append(
            f"Label-changing adversaries ({', '.join(second['label_changing_adversaries'])}) turn entailed pairs into "
            "neutral ones; scored against their entailed sources, a model that always answers \"neutral\" gains 100 "
            "points and shows a degradation of −100. The label-matched reference is the model's clean score on clean "
            "examples with the adversarial set's gold labels, so a constant predictor shows no change.")
    lines.append(
        "Effective robustness: per target × adversary, logit(adversarial) = a + b·logit(clean) is fitted across the "
        "models of the analysis (intermediate arms and controls); a model's residual, averaged over target × "
        "adversary, is its effective robustness. A negative degradation slope and a positive effective-robustness "
        "slope point the same way (larger sets, more robust)."
        + (" Controls: " + ", ".join(f"{a} {fmt(v, 3)}" for a, v in second.get("effective_robustness_controls",
                                                                              {}).items()) + " logit."
           if second.get("effective_robustness_controls") else ""))
    if cc.get("covariate_slope") is not None and math.isfinite(cc["covariate_slope"]):
        lines.append(f"The clean-score coefficient of the covariate fit is {fmt(cc['covariate_slope'], 3)} points of "
                     "degradation per point of clean score.")
    return "\n\n".join(lines)


def render_markdown(report: Mapping[str, Any], ctrl: pd.DataFrame, means: pd.DataFrame) -> str:
    """The full ``correlation.md`` text."""
    rp = report["params"]
    corr, fam = report["correlations"], report["families"]
    sections = [
        "# Intermediate-task training-set size vs zero-shot adversarial degradation",
        "## Answer\n\n" + report["answer"],
        "## Key figures\n\n"
        f"![Sensitivity of the primary slope (points per doubling)]({FIGURES['sensitivity']})\n\n"
        f"![Zero-shot degradation vs intermediate training-set size]({FIGURES['scatter']})\n\n"
        f"![Model health: English test score and top-label share per model]({FIGURES['health']})",
        "## Model health\n\n" + health_markdown(report["health"]),
        "## Sensitivity of the primary slope (points per doubling)\n\n"
        + sensitivity_markdown(report["sensitivity"], rp["alpha"]),
        "## Robustness separated from clean accuracy (slopes per doubling)\n\n"
        + secondary_markdown(report["secondary"], rp["alpha"]),
        "## Details\n\n" + details_markdown(corr, rp["alpha"]),
        "## Methods\n\n" + methods_markdown(rp, report["design"], fam),
        "## Baseline zero-shot scores\n\n" + baseline_markdown(ctrl, report["baseline_checks"]),
        "## Adversaries\n\n" + adversaries_markdown(report.get("adversaries", [])),
        "## Comparison with the published numbers\n\n" + comparison_markdown(report["comparison"]),
        "## Degradation\n\n" + degradation_markdown(means),
        "## Correlation with log2(train size)\n\n" + correlation_markdown(corr, rp)
        + ("\n\n" + note if (note := variants_mod.analysis_note(report.get("variants") or {})) else ""),
        "## Models with task effects (slopes per doubling)\n\n" + models_markdown(corr),
        "## Per-language tests and multiple comparisons\n\n" + tests_markdown(corr, fam, rp),
        "## More figures\n\n"
        f"![Zero-shot clean scores per arm and language]({FIGURES['heatmap']})\n\n"
        f"![Seed spread of the pooled degradation and clean score]({FIGURES['seeds']})",
        "## Provenance\n\n" + provenance_markdown(report["provenance"]),
    ]
    return "\n\n".join(sections) + "\n"
