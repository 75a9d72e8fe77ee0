"""The only module that talks to Optuna: a seeded learning-rate search per task that survives killed workers and
scales out on Optuna's own storages.

- Design: every study has its own sampler seed (the caller derives it from tune.seed, the task's role and the
  task). Its first min(n_trials, TPE_STARTUP) trials are a stratified design over the log-uniform LR range (one
  learning rate in each of that many equal log-width strata, the strata in a seeded order, a seeded position
  inside each: a one-dimensional Latin hypercube; trial i of the study takes the design's i-th value), so that a
  few trials still cover the range; TPE's own start-up phase is that many random proposals, which with 4 trials
  never ends and covers the range only by chance. Trials beyond TPE_STARTUP come from TPE, re-seeded for every
  trial from (study seed, the trial's index in the study), so a study that is interrupted and resumed proposes
  exactly the learning rates an uninterrupted one does.
- Pruning on the per-epoch dev score: median or successive halving (`tune.pruner`); a trial's last evaluation
  is never pruned (it is complete: its training is paid for).
- Storage (`tune.storage`, or $XSTILTS_OPTUNA_STORAGE): "journal" (default: `<root>/.optuna/journal.log`, an
  append-only JournalFileBackend that several local worker processes can share), "journal:<path>",
  "memory", or an RDB URL (postgresql://... for many machines). Studies persist there between runs; the study
  name carries a digest of everything that defines it (task, data md5s, encoder, tuning and fine-tuning
  settings), so a changed setting starts a new study and an unchanged one is continued, never duplicated.
- Faults: a trial whose objective returns NaN/inf or raises Diverged/FloatingPointError is FAILED with its
  reason and the study goes on. Every running trial writes a heartbeat; a trial left RUNNING by a dead worker
  (heartbeat older than the grace period, or any RUNNING trial when the caller says it is the only worker) is
  marked failed ("interrupted") and re-run with the same learning rate; interrupted and surplus trials do not
  count towards `n_trials`. A journal line torn by a killed write (its last line, without its newline) is cut off
  when the caller is the only worker (`open_storage(repair=True)`); any other unreadable line is named (file,
  line) with the fix.
- MLflow is not touched here: the caller records each trial as a nested run (no deprecated MLflowCallback).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..core.sections import Tune

STORAGE_ENV = "XSTILTS_OPTUNA_STORAGE"
HEARTBEAT_SECONDS = 10.0
GRACE_SECONDS = 60.0
# What a trial's `report` does, part of every study's name: a change here starts new studies instead of continuing
# ones run under other rules. 2: a trial's last evaluation is recorded but never pruned (it has paid for its
# training; version 1 could mark a finished trial "pruned" and drop its score). 3: a stratified start-up design
# per study (version 2 proposed the same random learning rates in every study).
PROTOCOL = 3
TPE_STARTUP = 10
"""Optuna's TPESampler default n_startup_trials: the trials it draws at random before modelling anything."""
_HEARTBEAT = "xstilts_heartbeat"
_REASON = "reason"
_INTERRUPTED = "interrupted"
_SURPLUS = "surplus"
_RETRY_OF = "retry_of"


class Pruned(Exception):
    """Raised by `report` when the pruner stops a trial."""


@dataclass
class TrialRecord:
    number: int
    learning_rate: float
    state: str  # complete | pruned | failed
    value: float | None
    intermediate: list[float]
    reason: str = ""
    retry_of: int | None = None  # the interrupted trial this one re-ran
    user_attrs: dict = field(default_factory=dict)


@dataclass
class StudyResult:
    study_name: str
    best_learning_rate: float
    best_value: float
    best_number: int
    records: list[TrialRecord]  # the counted trials, in trial order
    interrupted: list[int]  # trials left RUNNING by a dead worker, re-run (not counted)
    resumed: int  # counted trials that already existed when this call started

    def trials(self) -> list[dict]:
        """The counted trials in trial order, as the tune stage's record keeps them: learning rate, state, final and
        per-epoch dev scores, reason. No trial numbers and no retry links: a run killed mid-trial re-runs that
        trial under a new number, and its record must be byte for byte the one of an uninterrupted run (the numbers,
        retries and interruptions are on the study's MLflow runs)."""
        return [{"learning_rate": r.learning_rate, "state": r.state, "value": r.value, "intermediate": r.intermediate,
                 "reason": r.reason} for r in self.records]


# ------------------------------------------------------------------------------------------------ storage


def storage_url(configured: str | None) -> str:
    """$XSTILTS_OPTUNA_STORAGE, else `tune.storage`, else "journal"."""
    return os.environ.get(STORAGE_ENV) or configured or "journal"


def check_journal(path: Path, *, repair: bool) -> int | None:
    """Check that every line of a journal file is JSON. A torn last line (no newline after it: a write cut short by
    a kill) is cut off when `repair` (the caller is the only worker; a live worker could still be writing it),
    and its 1-based line number returned; otherwise ValueError naming the file, the line and the fix."""
    if not path.exists():
        return None
    data = path.read_bytes()
    lines = data.split(b"\n")
    offset = 0
    for number, line in enumerate(lines, start=1):
        torn_tail = number == len(lines) and line != b""
        if line.strip():
            try:
                json.loads(line)
            except ValueError:
                if torn_tail and repair:
                    with open(path, "r+b") as f:
                        f.truncate(offset)
                        os.fsync(f.fileno())
                    return number
                what = "a write cut short (its last line, no newline)" if torn_tail else "not a JSON line"
                raise ValueError(f"{path}:{number}: Optuna journal line unreadable, {what}; stop every tuning "
                                 f"worker and delete that line, or delete the file (its studies then re-run; the "
                                 f"tuned learning rates come out the same)") from None
        offset += len(line) + 1
    return None


def open_storage(url: str, root: Path, *, repair: bool = False):
    """An Optuna storage for `url` (see the module docstring); ValueError naming `tune.storage` if unknown. A
    journal is checked first (`check_journal`; `repair`: the caller is its only worker)."""
    if url == "memory":
        return optuna.storages.InMemoryStorage()
    if url == "journal" or url.startswith("journal:"):
        path = Path(url[len("journal:"):]) if url.startswith("journal:") else Path(".optuna") / "journal.log"
        path = path if path.is_absolute() else root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        torn = check_journal(path, repair=repair)
        if torn is not None:
            print(f"tune: {path}:{torn}: cut off a journal line torn by a killed write", file=sys.stderr)
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(str(path)))
    if url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "mysql", "sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    raise ValueError(f"tune.storage / ${STORAGE_ENV} = {url!r}: expected 'journal', 'journal:<path>', 'memory' or "
                     f"an RDB URL (postgresql://user@host/db, mysql://..., sqlite:///...)")


def study_name(task: str, definition: dict) -> str:
    """`xstilts-<task>-<digest>`: the digest covers everything that defines the study (not its trial count)."""
    blob = json.dumps({"protocol": PROTOCOL, **definition}, sort_keys=True, default=str).encode()
    return f"xstilts-{task}-{hashlib.sha256(blob).hexdigest()[:12]}"


def _pruner(name: str):
    """Pruners on the per-epoch dev score (step = epochs completed): median (prune below the median of earlier
    trials at the same epoch), halving (successive halving: rungs after 1, 3, 9, ... epochs keep the top third),
    hyperband (several halving brackets with different first rungs: less prone to cutting slow starters)."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def open_study(storage, name: str, pruner: str):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, study_name=name, direction="maximize", pruner=_pruner(pruner),
                               load_if_exists=True)


# ------------------------------------------------------------------------------------------------ bookkeeping


def _excluded(t) -> bool:
    return bool(t.user_attrs.get(_INTERRUPTED) or t.user_attrs.get(_SURPLUS))


def _counted(study) -> list:
    """Trials that count towards n_trials: finished or running, not interrupted, not surplus."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    return [t for t in study.get_trials(deepcopy=False, states=states) if not _excluded(t)]


def recover_interrupted(study, *, exclusive: bool, grace: float = GRACE_SECONDS) -> list[int]:
    """Fail trials left RUNNING by a dead worker and enqueue a re-run of each with the same learning rate.
    `exclusive`: the caller is the only worker, so every RUNNING trial is dead; otherwise only those whose
    heartbeat is older than `grace` seconds."""
    now = time.time()
    dead = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        beat = t.user_attrs.get(_HEARTBEAT, t.datetime_start.timestamp() if t.datetime_start else now)
        if exclusive or now - beat > grace:
            dead.append(t)
    recovered = []
    for t in dead:
        storage = study._storage
        try:
            storage.set_trial_user_attr(t._trial_id, _INTERRUPTED, True)
            storage.set_trial_user_attr(t._trial_id, _REASON, "left RUNNING by a worker that died; re-run")
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker got there first
            continue
        if "learning_rate" in t.params:
            study.enqueue_trial({"learning_rate": t.params["learning_rate"]}, user_attrs={_RETRY_OF: t.number},
                                skip_if_exists=False)
        recovered.append(t.number)
    return recovered


class _Heartbeat:
    """Writes the trial's heartbeat every `interval` seconds from a background thread."""

    def __init__(self, study, trial, interval: float):
        self._storage, self._id, self._interval = study._storage, trial._trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.set_trial_user_attr(self._id, _HEARTBEAT, time.time())
            except Exception:  # the trial finished meanwhile
                return

    def __enter__(self):
        self._storage.set_trial_user_attr(self._id, _HEARTBEAT, time.time())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def startup_design(seed: int, n: int, lr_low: float, lr_high: float) -> list[float]:
    """`n` learning rates, one in each of `n` equal log-width strata of [lr_low, lr_high], in a seeded order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    order, offset = rng.permutation(n), rng.random(n)
    lo, hi = math.log(lr_low), math.log(lr_high)
    return [float(math.exp(lo + (int(order[i]) + float(offset[i])) / n * (hi - lo))) for i in range(n)]


class _Fixed(optuna.samplers.BaseSampler):
    """Proposes one given learning rate: the start-up design's value for the trial being asked (a re-run of an
    interrupted trial is enqueued with its own value and bypasses the sampler)."""

    def __init__(self, value: float):
        self._value = value

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._value


def _seed_for(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"tpe|{seed}|{index}".encode()).digest()[:4], "little")


def _record(t) -> TrialRecord:
    state = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(t.state, "failed")
    steps = sorted(t.intermediate_values)
    value = t.value if t.state == TrialState.COMPLETE else (t.intermediate_values[steps[-1]] if steps else None)
    return TrialRecord(t.number, float(t.params.get("learning_rate", math.nan)), state, value,
                       [t.intermediate_values[s] for s in steps], str(t.user_attrs.get(_REASON, "")),
                       t.user_attrs.get(_RETRY_OF),
                       {k: v for k, v in t.user_attrs.items() if k not in (_HEARTBEAT, _REASON, _RETRY_OF)})


# ------------------------------------------------------------------------------------------------ search


def search_lr(objective: Callable[[float, Callable[[int, float], None], int], float], tune: Tune, *, seed: int,
              study_name: str, storage=None, exclusive: bool = True,
              heartbeat: float = HEARTBEAT_SECONDS, grace: float = GRACE_SECONDS,
              on_start: Callable[[int, object], None] | None = None,
              on_trial: Callable[[TrialRecord], None] | None = None, collect: bool = True,
              enqueue: list[float] | None = None) -> StudyResult | None:
    """Run `objective(lr, report, trial_number)` (maximised) until the study holds `tune.n_trials` counted trials,
    each from a learning rate in [`tune.lr_low`, `tune.lr_high`] (log scale), pruned by `tune.pruner`; `seed` is
    the study's sampler seed.
    The objective calls `report(step, value, last=False)` after each evaluation; the pruner may stop the trial
    there (raising `Pruned`) unless `last` says it was the trial's final evaluation.

    `exclusive=True` (the DVC stage): this process is the only worker, so trials left RUNNING are dead and are
    re-run at once. `exclusive=False` (scale-out workers sharing a storage): only trials whose heartbeat is older
    than `grace` seconds are. `on_start(trial_number, set_attr)` lets the caller attach e.g. its MLflow run id to
    the trial (`set_attr(key, value)`). `enqueue`: learning rates to try first, in order (a new study only; used
    to replay another study's trials); without it a new study enqueues its stratified start-up design
    (`startup_design`, from `seed`). Returns the study's result (None if `collect=False`, for workers)."""
    n_trials, lr_low, lr_high = tune.n_trials, tune.lr_low, tune.lr_high
    storage = storage if storage is not None else optuna.storages.InMemoryStorage()
    study = open_study(storage, study_name, tune.pruner)
    if enqueue and not study.get_trials(deepcopy=False):
        for lr in enqueue:
            study.enqueue_trial({"learning_rate": lr})
    design = startup_design(seed, min(n_trials, TPE_STARTUP), lr_low, lr_high)
    resumed = len([t for t in _counted(study) if t.state != TrialState.RUNNING])
    interrupted = recover_interrupted(study, exclusive=exclusive, grace=grace)
    while True:
        if not exclusive:
            interrupted += recover_interrupted(study, exclusive=False, grace=grace)
        counted = _counted(study)
        if len(counted) >= n_trials:
            break
        index = len(counted)
        study.sampler = (_Fixed(design[index]) if index < len(design)
                         else optuna.samplers.TPESampler(seed=_seed_for(seed, index)))
        trial = study.ask()
        # several workers may ask at once: a trial beyond the first n_trials counted ones is surplus, not run
        ahead = [t for t in _counted(study) if t.number < trial.number]
        if len(ahead) >= n_trials:
            trial.set_user_attr(_SURPLUS, True)
            study.tell(trial, state=TrialState.FAIL)
            break
        lr = trial.suggest_float("learning_rate", lr_low, lr_high, log=True)
        if on_start:
            on_start(trial.number, trial.set_user_attr)

        def report(step: int, value: float, last: bool = False, trial=trial) -> None:
            trial.report(value, step)
            if not last and trial.should_prune():
                raise Pruned(f"pruned at step {step} with {value:.2f}")

        with _Heartbeat(study, trial, heartbeat):
            try:
                value = objective(lr, report, trial.number)
                if not math.isfinite(value):
                    raise FloatingPointError(f"objective returned {value}")
                state, reason = TrialState.COMPLETE, ""
            except Pruned as exc:
                state, reason, value = TrialState.PRUNED, str(exc), None
            except (FloatingPointError, RuntimeError) as exc:  # diverged / NaN loss: recorded, the study goes on
                state, reason, value = TrialState.FAIL, f"{type(exc).__name__}: {exc}", None
        if reason:
            trial.set_user_attr(_REASON, reason)
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        if on_trial:
            on_trial(_record(study._storage.get_trial(trial._trial_id)))
    if not collect:
        return None
    return result(study, interrupted=interrupted, resumed=resumed)


def result(study, *, interrupted: list[int] | None = None, resumed: int = 0) -> StudyResult:
    """The best learning rate of a study and the records of its counted trials."""
    records = [_record(t) for t in sorted(_counted(study), key=lambda t: t.number)]
    complete = [r for r in records if r.state == "complete"]
    if not complete:
        raise RuntimeError(f"{study.study_name}: no trial completed ({[r.reason for r in records]})")
    best = max(complete, key=lambda r: (r.value, -r.number))
    dead = sorted(set(interrupted or []) | {t.number for t in study.get_trials(deepcopy=False)
                                            if t.user_attrs.get(_INTERRUPTED)})
    return StudyResult(study.study_name, best.learning_rate, float(best.value), best.number, records, dead, resumed)


def load_result(storage, name: str) -> StudyResult:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return result(optuna.load_study(study_name=name, storage=storage))


# ------------------------------------------------------------------------------------------------ plots


def save_plots(storage, name: str, out_dir: Path) -> list[Path]:
    """Optuna's optimisation history, slice and intermediate-value plots of a study as PNGs in `out_dir`."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as ovm

    study = optuna.load_study(study_name=name, storage=storage)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna.visualization.matplotlib is marked experimental
        for fname, fn in (("optimization_history", ovm.plot_optimization_history), ("slice", ovm.plot_slice),
                          ("intermediate_values", ovm.plot_intermediate_values)):
            ax = fn(study)
            fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            path = out_dir / f"{fname}.png"
            fig.savefig(path, dpi=100, metadata={"Software": None})
            matplotlib.pyplot.close(fig)
            paths.append(path)
    return paths
