"""Which label of a pair task is the "holds" class and which the "does not hold" class an adversary may set."""

from __future__ import annotations

from ..core.tasks import NLI_LABELS


def positive_negative(labels: tuple[str, ...], adversary: str) -> tuple[int, int]:
    """(index of entailment / paraphrase, index of the label a meaning-changing edit gives: neutral / different)."""
    if set(NLI_LABELS) <= set(labels):
        return labels.index("entailment"), labels.index("neutral")
    if len(labels) == 2:  # binary paraphrase (qqp: not_duplicate/duplicate, pawsx: different/paraphrase)
        return 1, 0
    raise ValueError(f"adversary {adversary!r} needs NLI labels (entailment, neutral, contradiction) or binary "
                     f"paraphrase labels (negative, positive), got {labels}")
