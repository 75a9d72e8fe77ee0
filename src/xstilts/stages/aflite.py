"""Stage `aflite`: the model-based adversarial subsets (AFLite-style). For every target task that lists `aflite`
in `adversaries.subsets`, fine-tune a held-out reference model (English training data, the tuned learning rate,
fine-tuning seed `adversaries.aflite.seed`, which is none of the study's models), score every clean test example of
every language with it, and keep the examples it fails on, each paired with a label-matched control.

The reference encoder (`adversaries.aflite.encoder`): `independent` (the embedded default) pretrains its own
encoder with the pretrain stage's code and settings but its own seed `adversaries.aflite.encoder_seed`, so the
selection shares no weights with the arms: every arm descends from the baseline encoder, and a reference
fine-tuned from that same encoder selects the baseline's own failures, which arms that moved further from the
baseline share less by construction (a selection effect with the sign of a size effect). `baseline` (the paper
profile: XLM-R Large cannot be re-pretrained) uses the pretrained baseline; the report then shows the analysis
with and without the model-selected subsets. Writes data/aflite/<task>/<lang>.parquet, metrics/aflite.json and
runs/aflite.json (the reference models' MLflow run ids)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from ..adversaries import REGISTRY
from ..adversaries.aflite import hardness
from ..core import paths, tasks
from ..core.io import atomic_path, read_json, read_parquet, write_metrics
from ..data import schema
from ..data.testsets import adversary_rng
from ..pipeline import stagerun, tracking
from ..train.common import load_dataset, tokenizer, tuned_lr

NAME = "aflite"


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin(NAME, __doc__, argv)
    params, root = st.params, st.root
    adv = REGISTRY[NAME]
    targets = [t for t in params["study"]["target_tasks"] if NAME in params["adversaries"]["subsets"].get(t, [])]
    langs = {t: read_json(paths.task_dir(root, t) / "task.json")["languages"] for t in targets}
    clean = {(t, lang): load_dataset(t, paths.test_path(root, t, lang)) for t in targets for lang in langs[t]}
    data = {t: (load_dataset(t, paths.split_path(root, t, "train")), load_dataset(t, paths.split_path(root, t, "dev")),
                *tuned_lr(root, t)) for t in targets}
    af = params["adversaries"]["aflite"]
    seed = af["seed"]
    tok = tokenizer(root) if targets else None
    from ..pipeline.cellrun import train_cell
    from ..train.finetune import encode_options, hyper
    from ..train.loop import evaluate

    metrics: dict = {"reference_seed": seed}
    runs: dict = {}
    t0 = time.time()
    with tracking.stage_run(root, NAME, NAME, params={"encoder": af["encoder"]}) as parent, \
            atomic_path(paths.model_subset_dir(root, NAME)) as out, tempfile.TemporaryDirectory() as tmp:
        out.mkdir(parents=True)
        (out / "README.md").write_text("AFLite-style model-based adversarial subsets written by the `aflite` stage "
                                       "(see src/xstilts/stages/aflite.py); one parquet per target task and "
                                       "language.\n")
        encoder = paths.arm_dir(root, "baseline")
        if targets and af["encoder"] == "independent":
            encoder = Path(tmp) / "reference-encoder"
            metrics.update(independent_encoder(root, params, tok, encoder))
        for target in targets:
            info = tasks.get(target)
            train, dev, lr, tune_run = data[target]
            hp = hyper(params, target)
            run_params = {"role": "aflite reference model", "target_task": target, "encoder": af["encoder"],
                          "seed": seed, "learning_rate": lr, **{f"aflite_{k}": v for k, v in af.items()}, **hp}
            ref = train_cell(root, NAME, f"reference-{target}", encoder_dir=encoder, train=train, dev=dev, tok=tok,
                             params=params, lr=lr, seed=seed, label=f"aflite reference {target}",
                             run_params=run_params, dataset_name=f"{target}-train", tags={"tune_run_id": tune_run})
            metrics[f"{target}.reference_dev_score"] = ref.dev_score
            metrics.update(ref.metrics(f"{target}.reference"))
            runs[f"{target}.reference_mlflow_run_id"] = ref.run_id
            scores: dict = {}
            for lang in langs[target]:
                ds = clean[(target, lang)]
                feats = ds.features(tok, hp["max_length"], train=False, **encode_options(params, target))
                score, per_example, preds = evaluate(ref.model, ds.fmt, ds.df, feats, info.metric, info.labels,
                                                     params["evaluate"]["batch_size"])
                options = {**params["adversaries"],
                           "reference_scores": hardness(info.metric, ds.df, preds, per_example, info.labels)}
                subset = adv.apply(ds.df, info.format, info.labels, adversary_rng(params, NAME, target, lang),
                                   options)
                schema.write(subset, out / target / f"{lang}.parquet", info.format, adversarial=True)
                scores.update({tracking.metric_name(target, lang, "clean"): score,
                               f"{target}.hard_examples.{lang}": len(subset)})
                metrics[f"{target}.{lang}.reference_score"] = score
                metrics[f"{target}.{lang}.hard_examples"] = len(subset)
                metrics[f"{target}.{lang}.clean_examples"] = len(ds.df)
                print(f"aflite: {target} {lang}: reference {score:.1f}, {len(subset)}/{len(ds.df)} hard")
            tracking.log_metrics(root, ref.run_id, scores)
        runs["mlflow_run_id"] = parent.run_id
        parent.metrics({"stage_seconds": time.time() - t0})
    write_metrics(root, f"{NAME}.json", metrics, runs=runs)


def independent_encoder(root: Path, params: dict, tok, out: Path) -> dict:
    """Pretrain the reference encoder from `adversaries.aflite.encoder_seed` (same corpus, code and settings as
    the pretrain stage) into `out`; returns its metrics."""
    from ..train.pretrain import pretrain_aligned

    langs = params["study"]["languages"]
    prepared = paths.pretrain_corpus_dir(root)
    lexicon = read_parquet(prepared / "lexicon.parquet")
    corpus = pd.concat([read_parquet(prepared / f"{lang}.parquet").assign(lang=lang) for lang in langs])
    seed = params["adversaries"]["aflite"]["encoder_seed"]
    pre = pretrain_aligned(tok, corpus.text.tolist(), lexicon, params, seed)
    losses, align = pre.losses, pre.alignment
    pre.encoder.save_pretrained(str(out))
    print(f"aflite: reference encoder pretrained from seed {seed} (mlm loss {sum(losses[-20:]) / 20:.3f})")
    return {"reference_encoder_seed": seed, "reference_encoder_mlm_loss_final": sum(losses[-20:]) / len(losses[-20:]),
            **{f"reference_encoder_align.{lang}.cosine_after": d["cosine_after"] for lang, d in align.items()}}


if __name__ == "__main__":
    stagerun.run(NAME, main)
