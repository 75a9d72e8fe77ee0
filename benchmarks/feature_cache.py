"""What the on-disk feature cache (xstilts.train.featcache) saves: `Dataset.features` of a freshly loaded file when it
tokenises (cache off), when it misses (tokenise + write the entry) and when it hits (read the entry), per task
format, on the embedded benchmark's word-level tokenizer. Every hit starts without the in-process tokenizer digest,
as a new stage process would.

    python benchmarks/feature_cache.py [--examples 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from xstilts.core import tasks
from xstilts.data import schema, synthetic
from xstilts.data.world import Lexicon
from xstilts.train import common, featcache
from xstilts.train.modeling import load_tokenizer, train_tokenizer

TASKS = {"pair": "xnli", "mc": "hellaswag", "span": "xquad", "tagging": "panx"}
MAX_LENGTH = 96


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    lex = Lexicon({}, seed=1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tok_dir = tmp / "tok"
        train_tokenizer(lex.english + [".", "?", ","], tok_dir, MAX_LENGTH)
        tok = load_tokenizer(tok_dir)
        cache = tmp / "cache"
        print(f"{a.examples} English training examples per format, max_length {MAX_LENGTH}, best of {a.repeats}")
        print(f"{'format':<8} {'tokenise (s)':>13} {'miss (s)':>9} {'hit (s)':>8} "
              f"{'tokenise / hit':>15} {'entry MB':>9}")
        for fmt, task in TASKS.items():
            df = pd.DataFrame(synthetic.to_rows(task, synthetic.generate(task, a.examples, 1, "train"),
                                                lex.languages["en"], lex, "train"))
            path = tmp / f"{task}.parquet"
            schema.write(df, path, tasks.get(task).format)

            def features(t=task, p=path):
                featcache._TOKENIZERS.clear()  # as in a new process
                return common.load_dataset(t, p).features(tok, MAX_LENGTH, train=True)

            runs: dict[str, list[float]] = {"tokenise": [], "miss": [], "hit": []}
            for _ in range(a.repeats):
                os.environ[featcache.ENV] = "off"
                runs["tokenise"].append(timed(features))
                os.environ[featcache.ENV] = str(cache)
                shutil.rmtree(cache, ignore_errors=True)
                runs["miss"].append(timed(features))
                runs["hit"].append(timed(features))
            best = {k: min(v) for k, v in runs.items()}
            size = sum(p.stat().st_size for p in cache.glob("*.npz")) / 2**20
            print(f"{fmt:<8} {best['tokenise']:>13.3f} {best['miss']:>9.3f} {best['hit']:>8.3f} "
                  f"{best['tokenise'] / best['hit']:>15.1f} {size:>9.1f}")


if __name__ == "__main__":
    main()
