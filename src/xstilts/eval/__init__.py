"""Evaluation: zero-shot scoring of fine-tuned models on every language and subset, and sentence retrieval."""
