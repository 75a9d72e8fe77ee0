"""A locally trained SentencePiece-Unigram tokenizer with the pipeline of XLM-R's hub `tokenizer.json`, so the
formats can be audited offline with the kind of tokenizer the paper profile uses (XLM-R Large).

What is reproduced (compare `FacebookAI/xlm-roberta-large`'s `tokenizer.json`, and transformers'
`XLMRobertaTokenizer`, which rebuilds exactly this pipeline around the file's vocabulary):

- model: `tokenizers.models.Unigram`, trained here with `UnigramTrainer` (the hub's comes from SentencePiece);
  `<s>` = 0, `<pad>` = 1, `</s>` = 2, `<unk>` = 3 (unk_id 3), the learned pieces, then `<mask>` last;
- pre-tokenizer: `Sequence([WhitespaceSplit(), Metaspace(replacement="▁", prepend_scheme="always")])`: words are
  split on whitespace first, so a "▁word" piece's offsets cover the word only, not the space before it; a piece
  that is only "▁" (a word the vocabulary cannot start with "▁") gets offsets overlapping the next piece's, e.g.
  (19, 20) and (19, 29) (transformers issue #17454);
- post-processor: `<s> A </s>` and `<s> A </s></s> B </s>` (XLM-R / RoBERTa);
- decoder: `Metaspace`.

What is not: the hub's normaliser is SentencePiece's precompiled `nmt_nfkc` charsmap, which only a SentencePiece
model carries; this tokenizer has none (transformers' class, given no charsmap, has none either), so offsets map
one to one onto the text.

`leading_space_offsets=True` builds the other behaviour instead: the plain `SentencePieceUnigramTokenizer`
pipeline (`Metaspace` alone, with its NMT/NFKC normaliser), whose "▁word" pieces include the space before the word
in their offsets (e.g. "▁Normandy" at (18, 27) for "Normandy" at 19..27). Its `tokenizer_config.json` names the
generic tokenizer class, since `XLMRobertaTokenizer` would replace that pipeline with the hub's.

The directory written holds `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json`; it loads with
`transformers.XLMRobertaTokenizerFast.from_pretrained` (the XLM-R-like variant), `AutoTokenizer` and
`xstilts.train.modeling.load_tokenizer`, and can stand in for the hub model's tokenizer in `pretraining.pin_hub_model`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0..3, as XLM-R (fairseq's order); <mask> is the last id
MASK = "<mask>"
REPLACEMENT = "\u2581"  # "▁"


def pipeline(vocab: list[tuple[str, float]], *, leading_space_offsets: bool = False):
    """A `tokenizers.Tokenizer` around a Unigram vocabulary whose first four entries are `SPECIALS` and whose last
    is `<mask>`, with XLM-R's hub pipeline (or, with `leading_space_offsets`, the plain
    `SentencePieceUnigramTokenizer` one)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    pieces = [p for p, _ in vocab]
    if tuple(pieces[: len(SPECIALS)]) != SPECIALS or pieces[-1] != MASK:
        raise ValueError(f"vocabulary must start with {', '.join(SPECIALS)} and end with {MASK}")
    tok = Tokenizer(Unigram([(p, float(s)) for p, s in vocab], unk_id=SPECIALS.index("<unk>"), byte_fallback=False))
    metaspace = pre_tokenizers.Metaspace(replacement=REPLACEMENT, prepend_scheme="always")
    if leading_space_offsets:
        tok.normalizer = normalizers.Sequence([normalizers.Nmt(), normalizers.NFKC(),
                                               normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = metaspace
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), metaspace])
    tok.decoder = decoders.Metaspace(replacement=REPLACEMENT, prepend_scheme="always")
    bos, eos = SPECIALS.index("<s>"), SPECIALS.index("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single=["<s>", "$A", "</s>"], pair=["<s>", "$A", "</s>", "</s>", "$B", "</s>"],
        special_tokens=[("<s>", bos), ("</s>", eos)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS]
                           + [AddedToken(MASK, special=True, lstrip=True, normalized=False)])
    return tok


def train_vocab(
    texts: Iterable[str], vocab_size: int, *, leading_space_offsets: bool = False
) -> list[tuple[str, float]]:
    """A Unigram vocabulary trained on `texts` with `tokenizers.trainers.UnigramTrainer` under the same
    normaliser and pre-tokeniser as `pipeline`: `SPECIALS` first, the learned pieces, `<mask>` last."""
    from tokenizers import Tokenizer, trainers
    from tokenizers.models import Unigram

    base = pipeline(list(zip(SPECIALS, [0.0] * 4)) + [(MASK, 0.0)], leading_space_offsets=leading_space_offsets)
    tok = Tokenizer(Unigram())
    tok.normalizer = base.normalizer
    tok.pre_tokenizer = base.pre_tokenizer
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size - 1, special_tokens=list(SPECIALS), unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    learned = [(p, float(s)) for p, s in json.loads(tok.to_str())["model"]["vocab"]]
    if tuple(p for p, _ in learned[: len(SPECIALS)]) != SPECIALS:
        raise RuntimeError(f"UnigramTrainer did not put {SPECIALS} first: {learned[:5]}")
    return learned + [(MASK, 0.0)]


def build_xlmr_like_tokenizer(texts: Iterable[str], out_dir: Path, vocab_size: int = 1000, *,
                              leading_space_offsets: bool = False, model_max_length: int = 512,
                              vocab: list[tuple[str, float]] | None = None):
    """Train a Unigram vocabulary of at most `vocab_size` entries on `texts` (or take `vocab` as given), build
    `pipeline` around it and save it in `out_dir` for transformers and `xstilts.train.modeling.load_tokenizer`.
    Returns the `tokenizers.Tokenizer`."""
    from transformers import PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    if vocab is None:
        vocab = train_vocab(texts, vocab_size, leading_space_offsets=leading_space_offsets)
    tok = pipeline(vocab, leading_space_offsets=leading_space_offsets)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token=MASK,
                                   model_max_length=model_max_length)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    tok.save(str(out_dir / "tokenizer.json"))  # exactly this pipeline, whatever the wrapper re-serialises
    config_file = out_dir / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.exists() else {}
    # the hub model's config names XLMRobertaTokenizer (AutoTokenizer then builds the hub pipeline around the
    # vocabulary); the leading-space variant must be read from tokenizer.json as it is
    config.update({"tokenizer_class": "PreTrainedTokenizerFast" if leading_space_offsets else "XLMRobertaTokenizer",
                   "model_max_length": model_max_length, "add_prefix_space": True})
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    special = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
               "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": MASK}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2, sort_keys=True) + "\n")
    return tok
