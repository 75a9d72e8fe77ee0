"""HANS-style lexical overlap (McCoy et al. 2019): every hypothesis word occurs in the premise, yet the premise
does not entail it. Built by swapping the subject and object of entailed hypotheses about two people
("the doctor helped alice" -> "alice helped the doctor"); gold label becomes `neutral`. Needs the role spans in
`meta.swap` (the synthetic source provides them in every language)."""

from __future__ import annotations

import pandas as pd

from . import meta_of, register


@register("lexical_overlap", ("pair",), "entailed hypotheses with two role spans in meta.swap; roles swapped -> neutral", needs_hints=True)
def lexical_overlap(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    if "entailment" not in labels or "neutral" not in labels:
        raise ValueError(f"lexical_overlap needs NLI labels (entailment, neutral, ...), got {labels}")
    ent, neu = labels.index("entailment"), labels.index("neutral")
    rows = []
    for row in df.itertuples(index=False):
        spans = meta_of(row.meta).get("swap")
        if row.label != ent or not spans or None in spans:
            continue
        (a0, a1), (b0, b1) = sorted(spans)
        words = row.text_b.split(" ")
        swapped = words[:a0] + words[b0:b1] + words[a1:b0] + words[a0:a1] + words[b1:]
        if swapped == words:
            continue
        rows.append({**row._asdict(), "text_b": " ".join(swapped), "label": neu})
    return pd.DataFrame(rows, columns=df.columns)
