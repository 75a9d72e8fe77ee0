"""The cell: one fine-tuned encoder of an arm, named `<size label>-s<seed>`, the one owner of that name.

An intermediate arm has a cell per (size label, seed); a control arm (baseline, random: no intermediate training)
has one per seed. Controls carry the size label :data:`CONTROL_SIZE_LABEL` in the results tables and the name
:data:`CONTROL_CELL` on disk and in the predictions files."""

from __future__ import annotations

CONTROL_SIZE_LABEL = "-"  # the `size_label` column of a control arm's rows (results, metrics)
CONTROL_CELL = "none"  # a control arm's cell-name label (models/target/<arm>/none-s<seed>, predictions)
_CONTROL_LABELS = (CONTROL_SIZE_LABEL, "", CONTROL_CELL)


def is_control_label(size_label: str) -> bool:
    return str(size_label) in _CONTROL_LABELS


def cell_name(size_label: str, seed: int) -> str:
    """`<size label>-s<seed>`; a control's size label (either spelling) becomes :data:`CONTROL_CELL`."""
    label = CONTROL_CELL if is_control_label(size_label) else str(size_label)
    return f"{label}-s{int(seed)}"


def size_label_of(cell: str) -> str:
    """The cell-name label of `cell` (`"450-s2"` -> `"450"`, `"none-s1"` -> `"none"`)."""
    return cell.rsplit("-s", 1)[0]


def names(size_labels: list[str] | None, seeds: list[int]) -> list[str]:
    """Every cell name of an arm: `size_labels` of an intermediate arm (None for a control), each seed."""
    return [cell_name(label, seed) for label in (size_labels or [CONTROL_CELL]) for seed in seeds]
