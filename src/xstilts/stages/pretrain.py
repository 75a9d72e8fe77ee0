"""Stage `pretrain`: word-level tokenizer (models/tokenizer) + tiny XLM-R masked-LM encoder with explicit
cross-lingual alignment (models/arms/baseline, with its masked-LM head in lm_head.safetensors), and a random-init
encoder with the same config (models/arms/random, the control)."""

from __future__ import annotations

import json
import time

import pandas as pd

from ..core import paths
from ..core.io import atomic_path, md5_file, read_parquet, write_metrics
from ..pipeline import stagerun, tracking
from ..train.loop import seed_everything
from ..train.modeling import new_encoder, save_lm_head, train_tokenizer
from ..train.pretrain import pretrain_aligned


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("pretrain", __doc__, argv)
    params, root = st.params, st.root
    p = params["pretrain"]
    if params["study"]["source"] == "hub":
        return pin(root, params)
    langs = params["study"]["languages"]
    prepared = paths.pretrain_corpus_dir(root)
    lexicon = read_parquet(prepared / "lexicon.parquet")
    corpus = pd.concat([read_parquet(prepared / f"{lang}.parquet").assign(lang=lang) for lang in langs])
    t0 = time.time()
    with atomic_path(paths.tokenizer_dir(root)) as tok_out, \
            atomic_path(paths.arm_dir(root, "baseline")) as base_out, \
            atomic_path(paths.arm_dir(root, "random")) as rand_out, \
            tracking.stage_run(root, "pretrain", "pretrain",
                               params={"pretrain": p, "languages": params["languages"]}) as run:
        for lang in langs:  # the corpus, one MLflow input per language with its rows and DVC-style md5
            path = prepared / f"{lang}.parquet"
            run.dataset(corpus[corpus.lang == lang], f"pretrain-{lang}", path, md5_file(path), "training")
        run.dataset(lexicon, "lexicon", prepared / "lexicon.parquet", md5_file(prepared / "lexicon.parquet"),
                    "training")
        tok = train_tokenizer(sorted(set(lexicon.form)) + corpus.text.tolist(), tok_out, p["max_length"])
        vocab = tok.get_vocab()
        pre = pretrain_aligned(tok, corpus.text.tolist(), lexicon, params, p["seed"])
        encoder, cfg, losses, align = pre.encoder, pre.config, pre.losses, pre.alignment
        encoder.save_pretrained(str(base_out))
        save_lm_head(pre.lm_head, base_out)  # the mlm variant continues it
        (base_out / "alignment.json").write_text(json.dumps(align, indent=2, sort_keys=True) + "\n")
        seed_everything(p["seed"] + 1)
        new_encoder(cfg).save_pretrained(str(rand_out))
        for step in range(0, len(losses), max(1, len(losses) // 50)):
            run.metrics({"mlm_loss": losses[step]}, step=step)
        flat = {f"align.{lang}.{k}": v for lang, d in align.items() for k, v in d.items()}
        final = sum(losses[-20:]) / len(losses[-20:])
        run.metrics({"mlm_loss_final": final, "vocab_size": len(vocab),
                     "parameters": sum(x.numel() for x in encoder.parameters()), **flat})
        run.artifact(base_out / "alignment.json")
        run.metrics({"stage_seconds": time.time() - t0})
        run_id = run.run_id
    write_metrics(root, "pretrain.json", {"mlm_loss_first": losses[0], "mlm_loss_final": final,
                                          "vocab_size": len(vocab), **flat}, runs={"mlflow_run_id": run_id})
    print(f"pretrain: done in {time.time() - t0:.1f}s")


def pin(root, params: dict) -> None:
    """Paper profile: pin the hub model recorded by `prepare` (data/prepared/pretrain/model.json)."""
    from ..core.io import read_json
    from ..train.pretrain import pin_hub_model

    model = read_json(paths.pretrain_corpus_dir(root) / "model.json")
    with atomic_path(paths.tokenizer_dir(root)) as tok_out, \
            atomic_path(paths.arm_dir(root, "baseline")) as base_out, \
            atomic_path(paths.arm_dir(root, "random")) as rand_out, \
            tracking.stage_run(root, "pretrain", "pretrain", params={"model": model}) as run:
        info = pin_hub_model(model["id"], model["revision"], tok_out, base_out, rand_out, params["pretrain"]["seed"])
        run.metrics({"parameters": info["parameters"], "vocab_size": info["vocab_size"]})
        run_id = run.run_id
    write_metrics(root, "pretrain.json", info, runs={"mlflow_run_id": run_id})


if __name__ == "__main__":
    stagerun.run("pretrain", main)
