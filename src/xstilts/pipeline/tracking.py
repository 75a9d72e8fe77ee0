"""The only module that talks to MLflow.

Store: `sqlite:///<repo root>/mlflow.db` with artifacts in `<repo root>/mlartifacts` (both gitignored), the root
coming from $DVC_ROOT inside DVC stages. $MLFLOW_TRACKING_URI overrides it (relative sqlite paths are resolved
against the repo root, so `mlflow run .` from the root logs to the same store). Under `mlflow run` the project
run ($MLFLOW_RUN_ID) becomes the stage's parent run.

A copied or moved checkout keeps its own artifacts: MLflow stores each experiment's artifact location as an
absolute path, so before the local store is used its locations are moved to this checkout's `mlartifacts/`
(`relocate_artifacts`). A stage run closes the runs that a killed process left RUNNING (`close_orphans`: the runs
of this machine whose process is gone end KILLED).
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core import paths

STAGES = ("pretrain", "tune", "aflite", "intermediate", "variant", "target", "evaluate")

# ---- the vocabulary every stage logs with (README, "Tracking: MLflow"; checked by the end-to-end test) ----------
PARAMS = {
    "arm": "the arm of the model's encoder: baseline, random, an intermediate task or a variant (multitask, ...)",
    "intermediate_task": "the intermediate task the encoder was fine-tuned on; 'none' for baseline and random, the "
                         "variant's name for a variant (its tasks: `variant.tasks`)",
    "size_label": "the intermediate subsample: a size, 'full', or '-' for baseline and random",
    "train_size": "the examples the intermediate model was trained on (0 for baseline and random)",
    "seed": "the seed of this run's own fine-tuning (a restart's derived seed; `base_seed` is the cell's)",
    "target_task": "the target task a model was fine-tuned or evaluated on",
    "learning_rate": "the learning rate of this run's fine-tuning (a tuning trial's own)",
}
"""Parameter names shared by every stage that has the concept; the tune stage names the tuned task
`intermediate_task` or `target_task` by its role, and its subset size `tune_train_examples`."""
METRIC_NAME = "<task>.<metric>.<language>.<subset>"
"""Scores carry their task and metric: `xnli.accuracy.ea.clean`, `xquad.squad_f1.ed.distractor`; dev scores
are `<task>.<metric>.dev` (per epoch) and `<task>.<metric>.dev_final`."""
DATA_ROLES = ("training", "validation", "test")
"""One digest tag per role, `data.<role>.md5`: the file's DVC md5, or for several files of one role (a model's
test sets) the first 32 hex digits of the sha256 of their sorted `name md5` lines. Each file is also an MLflow
input with its real row count."""


def digest(files: dict[str, str]) -> str:
    """The one digest of a role's files ({name: md5}): the md5 itself for one file, else the first 32 hex digits of
    the sha256 of the sorted `name md5` lines (DATA_ROLES)."""
    import hashlib

    if len(files) == 1:
        return next(iter(files.values()))
    return hashlib.sha256("".join(f"{n} {m}\n" for n, m in sorted(files.items())).encode()).hexdigest()[:32]


def metric_name(task: str, language: str, subset: str) -> str:
    """`<task>.<metric>.<language>.<subset>` (METRIC_NAME)."""
    from ..core import tasks

    return f"{task}.{tasks.get(task).metric}.{language}.{subset}"


def dev_metric(task: str, final: bool = False) -> str:
    from ..core import tasks

    return f"{task}.{tasks.get(task).metric}.dev" + ("_final" if final else "")


def tracking_uri(root: Path) -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not env:
        return f"sqlite:///{root / 'mlflow.db'}"
    if env.startswith("sqlite:///") and not env.startswith("sqlite:////"):
        return f"sqlite:///{(root / env[len('sqlite:///'):]).resolve()}"
    return env


def experiment_name(stage: str) -> str:
    return f"xstilts-{stage}"


class TrackingUnavailable(RuntimeError):
    """The MLflow tracking server named by $MLFLOW_TRACKING_URI does not answer, or the local store cannot be
    written."""


def _check_reachable(uri: str) -> None:
    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5)
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingUnavailable(f"MLflow tracking server {uri} is not reachable ({exc}); start it or unset "
                           f"MLFLOW_TRACKING_URI to use the local sqlite store") from exc


def relocate_artifacts(db: Path, root: Path) -> int:
    """Point every xstilts experiment of the local store `db` (and its runs) at `root`'s mlartifacts/ when the
    store was written by a checkout elsewhere (copied or moved with its mlflow.db); returns how many experiments
    moved. Only locations of the form file://<somewhere>/mlartifacts/<experiment> are touched."""
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        try:
            rows = con.execute("SELECT experiment_id, name, artifact_location FROM experiments").fetchall()
        except sqlite3.OperationalError:  # not an MLflow store yet
            return 0
        moved = 0
        for exp_id, name, location in rows:
            want = paths.artifacts_dir(root, name).as_uri()
            tail = f"/mlartifacts/{name}"
            if location == want or not str(location).startswith("file://") or not str(location).endswith(tail):
                continue
            old_base, new_base = location[:-len(name)], want[:-len(name)]
            con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", (want, exp_id))
            con.execute("UPDATE runs SET artifact_uri = ? || substr(artifact_uri, ?) "
                        "WHERE experiment_id = ? AND substr(artifact_uri, 1, ?) = ?",
                        (new_base, len(old_base) + 1, exp_id, len(old_base), old_base))
            moved += 1
        con.commit()
        return moved
    finally:
        con.close()


def check_writable(db: Path) -> None:
    """The local sqlite store (or, before it exists, its folder) must be writable: TrackingUnavailable naming the
    file and the fix, before MLflow would fail deep inside SQLAlchemy. The probe rewrites the database header's
    user_version with its own value (a write sqlite refuses on a read-only file; MLflow does not use the field)."""
    if not db.exists():
        if not os.access(db.parent, os.W_OK):
            raise TrackingUnavailable(f"{db.parent}: the folder of the MLflow store {db.name} is not writable; make "
                                      f"it writable or set MLFLOW_TRACKING_URI to another store")
        return
    con = None
    try:
        con = sqlite3.connect(db)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        con.execute(f"PRAGMA user_version = {int(version)}")
        con.commit()
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc) and "unable to open" not in str(exc):
            return  # e.g. locked by a reader (an open MLflow UI) for longer than the timeout: MLflow waits itself
        raise TrackingUnavailable(f"{db}: the MLflow store cannot be written ({exc}); make it writable "
                                  f"(chmod u+w {db}) or set MLFLOW_TRACKING_URI to another store") from exc
    finally:
        if con is not None:
            con.close()


@functools.cache
def _store(root: str) -> str:
    """The tracking URI of `root`, checked once: a server must answer; this checkout's own sqlite store (never a
    shared one named by $MLFLOW_TRACKING_URI) gets its artifact locations moved here if another checkout wrote it."""
    uri = tracking_uri(Path(root))
    _check_reachable(uri)
    local = Path(root) / "mlflow.db"
    if uri == f"sqlite:///{local}":
        check_writable(local)
        moved = relocate_artifacts(local, Path(root))
        if moved:
            print(f"tracking: {local} was written by another checkout; the artifact locations of {moved} "
                  f"experiments now point at {paths.artifacts_dir(Path(root), '')}", file=sys.stderr)
    return uri


def _client(root: str):
    import mlflow

    uri = _store(root)
    if mlflow.get_tracking_uri() != uri:
        before = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(uri)
        # MLflow also exports the URI to the environment; put back the user's, which `tracking_uri` reads
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before
    return mlflow


def setup_experiments(root: Path) -> None:
    """Create every stage's experiment once (before any fan-out; concurrent creation races in sqlite)."""
    mlflow = _client(str(root))
    for stage in STAGES:
        _ensure_experiment(mlflow, root, stage)


def _ensure_experiment(mlflow, root: Path, stage: str) -> str:
    name = experiment_name(stage)
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        try:
            return mlflow.create_experiment(name, artifact_location=paths.artifacts_dir(root, name).as_uri())
        except Exception:  # created concurrently by another process
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
    return exp.experiment_id


@functools.cache
def git_commit(root: str) -> str:
    from ..core.vcs import git_commit as _commit

    return _commit(Path(root))


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


class Run:
    """A handle on an active MLflow run: log params/metrics/artifacts/inputs; `run_id` for the metrics files."""

    def __init__(self, mlflow, run):
        self._mlflow = mlflow
        self.run_id: str = run.info.run_id
        self._digests: dict[str, dict[str, str]] = {}

    def params(self, params: dict) -> None:
        flat = {k: (str(v) if not isinstance(v, (int, float, str, bool)) else v) for k, v in _flat(params).items()}
        self._mlflow.log_params(flat)

    def metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        clean = {k.replace("@", "_"): float(v) for k, v in metrics.items() if v is not None and v == v}
        if clean:
            self._mlflow.log_metrics(clean, step=step)

    def tags(self, tags: dict[str, Any]) -> None:
        self._mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=subdir)

    def dataset(self, df, name: str, path: Path, md5: str, context: str) -> None:
        """Record an input dataset (its rows counted, its DVC md5 as digest) under `context` (a DATA_ROLES role),
        and the role's one digest tag `data.<context>.md5`."""
        import warnings

        if context not in DATA_ROLES:
            raise ValueError(f"dataset {name}: context {context!r} is not one of {', '.join(DATA_ROLES)}")
        with warnings.catch_warnings():  # schema-inference hints about integer columns are noise here
            warnings.simplefilter("ignore")
            ds = self._mlflow.data.from_pandas(df, source=str(path), name=name, digest=md5[:32])
            self._mlflow.log_input(ds, context=context)
        files = self._digests.setdefault(context, {})
        files[name] = md5
        self._mlflow.set_tag(f"data.{context}.md5", digest(files))


class NullRun:
    """What ranks other than 0 of a data-parallel stage get: the same interface, nothing logged (run_id "")."""

    run_id = ""

    def params(self, params: dict) -> None: ...
    def metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def tags(self, tags: dict[str, Any]) -> None: ...
    def artifact(self, path: Path, subdir: str | None = None) -> None: ...
    def dataset(self, df, name: str, path: Path, md5: str, context: str) -> None: ...


def _opened(handle: Run, root: Path, stage: str, params: dict | None, tags: dict | None) -> Run:
    """Tag a new run with the code version, the DVC stage and the xstilts stage, the process that writes it
    (host and pid, for `close_orphans`), plus `tags`; log `params`."""
    handle.tags({"git_commit": git_commit(str(root)), "dvc_stage": os.environ.get("DVC_STAGE", "manual"),
                 "xstilts_stage": stage, "xstilts_host": socket.gethostname(), "xstilts_pid": os.getpid(),
                 **(tags or {})})
    if params:
        handle.params(params)
    return handle


def close_orphans(mlflow, experiment_id: str) -> list[str]:
    """End KILLED every RUNNING run of the experiment written on this machine by a process that no longer
    exists (a stage killed with SIGKILL cannot end its own runs); returns their ids."""
    from ..core.io import pid_alive

    client = mlflow.MlflowClient()
    host = socket.gethostname()
    closed = []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=5000):
        tags = run.data.tags
        pid = int(tags.get("xstilts_pid", "0") or 0)
        if tags.get("xstilts_host") != host or not pid or pid == os.getpid() or pid_alive(pid):
            continue
        client.set_tag(run.info.run_id, "xstilts_closed", f"process {pid} ended without closing the run")
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(run.info.run_id)
    return closed


@contextlib.contextmanager
def stage_run(root: Path, stage: str, run_name: str, params: dict | None = None,
              tags: dict | None = None) -> Iterator[Run]:
    """The stage's parent run (the `mlflow run` project run when there is one); a NullRun off rank 0."""
    from ..train import distributed

    if not distributed.is_main():
        yield NullRun()
        return
    mlflow = _client(str(root))
    exp_id = _ensure_experiment(mlflow, root, stage)
    closed = close_orphans(mlflow, exp_id)
    if closed:
        print(f"tracking: {len(closed)} run(s) of {experiment_name(stage)} left RUNNING by a killed process are now "
              f"KILLED", file=sys.stderr)
    project = bool(os.environ.get("MLFLOW_RUN_ID"))
    if project:
        ctx = mlflow.start_run()  # attach to the project run created by `mlflow run`
    else:
        ctx = mlflow.start_run(experiment_id=exp_id, run_name=run_name)
    with ctx as run:
        if project:  # `mlflow run` names its run at random: name it after the stage, as a DVC-run stage is
            mlflow.set_tag("mlflow.runName", run_name)
        yield _opened(Run(mlflow, run), root, stage, params, tags)


@contextlib.contextmanager
def child_run(root: Path, stage: str, run_name: str, params: dict | None = None,
              tags: dict | None = None, finished_on: tuple[type[BaseException], ...] = ()) -> Iterator[Run]:
    """A run nested under the active stage run; a NullRun off rank 0. An exception of a `finished_on` type (e.g. a
    pruned tuning trial: stopped on purpose, not failed) ends the run FINISHED and propagates; any other ends it
    FAILED (KILLED on Ctrl-C)."""
    from ..train import distributed

    if not distributed.is_main():
        yield NullRun()
        return
    mlflow = _client(str(root))
    parent = mlflow.active_run()
    kwargs = ({"experiment_id": parent.info.experiment_id} if parent
              else {"experiment_id": _ensure_experiment(mlflow, root, stage)})
    run = mlflow.start_run(run_name=run_name, nested=parent is not None, **kwargs)
    try:
        yield _opened(Run(mlflow, run), root, stage, params, tags)
    except BaseException as exc:
        status = "FINISHED" if isinstance(exc, finished_on) else \
            "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        mlflow.end_run(status=status)
        raise
    mlflow.end_run()


def tag_run(root: Path, run_id: str, tags: dict[str, Any]) -> None:
    """Set tags on a finished run (e.g. a tuning trial's final state)."""
    mlflow = _client(str(root))
    client = mlflow.MlflowClient()
    for k, v in tags.items():
        client.set_tag(run_id, k, str(v)[:5000])


def log_artifact(root: Path, run_id: str, path: Path, subdir: str | None = None) -> None:
    """Attach a file to a finished run (e.g. a model's resolved config, written after its run ended)."""
    if not run_id:
        return
    mlflow = _client(str(root))
    mlflow.MlflowClient().log_artifact(run_id, str(path), artifact_path=subdir)


def log_metrics(root: Path, run_id: str, metrics: dict[str, float]) -> None:
    """Log metrics to a finished run (e.g. a reference model's test-set scores, computed after its run ended)."""
    if not run_id:
        return
    mlflow = _client(str(root))
    client = mlflow.MlflowClient()
    for k, v in metrics.items():
        if v is not None and v == v:
            client.log_metric(run_id, k.replace("@", "_"), float(v))
