"""The `mlm` variant's masked-LM text on the paper profile (`variants.mlm.corpus: wikipedia`): each language's
Wikipedia from `wikimedia/wikipedia` (the 2023-11-01 dumps, config `20231101.<lang>`, parquet with columns id,
url, title, text) at a pinned commit (`xstilts.data.hub.revisions`).

The paper says "continuing multilingual MLM during intermediate-task training" and names no corpus; XLM-R itself
was pretrained on CC-100, whose hub copy (`statmt/cc100`) is a loading script that datasets >= 4 no longer runs.
Wikipedia is our choice, recorded in the prepare metrics with its revision.

jiant's `mlm_simple` task reads one example per line of a text file and skips empty lines. The lines here are the
articles' paragraphs (their text split at line breaks, whitespace collapsed), kept when at least `MIN_CHARS`
characters long (section headings and list stubs are shorter), in the dump's shard and article order, up to
`variants.mlm.max_lines` per language. The split is streamed, so only the first shard's first row groups are
downloaded, not the dump.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from . import HubError, HubSpec, register
from .revisions import PINS

WIKIPEDIA_REPO = "wikimedia/wikipedia"
MIN_CHARS = 20
"""A paragraph shorter than this (in characters, after collapsing whitespace) is not an MLM example."""


def paragraphs(articles: Iterable[Mapping], max_lines: int) -> list[str]:
    """The MLM lines of `articles` (rows with a `text` column), in order: each paragraph with its whitespace
    collapsed, at least MIN_CHARS long; at most `max_lines` (0 = all)."""
    out: list[str] = []
    for article in articles:
        for part in str(article.get("text") or "").split("\n"):
            line = " ".join(part.split())
            if len(line) >= MIN_CHARS:
                out.append(line)
                if max_lines and len(out) >= max_lines:
                    return out
    return out


def convert_wikipedia(ds, *, split: str, lang: str | None = None) -> pd.DataFrame:
    """Every MLM line of a (small) Wikipedia split as a frame with one column `text`."""
    if "text" not in (ds.column_names or []):
        raise HubError(f"{WIKIPEDIA_REPO} ({lang}): no `text` column (columns: {ds.column_names})")
    return pd.DataFrame({"text": paragraphs(ds, 0)})


WIKIPEDIA = register(HubSpec(
    "wikipedia", WIKIPEDIA_REPO, "20231101.{lang}", PINS[WIKIPEDIA_REPO], "text", convert_wikipedia,
    licence="CC BY-SA 3.0 and GFDL (Wikipedia)",
    notes="the mlm variant's masked-LM text on the paper profile; the split is streamed (first lines only)"))


def wikipedia_lines(lang: str, max_lines: int, *, revision: str | None = None,
                    data_files: list | None = None) -> list[str]:
    """The first `max_lines` MLM lines of `lang`'s Wikipedia (`paragraphs`), streamed from the hub at `revision`
    (default: the pinned one) or read from local files in the hub's schema (`data_files`, a mirror)."""
    from . import load_split

    ds = load_split(WIKIPEDIA, "train", lang=lang, revision=revision, data_files=data_files, streaming=True)
    names = getattr(ds, "column_names", None)
    if names is not None and "text" not in names:
        raise HubError(f"{WIKIPEDIA_REPO} ({lang}): no `text` column (columns: {names})")
    lines = paragraphs(ds, max_lines)
    if not lines:
        raise HubError(f"{WIKIPEDIA_REPO} ({lang}): no paragraph of at least {MIN_CHARS} characters")
    return lines
