from __future__ import annotations

import pandas as pd
import pytest

from xstilts.data.subsample import subsample


@pytest.fixture
def data():
    labels = [0] * 600 + [1] * 300 + [2] * 100
    return pd.DataFrame({"id": [f"x{i}" for i in range(1000)], "label": labels, "text_a": "a", "text_b": "b"})


def test_nested_stratified_deterministic(data):
    small = subsample(data, "pair", 100, seed=3, task="t")
    large = subsample(data, "pair", 500, seed=3, task="t")
    assert set(small.id) <= set(large.id)
    assert small.label.value_counts().to_dict() == {0: 60, 1: 30, 2: 10}
    assert large.label.value_counts().to_dict() == {0: 300, 1: 150, 2: 50}
    pd.testing.assert_frame_equal(small, subsample(data, "pair", 100, seed=3, task="t"))
    assert set(small.id) != set(subsample(data, "pair", 100, seed=4, task="t").id)


def test_full_and_too_large(data):
    assert len(subsample(data, "pair", None, seed=3, task="t")) == 1000
    with pytest.raises(ValueError, match="exceeds the 1000"):
        subsample(data, "pair", 1001, seed=3, task="t")
