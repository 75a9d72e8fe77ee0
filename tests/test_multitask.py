"""Multi-task intermediate training (xstilts.train.multitask) and the variants' data (xstilts.train.variants): jiant's
sampler probabilities and step budget with known answers, the masking, a seeded run that draws each task as
often as its probability says and trains every head, and the translated training set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from xstilts import formats
from xstilts.core import vocab
from xstilts.train import loop as training
from xstilts.train import modeling, multitask
from xstilts.train import variants as V

from . import ddp_worker as W

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sampler_probabilities_known_answers():
    sizes = {"a": 100, "b": 300, "c": 600}
    assert multitask.probabilities(sizes, "uniform") == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert multitask.probabilities(sizes, "proportional") == pytest.approx({"a": 0.1, "b": 0.3, "c": 0.6})
    # jiant's TemperatureMultiTaskSampler: n.clip(max=cap) ** (1 / T), normalised
    w = np.array([100, 300, 400]) ** 0.5
    assert multitask.probabilities(sizes, "temperature", temperature=2.0, cap=400) == pytest.approx(
        dict(zip("abc", w / w.sum())))
    assert multitask.probabilities(sizes, "proportional", cap=300) == pytest.approx({"a": 1 / 7, "b": 3 / 7,
                                                                                      "c": 3 / 7})
    # a fixed share (the masked-LM steps) first, the sampler shares the rest
    got = multitask.probabilities({"squad": 50, "mlm": 10_000}, "proportional", fixed={"mlm": 0.25})
    assert got == pytest.approx({"squad": 0.75, "mlm": 0.25})
    for bad in ({"sampler": "zipf"}, {"fixed": {"a": 1.0}}, {"sampler": "temperature", "temperature": 0}):
        with pytest.raises(ValueError):
            multitask.probabilities(sizes, bad.get("sampler", "uniform"), temperature=bad.get("temperature", 1.0),
                                    fixed=bad.get("fixed"))


def test_step_budget_is_jiants():
    # epochs x ceil(min(n, cap) / (batch x accum)), summed over tasks
    assert multitask.total_steps({"a": 100, "b": 33}, 2, 16, 2) == 2 * 4 + 2 * 2
    assert multitask.total_steps({"a": 100, "b": 33}, 1, 8, 1, cap=40) == 5 + 5


def test_masking_follows_the_pretrain_recipe():
    rows = [np.array([vocab.BOS] + list(range(10, 1010)) + [vocab.EOS]) for _ in range(8)]
    batch = multitask.mask_batch(rows, torch.Generator().manual_seed(0), 0.15, 2000)
    masked = batch["labels"] != -100
    assert not masked[:, 0].any() and not masked[:, -1].any()  # specials are never predicted
    assert 0.13 < masked.float().mean().item() < 0.17
    inputs = batch["input_ids"][masked]
    assert 0.75 < (inputs == vocab.MASK).float().mean().item() < 0.85
    assert (batch["labels"][masked] == torch.stack([torch.from_numpy(r) for r in rows])[masked]).all()


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return W.tokenizer(tmp_path_factory.mktemp("tok"))


def _model(tok, mlm=False):
    training.seed_everything(0)
    cfg = modeling.encoder_config(tok.get_vocab_size(), W.TINY)
    return multitask.MultiTaskModel(modeling.new_encoder(cfg), {"xnli": 3, "hellaswag": 1}, mlm=mlm)


def _components(tok, with_mlm=False):
    pair, mc = formats.get("pair"), formats.get("mc")
    comps = [multitask.Component("xnli", pair, pair.encode(W.rows("xnli", 24), tok, 64, train=True), 24),
             multitask.Component("hellaswag", mc, mc.encode(W.rows("hellaswag", 8), tok, 64, train=True), 8)]
    if with_mlm:
        text = [" ".join(r) for r in W.rows("xnli", 30)[["text_a", "text_b"]].itertuples(index=False)]
        tok.enable_truncation(max_length=64)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in tok.encode_batch(text)]
        comps.append(multitask.Component(multitask.MLM, None, ids, len(ids)))
    return comps


SETTINGS = training.FitSettings(epochs=1, batch_size=4, warmup=0.1, weight_decay=0.01, max_grad_norm=1.0)


def test_a_seeded_run_draws_tasks_by_probability_and_trains_every_head(tok):
    comps = _components(tok, with_mlm=True)
    probs = multitask.probabilities({c.name: c.n for c in comps}, "uniform", fixed={multitask.MLM: 0.5})
    model = _model(tok, mlm=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = multitask.fit_multitask(model, comps, SETTINGS, lr=3e-3, seed=7, probs=probs, steps=60,
                                  vocab_size=tok.get_vocab_size())
    assert sum(res.steps.values()) == 60 and res.steps[multitask.MLM] > res.steps["xnli"] > 5
    assert res.probabilities == pytest.approx(probs)
    for name in ("heads.xnli.weight", "heads.hellaswag.weight", "mlm_head.dense.weight"):
        assert not torch.equal(before[name], model.state_dict()[name]), name
    assert all(np.isfinite(v) for v in res.losses.values())
    # the MLM head decodes with the word embeddings themselves (tied, not a copy)
    assert model.mlm_head.embeddings.weight is model.encoder.embeddings.word_embeddings.weight
    again = _model(tok, mlm=True)
    res2 = multitask.fit_multitask(again, _components(tok, with_mlm=True), SETTINGS, lr=3e-3, seed=7, probs=probs,
                                   steps=60, vocab_size=tok.get_vocab_size())
    assert res2.steps == res.steps and res2.losses == pytest.approx(res.losses)  # same seed, same run
    view = model.task_model("xnli")
    assert view.encoder is model.encoder and view.head is model.heads["xnli"]


def test_translated_training_set_adds_the_translations_of_exactly_the_subsample(tmp_path):
    from xstilts.core import paths, tasks
    from xstilts.train.common import Dataset

    english = pd.DataFrame({"id": ["m-1", "m-2"], "lang": "en", "text_a": ["a", "b"], "text_b": ["c", "d"],
                            "label": [0, 1], "meta": ""})
    for lang in ("ea", "eb"):
        path = paths.translated_path(tmp_path, "mnli", lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = english.assign(lang=lang, text_a=english["text_a"] + lang)
        pd.concat([rows, rows.iloc[:1].assign(id="m-9")]).to_parquet(path)  # an extra row not in the subsample
    ds = Dataset(tasks.get("mnli"), english, tmp_path / "sub.parquet", "md5")
    out, counts = V.translated_dataset(tmp_path, ds, ["ea", "eb"])
    assert out.df["id"].tolist() == ["m-1", "m-2", "m-1~ea", "m-2~ea", "m-1~eb", "m-2~eb"]
    assert counts == {"english": 2, "translated.ea": 2, "translated.eb": 2, "translated": 4}
    assert out.df.loc[2, "text_a"] == "aea" and out.md5 != ds.md5
    short = english.iloc[:1]
    short.to_parquet(paths.translated_path(tmp_path, "mnli", "ea"))
    with pytest.raises(ValueError, match=r"ea.parquet: no translation of 1 English training rows.*'m-2'"):
        V.translated_dataset(tmp_path, ds, ["ea"])


def test_mlm_head_continues_the_pretrained_head_exactly(tmp_path):
    """The pretrain stage's head (saved by save_lm_head, as pin_hub_model saves XLM-R's) gives the variant's MLM head
    the same logits as transformers' XLMRobertaForMaskedLM; without a saved head, a fresh one (and None is read)."""
    from transformers import XLMRobertaForMaskedLM

    training.seed_everything(3)
    cfg = modeling.encoder_config(50, W.TINY)
    hf = XLMRobertaForMaskedLM(cfg).eval()
    with torch.no_grad():  # a non-trivial head: a zero bias or unit norm would hide a key mix-up
        for p in hf.lm_head.parameters():
            p.add_(0.1 * torch.randn_like(p))
    hf.roberta.save_pretrained(str(tmp_path))
    assert modeling.load_lm_head(tmp_path) is None
    modeling.save_lm_head(hf.lm_head, tmp_path)
    state = modeling.load_lm_head(tmp_path)
    assert sorted(state) == sorted(modeling.LM_HEAD_KEYS)  # the tied decoder weight is not duplicated
    ours = multitask.MultiTaskModel(modeling.load_encoder(tmp_path), {"xnli": 3}, mlm=True, mlm_state=state).eval()
    ids = torch.tensor([[0, 5, 9, 17, 2], [0, 33, 4, 2, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask).logits
        got = ours(multitask.MLM, ids, mask)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    fresh = multitask.MultiTaskModel(modeling.load_encoder(tmp_path), {"xnli": 3}, mlm=True).eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(multitask.MLM, ids, mask), expected)
    wrong = {**state, "bias": torch.zeros(7)}
    with pytest.raises(RuntimeError, match="size mismatch"):
        multitask.MLMHead(modeling.load_encoder(tmp_path), wrong)
    with pytest.raises(ValueError, match="not a masked-LM head"):
        from safetensors.torch import save_file

        save_file({"dense.weight": state["dense.weight"]}, str(tmp_path / modeling.LM_HEAD))
        modeling.load_lm_head(tmp_path)
