"""`xstilts adversaries`: the adversary registry, and one clean -> adversarial example per (target task,
adversary) from the prepared data (what the README shows)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..adversaries import PERTURBATION, REGISTRY, subset_path
from ..core import paths, tasks

FIELDS = {"pair": ("text_a", "text_b", "label"), "mc": ("context", "choices", "label"),
          "span": ("question", "context", "answers_text"), "tagging": ("tokens", "tags"),
          "retrieval": ("text",)}


def registry_lines() -> list[str]:
    lines = []
    for name, a in sorted(REGISTRY.items()):
        hints = ", synthetic hints only" if a.needs_hints else ""
        lines.append(f"{name:16s} {a.kind:12s} formats: {', '.join(a.formats)}{hints}")
        lines.append(f"{'':16s} {a.description}; gold label: {a.label}")
    for name in tasks.NATURAL_ADVERSARIAL:
        lines.append(f"{name:16s} {'natural':12s} target task: {tasks.get(name).natural_adversary}")
    return lines


def _value(row, col: str, info: tasks.Task):
    v = row[col]
    if col == "label" and info.labels:
        return info.labels[int(v)]
    if col == "tags":
        return " ".join(info.labels[int(t)] for t in v)
    if col in ("tokens", "choices", "answers_text"):
        return " | ".join(str(x) for x in v)
    return str(v)


def example(root: Path, target: str, adversary: str, lang: str, index: int = 0) -> dict:
    """{"clean": {field: value}, "adversarial": {...}, "paired_with": ...} for one adversarial example."""
    info = tasks.get(target)
    adv = pd.read_parquet(subset_path(root, target, adversary, lang))
    clean = pd.read_parquet(paths.test_path(root, target, lang)).set_index("id")
    if index >= len(adv):
        raise IndexError(len(adv))
    row = adv.iloc[index]
    spec = REGISTRY[adversary]
    if spec.kind == PERTURBATION:
        src, pairing = clean.loc[row["source_id"]], "built from"
    else:
        src, pairing = clean.loc[row["source_id"]], "control (unselected, same gold label)"
    fields = FIELDS[info.format]
    return {"target": target, "adversary": adversary, "lang": lang, "n": len(adv), "pairing": pairing,
            "clean": {f: _value(src, f, info) for f in fields},
            "adversarial": {f: _value(row, f, info) for f in fields}}


def show(root: Path, lang: str, index: int = 0) -> list[str]:
    """The registry, then one example per (target, adversary). ValueError (one line) for a language that no
    prepared target has, or a negative index."""
    if index < 0:
        raise ValueError(f"--index {index}: expected an example number >= 0")
    lines = registry_lines()
    prepared = paths.targets_dir(root)
    if not prepared.is_dir():
        return lines + ["", "(no prepared data: run `dvc repro prepare` to see examples)"]
    metas = [json.loads(p.read_text()) for p in sorted(prepared.glob("*/task.json"))]
    known = sorted({lang for meta in metas for lang in meta["languages"]})
    if lang not in known:
        raise ValueError(f"--lang {lang!r}: not a language of the prepared data ({', '.join(known)})")
    shown, sizes = 0, []
    for meta in metas:
        langs = meta["languages"]
        use = lang if lang in langs else langs[-1]
        for adversary in meta.get("adversaries", []):
            try:
                ex = example(root, meta["task"], adversary, use, index)
            except FileNotFoundError as exc:
                lines += ["", f"{meta['task']} / {adversary}: {exc.filename} missing (run `dvc repro`)"]
                continue
            except IndexError as exc:
                sizes.append(exc.args[0])
                lines += ["", f"{meta['task']} / {adversary} ({use}): only {exc.args[0]} examples, no example {index}"]
                continue
            shown += 1
            lines += ["", f"== {ex['target']} / {ex['adversary']} ({ex['lang']}, {ex['n']} examples); "
                          f"clean side = {ex['pairing']}"]
            for side in ("clean", "adversarial"):
                for f, v in ex[side].items():
                    lines.append(f"  {side[:5]:5s} {f:12s} {v}")
    if not shown and any(meta.get("adversaries") for meta in metas):
        raise ValueError(f"--index {index}: beyond every adversarial set of {lang!r} (the largest has "
                         f"{max(sizes, default=0)} examples; numbers start at 0)")
    return lines
