"""Dry-run plan of a profile: how many runs each stage makes, how many examples it processes, and a GPU-hour
estimate whose assumptions are printed with it (nothing is run or downloaded).

Throughput: a measured one when `benchmarks/gpu_throughput.json` exists (written by `benchmarks/gpu.py` on a GPU:
XLM-R Large training examples/s per format at the paper's batch sizes and lengths), else the assumed
`Assumptions` below; `xstilts plan --throughput X` overrides both. The plan says which one it used."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..core import config, tasks

# English training sizes of the hub versions (paper-and-datasets reference §1.2, §2, §4.2 [V]; COPA 400).
HUB_TARGET_TRAIN = {"xnli": 392702, "pawsx": 49175, "udpos": 21253, "panx": 20000, "xquad": 87599,
                    "mlqa": 87599, "tydiqa": 3696, "xcopa": 400, "tatoeba": 0, "bucc": 0}
# Evaluation examples per language: exact where every language has the same size (XNLI, PAWS-X, XQuAD, XCOPA,
# Tatoeba), otherwise a ROUGH per-language average of the reference's ranges (UD-POS 47-20,436; PAN-X
# 1,000-10,000, upper bound; MLQA 4,517-11,590; TyDiQA 323-2,719): a planning figure, not a data fact.
HUB_EVAL_PER_LANGUAGE = {"xnli": 5010, "pawsx": 2000, "udpos": 2000, "panx": 10000, "xquad": 1190, "mlqa": 5000,
                         "tydiqa": 1000, "xcopa": 500, "tatoeba": 1000,
                         # BUCC 2018: sentences per side of a training (= XTREME test) pool, ROUGH and unverified
                         # (hundreds of thousands a side, fewer for zh); the dev (sample) pools add about a tenth
                         "bucc": 300000}
SOCIALIQA_TRAIN = 33410  # allenai/social_i_qa train (paper profile prepare.train_size.socialiqa)
MEASURED = Path("benchmarks") / "gpu_throughput.json"  # written by benchmarks/gpu.py --out (relative to the root)
MEASURED_FORMATS = ("pair", "span", "tagging")  # what benchmarks/gpu.py measures; mc and retrieval use pair's


@dataclass(frozen=True)
class Assumptions:
    """Throughput of the GPU-hour estimate: assumed (no GPU on the planning machine) unless `measured_on` says
    where `rates` were measured."""

    train_examples_per_second: float = 60.0  # XLM-R Large, seq 256, bf16, one A100/H100-class GPU [assumed]
    eval_speedup: float = 3.0  # inference examples/s relative to training [assumed]
    mc_cost: float = 4.0  # a multiple-choice example costs one sequence per choice [~choices]
    rates: dict[str, float] = field(default_factory=dict)  # measured training examples/s per GPU, per format
    measured_on: str = ""  # "" = assumed; else the device and file the rates come from
    given: bool = False  # set by --throughput

    def rate(self, fmt: str) -> float:
        """Training examples/s per GPU for a format (multiple choice: sequences/s, at the pair rate)."""
        if fmt in self.rates:
            return self.rates[fmt]
        return self.rates.get("pair", self.train_examples_per_second)


def check_throughput(value: float) -> float:
    """`--throughput` must be a positive, finite number of examples/s (0 divides by zero, negatives give negative
    hours): ValueError naming the option otherwise."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"--throughput must be a positive number of training examples/s per GPU, got {value!r}")
    return float(value)


def load_measured(root: Path) -> tuple[Assumptions | None, str]:
    """(Assumptions from benchmarks/gpu_throughput.json, "") when it holds a GPU measurement; (None, why not)
    otherwise. A file that exists but is not a valid measurement raises ValueError naming it."""
    path = Path(root) / MEASURED
    if not path.exists():
        return None, (f"no {MEASURED} (no GPU measurement recorded yet: run benchmarks/gpu.py on a GPU, "
                      f"see docs/performance.md)")
    try:
        data = json.loads(path.read_text())
        results = data["results"]
        rates = {fmt: float(results[fmt]["examples_per_second"]) for fmt in MEASURED_FORMATS
                 if "examples_per_second" in results.get(fmt, {})}  # a format that failed (e.g. OOM) has none
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a benchmarks/gpu.py result ({type(exc).__name__}: {exc}); rerun "
                         f"`python benchmarks/gpu.py --out {MEASURED}` or delete it") from exc
    if data.get("tiny"):
        return None, f"{MEASURED} holds a --tiny test run, not a measurement of XLM-R Large: ignored"
    if not rates or any(not (math.isfinite(r) and r > 0) for r in rates.values()):
        raise ValueError(f"{path}: examples_per_second must be positive for {', '.join(MEASURED_FORMATS)}")
    where = f"{data.get('device', 'unknown device')} ({MEASURED}, {data.get('date', 'undated')})"
    return Assumptions(rates=rates, measured_on=where), ""


def assumptions_for(root: Path, throughput: float | None = None) -> tuple[Assumptions, str]:
    """The plan's throughput: --throughput if given, else the measured one, else the assumed one; plus a note on
    why a measurement was not used ("" when it was, or when --throughput was given)."""
    if throughput is not None:
        return Assumptions(train_examples_per_second=check_throughput(throughput), given=True), ""
    measured, why = load_measured(root)
    return (measured, "") if measured is not None else (Assumptions(), why)


def _eval_sizes(params: dict, target: str) -> tuple[int, int]:
    """(examples per language, number of languages) of one target task's clean test set."""
    if params["study"]["source"] == "hub":
        from ..data.hub.prepare import target_languages

        langs, _ = target_languages(params["hub"], target)
        return HUB_EVAL_PER_LANGUAGE[target], len(langs)
    if tasks.get(target).metric == "bucc_f1":  # each pool: n pairs + n distractors a side, plus a dev pool
        return 2 * params["prepare"]["test_size"], len(params["study"]["languages"]) - 1
    return params["prepare"]["test_size"], len(params["study"]["languages"])


def plan(params: dict, a: Assumptions = Assumptions()) -> dict:
    config.validate(params)
    st, tu = params["study"], params["tune"]
    hub = st["source"] == "hub"
    seeds = len(st["seeds"])
    labels = config.size_labels(params)
    cost = {t: (a.mc_cost if tasks.get(t).format == "mc" else 1.0) for t in tasks.TASKS}
    fmt = {t: tasks.get(t).format for t in tasks.TASKS}

    def size(task: str, label: str) -> int:
        return params["prepare"]["train_size"][task] if label == "full" else int(label)

    targets = tasks.trained_targets(st["target_tasks"])
    tsize = {t: (HUB_TARGET_TRAIN[t] if hub else params["prepare"]["target_train_size"][t]) for t in targets}
    inter_cells = len(st["intermediate_tasks"]) * len(labels) * seeds
    va = params["variants"]
    cells = inter_cells + sum(seeds for arm in st["arms"] if arm in tasks.CONTROLS) + len(va["arms"]) * seeds
    from ..train.finetune import hyper

    epochs = {t: hyper(params, t)["epochs"] for t in st["intermediate_tasks"] + targets}
    seconds = 0.0  # training, per format at its rate

    def train(n: float, task: str) -> float:
        nonlocal seconds
        seconds += n / a.rate(fmt[task])
        return n

    inter_examples = sum(train(size(t, lab) * cost[t] * epochs[t] * seeds, t)
                         for t in st["intermediate_tasks"] for lab in labels)
    variant_examples = 0.0  # the paper's variants at variants.size (MLM steps: a batch of sentences each)
    vl = str(va["size"])
    for arm in va["arms"]:
        if arm == "multitask":
            variant_examples += sum(train(size(t, vl) * cost[t] * epochs[t] * seeds, t)
                                    for t in st["intermediate_tasks"])
        elif arm == "mlm":
            t = va["mlm"]["task"]
            variant_examples += train(size(t, vl) * cost[t] * epochs[t] * seeds / (1 - va["mlm"]["share"]), t)
        else:
            t = va["translated"]["task"]
            variant_examples += train(size(t, vl) * (1 + len(va["translated"]["languages"])) * cost[t] * epochs[t]
                                      * seeds, t)
    inter_examples += variant_examples
    tune_examples = sum(train(tu["n_trials"] * tu["train_examples"] * tu["epochs"] * cost[t], t)
                        for t in st["intermediate_tasks"] + targets)
    target_examples = sum(train(cells * tsize[t] * epochs[t] * cost[t], t) for t in targets)
    first_stage = 0.0  # XTREME-R's XCOPA recipe: all of SocialIQA before COPA, for every encoder
    if "xcopa" in targets and params["target"]["xcopa_recipe"] == "socialiqa_then_copa":
        n_siqa = params["prepare"]["train_size"].get("socialiqa", SOCIALIQA_TRAIN) if hub else SOCIALIQA_TRAIN
        first_stage = train(cells * n_siqa * epochs["xcopa"] * cost["socialiqa"], "socialiqa")
        target_examples += first_stage
    eval_examples = 0.0
    eval_runs = 0
    eval_seconds = 0.0
    for t in st["target_tasks"]:
        per_lang, n_lang = _eval_sizes(params, t)
        subsets = 1 + len(params["adversaries"]["subsets"].get(t, []))
        pool = per_lang if tasks.get(t).format == "retrieval" else 0  # English candidates, encoded once per language
        n = cells * (per_lang * n_lang * subsets + pool * n_lang) * cost[t]
        eval_examples += n
        eval_seconds += n / (a.rate(fmt[t]) * a.eval_speedup)
        eval_runs += cells * n_lang * subsets
    return {
        "profile": params.get("profile", "?"), "source": st["source"],
        "runs": {"subsample": len(st["intermediate_tasks"]) * len(labels),
                 "tune (trials)": tu["n_trials"] * (len(st["intermediate_tasks"]) + len(targets)),
                 "intermediate": inter_cells, "variant": len(va["arms"]) * seeds, "target": cells * len(targets),
                 "evaluate (model x language x subset)": eval_runs},
        "examples": {"tune": int(tune_examples), "intermediate": int(inter_examples), "target": int(target_examples),
                     "evaluate": int(eval_examples)},
        "xcopa_first_stage_examples": int(first_stage),
        "gpu_hours": (seconds + eval_seconds) / 3600,
        "assumptions": a,
    }


def render(p: dict, note: str = "") -> str:
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
    tail = (f"inference {a.eval_speedup:g}x faster, a multiple-choice example = {a.mc_cost:g} sequences; excludes "
            f"data preparation, model loading and checkpointing.")
    lines += ["", f"estimated GPU-hours: {p['gpu_hours']:,.0f}"]
    if a.measured_on:
        rates = ", ".join(f"{k} {v:,.1f}" for k, v in a.rates.items())
        lines += [f"  throughput MEASURED on {a.measured_on}: training examples/s per GPU {rates} (XLM-R Large, "
                  f"bf16; multiple choice at the pair rate); {tail}"]
    elif a.given:
        lines += [f"  assumes {a.train_examples_per_second:g} training examples/s per GPU (given by --throughput); "
                  f"{tail}"]
    else:
        lines += [f"  assumes {a.train_examples_per_second:g} training examples/s per GPU (XLM-R Large, bf16, seq 256; "
                  f"assumed, not measured: {note or 'no measurement'}), {tail}"]
    return "\n".join(lines)
