"""The mlm variant's masked-LM text on the paper profile: Wikipedia (wikimedia/wikipedia) at a pinned revision, in
the hub's schema (xstilts.data.hub.corpus), through prepare's variant data, the mirror and the config checks."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from xstilts.cli import deep_merge
from xstilts.core import config, paths
from xstilts.data.hub import HubError, corpus, get
from xstilts.data.hub.prepare import _variant_data, mirror_files, used_keys
from xstilts.data.hub.revisions import SHA

from .conftest import REPO


@pytest.fixture
def paper(params) -> dict:
    return deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))


def _dump(path, texts):
    """A Wikipedia split in wikimedia/wikipedia's exact columns (all strings), written through `datasets`."""
    import datasets

    rows = {"id": [str(i) for i in range(len(texts))], "url": [f"https://xx.wikipedia.org/wiki?curid={i}"
                                                              for i in range(len(texts))],
            "title": [f"T{i}" for i in range(len(texts))], "text": list(texts)}
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=datasets.Features({k: datasets.Value("string") for k in rows})
                               ).to_parquet(str(path))


ARTICLES = ["Heading\n\nThe first paragraph is long enough.\n\n\nSecond  paragraph,\twith   odd spacing.\nshort\n",
            "See also\nA third paragraph from the next article.\n"]
LINES = ["The first paragraph is long enough.", "Second paragraph, with odd spacing.",
         "A third paragraph from the next article."]


def test_paragraphs_known_answer():
    rows = [{"text": t} for t in ARTICLES]
    assert corpus.paragraphs(rows, 0) == LINES  # headings, "See also" and "short" are below MIN_CHARS
    assert corpus.paragraphs(rows, 2) == LINES[:2]  # the first ones, in article order
    assert corpus.paragraphs([{"text": None}, {"text": ""}], 0) == []


def test_pinned_revision_and_config():
    spec = get("wikipedia")
    assert spec.path == "wikimedia/wikipedia" and SHA.match(spec.revision)
    assert spec.config.format(lang="sw") == "20231101.sw"


def test_streamed_from_files_in_the_hubs_schema(tmp_path):
    _dump(tmp_path / "de.parquet", ARTICLES)
    assert corpus.wikipedia_lines("de", 2, data_files=[tmp_path / "de.parquet"]) == LINES[:2]
    assert corpus.wikipedia_lines("de", 0, data_files=[tmp_path / "de.parquet"]) == LINES
    _dump(tmp_path / "xx.parquet", ["tiny\n\nnope\n"])
    with pytest.raises(HubError, match=r"wikimedia/wikipedia \(xx\): no paragraph of at least 20"):
        corpus.wikipedia_lines("xx", 5, data_files=[tmp_path / "xx.parquet"])


def test_offline_without_a_mirror_names_the_dataset_and_revision(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match=r"wikimedia/wikipedia \(config 20231101\.de\) at revision [0-9a-f]{40}.*"
                                       r"HF_HUB_OFFLINE=1"):
        corpus.wikipedia_lines("de", 10)


def test_prepare_writes_the_first_lines_of_each_language_from_the_mirror(paper, tmp_path):
    p = copy.deepcopy(paper)
    p["hub"]["data_dir"] = str(tmp_path / "mirror")
    p["variants"].update(arms=["mlm"])
    p["variants"]["mlm"].update(languages=["de", "zh"], max_lines=2)
    for lang in ("de", "zh"):
        _dump(tmp_path / "mirror" / "wikipedia" / lang / "train.parquet", ARTICLES)
    assert mirror_files(p)["wikipedia"] == [tmp_path / "mirror" / "wikipedia" / lang / "train.parquet"
                                            for lang in ("de", "zh")]
    assert "wikipedia" in used_keys(p["hub"], p["study"], p)  # its revision goes into the prepare metrics
    summary: dict = {}
    _variant_data(p, tmp_path / "out", summary, progress=lambda s: None)
    for lang in ("de", "zh"):
        got = pd.read_parquet(paths.mlm_corpus_path(None, lang, prepared=tmp_path / "out"))
        assert got["text"].tolist() == LINES[:2]
        assert summary[f"mlm.{lang}"] == 2
    assert summary["mlm.source"] == "wikimedia/wikipedia (20231101.<lang>)"


def test_a_users_folder_is_capped_the_same_way(paper, tmp_path):
    p = copy.deepcopy(paper)
    p["variants"].update(arms=["mlm"])
    p["variants"]["mlm"].update(languages=["de"], corpus=str(tmp_path / "text"), max_lines=2)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "de.txt").write_text("eins\n\nzwei\ndrei\n", encoding="utf-8")
    summary: dict = {}
    _variant_data(p, tmp_path / "out", summary, progress=lambda s: None)
    assert pd.read_parquet(paths.mlm_corpus_path(None, "de", prepared=tmp_path / "out"))["text"].tolist() == [
        "eins", "zwei"]
    assert summary["mlm.source"] == f"user-supplied folder {tmp_path / 'text'}"


def test_config_checks(paper, params):
    config.validate(copy.deepcopy(paper))
    p = copy.deepcopy(paper)
    p["variants"]["mlm"]["max_lines"] = 0
    with pytest.raises(config.ConfigError, match=r"variants.mlm.max_lines` must be >= 1 with `variants.mlm.corpus: "
                                                 r"wikipedia"):
        config.validate(p)
    p = copy.deepcopy(paper)
    p["variants"]["mlm"]["corpus"] = "pretrain"
    with pytest.raises(config.ConfigError, match=r"variants.mlm.corpus` = 'pretrain'.*give `wikipedia`"):
        config.validate(p)
    d = copy.deepcopy(params)
    d["variants"]["mlm"]["corpus"] = "wikipedia"
    with pytest.raises(config.ConfigError, match=r"variants.mlm.corpus` = 'wikipedia': the embedded benchmark uses"):
        config.validate(d)
    d = copy.deepcopy(params)
    d["variants"]["mlm"]["max_lines"] = -1
    with pytest.raises(config.ConfigError, match=r"variants.mlm.max_lines` must be >= 0"):
        config.validate(d)
