"""Number formatting and serialisation: rounding, JSON text (:func:`to_jsonable`, :func:`dumps`), fixed-point
numbers, p-values, CIs and slopes per doubling for the text, markdown tables, key labels and
``plots/pooled_degradation.csv``. Deterministic: the same values always give the same characters."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .constants import CONTROL_ARMS, JSON_DIGITS, POOLED


def _round(value: float) -> float:
    """Round to :data:`JSON_DIGITS` decimals (stable JSON across summation-order noise); -0.0 becomes 0.0."""
    return round(value, JSON_DIGITS) + 0.0


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy/pandas values to JSON types; NaN/inf become None, floats are rounded."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _round(float(obj)) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def fmt(value: float | None, digits: int = 2) -> str:
    """Fixed-point number; "n/a" for None/NaN; never "-0.00"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def fmt_p(p: float | None) -> str:
    """A p-value with three decimals ("<0.001" below that)."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(ci: Sequence[float], digits: int = 2) -> str:
    """``[lo, hi]``."""
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def mark(flag: bool | None) -> str:
    """✓ / ✗ / n/a."""
    return "n/a" if flag is None else ("✓" if flag else "✗")


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; ``align`` holds one of "l"/"r" per column (default: l then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "--:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _key_label(key: str) -> str:
    """Human label of an analysis key."""
    return "pooled (all targets and adversaries)" if key == POOLED else key.replace("/", " · ")


def _unit(measure: str) -> tuple[str, float, int]:
    """(unit, scale, digits) of a slope per doubling: points, or % of the clean score for relative."""
    return ("points", 1.0, 2) if measure == "absolute" else ("% of the clean score", 100.0, 2)


def per_doubling(value: float | None, measure: str) -> str:
    """A slope on log2(size), i.e. per doubling of the training set, with its unit."""
    unit, scale, digits = _unit(measure)
    if value is None or not math.isfinite(value):
        return "n/a"
    sep = "" if unit.startswith("%") else " "
    return f"{fmt(value * scale, digits)}{sep}{unit}"


def ci_per_doubling(ci: Sequence[float | None], measure: str) -> str:
    """A slope CI on log2(size) (per doubling)."""
    _, scale, digits = _unit(measure)
    return fmt_ci([None if v is None else v * scale for v in ci], digits)


def plots_csv(means: pd.DataFrame) -> bytes:
    """``plots/pooled_degradation.csv``: the pooled points of the intermediate arms (for ``dvc plots show``)."""
    sel = means[(means["key"] == POOLED) & ~means["arm"].isin(CONTROL_ARMS)]
    sel = sel.sort_values(["arm", "train_size", "size_label"], kind="stable")
    cols = ["arm", "size_label", "train_size", "log2_train_size", "absolute", "absolute_ci_low", "absolute_ci_high",
            "relative", "relative_ci_low", "relative_ci_high", "n_seeds"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for row in sel.itertuples(index=False):
        rec = row._asdict()
        rec["log2_train_size"] = math.log2(rec["train_size"]) if rec["train_size"] > 0 else math.nan
        writer.writerow([_csv_value(rec.get(c, math.nan)) for c in cols])
    return buf.getvalue().encode()


def _csv_value(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not math.isfinite(v) else repr(_round(float(v)))
    return str(v)
