"""xstilts: English intermediate-task size vs adversarial degradation of zero-shot cross-lingual transfer."""

__version__ = "0.1.0"
