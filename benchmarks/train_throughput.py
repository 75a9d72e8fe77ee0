"""Training throughput of our loop (`xstilts.train.loop.fit`) against a bare PyTorch loop and the HF Trainer, on
the same tiny XLM-R model, the same data and the same batch size, in one process (ratios cancel machine noise),
plus the padding efficiency of our length-grouped batches.

    pip install -e '.[bench]'        # the HF Trainer needs accelerate
    python benchmarks/train_throughput.py [--examples 2000] [--repeats 3]

Goals (issue 7): ours >= 0.9x bare PyTorch and >= 1.2x HF Trainer (examples/s); padded/real tokens <= 1.15.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from xstilts import formats
from xstilts.core.vocab import PAD
from xstilts.data import synthetic
from xstilts.data.world import Lexicon
from xstilts.train.loop import FitSettings, batches, fit, seed_everything
from xstilts.train.modeling import TaskModel, encoder_config, new_encoder, train_tokenizer

MODEL = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128, "max_length": 96}


def setup(n: int, tmp: Path):
    lex = Lexicon({}, seed=1)
    df = pd.DataFrame(synthetic.to_rows("xnli", synthetic.generate("xnli", n, 1, "train"), lex.languages["en"],
                                        lex, "train"))
    tok = train_tokenizer(lex.english + [".", "?", ","], tmp / "tok", MODEL["max_length"])
    fmt = formats.get("pair")
    return tok, fmt, fmt.encode(df, tok, MODEL["max_length"], train=True)


def model(vocab: int) -> TaskModel:
    seed_everything(0)
    return TaskModel(new_encoder(encoder_config(vocab, MODEL)), 3)


def ours(vocab, fmt, feats, bs) -> float:
    m = model(vocab)
    settings = FitSettings(epochs=1, batch_size=bs, warmup=0.1, weight_decay=0.01, max_grad_norm=1.0)
    res = fit(m, fmt, feats, settings, lr=2e-3, seed=0, label="ours")
    return res.examples_per_second


def bare(vocab, fmt, feats, bs, same_batches: bool = False) -> float:
    """The textbook loop: AdamW, no scheduler or clipping; shuffled batches padded to their own longest sequence,
    or (`same_batches`) exactly our length-grouped batches, which isolates the loop's own overhead."""
    m = model(vocab)
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    if same_batches:
        plan = batches(feats, bs, np.random.default_rng(0))
    else:
        order = np.random.default_rng(0).permutation(len(feats))
        plan = [order[i:i + bs] for i in range(0, len(order), bs)]
    t0 = time.perf_counter()
    m.train()
    for b in plan:
        batch = fmt.collate([feats[j] for j in b])
        loss = F.cross_entropy(m(batch["input_ids"], batch["attention_mask"])[:, 0], batch["labels"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return len(feats) / (time.perf_counter() - t0)


class _Wrapped(torch.nn.Module):
    def __init__(self, m: TaskModel):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, labels):
        logits = self.m(input_ids, attention_mask)[:, 0]
        return {"loss": F.cross_entropy(logits, labels), "logits": logits}


def trainer(vocab, fmt, feats, bs, tmp: Path) -> float:
    from transformers import Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    rows = [{"ids": f.ids, "label": f.target} for f in feats]

    def collate(items):
        ids = formats.pad([it["ids"] for it in items], PAD)
        return {"input_ids": ids, "attention_mask": (ids != PAD).long(),
                "labels": torch.tensor([it["label"] for it in items])}

    args = TrainingArguments(output_dir=str(tmp / "trainer"), per_device_train_batch_size=bs, num_train_epochs=1,
                             learning_rate=2e-3, warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0,
                             report_to="none", save_strategy="no", logging_strategy="no", use_cpu=True, seed=0,
                             disable_tqdm=True, dataloader_num_workers=0, remove_unused_columns=False)
    t = Trainer(model=_Wrapped(model(vocab)), args=args, train_dataset=rows, data_collator=collate)
    t0 = time.perf_counter()
    t.train()
    return len(feats) / (time.perf_counter() - t0)


def padding_ratio(feats, bs, grouped: bool) -> float:
    rng = np.random.default_rng(0)
    plan = batches(feats, bs, rng) if grouped else [list(range(i, min(i + bs, len(feats))))
                                                    for i in range(0, len(feats), bs)]
    padded = sum(max(feats[i].length for i in b) * len(b) for b in plan)
    real = sum(feats[i].length for b in plan for i in b)
    return padded / real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tok, fmt, feats = setup(a.examples, tmp)
        vocab = tok.get_vocab_size()
        runs = {"ours": [], "bare": [], "bare_same_batches": [], "trainer": []}
        ours(vocab, fmt, feats[:256], a.batch_size)  # warm-up (allocator, kernels)
        for _ in range(a.repeats):  # interleaved, best of N
            runs["ours"].append(ours(vocab, fmt, feats, a.batch_size))
            runs["bare"].append(bare(vocab, fmt, feats, a.batch_size))
            runs["bare_same_batches"].append(bare(vocab, fmt, feats, a.batch_size, same_batches=True))
            runs["trainer"].append(trainer(vocab, fmt, feats, a.batch_size, tmp))
    best = {k: max(v) for k, v in runs.items()}
    print(f"examples {len(feats)}, batch {a.batch_size}, threads {torch.get_num_threads()}, best of {a.repeats}")
    for k, v in best.items():
        print(f"  {k:<18} {v:8.0f} examples/s   (runs: {', '.join(f'{x:.0f}' for x in runs[k])})")
    print(f"ours / bare    = {best['ours'] / best['bare']:.2f}   (goal >= 0.90)")
    print(f"ours / bare on the same batches = {best['ours'] / best['bare_same_batches']:.2f}   (loop overhead only)")
    print(f"ours / Trainer = {best['ours'] / best['trainer']:.2f}   (goal >= 1.20)")
    print(f"padded / real tokens: grouped {padding_ratio(feats, a.batch_size, True):.3f} (goal <= 1.15), "
          f"ungrouped {padding_ratio(feats, a.batch_size, False):.3f}")


if __name__ == "__main__":
    main()
