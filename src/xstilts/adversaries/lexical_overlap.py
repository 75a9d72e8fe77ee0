"""HANS-style lexical-overlap subset (McCoy et al. 2019), selected from the real evaluation data of each language:
pairs whose hypothesis words nearly all occur in the premise (`overlap_min`, default 0.8, of its units: words,
or characters in unspaced scripts) although the premise does not entail it (NLI: neutral or contradiction;
paraphrase: different). A model that relies on overlap calls them entailed. Each selected example is paired with
a label-matched control: an unselected example of the same language and label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import SELECTION, register
from .labels import positive_negative
from .text import overlap

DEFAULT_MIN = 0.8


@register("lexical_overlap", ("pair",),
          "non-entailed (or non-paraphrase) pairs with hypothesis-in-premise word overlap >= overlap_min",
          kind=SELECTION, label="kept (real examples)")
def lexical_overlap(df: pd.DataFrame, labels, rng, options) -> np.ndarray:
    pos, _ = positive_negative(labels, "lexical_overlap")
    threshold = float(options.get("overlap_min", DEFAULT_MIN))
    ov = np.array([overlap(b, a) for a, b in zip(df["text_a"], df["text_b"])])
    return (df["label"].to_numpy() != pos) & (ov >= threshold)
