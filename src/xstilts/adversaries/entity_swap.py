"""Entity substitution for tagging: every entity is replaced by an entity of the same type that never occurs
in the target task's training data (`meta.entities`: [start, end, type, replacement tokens]); tags are rebuilt
as B-/I-<type> over the replacement."""

from __future__ import annotations

import pandas as pd

from . import meta_of, register


@register("entity_swap", ("tagging",), "replaces entities with held-out ones of the same type (meta.entities)",
          needs_hints=True)
def entity_swap(df: pd.DataFrame, labels, rng, options) -> pd.DataFrame:
    rows = []
    for row in df.itertuples(index=False):
        ents = meta_of(row.meta).get("entities")
        if not ents:
            continue
        tokens, tags = list(row.tokens), list(row.tags)
        for start, end, kind, repl in sorted(ents, reverse=True):
            new_tags = [labels.index(f"B-{kind}")] + [labels.index(f"I-{kind}")] * (len(repl) - 1)
            tokens[start:end] = repl
            tags[start:end] = new_tags
        rows.append({**row._asdict(), "tokens": tokens, "tags": tags})
    return pd.DataFrame(rows, columns=df.columns)
