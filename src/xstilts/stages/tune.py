"""Stage `tune`: an Optuna learning-rate search per task (intermediate and target) on the pretrained encoder;
the best LR of each task goes to tuned/<task>.json, which the training stages read.

As a DVC stage it is the only worker of its studies (trials left RUNNING by a killed run are re-run at once) and
continues any study it finds in the storage (`tune.storage`). Scale-out: start `python -m xstilts.stages.tune
--worker [--task T]` on any number of processes or machines sharing one storage (PostgreSQL across machines:
$XSTILTS_OPTUNA_STORAGE=postgresql://...); each runs trials until the studies are full, and a later `dvc repro`
collects the results without training again."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core import paths, sections, tasks
from ..core.io import md5_file, stable_seed, write_json, write_metrics
from ..data.subsample import subsample
from ..pipeline import stagerun, tracking, tuning
from ..train.common import Dataset, load_dataset, tokenizer
from ..train.finetune import hyper, train_task


def study_definition(root: Path, params: dict, task: str, train_md5: str, dev_md5: str) -> dict:
    """Everything that defines a task's study (its digest names the study), except the trial count."""
    tu = params["tune"]
    encoder = paths.arm_dir(root, "baseline") / "model.safetensors"
    return {"task": task, "train_md5": train_md5, "dev_md5": dev_md5, "encoder_md5": md5_file(encoder),
            "tune": {k: tu[k] for k in ("seed", "lr_low", "lr_high", "train_examples", "epochs", "pruner")},
            "finetune": hyper(params, task)}


def task_param(task: str) -> str:
    """The tuned task's parameter name in the shared vocabulary (xstilts.pipeline.tracking.PARAMS)."""
    return "target_task" if tasks.get(task).role == "target" else "intermediate_task"


def sampler_seed(params: dict, task: str) -> int:
    """The study's own sampler seed: tune.seed, the task's role and the task (each study its own proposals)."""
    return stable_seed("tune-sampler", params["tune"]["seed"], tasks.get(task).role, task)


def _redact(url: str) -> str:
    """A storage URL without its password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


@dataclass
class Trials:
    """The objective of one task's study: each trial fine-tunes the baseline encoder for `tune.epochs` epochs
    and is its own nested MLflow run (pruned trials end FINISHED: stopped on purpose, not failed). The run's id
    goes on the Optuna trial (user attribute `mlflow_run_id`) and the trial's final state on the run."""

    root: Path
    params: dict
    task: str
    study: str
    train: Dataset
    dev: Dataset
    tok: object
    run_ids: dict[int, str] = field(default_factory=dict)
    _set_attr: dict[int, object] = field(default_factory=dict)

    def start(self, number: int, set_attr) -> None:
        self._set_attr[number] = set_attr

    def objective(self, lr: float, report, number: int) -> float:
        tu = self.params["tune"]
        run_params = {task_param(self.task): self.task, "learning_rate": lr, "trial": number, "seed": tu["seed"],
                      "sampler_seed": sampler_seed(self.params, self.task), "epochs": tu["epochs"],
                      "tune_train_examples": len(self.train.df)}
        with tracking.child_run(self.root, "tune", f"{self.task}-trial-{number}", params=run_params,
                                tags={"optuna_study": self.study}, finished_on=(tuning.Pruned,)) as run:
            self.run_ids[number] = run.run_id
            self._set_attr.pop(number)("mlflow_run_id", run.run_id)

            def on_eval(epoch: int, score: float) -> None:
                run.metrics({tracking.dev_metric(self.task): score}, step=epoch + 1)
                report(epoch + 1, score, last=epoch + 1 == tu["epochs"])  # step = epochs completed

            _, result, score = train_task(paths.arm_dir(self.root, "baseline"), self.train, self.dev, self.tok,
                                          self.params, lr=lr, seed=tu["seed"], epochs=tu["epochs"],
                                          label=f"tune {self.task} #{number}", on_eval=on_eval)
            run.params(result.runtime)
            run.metrics({"train_loss_final": result.losses[-1]})
            return score

    def finished(self, rec: tuning.TrialRecord) -> None:
        if rec.number in self.run_ids:
            tracking.tag_run(self.root, self.run_ids[rec.number], {"trial_state": rec.state,
                                                                   "trial_reason": rec.reason})


def tune_task(root, params: dict, task: str, tok, storage, *, worker: bool = False, shared: bool = False):
    tu = params["tune"]
    info = tasks.get(task)
    train = load_dataset(task, paths.split_path(root, task, "train"))
    dev = load_dataset(task, paths.split_path(root, task, "dev"))
    train = replace(train, df=subsample(train.df, info.format, min(tu["train_examples"], len(train.df)), tu["seed"],
                                        task))
    name = tuning.study_name(task, study_definition(root, params, task, train.md5, dev.md5))
    url = _redact(tuning.storage_url(tu.get("storage")))
    run_name = f"tune-{task}" + ("-worker" if worker else "")
    with tracking.stage_run(root, "tune", run_name, params={task_param(task): task, "tune": tu},
                            tags={"task": task, "optuna_study": name, "optuna_storage": url}) as parent:
        parent.dataset(train.df, f"{task}-train", train.path, train.md5, "training")
        parent.dataset(dev.df, f"{task}-dev", dev.path, dev.md5, "validation")
        trials = Trials(root, params, task, name, train, dev, tok)
        res = tuning.search_lr(trials.objective, sections.of(params, "tune"), seed=sampler_seed(params, task),
                               study_name=name, storage=storage, exclusive=not (worker or shared),
                               on_start=trials.start, on_trial=trials.finished, collect=not worker)
        if worker:
            return None, parent.run_id
        records = res.records
        best = next(r for r in records if r.number == res.best_number)
        parent.metrics({"best_learning_rate": res.best_learning_rate, "best_dev_score": res.best_value,
                        "trials_complete": sum(r.state == "complete" for r in records),
                        "trials_pruned": sum(r.state == "pruned" for r in records),
                        "trials_failed": sum(r.state == "failed" for r in records),
                        "trials_resumed": res.resumed, "trials_interrupted": len(res.interrupted)})
        parent.tags({"best_trial_run_id": best.user_attrs.get("mlflow_run_id", ""),
                     "best_trial_number": best.number})
        with tempfile.TemporaryDirectory() as tmp:
            for path in tuning.save_plots(storage, name, Path(tmp)):
                parent.artifact(path, "optuna")
        record = {"task": task, "learning_rate": res.best_learning_rate, "best_dev_score": res.best_value,
                  "study": name, "trials": res.trials()}
        return record, parent.run_id


def tuned_tasks(params: dict) -> list[str]:
    st = params["study"]
    return st["intermediate_tasks"] + tasks.trained_targets(st["target_tasks"])


def main(argv: list[str] | None = None) -> None:
    def options(ap) -> None:
        ap.add_argument("--worker", action="store_true",
                        help="scale-out worker: run trials in the shared storage, write no stage outputs")
        ap.add_argument("--task", action="append", help="only this task (repeatable; default: every tuned task)")

    st = stagerun.begin("tune", __doc__, argv, options=options)
    params, root, args = st.params, st.root, st.args
    todo = tuned_tasks(params)
    for t in args.task or []:
        if t not in todo:
            raise SystemExit(f"tune: --task {t!r} is not a tuned task of this study ({', '.join(todo)})")
    if args.task and not args.worker:
        raise SystemExit("tune: --task is for --worker runs; the DVC stage tunes every task")
    tok = tokenizer(root)
    exclusive = not (args.worker or params["tune"]["shared"])  # the only worker: a torn journal line is its own
    storage = tuning.open_storage(tuning.storage_url(params["tune"].get("storage")), root, repair=exclusive)
    summary, runs = {}, {}
    t0 = time.time()
    for task in args.task or todo:
        rec, run_id = tune_task(root, params, task, tok, storage, worker=args.worker,
                                shared=params["tune"].get("shared", False))
        if args.worker:
            print(f"tune worker: {task}: done")
            continue
        write_json(paths.tuned_path(root, task), rec)
        summary[f"{task}.learning_rate"] = rec["learning_rate"]
        summary[f"{task}.best_dev_score"] = rec["best_dev_score"]
        runs[f"{task}.mlflow_run_id"] = run_id
        print(f"tune: {task}: lr={rec['learning_rate']:.2e} dev={rec['best_dev_score']:.1f}")
    if not args.worker:
        write_metrics(root, "tune.json", summary, runs=runs)
    print(f"tune: done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    stagerun.run("tune", main)
