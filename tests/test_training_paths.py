"""The execution paths of the training loop that a CPU can check: SDPA attention on every encoder, gradient
accumulation equal to a larger batch, the torch.compile switch, and the report of the selected path (device,
precision, attention, fused AdamW, compile, TF32) that every training run logs to MLflow."""

from __future__ import annotations

import pytest
import torch

from xstilts import formats
from xstilts.core import vocab
from xstilts.train import loop as training
from xstilts.train import modeling

from . import ddp_worker as W

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return W.tokenizer(tmp_path_factory.mktemp("tok"))


def _fit(model, feats, **kw):
    fields = {"epochs": 2, "batch_size": 4, "warmup": 0.1, "weight_decay": 0.01, "max_grad_norm": 1.0}
    settings = {k: kw.pop(k, v) for k, v in {**fields, "grad_accum": 1, "compile": False}.items()}
    return training.fit(model, formats.get("pair"), feats, training.FitSettings(**settings),
                        **{"lr": 3e-3, "seed": 0, **kw})


def test_encoders_use_sdpa_attention(tok, tmp_path, monkeypatch):
    cfg = modeling.encoder_config(tok.get_vocab_size(), {**W.TINY, "num_layers": 2})
    assert cfg._attn_implementation == "sdpa"
    cfg._attn_implementation = "eager"  # whatever a saved config says, the encoder is built with SDPA
    enc = modeling.new_encoder(cfg)
    enc.save_pretrained(str(tmp_path / "enc"))
    loaded = modeling.load_encoder(tmp_path / "enc")
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    ids = torch.tensor([[vocab.BOS, 7, 8, vocab.EOS, vocab.PAD]])
    for model in (enc, loaded):
        assert model.config._attn_implementation == modeling.ATTENTION == "sdpa"
        calls.clear()
        model.eval()(input_ids=ids, attention_mask=(ids != vocab.PAD).long())
        assert len(calls) == 2  # one fused attention call per layer: the SDPA kernel really runs


def test_grad_accum_2_of_b_equals_accum_1_of_2b(tok, monkeypatch):
    """Two accumulated batches of b take the same optimizer steps as one batch of 2b (dropout-free model)."""
    feats = formats.get("pair").encode(W.rows("xnli", 16), tok, 64, train=True)
    # the same examples per optimizer step in both runs: consecutive blocks instead of the shuffled plan
    monkeypatch.setattr(training, "batches", lambda f, bs, rng: [list(range(i, min(i + bs, len(f))))
                                                                 for i in range(0, len(f), bs)])
    a_model, b_model = W.model(tok, 3), W.model(tok, 3)
    a = _fit(a_model, feats, batch_size=4, grad_accum=2)
    b = _fit(b_model, feats, batch_size=8, grad_accum=1)
    assert len(a.grad_norms) == len(b.grad_norms) == 4  # 2 epochs x 2 optimizer steps
    assert a.grad_norms == pytest.approx(b.grad_norms, rel=1e-5)
    assert a.losses == pytest.approx(b.losses, rel=1e-6)
    for k, v in b_model.state_dict().items():
        torch.testing.assert_close(a_model.state_dict()[k], v, rtol=1e-4, atol=1e-5, msg=k)
    c_model = W.model(tok, 3)  # not the same thing as 4 steps of b: the comparison above can fail
    c = _fit(c_model, feats, batch_size=4, grad_accum=1)
    assert len(c.grad_norms) == 8 and not torch.allclose(c_model.head.weight, b_model.head.weight, atol=1e-4)


def test_compile_switch(tok, monkeypatch):
    feats = formats.get("pair").encode(W.rows("xnli", 12), tok, 64, train=True)
    plain_model, compiled_model = W.model(tok, 3), W.model(tok, 3)
    plain = _fit(plain_model, feats)
    # dynamo captures the training forward (dynamic shapes); the "eager" backend keeps the test fast on CPU
    compiled = _fit(compiled_model, feats, compile="eager")
    assert compiled.runtime["runtime.compile"] is True and plain.runtime["runtime.compile"] is False
    assert compiled.losses == pytest.approx(plain.losses, rel=1e-5)
    for k, v in plain_model.state_dict().items():
        torch.testing.assert_close(compiled_model.state_dict()[k], v, rtol=1e-4, atol=1e-5, msg=k)
    seen = {}
    monkeypatch.setattr(torch, "compile", lambda m, **kw: seen.update(kw) or m)
    _fit(W.model(tok, 3), feats, epochs=1, compile=True)  # finetune.compile: true
    assert seen == {"backend": "inductor", "dynamic": True}

    def broken(m, **kw):
        raise RuntimeError("dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(RuntimeError, match="finetune.compile"):
        _fit(W.model(tok, 3), feats, epochs=1, compile=True)

    def fails_at_first_batch(*args):  # what a backend failure looks like (inductor without a C compiler, ...)
        raise torch._dynamo.exc.TorchDynamoException("backend failed")

    monkeypatch.setattr(torch, "compile", lambda m, **kw: fails_at_first_batch)
    with pytest.raises(RuntimeError, match="finetune.compile is true but torch.compile .* backend failed"):
        _fit(W.model(tok, 3), feats, epochs=1, compile=True)


def test_selected_path_is_reported(tok, monkeypatch):
    feats = formats.get("pair").encode(W.rows("xnli", 8), tok, 64, train=True)
    res = _fit(W.model(tok, 3), feats, epochs=1)
    cpu = {k: res.runtime.pop(k) for k in ("runtime.cpu_capability", "runtime.portable", "runtime.threads")}
    assert res.runtime == {"runtime.device": "cpu", "runtime.dtype": "float32", "runtime.attention": "sdpa",
                           "runtime.fused_adamw": False, "runtime.compile": False, "runtime.tf32": False,
                           "runtime.world_size": 1}
    assert cpu["runtime.cpu_capability"] == torch.backends.cpu.get_cpu_capability() and cpu["runtime.threads"] >= 1
    # on a GPU: bf16 autocast, fused AdamW, TF32 (the selection itself; the GPU run is not possible here)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "NVIDIA H100 80GB HBM3")
    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    try:
        training._enable_tf32()
        gpu = training.runtime_path(W.model(tok, 3), torch.device("cuda"), fused=True, compiled=False, world=8)
    finally:
        matmul.fp32_precision = before
    for k in ("runtime.cpu_capability", "runtime.portable", "runtime.threads"):
        gpu.pop(k)
    assert gpu == {"runtime.device": "NVIDIA H100 80GB HBM3", "runtime.dtype": "bfloat16 autocast",
                   "runtime.attention": "sdpa", "runtime.fused_adamw": True, "runtime.compile": False,
                   "runtime.tf32": True, "runtime.world_size": 8}
