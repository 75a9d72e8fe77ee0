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

from xstilts.cli import deep_merge
from xstilts.cli.plan import plan, render
from xstilts.core import config
from xstilts.data import schema
from xstilts.data.hub import HubError
from xstilts.data.hub.prepare import prepare_hub, target_languages

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
    assert p["runs"]["variant"] == 3 * 3  # multitask, mlm, translated x seeds
    # cells (intermediate, controls, variants) x fine-tuned targets (tatoeba: none)
    assert p["runs"]["target"] == (8 * 4 * 3 + 2 * 3 + 3 * 3) * 7
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
    bad["adversaries"]["subsets"]["panx"] = ["entity_swap"]
    with pytest.raises(config.ConfigError, match="needs hints"):
        config.validate(bad)
    bad = copy.deepcopy(paper)
    bad["adversaries"]["code_switch"]["dictionaries"] = "generated"
    with pytest.raises(config.ConfigError, match="code_switch.dictionaries.*MUSE"):
        config.validate(bad)


def char_noise_only(p: dict) -> None:
    """These mirrors hold one or two examples per language: too few for the selection adversaries and the
    distractor (tests/test_adversaries_real.py runs those on a multi-script mirror)."""
    p["adversaries"]["subsets"] = {t: ["char_noise"] for t in p["adversaries"]["subsets"]}


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
    p["study"].update(intermediate_tasks=["mnli", "squad"], arms=["baseline", "mnli", "squad"],
                      target_tasks=["xnli", "xquad", "panx"])
    p["variants"]["arms"] = []  # no variant arms in this study
    p["subsample"]["sizes"] = [1, "full"]
    p["hub"]["data_dir"] = str(mirror)
    p["hub"]["target_languages"] = {"xnli": ["en", "de"], "xquad": ["en", "de"], "panx": ["en", "de"]}
    char_noise_only(p)
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
    p["variants"]["arms"] = []  # no variant arms in this study
    with pytest.raises(FileNotFoundError, match=r"adversaries.code_switch.dictionaries.*data/muse/en-ar\.txt"):
        prepare_hub(p, tmp_path / "out", progress=lambda s: None)  # MUSE files are checked before any download
    char_noise_only(p)
    with pytest.raises(HubError, match="nyu-mll/glue.*HF_HUB_OFFLINE"):
        prepare_hub(p, tmp_path / "out", progress=lambda s: None)


def test_pretrain_pins_a_local_model(tmp_path):
    from safetensors.torch import load_file

    from xstilts.train.modeling import encoder_config, new_encoder, train_tokenizer
    from xstilts.train.pretrain import pin_hub_model

    src = tmp_path / "tiny-xlmr"
    tok = train_tokenizer(["a b c d e", "f g h"], src, 32)
    new_encoder(encoder_config(tok.get_vocab_size(), {"hidden_size": 16, "num_layers": 1, "num_heads": 2,
                                                       "intermediate_size": 32, "max_length": 32})
                ).save_pretrained(str(src))
    outs = [tmp_path / n for n in ("tok", "base", "rand")]
    info = pin_hub_model(str(src), "main", *outs, seed=3)
    assert info["vocab_size"] == tok.get_vocab_size()
    assert (outs[0] / "tokenizer.json").exists()
    base, rand = (load_file(str(o / "model.safetensors")) for o in outs[1:])
    key = "embeddings.word_embeddings.weight"
    assert base.keys() == rand.keys() and not (base[key] == rand[key]).all()
    assert info["lm_head"] == "absent" and not (outs[1] / "lm_head.safetensors").exists()  # a bare encoder has none
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt"))


def test_pretrain_pins_the_models_masked_lm_head(tmp_path):
    """A checkpoint with XLM-R's masked-LM head (as the hub's): the head is saved beside the baseline encoder, the
    same weights, and the encoder is the checkpoint's own."""
    import torch
    from safetensors.torch import load_file
    from transformers import XLMRobertaForMaskedLM

    from xstilts.train.modeling import encoder_config, train_tokenizer
    from xstilts.train.pretrain import pin_hub_model

    src = tmp_path / "tiny-xlmr-mlm"
    tok = train_tokenizer(["a b c d e", "f g h"], src, 32)
    torch.manual_seed(0)
    hf = XLMRobertaForMaskedLM(encoder_config(tok.get_vocab_size(), {"hidden_size": 16, "num_layers": 1,
                                                                      "num_heads": 2, "intermediate_size": 32,
                                                                      "max_length": 32}))
    hf.save_pretrained(str(src))
    outs = [tmp_path / n for n in ("tok", "base", "rand")]
    info = pin_hub_model(str(src), "main", *outs, seed=3)
    assert info["lm_head"] == "pretrained"
    head = load_file(str(outs[1] / "lm_head.safetensors"))
    assert sorted(head) == ["bias", "dense.bias", "dense.weight", "layer_norm.bias", "layer_norm.weight"]
    for k, v in head.items():
        assert torch.equal(v, hf.lm_head.state_dict()[k])
    enc = load_file(str(outs[1] / "model.safetensors"))
    assert torch.equal(enc["embeddings.word_embeddings.weight"], hf.roberta.embeddings.word_embeddings.weight)
    assert not (outs[2] / "lm_head.safetensors").exists()  # the random control has no pretrained head


def _every_target_mirror(root: Path) -> None:
    """Add pawsx, udpos, mlqa, tydiqa, copa, xcopa (+ SocialIQA, its XTREME-R first phase) and tatoeba to a
    mirror, in the hubs' exact schemas."""
    S, CL = datasets.Sequence, datasets.ClassLabel
    paws_f = {"id": V("int32"), "sentence1": V("string"), "sentence2": V("string"), "label": V("string")}
    for lang, splits in (("en", ("train", "validation", "test")), ("de", ("test",))):
        for split in splits:
            _ds({"id": [1, 2], "sentence1": ["a b", "c d"], "sentence2": ["b a", "c d"], "label": ["0", "1"]},
                paws_f, root / "pawsx" / lang / f"{split}.parquet")
    upos = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
            "SCONJ", "SYM", "VERB", "X"]
    pos_f = {"tokens": S(V("string")), "pos_tags": S(CL(names=upos))}
    for name, splits in (("English", ("train", "validation", "test")), ("German", ("test",))):
        for split in splits:
            _ds({"tokens": [["the", "dog", "runs"]], "pos_tags": [[5, 7, 15]]}, pos_f,
                root / "udpos" / name / f"{split}.parquet")
    for lang in ("en", "de"):
        ctx = f"{lang}: Ada lebte in London ."
        _ds({"id": [f"m-{lang}"], "title": ["t"], "context": [ctx], "question": ["wo ?"],
             "answers": [{"text": ["London"], "answer_start": [ctx.index("London")]}]}, SQUAD_F,
            root / "mlqa" / lang / "test.parquet")
    ty = {"id": ["english-1-0", "finnish-2-0", "english-3-0"], "title": ["t"] * 3,
          "context": ["Paris is big.", "Helsinki on iso.", "Rome is old."], "question": ["q"] * 3,
          "answers": [{"text": [w], "answer_start": [0]} for w in ("Paris", "Helsinki", "Rome")]}
    _ds(ty, SQUAD_F, root / "tydiqa" / "train.parquet")
    _ds(ty, SQUAD_F, root / "tydiqa" / "validation.parquet")
    copa_f = {"premise": V("string"), "choice1": V("string"), "choice2": V("string"), "question": V("string"),
              "idx": V("int32"), "label": CL(names=["choice1", "choice2"])}
    copa = {"premise": ["It rained."], "choice1": ["We got wet."], "choice2": ["We sang."], "question": ["effect"],
            "idx": [0], "label": [0]}
    for split in ("train", "validation"):
        _ds(copa, copa_f, root / "copa" / f"{split}.parquet")
    xcopa_f = {"premise": V("string"), "choice1": V("string"), "choice2": V("string"), "question": V("string"),
               "label": V("int32"), "idx": V("int32"), "changed": V("bool")}
    _ds({"premise": ["Sadas vihma."], "choice1": ["Saime märjaks."], "choice2": ["Laulsime."],
         "question": ["effect"], "label": [0], "idx": [0], "changed": [False]}, xcopa_f,
        root / "xcopa" / "et" / "test.parquet")
    for hub_split in ("train", "validation"):  # XTREME-R's first XCOPA phase (target.xcopa_recipe) reads SocialIQA
        (root / "socialiqa").mkdir(parents=True, exist_ok=True)
        shutil.copy(FIX / "socialiqa" / "train.parquet", root / "socialiqa" / f"{hub_split}.parquet")
    bitext = {"source_sentence": ["Hallo Welt.\n", "Danke.\n"], "target_sentence": ["Hello world.\n", "Thanks.\n"],
              "source_lang": ["deu", "deu"], "target_lang": ["eng", "eng"]}
    _ds(bitext, {k: V("string") for k in bitext}, root / "tatoeba" / "deu" / "validation.parquet")


def test_prepare_hub_every_paper_target_from_a_local_mirror(paper, mirror, tmp_path):
    """Every target of the paper profile goes through the hub source: training data, dev, per-language test
    files and their adversarial subsets, and the revision of every dataset read is recorded."""
    _every_target_mirror(mirror)
    p = copy.deepcopy(paper)
    p["study"].update(intermediate_tasks=["mnli", "squad"], arms=["baseline", "mnli", "squad"])
    p["variants"]["arms"] = []  # no variant arms in this study
    p["subsample"]["sizes"] = [1, "full"]
    p["hub"]["data_dir"] = str(mirror)
    p["hub"]["target_languages"] = {"xnli": ["en", "de"], "xquad": ["en", "de"], "panx": ["en", "de"],
                                    "udpos": ["en", "de"], "mlqa": ["en", "de"], "tydiqa": ["en", "fi"],
                                    "xcopa": ["et"], "tatoeba": ["de"]}
    assert set(p["study"]["target_tasks"]) == {"xnli", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa",
                                               "tatoeba"}
    char_noise_only(p)
    config.validate(p)
    out = tmp_path / "prepared"
    summary = prepare_hub(p, out, progress=lambda s: None)
    tgt = out / "targets"

    def read(*parts):
        return pd.read_parquet(tgt.joinpath(*parts))

    assert [list(t) for t in read("udpos", "test", "de.parquet").tags] == [[5, 7, 15]]  # DET NOUN VERB
    assert read("mlqa", "train.parquet").id.tolist() == read("xquad", "train.parquet").id.tolist()  # SQuAD v1.1
    assert read("mlqa", "test", "de.parquet").lang.tolist() == ["de"]
    assert read("tydiqa", "train.parquet").id.tolist() == ["english-1-0", "english-3-0"]  # English only
    assert read("tydiqa", "dev.parquet").lang.unique().tolist() == ["en"]
    assert read("tydiqa", "test", "fi.parquet").id.tolist() == ["finnish-2-0"]
    assert read("xcopa", "train.parquet").context.tolist() == ["It rained. What happened as a result?"]  # COPA
    assert not (tgt / "xcopa" / "test" / "en.parquet").exists()  # XCOPA has no English
    siqa = read("xcopa", "socialiqa", "train.parquet")  # written whatever target.xcopa_recipe says
    assert len(siqa) == summary["xcopa.socialiqa.train"] > 0 and len(siqa.choices.iloc[0]) == 3
    assert (tgt / "xcopa" / "socialiqa" / "dev.parquet").exists() and "revision.socialiqa" in summary
    tatoeba = read("tatoeba", "test", "de.parquet")
    assert sorted(tatoeba.lang) == ["de", "de", "en", "en"] and not (tgt / "tatoeba" / "train.parquet").exists()
    noisy = read("tatoeba", "adversarial", "char_noise", "de.parquet")
    assert (noisy.lang == "de").all() and set(noisy.source_id) == set(tatoeba[tatoeba.lang == "de"].id)
    for task in p["study"]["target_tasks"]:
        info = json.loads((tgt / task / "task.json").read_text())
        for lang in info["languages"]:
            assert (tgt / task / "adversarial" / "char_noise" / f"{lang}.parquet").exists(), (task, lang)
    assert summary["revision.xnli"] == summary["revision.udpos"] == "b6419ab883183e08a85be8eef7cc71562f946684"
    assert summary["revision.copa"] == "3de24cf8022e94f4ee4b9d55a6f539891524d646"
    assert summary["revision.squad_v1"] == "7b6d24c440a36b6815f21b70d25016731768db1f"


def test_paper_profile_pins_commits(paper):
    from xstilts.data import hub
    from xstilts.data.hub import revisions
    from xstilts.data.hub.prepare import revision_of, used_keys

    assert revisions.SHA.match(paper["hub"]["model"]["revision"])
    assert paper["hub"]["model"]["revision"] == revisions.PINS[paper["hub"]["model"]["id"]]
    for key in used_keys(paper["hub"], paper["study"]):
        assert revisions.SHA.match(revision_of(paper["hub"], key)), (key, hub.get(key).path)
