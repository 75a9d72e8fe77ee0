"""What portable determinism costs: the same training (a tiny XLM-R encoder fine-tuned with xstilts.train.loop.fit
on generated pair data, 2 threads) in fresh processes with `XSTILTS_PORTABLE=1` and `=0`, alternated, several
repeats; prints the median seconds of each and their ratio (portable / native), measured in the same run so that
machine noise cancels.

    python benchmarks/portable.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
WORK = r"""
import time
import xstilts
import torch
from xstilts import formats
from xstilts.train import loop as training, modeling
from xstilts.data import synthetic
from xstilts.data.world import ENGLISH, Lexicon
import pandas as pd
df = pd.DataFrame(synthetic.to_rows("xnli", synthetic.generate("xnli", 600, 1, "train"), ENGLISH, Lexicon({}, 0), "train"))
texts = list(df.text_a) + list(df.text_b)
import tempfile, pathlib
d = pathlib.Path(tempfile.mkdtemp())
tok = modeling.train_tokenizer(texts, d, max_length=96)
tok = modeling.load_tokenizer(d)
fmt = formats.get("pair")
feats = fmt.encode(df, tok, 96, train=True)
training.seed_everything(0)
cfg = modeling.encoder_config(tok.get_vocab_size(), {"hidden_size": 64, "num_layers": 2, "num_heads": 4,
                                                     "intermediate_size": 128, "max_length": 96})
model = modeling.TaskModel(modeling.new_encoder(cfg), fmt.out_features(3))
t0 = time.perf_counter()
training.fit(model, fmt, feats, training.FitSettings(epochs=3, batch_size=32, warmup=0.1, weight_decay=0.01,
                                                  max_grad_norm=1.0), lr=3e-3, seed=0)
print(time.perf_counter() - t0, torch.backends.cpu.get_cpu_capability())
"""  # noqa: E501 (a long line inside the script text; re-wrapping would change the string)


def once(portable: bool) -> tuple[float, str]:
    env = {**os.environ, "XSTILTS_PORTABLE": "1" if portable else "0", "PYTHONPATH": str(SRC),
           "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", WORK], env=env, capture_output=True, text=True, check=True)
    seconds, capability = out.stdout.split()[-2:]
    return float(seconds), capability


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    caps: dict[bool, str] = {}
    for _ in range(args.repeats):
        for mode in (False, True):
            t, caps[mode] = once(mode)
            times[mode].append(t)
    native, pinned = statistics.median(times[False]), statistics.median(times[True])
    print(f"native   ({caps[False]}): median {native:.2f} s  {[round(t, 2) for t in times[False]]}")
    print(f"portable ({caps[True]}): median {pinned:.2f} s  {[round(t, 2) for t in times[True]]}")
    print(f"ratio portable / native: {pinned / native:.2f}")


if __name__ == "__main__":
    main()
