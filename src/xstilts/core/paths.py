"""Every on-disk location of the pipeline, in one place: raw inputs are prepared into data/, trained into models/,
evaluated into results/ and predictions/, summarised into metrics/, runs/ and reports/.

Each function takes the directory it is rooted at: the repository root, or for the prepared datasets the
`data/prepared` directory itself (`prepared=`), so that the prepare stage writes its files through the same
functions into the temporary directory it renames into place. Nothing here reads or writes a file."""

from __future__ import annotations

from pathlib import Path

from . import tasks
from .cells import cell_name

# ---- prepared datasets (the prepare stage) -----------------------------------------------------------------------


def prepared_dir(root: Path) -> Path:
    """data/prepared: every dataset of the study in the canonical schema (the prepare stage's one output)."""
    return Path(root) / "data" / "prepared"


def role_dir(task: str) -> str:
    """The folder of a task's role under data/prepared and tuned/: `intermediate` or `targets`."""
    return "targets" if tasks.get(task).role == "target" else "intermediate"


def targets_dir(root: Path) -> Path:
    """data/prepared/targets: one directory per prepared target task."""
    return prepared_dir(root) / "targets"


def task_dir(root: Path | None, task: str, *, prepared: Path | None = None) -> Path:
    """data/prepared/<role>/<task>: train/dev parquet, test/<lang>.parquet, adversarial/, task.json."""
    return (Path(prepared) if prepared is not None else prepared_dir(root)) / role_dir(task) / task


def split_path(root: Path | None, task: str, split: str, *, prepared: Path | None = None) -> Path:
    """data/prepared/<role>/<task>/<split>.parquet (split: train or dev)."""
    return task_dir(root, task, prepared=prepared) / f"{split}.parquet"


def test_path(root: Path | None, task: str, lang: str, *, prepared: Path | None = None) -> Path:
    return task_dir(root, task, prepared=prepared) / "test" / f"{lang}.parquet"


def dev_pool_path(root: Path | None, task: str, lang: str, *, prepared: Path | None = None) -> Path:
    """data/prepared/targets/<task>/dev/<lang>.parquet: a bitext-mining target's dev pool (BUCC: its threshold)."""
    return task_dir(root, task, prepared=prepared) / "dev" / f"{lang}.parquet"


def rule_based_subset_path(root: Path | None, task: str, adversary: str, lang: str, *,
                           prepared: Path | None = None) -> Path:
    """data/prepared/targets/<task>/adversarial/<adversary>/<lang>.parquet: a rule-based subset (prepare)."""
    return task_dir(root, task, prepared=prepared) / "adversarial" / adversary / f"{lang}.parquet"


def pretrain_corpus_dir(root: Path | None, *, prepared: Path | None = None) -> Path:
    """data/prepared/pretrain: one sentence parquet per language and the lexicon (embedded), or model.json (the
    pinned hub encoder)."""
    return (Path(prepared) if prepared is not None else prepared_dir(root)) / "pretrain"


def translated_path(root: Path | None, task: str, lang: str, *, prepared: Path | None = None) -> Path:
    """data/prepared/intermediate/<task>/translated/<lang>.parquet: translations of an intermediate task's English
    training rows (same ids), for the `translated` variant."""
    return task_dir(root, task, prepared=prepared) / "translated" / f"{lang}.parquet"


def mlm_corpus_path(root: Path | None, lang: str, *, prepared: Path | None = None) -> Path:
    """data/prepared/variants/mlm/<lang>.parquet: the masked-LM text of the `mlm` variant given as a folder
    (`variants.mlm.corpus`; the embedded benchmark uses the pretraining corpus instead)."""
    return (Path(prepared) if prepared is not None else prepared_dir(root)) / "variants" / "mlm" / f"{lang}.parquet"


def dictionaries_dir(prepared: Path) -> Path:
    """data/prepared/dictionaries: the generated MUSE-format dictionaries of the embedded benchmark."""
    return Path(prepared) / "dictionaries"


def first_stage_path(root: Path | None, task: str, first_stage: str, split: str, *,
                     prepared: Path | None = None) -> Path:
    """data/prepared/targets/<task>/<first_stage>/<split>.parquet: a target's first fine-tuning phase (XCOPA's
    SocialIQA)."""
    return task_dir(root, task, prepared=prepared) / first_stage / f"{split}.parquet"


# ---- data written after prepare ----------------------------------------------------------------------------------


def model_subset_dir(root: Path, adversary: str) -> Path:
    """data/<adversary>: the subsets of a model-based adversary, written by the stage of the same name."""
    return Path(root) / "data" / adversary


def subsample_path(root: Path, task: str, size_label: str) -> Path:
    return Path(root) / "data" / "subsamples" / task / f"{size_label}.parquet"


def tuned_path(root: Path, task: str) -> Path:
    """tuned/<role>/<task>.json: the tune stage's choice of learning rate."""
    return Path(root) / "tuned" / role_dir(task) / f"{task}.json"


# ---- models ------------------------------------------------------------------------------------------------------


def tokenizer_dir(root: Path) -> Path:
    return Path(root) / "models" / "tokenizer"


def arm_dir(root: Path, arm: str) -> Path:
    """models/arms/<arm>: the pretrain stage writes `baseline` and `random` (one encoder each), the intermediate
    stage one directory per task holding an encoder per cell."""
    return Path(root) / "models" / "arms" / arm


def intermediate_dir(root: Path, task: str, size_label: str, seed: int) -> Path:
    return arm_dir(root, task) / cell_name(size_label, seed)


def target_arm_dir(root: Path, arm: str) -> Path:
    """models/target/<arm>: every target model fine-tuned from one arm's encoders."""
    return Path(root) / "models" / "target" / arm


def target_dir(root: Path, arm: str, cell: str, target: str) -> Path:
    return target_arm_dir(root, arm) / cell / target


def checkpoint_dir(root: Path, stage: str, instance: str) -> Path:
    """.checkpoints/<stage>/<instance>: epoch checkpoints of a running stage instance (removed when it completes)."""
    return Path(root) / ".checkpoints" / stage / instance


# ---- evaluation, metrics, runs, reports --------------------------------------------------------------------------


def results_path(root: Path, arm: str) -> Path:
    return Path(root) / "results" / f"{arm}.parquet"


def predictions_path(root: Path, arm: str) -> Path:
    return Path(root) / "predictions" / f"{arm}.parquet"


def metrics_path(root: Path, rel: str) -> Path:
    """metrics/<rel>: a stage's deterministic numbers (git-tracked, declared to DVC)."""
    return Path(root) / "metrics" / rel


def runs_path(root: Path, rel: str) -> Path:
    """runs/<rel>: the MLflow run ids behind metrics/<rel> (git-tracked, never a DVC dependency of numbers)."""
    return Path(root) / "runs" / rel


def reports_dir(root: Path) -> Path:
    return Path(root) / "reports"


def logs_dir(root: Path) -> Path:
    """.logs: the full traceback of a stage's last failure (gitignored)."""
    return Path(root) / ".logs"


def lock_path(root: Path, instance: str) -> Path:
    """.locks/<stage instance>.lock: held by the process running that stage instance (gitignored)."""
    safe = "".join(c if c.isalnum() or c in "@-_." else "_" for c in instance)
    return Path(root) / ".locks" / f"{safe}.lock"


def artifacts_dir(root: Path, experiment: str) -> Path:
    """mlartifacts/<experiment>: MLflow artifacts, always under the checkout that runs."""
    return Path(root) / "mlartifacts" / experiment
