"""On-disk cache of tokenised features, shared by every stage and process (tune, intermediate, target, evaluate
and every rank of a data-parallel run tokenise the same files).

An entry is keyed by everything that determines the features: the data file's md5, the tokenizer (a digest of
its serialised model, vocabulary, normaliser, pre-tokeniser and post-processor; truncation and padding are set
per call and left out), max_length, the train flag, the format, the format's encode options (span QA's
doc_stride), and the code version (this module, the format's
module, `formats/__init__.py` and the tokenizers library version). Entries are numpy `.npz` files read with
`allow_pickle=False` (no pickle anywhere), written to a temporary file and renamed into place (a reader never
sees a partial entry; concurrent writers of the same key write the same bytes). An unreadable entry is
recomputed and replaced.

Location: <repo root>/.cache/features (gitignored); $XSTILTS_FEATURE_CACHE = another directory, or `off`.
Nothing is ever evicted: `rm -rf .cache/features` is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.io import atomic_path
from ..formats import Feature

VERSION = 2  # 2: span QA windows (doc_stride), tagging windows, multiple-choice truncation counts
ENV = "XSTILTS_FEATURE_CACHE"
FIELDS = ("ids", "target", "extra")
_OFF = ("", "0", "off", "false", "no")
_INT32 = np.iinfo(np.int32)


def cache_dir() -> Path | None:
    """Where entries live, or None when caching is off."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value)
    from ..core.io import repo_root

    return repo_root() / ".cache" / "features"


_TOKENIZERS: dict[int, tuple[Any, str]] = {}  # id -> (tokenizer kept alive so the id is not reused, digest)


def tokenizer_digest(tok) -> str:
    """sha256 of the tokenizer's serialised form without its per-call truncation/padding settings."""
    hit = _TOKENIZERS.get(id(tok))
    if hit is not None and hit[0] is tok:
        return hit[1]
    spec = json.loads(tok.to_str())
    spec.pop("truncation", None)
    spec.pop("padding", None)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    _TOKENIZERS[id(tok)] = (tok, digest)
    return digest


def code_digest(fmt) -> str:
    """The code that turns rows into features: the format's module, the Feature type, this module."""
    import tokenizers

    from .. import formats

    h = hashlib.sha256(f"v{VERSION} tokenizers {tokenizers.__version__}".encode())
    for file in (sys.modules[type(fmt).__module__].__file__, formats.__file__, __file__):
        h.update(Path(file).read_bytes())
    return h.hexdigest()


def key(fmt, tok, data_md5: str, max_length: int, train: bool, options: dict | None = None) -> dict[str, Any]:
    k = {"data_md5": data_md5, "tokenizer": tokenizer_digest(tok), "max_length": int(max_length),
         "train": bool(train), "format": fmt.name, "code": code_digest(fmt)}
    if options:
        k["options"] = {name: options[name] for name in sorted(options)}
    return k


def entry_path(directory: Path, k: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(k, sort_keys=True).encode()).hexdigest()
    return directory / f"{k['format']}-{digest[:40]}.npz"


def encode(fmt, df, tok, max_length: int, train: bool, data_md5: str, **options) -> list[Feature]:
    """`fmt.encode(df, tok, max_length, train, **options)` through the cache; `df` must be the whole content of
    the file whose md5 is `data_md5`."""
    directory = cache_dir()
    if directory is None:
        return fmt.encode(df, tok, max_length, train=train, **options)
    k = key(fmt, tok, data_md5, max_length, train, options)
    path = entry_path(directory, k)
    if path.exists():
        feats = load(path, k)
        if feats is not None:
            return feats
    feats = fmt.encode(df, tok, max_length, train=train, **options)
    try:
        save(path, feats, k)
    except (OSError, TypeError, ValueError) as exc:  # a read-only disk or an unexpected field type: no cache
        print(f"feature cache: not written ({path}: {exc})", file=sys.stderr)
    return feats


# ---- pickle-free serialisation of a list of Features -----------------------------------------------------------
# Each field value is described by a code: "n" None, "i" int, "f" float, "a:<dtype>:<ndim>" array, "(c1,c2,...)"
# tuple. Ints, floats and the arrays of each dtype go to flat streams, read back in order.


def _describe(v: Any, streams: dict[str, list]) -> str:
    if v is None:
        return "n"
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"bool field values are not cached ({v!r})")
    if isinstance(v, (int, np.integer)):
        streams.setdefault("i", []).append(int(v))
        return "i"
    if isinstance(v, (float, np.floating)):
        streams.setdefault("f", []).append(float(v))
        return "f"
    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            raise TypeError("object arrays are not cached")
        streams.setdefault(f"a:{v.dtype.str}", []).append(v)
        return f"a:{v.dtype.str}:{v.ndim}"
    if isinstance(v, tuple):
        return "(" + ",".join(_describe(x, streams) for x in v) + ")"
    raise TypeError(f"field values of type {type(v).__name__} are not cached")


def _pack_field(values: list, prefix: str, out: dict[str, np.ndarray], meta: dict) -> None:
    streams: dict[str, list] = {}
    codes = [_describe(v, streams) for v in values]
    structs = sorted(set(codes))
    pos = {c: i for i, c in enumerate(structs)}
    out[f"{prefix}.structs"] = np.array(structs, dtype=str)
    out[f"{prefix}.struct_index"] = np.array([pos[c] for c in codes], dtype=np.int32)
    out[f"{prefix}.i"] = np.array(streams.pop("i", []), dtype=np.int64)
    out[f"{prefix}.f"] = np.array(streams.pop("f", []), dtype=np.float64)
    arrays = []
    for j, (name, leaves) in enumerate(sorted(streams.items())):
        dtype = np.dtype(name[2:])
        nd = max(a.ndim for a in leaves)
        shapes = np.ones((len(leaves), max(nd, 1)), dtype=np.int64)
        for r, a in enumerate(leaves):
            shapes[r, : a.ndim] = a.shape
        data = np.concatenate([a.ravel() for a in leaves]) if leaves else np.zeros(0, dtype)
        narrow = dtype == np.int64 and data.size and _INT32.min <= data.min() and data.max() <= _INT32.max
        out[f"{prefix}.a{j}.data"] = data.astype(np.int32) if narrow else data
        out[f"{prefix}.a{j}.shape"] = shapes
        out[f"{prefix}.a{j}.ndim"] = np.array([a.ndim for a in leaves], dtype=np.int8)
        arrays.append(name[2:])
    meta[prefix] = arrays


def _builder(code: str, streams: dict[str, Iterator]) -> Callable[[], Any]:
    """A function that reads one value of this code from the streams."""
    if code == "n":
        return lambda: None
    if code in ("i", "f"):
        it = streams[code]
        return lambda: next(it)
    if code.startswith("a:"):
        it = streams[code[: code.rindex(":")]]
        return lambda: next(it)
    parts, depth, start = [], 0, 1
    for j, ch in enumerate(code[1:-1], start=1):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(code[start:j])
            start = j + 1
    if code != "()":
        parts.append(code[start:-1])
    subs = [_builder(p, streams) for p in parts]
    return lambda: tuple(s() for s in subs)


def _unpack_field(arrays: dict[str, np.ndarray], prefix: str, dtypes: list[str]) -> list:
    streams: dict[str, Iterator] = {"i": iter(arrays[f"{prefix}.i"].tolist()),
                                    "f": iter(arrays[f"{prefix}.f"].tolist())}
    for j, name in enumerate(dtypes):
        data = arrays[f"{prefix}.a{j}.data"].astype(np.dtype(name), copy=False)
        shapes, ndims = arrays[f"{prefix}.a{j}.shape"], arrays[f"{prefix}.a{j}.ndim"]
        sizes = shapes.prod(axis=1)
        leaves = np.split(data, np.cumsum(sizes)[:-1]) if len(sizes) else []
        for r in np.flatnonzero(ndims != 1):
            leaves[r] = leaves[r].reshape(tuple(shapes[r, : ndims[r]]))
        streams[f"a:{name}"] = iter(leaves)
    builders = [_builder(str(c), streams) for c in arrays[f"{prefix}.structs"]]
    return [builders[i]() for i in arrays[f"{prefix}.struct_index"].tolist()]


def pack(feats: list[Feature], k: dict[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"example": np.array([f.example for f in feats], dtype=np.int64)}
    meta: dict[str, Any] = {"version": VERSION, "key": k, "count": len(feats)}
    for name in FIELDS:
        _pack_field([getattr(f, name) for f in feats], name, out, meta)
    out["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return out


def unpack(arrays: dict[str, np.ndarray], k: dict[str, Any]) -> list[Feature]:
    meta = json.loads(str(arrays["meta"]))
    if meta.get("version") != VERSION or meta.get("key") != k:
        raise ValueError("entry written for another key")
    cols = [_unpack_field(arrays, name, meta[name]) for name in FIELDS]
    examples = arrays["example"].tolist()
    if not len(examples) == meta["count"] == len(cols[0]):
        raise ValueError("entry has an inconsistent feature count")
    return [Feature(ids, ex, target, extra) for ex, ids, target, extra in zip(examples, *cols)]


def save(path: Path, feats: list[Feature], k: dict[str, Any]) -> None:
    arrays = pack(feats, k)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def load(path: Path, k: dict[str, Any]) -> list[Feature] | None:
    """The entry's features, or None (with a note on stderr) if it cannot be read or belongs to another key."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return unpack({name: z[name] for name in z.files}, k)
    except Exception as exc:  # noqa: BLE001 - any damage means: recompute and overwrite
        print(f"feature cache: ignoring {path} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
