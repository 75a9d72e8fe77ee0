"""AddOneSent-style distractor (Jia & Liang 2017): a sentence that resembles the question but answers nothing is
appended to the context. Language-agnostic: the distractor is a sentence of the same language (`meta.distractor`
from the source), appended after the last sentence so every gold answer offset stays valid."""

from __future__ import annotations

import pandas as pd

from . import meta_of, register


@register("distractor", ("span",), "appends meta.distractor to the context; answers unchanged", needs_hints=True)
def distractor(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    rows = []
    for row in df.itertuples(index=False):
        extra = meta_of(row.meta).get("distractor")
        if not extra:
            continue
        rows.append({**row._asdict(), "context": row.context + " " + extra})
    return pd.DataFrame(rows, columns=df.columns)
