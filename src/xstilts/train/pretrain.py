"""Phase (i) stand-in: a tiny multilingual masked-LM encoder plus explicit cross-lingual word alignment.

Measured before this design: a few CPU-minutes of masked-LM on derived languages leaves zero-shot transfer at
chance, so transfer is built in honestly and visibly: after MLM, the word embedding of every derived-language
form is set to its English source word's embedding plus Gaussian noise of std `align_noise` x (embedding std),
per language (`languages.<code>.align_noise` in params.yaml). Anchors (`share`) are the same token in both
languages. The report's random-init control shows what token overlap alone gives.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from ..core.io import stable_seed


class Pretrained(NamedTuple):
    """What `pretrain_aligned` trains: the encoder, its masked-LM head (decoder tied to the aligned word
    embeddings), the config, the MLM losses and the alignment statistics."""

    encoder: torch.nn.Module
    lm_head: torch.nn.Module
    config: object
    losses: list[float]
    alignment: dict[str, dict[str, float]]


def align_embeddings(weight: torch.Tensor, vocab: dict[str, int], lexicon: pd.DataFrame,
                     noise: dict[str, float], seed: int) -> dict[str, dict[str, float]]:
    """Overwrite derived-language rows of `weight` in place; returns cosine(en, derived) before/after per language."""
    std = float(weight.std())
    english = lexicon[lexicon.lang == "en"].set_index("english")["form"].to_dict()
    stats: dict[str, dict[str, float]] = {}
    for lang, scale in sorted(noise.items()):
        rows = lexicon[(lexicon.lang == lang) & (lexicon.form != lexicon.english)]
        src = torch.tensor([vocab[english[w]] for w in rows.english])
        dst = torch.tensor([vocab[f] for f in rows.form])
        before = torch.nn.functional.cosine_similarity(weight[src], weight[dst]).mean().item()
        gen = torch.Generator().manual_seed(stable_seed("align", seed, lang))
        with torch.no_grad():
            weight[dst] = weight[src] + scale * std * torch.randn(len(dst), weight.shape[1], generator=gen)
        after = torch.nn.functional.cosine_similarity(weight[src], weight[dst]).mean().item()
        anchors = int(((lexicon.lang == lang) & (lexicon.form == lexicon.english)).sum())
        stats[lang] = {"cosine_before": before, "cosine_after": after, "aligned_words": len(dst),
                       "anchor_words": anchors}
    return stats


def encode_corpus(tok, texts: list[str], max_length: int) -> list[np.ndarray]:
    tok.enable_truncation(max_length=max_length)
    return [np.asarray(e.ids, dtype=np.int64) for e in tok.encode_batch(texts)]


def pin_hub_model(model_id: str, revision: str, tok_out, base_out, rand_out, seed: int) -> dict:
    """Paper profile: the pretrained encoder (e.g. XLM-R Large) and its fast tokenizer at a pinned revision,
    saved as the baseline arm with the model's own masked-LM head beside it (`lm_head.safetensors`, which the `mlm`
    variant continues; left out, and reported, for a checkpoint without one); a random-init encoder of the same
    config is the control. Safetensors only, no remote code. `model_id` may also be a local directory (a mirror,
    or a test's tiny model)."""
    import os

    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForMaskedLM

    from .modeling import new_encoder, quiet_transformers, save_lm_head

    quiet_transformers()
    kwargs = {"revision": revision, "trust_remote_code": False}
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, **kwargs)
        mlm, loading = XLMRobertaForMaskedLM.from_pretrained(model_id, use_safetensors=True, output_loading_info=True,
                                                             **kwargs)
    except (OSError, ValueError) as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
        raise RuntimeError(f"could not load model {model_id!r} at revision {revision!r}"
                           f"{' (HF_HUB_OFFLINE=1: only the local cache is used)' if offline else ''}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise RuntimeError(f"{model_id}: a fast tokenizer (tokenizer.json) is required for offsets and word ids")
    encoder = mlm.roberta  # XLM-R's encoder without a pooler, as every arm here
    missing = [k for k in loading["missing_keys"] if not k.startswith("lm_head.")]
    if missing:
        raise RuntimeError(f"{model_id} at revision {revision}: not an XLM-R checkpoint (missing {missing[:3]})")
    has_head = not any(k.startswith("lm_head.") for k in loading["missing_keys"])
    tokenizer.save_pretrained(str(tok_out))
    encoder.save_pretrained(str(base_out))
    if has_head:
        save_lm_head(mlm.lm_head, base_out)
    torch.manual_seed(seed)
    new_encoder(XLMRobertaConfig.from_pretrained(str(base_out))).save_pretrained(str(rand_out))
    return {"model_id": model_id, "revision": revision, "vocab_size": encoder.config.vocab_size,
            "parameters": sum(p.numel() for p in encoder.parameters()),
            "lm_head": "pretrained" if has_head else "absent"}


def pretrain_aligned(tok, texts: list[str], lexicon: pd.DataFrame, params: dict, seed: int):
    """The embedded benchmark's encoder: a tiny XLM-R masked-LM pretrained from `seed` on `texts`, then its
    derived-language word embeddings aligned to English (`align_embeddings`, noise from the same seed).
    Returns a `Pretrained` (the encoder and its masked-LM head on CPU, the config, MLM losses, alignment
    statistics). The pretrain stage calls it with `pretrain.seed`; the aflite stage with its own seed, for a
    reference encoder independent of every arm."""
    from transformers import XLMRobertaForMaskedLM

    from ..core.vocab import MASK, PAD, SPECIALS
    from .loop import mlm_pretrain, seed_everything
    from .modeling import encoder_config, quiet_transformers

    quiet_transformers()
    p = params["pretrain"]
    vocab = tok.get_vocab()
    cfg = encoder_config(len(vocab), p)
    seed_everything(seed)
    mlm = XLMRobertaForMaskedLM(cfg)
    ids = encode_corpus(tok, texts, p["max_length"])
    losses = mlm_pretrain(mlm, ids, steps=p["mlm_steps"], batch_size=p["batch_size"], lr=p["learning_rate"],
                          mask_prob=p["mlm_probability"], vocab_size=len(vocab), seed=seed,
                          special_max=len(SPECIALS) - 1, mask_id=MASK, pad_id=PAD)
    mlm.cpu()
    encoder = mlm.roberta
    langs = params["study"]["languages"]
    noise = {lang: params["languages"][lang]["align_noise"] for lang in langs[1:]}
    align = align_embeddings(encoder.embeddings.word_embeddings.weight.data, vocab, lexicon, noise, seed)
    return Pretrained(encoder, mlm.lm_head, cfg, losses, align)

