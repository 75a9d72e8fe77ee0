"""Stage `variant`: one of the paper's other intermediate-training variants (`variants` in params.yaml), from the
pretrained baseline encoder, for every seed, at the one size `variants.size`:

- `multitask`: every intermediate task at once (shared encoder, a head each, one task per optimizer step from a
  seeded jiant sampler; xstilts.train.multitask);
- `mlm`: one task with a multilingual masked-LM loss on a fixed share of the steps (as many steps of the task as
  its single-task model takes, on average), continuing the baseline's own masked-LM head;
- `translated`: one task on its English data plus its translations (a single-task fine-tuning with the
  degenerate-model restarts of the intermediate stage).

Writes the encoders (models/arms/<arm>/<size>-s<seed>, each with run.json: its size, each task's share, the
sampler's probabilities and steps drawn, per-task dev scores), metrics/variant/<arm>.json and
runs/variant/<arm>.json (MLflow run ids). Single process (no launcher)."""

from __future__ import annotations

import json
import math
import shutil
import time

from ..core import paths
from ..core.cells import cell_name
from ..core.io import atomic_path, write_metrics
from ..pipeline import stagerun, tracking
from ..train.common import tokenizer


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("variant", __doc__, argv, fan_out={"--arm": "variants.arms"})
    params, root, arm = st.params, st.root, st.args.arm
    from ..train import variants

    tok = tokenizer(root)
    plan = variants.plan(root, params, arm)  # every input read and checked before any training
    mlm_text = variants.mlm_sentences(root, params) if arm == "mlm" else None
    label = str(params["variants"]["size"])
    metrics: dict = {"train_size": plan.train_size, **{f"share.{t}": n for t, n in plan.shares.items()},
                     **{f"count.{k}": v for k, v in plan.counts.items()}, "learning_rate": plan.learning_rate}
    runs: dict = {}
    t0 = time.time()
    with tracking.stage_run(root, "variant", f"variant-{arm}", tags={"arm": arm}) as parent:
        for seed in params["study"]["seeds"]:
            cell = cell_name(label, seed)
            run_params = {"arm": arm, "intermediate_task": arm, "train_size": plan.train_size, "size_label": label,
                          "seed": seed, "learning_rate": plan.learning_rate, "variant.tasks": ",".join(plan.tasks)}
            if arm == "translated":
                info = _translated(root, params, plan, tok, seed, cell, run_params, metrics, runs)
            else:
                info = _multitask(root, params, plan, tok, seed, cell, run_params, mlm_text, metrics, runs)
            info.update(parent_run_id=parent.run_id)
            out = paths.arm_dir(root, arm) / cell
            with atomic_path(out) as dst:
                info.pop("model").encoder.save_pretrained(str(dst))
                (dst / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
            tracking.log_artifact(root, info["mlflow_run_id"], out / "run.json")
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    written = {cell_name(label, s) for s in params["study"]["seeds"]}
    for stale in paths.arm_dir(root, arm).iterdir():
        if stale.is_dir() and stale.name not in written:
            shutil.rmtree(stale)
    write_metrics(root, f"variant/{arm}.json", metrics, runs=runs)


def _multitask(root, params, plan, tok, seed, cell, run_params, mlm_text, metrics, runs) -> dict:
    """One multi-task (or task + MLM) model: train, then every task's dev score with its own head."""
    import torch

    from ..train import health, multitask
    from ..train.finetune import encode_options, hyper
    from ..train.loop import FitSettings, evaluate
    from ..train.modeling import freeze_word_embeddings, load_encoder, load_lm_head
    from ..train.pretrain import encode_corpus

    va, ft = params["variants"], params["finetune"]
    settings = FitSettings(epochs=ft["epochs"], batch_size=ft["batch_size"], warmup=ft["warmup"],
                           weight_decay=ft["weight_decay"], max_grad_norm=ft["max_grad_norm"],
                           grad_accum=ft["grad_accum"])
    comps = []
    for t in plan.tasks:
        hp = hyper(params, t)
        feats = plan.train[t].features(tok, hp["max_length"], train=True, **encode_options(params, t))
        comps.append(multitask.Component(t, plan.train[t].fmt, feats, len(plan.train[t].df)))
    sizes = {c.name: c.n for c in comps}
    cap = va["multitask"]["examples_cap"] if plan.arm == "multitask" else 0
    steps = multitask.total_steps(sizes, settings.epochs, settings.batch_size, settings.grad_accum, cap)
    fixed = None
    if mlm_text is not None:
        ids = [x for lang in sorted(mlm_text) for x in encode_corpus(tok, mlm_text[lang],
                                                                     params["pretrain"]["max_length"])]
        comps.append(multitask.Component(multitask.MLM, None, ids, len(ids)))
        fixed = {multitask.MLM: va["mlm"]["share"]}
        steps = math.ceil(steps / (1 - va["mlm"]["share"]))  # the task's own steps, on average
        sizes[multitask.MLM] = len(ids)
    sampler = va["multitask"]["sampler"] if plan.arm == "multitask" else "proportional"
    probs = multitask.probabilities(sizes, sampler, temperature=va["multitask"]["temperature"], cap=cap, fixed=fixed)
    encoder = load_encoder(paths.arm_dir(root, "baseline"))
    # the masked-LM loss continues the baseline's own MLM head (as jiant does), where the pretrain stage saved one
    head_state = load_lm_head(paths.arm_dir(root, "baseline")) if mlm_text is not None else None
    torch.manual_seed(seed)
    model = multitask.MultiTaskModel(
        encoder, {t: plan.train[t].fmt.out_features(plan.train[t].task.num_labels) for t in plan.tasks},
        mlm=mlm_text is not None, mlm_state=head_state)
    freeze_word_embeddings(model, ft["freeze_embeddings"])
    rule = health.Rule.from_params(params)
    seed_mix = seed * 1000 + params["variants"]["seed"]
    extra = {"variant.sampler": sampler, "variant.steps": steps, "variant.examples_cap": cap,
             **({"variant.mlm_share": va["mlm"]["share"], "variant.mlm_sentences": len(comps[-1].feats),
                 "variant.mlm_head": "pretrained" if head_state is not None else "fresh"}
                if mlm_text is not None else {})}
    with tracking.child_run(root, "variant", f"{plan.arm}-{cell}", params={**run_params, **extra},
                            tags={f"tune_run_id.{t}": r for t, r in plan.tune_runs.items()}) as run:
        for t in plan.tasks:
            run.dataset(plan.train[t].df, f"{t}-{va['size']}", plan.train[t].path, plan.train[t].md5, "training")
            run.dataset(plan.dev[t].df, f"{t}-dev", plan.dev[t].path, plan.dev[t].md5, "validation")
        result = multitask.fit_multitask(model, comps, settings, lr=plan.learning_rate, seed=seed_mix, probs=probs,
                                         steps=steps, mlm_probability=params["pretrain"]["mlm_probability"],
                                         vocab_size=tok.get_vocab_size(), mask_id=tok.token_to_id("<mask>"),
                                         label=f"variant {plan.arm} {cell}")
        dev_scores, dev_health = {}, {}
        for t in plan.tasks:
            dev = plan.dev[t]
            feats = dev.features(tok, hyper(params, t)["max_length"], train=False, **encode_options(params, t))
            score, _, preds = evaluate(model.task_model(t), dev.fmt, dev.df, feats, dev.task.metric, dev.task.labels,
                                       params["evaluate"]["batch_size"])
            dev_scores[t] = score
            dev_health[t] = health.assess(dev.fmt.name, dev.fmt.score, dev.task.metric, dev.task.labels, dev.df, preds,
                                          score, rule).as_dict()
        run.params(result.runtime)
        run.metrics({**{tracking.dev_metric(t, final=True): s for t, s in dev_scores.items()},
                     **{f"steps.{n}": k for n, k in result.steps.items()},
                     **{f"train_loss.{n}": v for n, v in result.losses.items()},
                     "train_seconds": result.seconds, "examples_per_second": result.examples_per_second})
        run_id = run.run_id
    degenerate = sorted(t for t, h in dev_health.items() if h["degenerate"])
    mean_dev = sum(dev_scores.values()) / len(dev_scores)
    print(f"variant: {plan.arm} {cell}: n={plan.train_size} steps={steps} "
          + " ".join(f"{t}={s:.1f}" for t, s in dev_scores.items())
          + (f" DEGENERATE on {', '.join(degenerate)}" if degenerate else "") + f" ({result.seconds:.1f}s)")
    for t, s in dev_scores.items():
        metrics[f"{cell}.{t}.dev_score"] = s
    for n, k in result.steps.items():
        metrics[f"{cell}.steps.{n}"] = k
    metrics[f"{cell}.degenerate_tasks"] = len(degenerate)
    if mlm_text is not None:
        metrics["mlm_head_pretrained"] = int(head_state is not None)
    runs[f"{cell}.mlflow_run_id"] = run_id
    return {**run_params, "model": model, "mlflow_run_id": run_id, "shares": plan.shares, "counts": plan.counts,
            "sampler": sampler, "probabilities": result.probabilities, "steps": result.steps,
            "dev_scores": dev_scores, "task_health": dev_health, "degenerate_tasks": degenerate,
            "restarts": 0, "degenerate": len(degenerate) == len(dev_scores),
            "dev_health": {"score": mean_dev, "reasons": "mean over the tasks' own heads"}, "data_md5": {
                t: plan.train[t].md5 for t in plan.tasks},
            **({"mlm_head": extra["variant.mlm_head"]} if mlm_text is not None else {})}


def _translated(root, params, plan, tok, seed, cell, run_params, metrics, runs) -> dict:
    """One single-task model on English + translated data (the intermediate stage's cell, restarts included)."""
    from ..pipeline.cellrun import train_cell
    from ..train.finetune import hyper

    task = plan.tasks[0]
    train, dev = plan.train[task], plan.dev[task]
    params_run = {**run_params, "variant.languages": ",".join(plan.languages), **hyper(params, task)}
    out = train_cell(root, "variant", f"translated-{cell}", encoder_dir=paths.arm_dir(root, "baseline"), train=train,
                     dev=dev, tok=tok, params=params, lr=plan.learning_rate, seed=seed,
                     label=f"variant translated {cell}", run_params=params_run, dataset_name=f"{task}-translated",
                     tags={"tune_run_id": plan.tune_runs[task]})
    flag = " DEGENERATE" if out.degenerate else ""
    print(f"variant: translated {cell}: {task} n={plan.train_size} ({plan.counts['english']} English) "
          f"dev={out.dev_score:.1f} restarts={out.restarts}{flag} ({out.result.seconds:.1f}s)")
    metrics[f"{cell}.{task}.dev_score"] = out.dev_score
    metrics.update(out.metrics(cell))
    runs[f"{cell}.mlflow_run_id"] = out.run_id
    return {**run_params, "model": out.model, "mlflow_run_id": out.run_id, "shares": plan.shares,
            "counts": plan.counts, "languages": plan.languages, "dev_scores": {task: out.dev_score},
            **out.record(), "data_md5": {task: train.md5}}


if __name__ == "__main__":
    stagerun.run("variant", main)
