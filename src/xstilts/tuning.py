"""The only module that talks to Optuna: a seeded, sequential learning-rate search per task.

TPE sampler seeded from params.yaml, log-uniform LR range, pruning on intermediate evaluations (median or
successive halving), trials recorded by the caller as nested MLflow runs (no deprecated MLflowCallback).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import optuna


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


def _pruner(name: str):
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def search_lr(objective: Callable[[float, Callable[[int, float], None], int], float], *, seed: int, n_trials: int,
              lr_low: float, lr_high: float, pruner: str, study_name: str,
              on_trial: Callable[[TrialRecord], None] | None = None) -> tuple[float, float, list[TrialRecord]]:
    """Maximise `objective(lr, report, trial_number)`; returns (best lr, best value, trial records)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed), pruner=_pruner(pruner))
    records: list[TrialRecord] = []
    for _ in range(n_trials):
        trial = study.ask()
        lr = trial.suggest_float("learning_rate", lr_low, lr_high, log=True)
        seen: list[float] = []

        def report(step: int, value: float) -> None:
            seen.append(value)
            trial.report(value, step)
            if trial.should_prune():
                raise Pruned(f"pruned at step {step} with {value:.2f}")

        try:
            value = objective(lr, report, trial.number)
            if not math.isfinite(value):
                raise FloatingPointError(f"objective returned {value}")
            study.tell(trial, value)
            rec = TrialRecord(trial.number, lr, "complete", value, seen)
        except Pruned as exc:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            rec = TrialRecord(trial.number, lr, "pruned", seen[-1] if seen else None, seen, str(exc))
        except (FloatingPointError, RuntimeError) as exc:  # diverged / NaN loss: recorded, the study goes on
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            rec = TrialRecord(trial.number, lr, "failed", None, seen, f"{type(exc).__name__}: {exc}")
        records.append(rec)
        if on_trial:
            on_trial(rec)
    complete = [r for r in records if r.state == "complete"]
    if not complete:
        raise RuntimeError(f"{study_name}: no trial completed ({[r.reason for r in records]})")
    best = max(complete, key=lambda r: (r.value, -r.number))
    return best.learning_rate, float(best.value), records
