"""The special tokens of every tokenizer here and their ids (XLM-R's order): the formats pad and mark unknown words
with them, the encoder and the masked-LM pretraining use them."""

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BOS, PAD, EOS, UNK, MASK = range(5)
