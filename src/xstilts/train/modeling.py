"""The encoder (XLM-R architecture from transformers), its word-level tokenizer, task heads, and checkpoints.

Checkpoints are safetensors only: the encoder via `save_pretrained`, the task head via `safetensors.torch`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..core.vocab import BOS, EOS, PAD, SPECIALS

ATTENTION = "sdpa"  # torch's scaled_dot_product_attention (flash / memory-efficient kernels on GPU), on every encoder


def train_tokenizer(texts, out_dir: Path, max_length: int):
    """A word-level tokenizer (every word of every language is one token) trained with `tokenizers`."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=SPECIALS, min_frequency=1,
                                                             show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", BOS), ("</s>", EOS)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                   model_max_length=max_length)
    fast.save_pretrained(str(out_dir))
    return tok


def load_tokenizer(path: Path):
    """The fast `tokenizers` object behind a saved tokenizer directory."""
    from tokenizers import Tokenizer

    file = Path(path) / "tokenizer.json"
    if not file.exists():
        raise FileNotFoundError(f"{file}: tokenizer missing (run the pretrain stage)")
    return Tokenizer.from_file(str(file))


def encoder_config(vocab_size: int, p: dict):
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=p["hidden_size"], num_hidden_layers=p["num_layers"],
        num_attention_heads=p["num_heads"], intermediate_size=p["intermediate_size"],
        max_position_embeddings=p["max_length"] + 2, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS,
        type_vocab_size=1, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, attn_implementation=ATTENTION)


def new_encoder(config):
    """An XLM-R encoder without pooler, attention through `ATTENTION` (not left to the library's default)."""
    from transformers import XLMRobertaModel

    config._attn_implementation = ATTENTION
    return XLMRobertaModel(config, add_pooling_layer=False)


def quiet_transformers() -> None:
    """No per-load reports or progress bars from transformers (stage logs stay readable)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_encoder(path: Path):
    """An encoder saved by `save_pretrained` (config.json + model.safetensors), built without a pooler and loaded
    strictly from safetensors (no pickle, no remote code)."""
    from safetensors.torch import load_file
    from transformers import XLMRobertaConfig

    quiet_transformers()
    path = Path(path)
    weights = path / "model.safetensors"
    if not weights.exists() or not (path / "config.json").exists():
        raise FileNotFoundError(f"{weights}: encoder checkpoint missing (run the stage that writes it)")
    model = new_encoder(XLMRobertaConfig.from_pretrained(str(path)))
    result = model.load_state_dict(load_file(str(weights)), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"{weights}: not an encoder of this architecture (missing {result.missing_keys[:3]}, "
                         f"unexpected {result.unexpected_keys[:3]})")
    return model


LM_HEAD = "lm_head.safetensors"
"""The masked-LM head saved next to an encoder that has one (the pretrain stage's baseline): XLM-R's
`lm_head` without its decoder weight, which is the tied word embeddings."""
LM_HEAD_KEYS = ("bias", "dense.bias", "dense.weight", "layer_norm.bias", "layer_norm.weight")


def save_lm_head(lm_head: nn.Module, path: Path) -> None:
    """Write `lm_head`'s own weights (XLM-R's names; the tied decoder weight left out) into encoder folder `path`."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in lm_head.state_dict().items() if k in LM_HEAD_KEYS}
    if sorted(state) != sorted(LM_HEAD_KEYS):
        raise ValueError(f"not an XLM-R masked-LM head: has {sorted(lm_head.state_dict())}")
    save_file(state, str(Path(path) / LM_HEAD))


def load_lm_head(path: Path) -> dict[str, torch.Tensor] | None:
    """The masked-LM head saved next to the encoder in `path` (safetensors), or None where the encoder has none."""
    from safetensors.torch import load_file

    file = Path(path) / LM_HEAD
    if not file.exists():
        return None
    state = load_file(str(file))
    if sorted(state) != sorted(LM_HEAD_KEYS):
        raise ValueError(f"{file}: not a masked-LM head (keys {sorted(state)}, expected {list(LM_HEAD_KEYS)})")
    return state


class TaskModel(nn.Module):
    """Encoder + a linear head whose output size depends on the format (labels, 1 per choice, 2 for spans)."""

    def __init__(self, encoder: nn.Module, out_features: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, out_features)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(hidden))  # [batch, seq, out]

    def save(self, path: Path, info: dict) -> None:
        from safetensors.torch import save_file

        quiet_transformers()
        path.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(str(path / "encoder"))
        save_file({k: v.contiguous() for k, v in self.head.state_dict().items()}, str(path / "head.safetensors"))
        (path / "model.json").write_text(json.dumps({"out_features": self.head.out_features, **info}, indent=2,
                                                    sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> TaskModel:
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / "model.json").exists():
            raise FileNotFoundError(f"{path}: model checkpoint missing (model.json not found; run the target stage)")
        info = json.loads((path / "model.json").read_text())
        model = cls(load_encoder(path / "encoder"), info["out_features"])
        model.head.load_state_dict(load_file(str(path / "head.safetensors")))
        return model


def freeze_word_embeddings(model: TaskModel, freeze: bool) -> None:
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(not freeze)
