"""Dry-run plan of a profile: how many runs each stage makes, how many examples it processes, and a GPU-hour
estimate whose assumptions are printed with it (nothing is run or downloaded)."""

from __future__ import annotations

from dataclasses import dataclass

from . import config, tasks

# English training sizes of the hub versions (paper-and-datasets reference §1.2, §2, §4.2 [V]; COPA 400).
HUB_TARGET_TRAIN = {"xnli": 392702, "pawsx": 49175, "udpos": 21253, "panx": 20000, "xquad": 87599,
                    "mlqa": 87599, "tydiqa": 3696, "xcopa": 400, "tatoeba": 0}
SOCIALIQA_TRAIN = 33410  # allenai/social_i_qa train (paper profile prepare.train_size.socialiqa)
# Evaluation examples per language: exact where every language has the same size (XNLI, PAWS-X, XQuAD, XCOPA,
# Tatoeba), otherwise a ROUGH per-language average of the reference's ranges (UD-POS 47-20,436; PAN-X
# 1,000-10,000, upper bound; MLQA 4,517-11,590; TyDiQA 323-2,719): a planning figure, not a data fact.
HUB_EVAL_PER_LANGUAGE = {"xnli": 5010, "pawsx": 2000, "udpos": 2000, "panx": 10000, "xquad": 1190, "mlqa": 5000,
                         "tydiqa": 1000, "xcopa": 500, "tatoeba": 1000}


@dataclass(frozen=True)
class Assumptions:
    """Throughput assumptions of the GPU-hour estimate (not measured here: no GPU on the planning machine)."""

    train_examples_per_second: float = 60.0  # XLM-R Large, seq 256, bf16, one A100/H100-class GPU [assumed]
    eval_speedup: float = 3.0  # inference examples/s relative to training [assumed]
    mc_cost: float = 4.0  # a multiple-choice example costs one sequence per choice [~choices]


def _eval_sizes(params: dict, target: str) -> tuple[int, int]:
    """(examples per language, number of languages) of one target task's clean test set."""
    if params["study"]["source"] == "hub":
        from .data.hub.prepare import target_languages

        langs, _ = target_languages(params["hub"], target)
        return HUB_EVAL_PER_LANGUAGE[target], len(langs)
    return params["prepare"]["test_size"], len(params["study"]["languages"])


def plan(params: dict, a: Assumptions = Assumptions()) -> dict:
    config.validate(params)
    st, tu = params["study"], params["tune"]
    hub = st["source"] == "hub"
    seeds = len(st["seeds"])
    labels = config.size_labels(params)
    cost = {t: (a.mc_cost if tasks.get(t).format == "mc" else 1.0) for t in tasks.TASKS}

    def size(task: str, label: str) -> int:
        return params["prepare"]["train_size"][task] if label == "full" else int(label)

    targets = [t for t in st["target_tasks"] if tasks.get(t).format != "retrieval"]
    tsize = {t: (HUB_TARGET_TRAIN[t] if hub else params["prepare"]["target_train_size"][t]) for t in targets}
    inter_cells = len(st["intermediate_tasks"]) * len(labels) * seeds
    cells = inter_cells + sum(seeds for arm in st["arms"] if arm in tasks.CONTROLS)
    from .finetuning import hyper

    epochs = {t: hyper(params, t)["epochs"] for t in st["intermediate_tasks"] + targets}
    inter_examples = sum(size(t, lab) * cost[t] * epochs[t] for t in st["intermediate_tasks"] for lab in labels) * seeds
    tune_examples = tu["n_trials"] * tu["train_examples"] * tu["epochs"] * sum(
        cost[t] for t in st["intermediate_tasks"] + targets)
    target_examples = cells * sum(tsize[t] * epochs[t] for t in targets)
    first_stage = 0  # XTREME-R's XCOPA recipe: all of SocialIQA before COPA, for every encoder
    if "xcopa" in targets and params["target"]["xcopa_recipe"] == "socialiqa_then_copa":
        n_siqa = params["prepare"]["train_size"].get("socialiqa", SOCIALIQA_TRAIN) if hub else SOCIALIQA_TRAIN
        first_stage = cells * n_siqa * epochs["xcopa"] * cost["socialiqa"]
        target_examples += first_stage
    eval_examples = 0
    eval_runs = 0
    for t in st["target_tasks"]:
        per_lang, n_lang = _eval_sizes(params, t)
        subsets = 1 + len(params["adversaries"]["subsets"].get(t, []))
        pool = per_lang if tasks.get(t).format == "retrieval" else 0  # English candidates, encoded once per language
        eval_examples += cells * (per_lang * n_lang * subsets + pool * n_lang) * cost[t]
        eval_runs += cells * n_lang * subsets
    train_seconds = (inter_examples + tune_examples + target_examples) / a.train_examples_per_second
    eval_seconds = eval_examples / (a.train_examples_per_second * a.eval_speedup)
    return {
        "profile": params.get("profile", "?"), "source": st["source"],
        "runs": {"subsample": len(st["intermediate_tasks"]) * len(labels),
                 "tune (trials)": tu["n_trials"] * (len(st["intermediate_tasks"]) + len(targets)),
                 "intermediate": inter_cells, "target": cells * len(targets),
                 "evaluate (model x language x subset)": eval_runs},
        "examples": {"tune": int(tune_examples), "intermediate": int(inter_examples), "target": int(target_examples),
                     "evaluate": int(eval_examples)},
        "xcopa_first_stage_examples": int(first_stage),
        "gpu_hours": (train_seconds + eval_seconds) / 3600,
        "assumptions": a,
    }


def render(p: dict) -> str:
    a = p["assumptions"]
    lines = [f"plan for profile {p['profile']!r} (source: {p['source']})", "", "runs per stage:"]
    lines += [f"  {k:<40}{v:>12,}" for k, v in p["runs"].items()]
    lines += ["", "examples processed (training: x epochs x seeds; multiple choice x choices):"]
    lines += [f"  {k:<40}{v:>16,}" for k, v in p["examples"].items()]
    if p.get("xcopa_first_stage_examples"):
        lines += [f"  (target includes {p['xcopa_first_stage_examples']:,} of XCOPA's SocialIQA phase, "
                  f"target.xcopa_recipe: socialiqa_then_copa)"]
    if p["source"] != "hub":
        return "\n".join(lines + ["", "CPU profile: measured wall times are in docs/performance.md"])
    lines += ["", f"estimated GPU-hours: {p['gpu_hours']:,.0f}",
              f"  assumes {a.train_examples_per_second:g} training examples/s per GPU (XLM-R Large, bf16, seq 256; "
              f"assumed, not measured), inference {a.eval_speedup:g}x faster, a multiple-choice example = "
              f"{a.mc_cost:g} sequences; excludes data preparation, model loading and checkpointing."]
    return "\n".join(lines)
