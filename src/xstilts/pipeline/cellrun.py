"""Pipeline glue shared by the intermediate, target and aflite stages: fine-tune one model, check it against the
degenerate-model rule of params.yaml (:mod:`xstilts.train.health`, on the English dev set only, never test data) and
restart it from a new seed while it is degenerate, as STILTs did for unstable fine-tunings (Phang et al. 2018).

- Attempt 0 uses the cell's own seed, so a healthy model is exactly the one a run without restarts trains;
  attempt k > 0 uses ``stable_seed("restart", seed, k)``, up to ``finetune.restarts`` restarts.
- Every attempt is its own nested MLflow run, tagged with its attempt number and outcome (``healthy`` or
  ``degenerate: <reasons>``), with its dev health as metrics.
- Selection uses dev only: the first healthy attempt; when every attempt is degenerate, the one with the best dev
  score, which stays flagged (``degenerate: true`` in the model's record, the stage's metrics and the report).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.io import atomic_path, stable_seed
from ..train import distributed, health
from ..train.common import Dataset
from ..train.finetune import train_task
from ..train.loop import Diverged
from . import tracking


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed of restart `attempt` of a model whose own seed is `seed` (attempt 0: the seed itself)."""
    return seed if attempt == 0 else stable_seed("restart", seed, attempt)


@dataclass
class Attempt:
    number: int
    seed: int
    dev_score: float | None
    health: dict | None  # health.Health.as_dict() on the dev set (None: no dev set)
    run_id: str

    @property
    def degenerate(self) -> bool:
        return bool(self.health and self.health["degenerate"])


@dataclass
class CellOutcome:
    model: object
    result: object
    dev_score: float | None
    attempts: list[Attempt] = field(default_factory=list)
    chosen: int = 0

    @property
    def restarts(self) -> int:
        return len(self.attempts) - 1

    @property
    def seed(self) -> int:
        return self.attempts[self.chosen].seed

    @property
    def run_id(self) -> str:
        return self.attempts[self.chosen].run_id

    @property
    def degenerate(self) -> bool:
        return self.attempts[self.chosen].degenerate

    def record(self) -> dict:
        """What the model's own record (model.json / run.json) says about its attempts."""
        chosen = self.attempts[self.chosen]
        return {"restarts": self.restarts, "degenerate": self.degenerate, "trained_seed": chosen.seed,
                "attempts": [{"attempt": a.number, "seed": a.seed, "dev_score": a.dev_score,
                              "outcome": _outcome(a), "mlflow_run_id": a.run_id} for a in self.attempts],
                "dev_health": chosen.health}

    def metrics(self, prefix: str) -> dict:
        """Deterministic numbers for the stage's metrics file (no run ids)."""
        out = {f"{prefix}.restarts": self.restarts, f"{prefix}.degenerate": int(self.degenerate)}
        h = self.attempts[self.chosen].health
        if h is not None and h.get("top_share") is not None:
            out[f"{prefix}.dev_top_label_share"] = h["top_share"]
        return out


def _outcome(a: Attempt) -> str:
    if a.health is None:
        return "unchecked (no dev set)"
    return f"degenerate: {a.health['reasons']}" if a.degenerate else "healthy"


def _better(a: Attempt, b: Attempt | None) -> bool:
    if b is None:
        return True
    if a.degenerate != b.degenerate:
        return not a.degenerate
    score = lambda x: x.dev_score if x.dev_score is not None and math.isfinite(x.dev_score) else -math.inf  # noqa: E731
    return score(a) > score(b)


def train_cell(root: Path, stage: str, run_name: str, *, encoder_dir: Path, train: Dataset, dev: Dataset | None,
               tok, params: dict, lr: float, seed: int, label: str, run_params: dict, dataset_name: str,
               tags: dict | None = None, checkpoint: Path | None = None) -> CellOutcome:
    """Fine-tune (fresh head on `encoder_dir`) until healthy or out of restarts; see the module docstring."""
    rule = health.Rule.from_params(params)
    restarts = int(params["finetune"]["restarts"])
    dev_name = tracking.dev_metric(train.task.name)
    outcome: CellOutcome | None = None
    attempts: list[Attempt] = []
    for k in range(restarts + 1):
        s = attempt_seed(seed, k)
        suffix = f"-restart{k}" if k else ""
        ckpt = None if checkpoint is None else (checkpoint if k == 0
                                                else checkpoint.with_name(checkpoint.name + suffix))
        with tracking.child_run(root, stage, run_name + suffix, params={**run_params, "seed": s, "base_seed": seed,
                                                                       "attempt": k}, tags=tags) as run:
            run.dataset(train.df, dataset_name, train.path, train.md5, "training")
            if dev is not None:
                run.dataset(dev.df, f"{dev.task.name}-dev", dev.path, dev.md5, "validation")
            try:
                model, result, dev_score = train_task(
                    encoder_dir, train, dev, tok, params, lr=lr, seed=s, label=label + suffix, checkpoint=ckpt,
                    on_eval=lambda epoch, score, run=run: run.metrics({dev_name: score}, step=epoch))
            except Diverged as exc:  # a NaN/inf loss: degenerate by definition, restarted like any other
                attempt = Attempt(k, s, None, {"degenerate": True, "reasons": f"diverged ({exc})"}, run.run_id)
                run.tags({"attempt": k, "outcome": _outcome(attempt)})
                attempts.append(attempt)
                if distributed.is_main():
                    print(f"{label}{suffix}: diverged ({exc})"
                          + (f"; restart {k + 1}/{restarts} from seed {attempt_seed(seed, k + 1)}"
                             if k < restarts else ""))
                continue
            run.params(result.runtime)
            if result.resumed:
                run.tags({"resumed_epochs": result.resumed})
            for epoch, loss in enumerate(result.losses):
                run.metrics({"train_loss": loss}, step=epoch)
            h = None
            if dev is not None and distributed.is_main():
                h = health.assess(dev.fmt.name, dev.fmt.score, dev.task.metric, dev.task.labels, dev.df,
                                  result.dev_predictions, dev_score, rule).as_dict()
            h = distributed.broadcast_object(h)  # every rank takes the same decision
            attempt = Attempt(k, s, dev_score, h, run.run_id)
            run.metrics({tracking.dev_metric(train.task.name, final=True): dev_score,
                         "examples_per_second": result.examples_per_second,
                         "train_seconds": result.seconds,
                         **({f"dev_{key}": h[key] for key in ("majority", "chance", "top_share", "entropy")
                             if h.get(key) is not None} if h else {})})
            run.tags({"attempt": k, "outcome": _outcome(attempt)})
        attempts.append(attempt)
        if outcome is None or _better(attempt, outcome.attempts[outcome.chosen]):
            outcome = CellOutcome(model, result, dev_score, attempts, k)
        if not attempt.degenerate:
            break
        if k < restarts and distributed.is_main():
            print(f"{label}: degenerate on dev ({h['reasons']}); restart {k + 1}/{restarts} from seed "
                  f"{attempt_seed(seed, k + 1)}")
    if outcome is None:
        raise Diverged(f"{label}: every attempt diverged ({restarts + 1} seeds, finetune.restarts = {restarts}); "
                       f"lower the learning rate (tune.lr_high) or raise finetune.restarts")
    outcome.attempts = attempts
    return outcome


def publish(root: Path, out: CellOutcome, directory: Path, save: Callable[[Path], str], *, label: str, prefix: str,
            metrics: dict, runs: dict, note: str = "") -> None:
    """The end of every trained cell of the intermediate and target stages. Rank 0 (every rank holds the same
    weights) writes the model into `directory` atomically through `save(dst)`, which returns the name of the
    record it wrote (run.json / model.json); the record is attached to the cell's MLflow run and one line is
    printed. Every rank adds the cell's deterministic numbers under `prefix` to `metrics` and its run id to `runs`."""
    if distributed.is_main():
        with atomic_path(directory) as dst:
            record = save(dst)
        tracking.log_artifact(root, out.run_id, directory / record)
        flag = " DEGENERATE" if out.degenerate else ""
        print(f"{label}: {note}dev={out.dev_score:.1f} restarts={out.restarts}{flag} ({out.result.seconds:.1f}s)")
    metrics[f"{prefix}.dev_score"] = out.dev_score
    metrics.update(out.metrics(prefix))
    runs[f"{prefix}.mlflow_run_id"] = out.run_id
