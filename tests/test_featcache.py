"""The on-disk feature cache: a second load of the same file hits and returns identical features (every format,
pickle-free); a changed data file, tokenizer, max_length or train flag misses; derived frames, damaged entries
and `off` are handled."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from xstilts import formats
from xstilts.core import tasks, vocab
from xstilts.data import schema
from xstilts.train import common, featcache, modeling

from . import ddp_worker as W

TASKS = {"pair": "xnli", "mc": "hellaswag", "span": "xquad", "tagging": "panx"}


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    texts = []
    for task in TASKS.values():
        df = pd.DataFrame(W.rows(task, 20))
        for r in df.itertuples(index=False):
            texts.append(" ".join(str(v) for v in r if isinstance(v, str)))
        texts += [" ".join(t) for t in df.get("tokens", [])] + [c for ch in df.get("choices", []) for c in ch]
    modeling.train_tokenizer(texts, out, max_length=64)
    return modeling.load_tokenizer(out)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv(featcache.ENV, str(d))
    return d


def same(a, b) -> bool:
    """Equal values of equal types, arrays with equal dtype and shape."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def same_features(xs, ys) -> bool:
    return len(xs) == len(ys) and all(
        same(x.ids, y.ids) and x.example == y.example and same(x.target, y.target) and same(x.extra, y.extra)
        for x, y in zip(xs, ys))


def counting(monkeypatch, fmt) -> list:
    calls = []
    encode = fmt.encode
    monkeypatch.setattr(fmt, "encode", lambda *a, **k: calls.append(1) or encode(*a, **k))
    return calls


def write(tmp_path, task: str, n: int, name: str = "train.parquet"):
    path = tmp_path / "data" / task / name
    df = pd.DataFrame(W.rows(task, n))
    if task == "xquad":  # one unanswerable row: an evaluation feature whose target is None
        df["answers_text"] = [[] if i == 0 else a for i, a in enumerate(df.answers_text)]
        df["answers_start"] = [[] if i == 0 else a for i, a in enumerate(df.answers_start)]
    schema.write(df, path, tasks.get(task).format)
    return path


@pytest.mark.parametrize("fmt_name", sorted(TASKS))
@pytest.mark.parametrize("train", [True, False])
def test_second_load_hits_and_is_identical(tmp_path, tok, cache, monkeypatch, fmt_name, train):
    task = TASKS[fmt_name]
    path = write(tmp_path, task, 30)
    calls = counting(monkeypatch, formats.get(fmt_name))
    first = common.load_dataset(task, path).features(tok, 48, train=train)
    assert calls == [1] and len(list(cache.glob("*.npz"))) == 1
    second = common.load_dataset(task, path).features(tok, 48, train=train)  # a new process would do this
    assert calls == [1]  # hit: not tokenised again
    assert second and same_features(first, second)
    fresh = formats.get(fmt_name).encode(pd.read_parquet(path), tok, 48, train=train)
    assert same_features(fresh, second)
    with np.load(next(cache.glob("*.npz")), allow_pickle=False) as z:  # readable without pickle
        assert all(z[k].dtype.kind != "O" for k in z.files)


def test_changed_data_tokenizer_or_settings_miss(tmp_path, tok, cache, monkeypatch):
    path = write(tmp_path, "xnli", 30)
    calls = counting(monkeypatch, formats.get("pair"))
    base = common.load_dataset("xnli", path).features(tok, 48, train=True)
    common.load_dataset("xnli", path).features(tok, 32, train=True)  # another max_length
    common.load_dataset("xnli", path).features(tok, 48, train=False)  # evaluation features
    assert len(calls) == 3
    write(tmp_path, "xnli", 31)  # the data file changed
    assert len(common.load_dataset("xnli", path).features(tok, 48, train=True)) == 31 and len(calls) == 4
    write(tmp_path, "xnli", 30)  # back to the first content: its entry is still there
    assert same_features(common.load_dataset("xnli", path).features(tok, 48, train=True), base) and len(calls) == 4
    other = tmp_path / "tok2"  # a tokenizer with one more word
    modeling.train_tokenizer([" ".join(vocab.SPECIALS)] + list(tok.get_vocab()) + ["zyzzyva"], other, 64)
    common.load_dataset("xnli", path).features(modeling.load_tokenizer(other), 48, train=True)
    assert len(calls) == 5 and len(list(cache.glob("*.npz"))) == 5


def test_span_doc_stride_is_part_of_the_key(tmp_path, tok, cache, monkeypatch):
    path = write(tmp_path, "xquad", 20)
    calls = counting(monkeypatch, formats.get("span"))
    first = common.load_dataset("xquad", path).features(tok, 48, train=True, doc_stride=16)
    again = common.load_dataset("xquad", path).features(tok, 48, train=True, doc_stride=16)
    assert len(calls) == 1 and same_features(first, again)
    common.load_dataset("xquad", path).features(tok, 48, train=True, doc_stride=8)
    assert len(calls) == 2 and len(list(cache.glob("*.npz"))) == 2
    key = featcache.key(formats.get("span"), tok, "md5", 48, True, {"doc_stride": 16})
    assert key["options"] == {"doc_stride": 16} and "options" not in featcache.key(formats.get("span"), tok, "md5",
                                                                                     48, True)


def test_derived_frames_are_not_cached_under_the_files_md5(tmp_path, tok, cache, monkeypatch):
    path = write(tmp_path, "xnli", 30)
    ds = common.load_dataset("xnli", path)
    ds.features(tok, 48, train=True)
    sub = dataclasses.replace(ds, df=ds.df.iloc[:10].reset_index(drop=True))  # as the tune stage subsamples
    calls = counting(monkeypatch, formats.get("pair"))
    assert len(sub.features(tok, 48, train=True)) == 10 and calls == [1]
    assert len(list(cache.glob("*.npz"))) == 1


def test_damaged_entry_is_recomputed_and_replaced(tmp_path, tok, cache, monkeypatch, capsys):
    path = write(tmp_path, "panx", 20)
    first = common.load_dataset("panx", path).features(tok, 48, train=True)
    entry = next(cache.glob("*.npz"))
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    calls = counting(monkeypatch, formats.get("tagging"))
    again = common.load_dataset("panx", path).features(tok, 48, train=True)
    assert calls == [1] and same_features(first, again) and "ignoring" in capsys.readouterr().err
    assert same_features(common.load_dataset("panx", path).features(tok, 48, train=True), first) and calls == [1]
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temporary files left behind


def test_cache_off(tmp_path, tok, monkeypatch):
    monkeypatch.setenv(featcache.ENV, "off")
    path = write(tmp_path, "xnli", 12)
    calls = counting(monkeypatch, formats.get("pair"))
    common.load_dataset("xnli", path).features(tok, 48, train=True)
    common.load_dataset("xnli", path).features(tok, 48, train=True)
    assert calls == [1, 1] and featcache.cache_dir() is None
