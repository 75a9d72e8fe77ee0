"""One rank of tests/test_distributed.py: run under a launcher (torchrun / accelerate launch) with gloo on CPU,
trains tiny dropout-free models with `training.fit` and saves each rank's weights, losses and dev scores.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_worker.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import torch

from xstilts import formats
from xstilts.data import synthetic
from xstilts.data.world import ENGLISH, Lexicon
from xstilts.train import distributed, modeling
from xstilts.train import loop as training

TINY = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 64}
# (name, task, examples, batch_size, grad_accum): uneven shards (15 = 6 + 6 + 3), whole micro-batches dealt
# round-robin (3 per step over 2 ranks, a short last step), token-weighted tagging shards, multiple choice
CONFIGS = [("pair", "xnli", 15, 6, 1), ("pair", "xnli", 16, 3, 3), ("tagging", "panx", 13, 5, 1),
           ("mc", "hellaswag", 10, 4, 1)]


def rows(task: str, n: int) -> pd.DataFrame:
    return pd.DataFrame(synthetic.to_rows(task, synthetic.generate(task, n, 1, "test"), ENGLISH, Lexicon({}, 0),
                                          "test"))


def tokenizer(out: Path):
    if not (out / "tokenizer.json").exists():
        texts = []
        for task in ("xnli", "panx", "hellaswag"):
            df = rows(task, 20)
            if "tokens" in df:
                texts += [" ".join(t) for t in df.tokens]
            else:
                texts += [" ".join(str(v) for v in r if isinstance(v, str)) for r in df.itertuples(index=False)]
            if "choices" in df:
                texts += [c for ch in df.choices for c in ch]
        modeling.train_tokenizer(texts, out, max_length=64)
    return modeling.load_tokenizer(out)


def model(tok, out_features: int) -> modeling.TaskModel:
    training.seed_everything(0)
    cfg = modeling.encoder_config(tok.get_vocab_size(), TINY)
    cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = 0.0  # no dropout: runs comparable exactly
    return modeling.TaskModel(modeling.new_encoder(cfg), out_features, dropout=0.0)


def train(tok, i: int, on_epoch=None):
    name, task, n, bs, accum = CONFIGS[i]
    fmt = formats.get(name)
    feats = fmt.encode(rows(task, n), tok, 64, train=True)
    m = model(tok, fmt.out_features(7))
    settings = training.FitSettings(epochs=2, batch_size=bs, grad_accum=accum, warmup=0.1, weight_decay=0.01,
                                    max_grad_norm=1.0)
    res = training.fit(m, fmt, feats, settings, lr=3e-3, seed=0, on_epoch=on_epoch)
    return m, res


def main(out: Path) -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    world = distributed.init()
    rank = distributed.rank()
    tok = tokenizer(out / "tok")
    report = {"world": world, "rank": rank, "runs": []}
    for i in range(len(CONFIGS)):
        calls: list[int] = []

        def on_epoch(epoch, m, calls=calls):
            calls.append(epoch)
            return 10.0 * epoch + 0.25

        m, res = train(tok, i, on_epoch)
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(out / f"c{i}-rank{rank}.safetensors"))
        report["runs"].append({"losses": res.losses, "grad_norms": res.grad_norms, "evals": res.evals,
                               "on_epoch_calls": calls, "world_size": res.runtime["runtime.world_size"]})
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    distributed.finish()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
