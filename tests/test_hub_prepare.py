"""The paper profile offline: it validates, its plan prints, and `prepare` with the hub source turns a local
mirror in the hubs' exact schemas into the canonical layout (same code path as the hub); the pretrain stage
pins a (here: tiny, local) XLM-R model."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import datasets
import pandas as pd
import pytest
import yaml

from xstilts import config
from xstilts.cli import deep_merge
from xstilts.data import schema
from xstilts.data.hub import HubError
from xstilts.data.hub.prepare import prepare_hub, target_languages
from xstilts.plan import plan, render

from .conftest import REPO

V = datasets.Value
FIX = REPO / "tests" / "fixtures" / "hub" / "intermediate"


@pytest.fixture
def paper(params) -> dict:
    return deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))


def test_paper_profile_validates_and_plans(paper):
    config.validate(paper)
    p = plan(copy.deepcopy(paper))
    assert p["runs"]["intermediate"] == 8 * 4 * 3  # tasks x (3 sizes + full) x seeds
    assert p["runs"]["target"] == (8 * 4 * 3 + 2 * 3) * 3
    assert p["gpu_hours"] > 0
    text = render(p)
    assert "estimated GPU-hours" in text and "assumed, not measured" in text


def test_paper_profile_refuses_ccg_without_ccgbank_and_hint_adversaries(paper):
    bad = copy.deepcopy(paper)
    bad["study"]["intermediate_tasks"].append("ccg")
    bad["study"]["arms"].append("ccg")
    with pytest.raises(config.ConfigError, match="LDC2005T13"):
        config.validate(bad)
    bad = copy.deepcopy(paper)
    bad["adversaries"]["subsets"]["xnli"] = ["lexical_overlap"]
    with pytest.raises(config.ConfigError, match="needs hints"):
        config.validate(bad)


def _ds(data: dict, features: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(data, features=datasets.Features(features)).to_parquet(str(path))


SQUAD_F = {"id": V("string"), "title": V("string"), "context": V("string"), "question": V("string"),
           "answers": datasets.Sequence({"text": V("string"), "answer_start": V("int32")})}
PANX_F = {"tokens": datasets.Sequence(V("string")),
          "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER", "B-ORG", "I-ORG",
                                                                   "B-LOC", "I-LOC"])),
          "langs": datasets.Sequence(V("string"))}


@pytest.fixture
def mirror(tmp_path) -> Path:
    """A local mirror of mnli, squad_v1, xnli (en, de), xquad (en, de), panx (en, de) in the hubs' schemas."""
    root = tmp_path / "mirror"
    for key, files in {"mnli": {"train": "train", "dev": "validation_matched"},
                       "squad_v1": {"train": "train", "dev": "validation"}}.items():
        for ours, hub_name in files.items():
            (root / key).mkdir(parents=True, exist_ok=True)
            shutil.copy(FIX / key / f"{ours}.parquet", root / key / f"{hub_name}.parquet")
    xnli = {"language": ["en", "en", "de", "de", "fr"], "sentence1": ["a b", "c d", "e f", "g h", "i j"],
            "sentence2": ["a", "x", "e", "y", "i"],
            "gold_label": ["entailment", "contradiction", "entailment", "neutral", "entailment"]}
    _ds(xnli, {k: V("string") for k in xnli}, root / "xnli" / "test.parquet")
    for lang in ("en", "de"):
        ctx = f"{lang} text about Paris ."
        _ds({"id": [f"{lang}1"], "title": ["t"], "context": [ctx], "question": ["where ?"],
             "answers": [{"text": ["Paris"], "answer_start": [ctx.index("Paris")]}]}, SQUAD_F,
            root / "xquad" / lang / "validation.parquet")
        tok = {"tokens": [["Ada", "Lovelace", "lived", "in", "London"]], "ner_tags": [[1, 2, 0, 0, 5]],
               "langs": [[lang] * 5]}
        for split in (("train", "validation", "test") if lang == "en" else ("test",)):
            _ds(tok, PANX_F, root / "panx" / lang / f"{split}.parquet")
    return root


def test_prepare_hub_from_a_local_mirror(paper, mirror, tmp_path):
    p = copy.deepcopy(paper)
    p["study"].update(intermediate_tasks=["mnli", "squad"], arms=["baseline", "mnli", "squad"])
    p["subsample"]["sizes"] = [1, "full"]
    p["hub"]["data_dir"] = str(mirror)
    p["hub"]["target_languages"] = {"xnli": ["en", "de"], "xquad": ["en", "de"], "panx": ["en", "de"]}
    config.validate(p)
    out = tmp_path / "prepared"
    summary = prepare_hub(p, out, progress=lambda s: None)
    mnli = pd.read_parquet(out / "intermediate" / "mnli" / "train.parquet")
    schema.check(mnli, "pair", "mnli")
    assert summary["squad.variant"] == "squad_v1"
    xnli_de = pd.read_parquet(out / "targets" / "xnli" / "test" / "de.parquet")
    assert xnli_de.lang.tolist() == ["de", "de"] and xnli_de.label.tolist() == [0, 1]  # by name: entailment, neutral
    xnli_train = pd.read_parquet(out / "targets" / "xnli" / "train.parquet")  # XNLI trains on MNLI
    assert len(xnli_train) == len(mnli)
    panx = pd.read_parquet(out / "targets" / "panx" / "test" / "de.parquet")
    assert panx.tags.iloc[0].tolist() == [1, 2, 0, 0, 5]
    adv = pd.read_parquet(out / "targets" / "xquad" / "adversarial" / "char_noise" / "de.parquet")
    row = adv.iloc[0]
    assert row.context[row.answers_start[0]:][:len(row.answers_text[0])] == row.answers_text[0]
    task = json.loads((out / "targets" / "xnli" / "task.json").read_text())
    assert task["languages"] == ["en", "de"] and task["source"] == "hub"
    assert json.loads((out / "pretrain" / "model.json").read_text())["id"] == "FacebookAI/xlm-roberta-large"


def test_target_languages_come_from_the_benchmark_table(paper):
    used, missing = target_languages(paper["hub"], "xquad")
    assert "ro" in missing and "ro" not in used and used[0] == "en" and len(used) == 11
    with pytest.raises(HubError, match="not in the xtreme-r table"):
        target_languages({**paper["hub"], "target_languages": {"xnli": ["xx"]}}, "xnli")


def test_hub_without_network_fails_fast_naming_the_dataset(paper, tmp_path):
    p = copy.deepcopy(paper)
    p["study"].update(intermediate_tasks=["mnli"], arms=["baseline", "mnli"])
    with pytest.raises(HubError, match="nyu-mll/glue.*HF_HUB_OFFLINE"):
        prepare_hub(p, tmp_path / "out", progress=lambda s: None)


def test_pretrain_pins_a_local_model(tmp_path):
    from xstilts.modeling import encoder_config, new_encoder, train_tokenizer
    from xstilts.pretraining import pin_hub_model
    from safetensors.torch import load_file

    src = tmp_path / "tiny-xlmr"
    tok = train_tokenizer(["a b c d e", "f g h"], src, 32)
    new_encoder(encoder_config(tok.get_vocab_size(), {"hidden_size": 16, "num_layers": 1, "num_heads": 2,
                                                       "intermediate_size": 32, "max_length": 32})).save_pretrained(str(src))
    outs = [tmp_path / n for n in ("tok", "base", "rand")]
    info = pin_hub_model(str(src), "main", *outs, seed=3)
    assert info["vocab_size"] == tok.get_vocab_size()
    assert (outs[0] / "tokenizer.json").exists()
    base, rand = (load_file(str(o / "model.safetensors")) for o in outs[1:])
    key = "embeddings.word_embeddings.weight"
    assert base.keys() == rand.keys() and not (base[key] == rand[key]).all()
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt"))
