"""Pruned learning-rate search vs the exhaustive run of the same trials, on the committed default profile's data
and pretrained encoder (run `dvc repro` first), one process, no MLflow.

For each task: a pruned search (`--pruner`, default successive halving) proposes and runs its trials; then the
same learning rates are each trained for every epoch with no pruning (the exhaustive run). Reported: compute
ratio = training epochs of the pruned search / epochs of the exhaustive run (goal <= 0.4), wall-time ratio, and
the final dev score at the pruned search's best LR vs the best of the exhaustive run (goal: within 1 point).

The dev set. The pipeline's English dev sets hold `prepare.dev_size` (200) examples. A score on 200 examples
has a bootstrap standard error of 3 points, against 1 point on 2,000; this was measured for SQuAD F1 and MNLI
accuracy of a model trained as here. A 1-point gap between two learning rates is below what 200 examples can
resolve, so the measured gap there mostly shows which of several near-equal rates the noise favoured. By default
the benchmark therefore scores on `--dev-examples` (2000) English examples. The same generator draws them from an
independent stream (split name "benchdev"), exactly as the pipeline draws its own dev split. `--dev-examples 0`
uses the pipeline's dev set. Both readings are in docs/performance.md.

`--repeats R` runs the comparison R times with different sampler seeds (derived from `tune.seed`), so a result
is not one lucky draw of TPE's proposals.

    python benchmarks/tuning.py [--tasks mnli squad panx] [--trials 16] [--epochs 9] [--pruner halving]
                                [--dev-examples 2000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from xstilts.core import config, paths, sections, tasks
from xstilts.core.io import repo_root, stable_seed
from xstilts.data import schema, synthetic
from xstilts.data.sources import lexicon_of
from xstilts.data.subsample import subsample
from xstilts.pipeline import tuning
from xstilts.train.common import load_dataset, tokenizer
from xstilts.train.finetune import max_length, train_task


def benchmark_dev(params: dict, task: str, n: int, out: Path):
    """`n` English examples of `task` from the generator's independent "benchdev" stream, as a Dataset."""
    lex = lexicon_of(params)
    structs = synthetic.generate(task, n, params["prepare"]["seed"], "benchdev")
    df = pd.DataFrame(synthetic.to_rows(task, structs, lex.languages["en"], lex, "benchdev"))
    path = out / task / "dev.parquet"
    schema.write(df, path, tasks.get(task).format)
    return load_dataset(task, path)


def compare(task: str, *, params: dict, tok, encoder: Path, dev, sampler_seed: int, trials: int, epochs: int,
            pruner: str) -> dict:
    tu = params["tune"]
    info = tasks.get(task)
    train = load_dataset(task, paths.split_path(repo_root(), task, "train"))
    train = replace(train, df=subsample(train.df, info.format, min(tu["train_examples"], len(train.df)),
                                        tu["seed"], task))
    length = max_length(params, task)
    for data, is_train in ((train, True), (dev, False)):  # tokenise before the clocks start (both runs reuse it)
        data.features(tok, length, train=is_train)
    epochs_run = {"pruned": 0, "exhaustive": 0}
    finals: dict[float, float] = {}

    def make(kind):
        def objective(lr, report, number):
            def on_eval(epoch, score):
                epochs_run[kind] += 1
                if kind == "exhaustive":
                    finals[lr] = score
                report(epoch + 1, score, last=epoch + 1 == epochs)  # step = epochs completed

            _, _, score = train_task(encoder, train, dev, tok, params, lr=lr, seed=tu["seed"], epochs=epochs,
                                     label=f"{kind} {task} #{number}", on_eval=on_eval)
            return score
        return objective

    space = replace(sections.of(params, "tune"), n_trials=trials)
    t0 = time.perf_counter()
    pruned = tuning.search_lr(make("pruned"), replace(space, pruner=pruner), seed=sampler_seed,
                              study_name=f"pruned-{task}")
    t_pruned = time.perf_counter() - t0
    lrs = [r.learning_rate for r in pruned.records]
    t0 = time.perf_counter()
    tuning.search_lr(make("exhaustive"), replace(space, pruner="none"), seed=sampler_seed,
                     study_name=f"exhaustive-{task}", enqueue=lrs)
    t_exh = time.perf_counter() - t0
    best_lr = max(finals, key=finals.get)
    return {"task": task, "pruned": epochs_run["pruned"], "exhaustive": epochs_run["exhaustive"],
            "t_pruned": t_pruned, "t_exh": t_exh, "lr": pruned.best_learning_rate, "best_lr": best_lr,
            "at_pruned": finals[pruned.best_learning_rate],  # the pruned choice, trained for every epoch
            "best": finals[best_lr], "complete": sum(r.state == "complete" for r in pruned.records)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["mnli", "squad", "panx"])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=9)
    ap.add_argument("--pruner", default="halving", choices=["median", "halving", "hyperband"])
    ap.add_argument("--dev-examples", type=int, default=2000,
                    help="score on this many generated English dev examples (0: the pipeline's dev set)")
    ap.add_argument("--repeats", type=int, default=1, help="independent sampler seeds")
    args = ap.parse_args()
    params = config.load()
    if args.dev_examples and params["study"]["source"] != "synthetic":
        sys.exit(f"--dev-examples {args.dev_examples} draws from the generated benchmark, but params.yaml has "
                 f"study.source = {params['study']['source']!r}: use --dev-examples 0 (the pipeline's dev sets)")
    root = repo_root()
    tok = tokenizer(root)
    encoder = paths.arm_dir(root, "baseline")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        devs = {t: (benchmark_dev(params, t, args.dev_examples, Path(tmp)) if args.dev_examples
                    else load_dataset(t, paths.split_path(root, t, "dev"))) for t in args.tasks}
        for rep in range(args.repeats):
            seed = params["tune"]["seed"] if rep == 0 else stable_seed("benchmark-tuning", params["tune"]["seed"], rep)
            for task in args.tasks:
                r = compare(task, params=params, tok=tok, encoder=encoder, dev=devs[task], sampler_seed=seed,
                            trials=args.trials, epochs=args.epochs, pruner=args.pruner)
                r["repeat"] = rep
                rows.append(r)
    dev_desc = f"{args.dev_examples} generated" if args.dev_examples else "the pipeline's"
    print(f"\n{args.trials} trials x {args.epochs} epochs per task, {args.pruner} pruning, {dev_desc} dev examples; "
          f"goals: ratio <= 0.4, gap <= 1 point")
    print(f"{'rep':<4}{'task':<8}{'epochs pruned/exh.':>20}{'ratio':>7}{'time ratio':>11}{'complete':>9}"
          f"{'LR pruned':>11}{'LR exh.':>9}{'score':>7}{'best':>7}{'gap':>6}")
    for r in rows:
        ratio = r["pruned"] / r["exhaustive"]
        print(f"{r['repeat']:<4}{r['task']:<8}{r['pruned']:>10}/{r['exhaustive']:<9}{ratio:>7.2f}"
              f"{r['t_pruned'] / r['t_exh']:>11.2f}{r['complete']:>9}{r['lr']:>11.2e}{r['best_lr']:>9.2e}"
              f"{r['at_pruned']:>7.1f}{r['best']:>7.1f}{r['best'] - r['at_pruned']:>6.1f}")
    ratio = sum(r["pruned"] for r in rows) / sum(r["exhaustive"] for r in rows)
    t_ratio = sum(r["t_pruned"] for r in rows) / sum(r["t_exh"] for r in rows)
    gaps = [r["best"] - r["at_pruned"] for r in rows]
    print(f"all: epochs ratio {ratio:.2f}, time ratio {t_ratio:.2f}, gap mean {statistics.mean(gaps):.2f} / "
          f"max {max(gaps):.2f} points over {len(rows)} searches")


if __name__ == "__main__":
    main()
