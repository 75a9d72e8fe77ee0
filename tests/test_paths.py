"""Every on-disk location comes from xstilts.core.paths, rooted at the repository or at the prepared directory the
prepare stage writes into."""

from __future__ import annotations

from pathlib import Path

from xstilts.adversaries import subset_path
from xstilts.core import paths


def test_the_prepared_tree_is_the_same_from_the_root_or_from_the_prepared_directory(tmp_path):
    prepared = paths.prepared_dir(tmp_path)
    assert prepared == tmp_path / "data" / "prepared"
    for task in ("mnli", "xnli", "squad", "tatoeba"):
        assert paths.task_dir(None, task, prepared=prepared) == paths.task_dir(tmp_path, task)
        assert paths.split_path(None, task, "dev", prepared=prepared) == paths.split_path(tmp_path, task, "dev")
        assert paths.test_path(None, task, "ea", prepared=prepared) == paths.test_path(tmp_path, task, "ea")
    assert paths.task_dir(tmp_path, "mnli") == prepared / "intermediate" / "mnli"
    assert paths.split_path(tmp_path, "xnli", "train") == prepared / "targets" / "xnli" / "train.parquet"
    assert paths.pretrain_corpus_dir(None, prepared=prepared) == paths.pretrain_corpus_dir(tmp_path)
    assert paths.dictionaries_dir(prepared) == prepared / "dictionaries"


def test_model_based_subsets_live_beside_prepare_and_rule_based_ones_inside_it(tmp_path):
    assert subset_path(tmp_path, "xnli", "aflite", "ea") == tmp_path / "data" / "aflite" / "xnli" / "ea.parquet"
    assert subset_path(tmp_path, "xnli", "char_noise", "ea") == paths.rule_based_subset_path(tmp_path, "xnli",
                                                                                              "char_noise", "ea")
    assert "adversarial" in subset_path(tmp_path, "xnli", "char_noise", "ea").parts


def test_models_and_outputs(tmp_path):
    root = Path(tmp_path)
    assert paths.intermediate_dir(root, "mnli", "full", 2) == root / "models" / "arms" / "mnli" / "full-s2"
    assert paths.intermediate_dir(root, "mnli", "-", 2).name == "none-s2"  # the control spelling
    assert paths.target_dir(root, "baseline", "none-s1", "xnli") == root / "models/target/baseline/none-s1/xnli"
    assert paths.tuned_path(root, "xnli") == root / "tuned" / "targets" / "xnli.json"
    assert paths.tuned_path(root, "mnli") == root / "tuned" / "intermediate" / "mnli.json"
    assert paths.metrics_path(root, "tune.json").parent.name == "metrics"
    assert paths.runs_path(root, "tune.json").parent.name == "runs"
    assert paths.artifacts_dir(root, "target") == root / "mlartifacts" / "target"


def test_no_stage_or_library_module_builds_a_pipeline_path_by_hand():
    """The directory names of the layout appear in xstilts.core.paths only (and in docstrings and messages)."""
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "xstilts"
    layout = {"prepared", "subsamples", "models", "arms", "tuned", "results", "predictions", "metrics", "runs",
              "reports", ".checkpoints", ".logs", "mlartifacts"}
    offenders = []
    for path in src.rglob("*.py"):
        if path.name == "paths.py" or "rehearsal" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            # `<path> / "models"`: a layout name as the right operand of a path join
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
                    and isinstance(node.right, ast.Constant) and node.right.value in layout:
                offenders.append(f"{path.relative_to(src)}:{node.lineno}")
    assert not offenders, f"build these paths with xstilts.core.paths: {offenders}"
