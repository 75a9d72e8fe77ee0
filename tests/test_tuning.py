"""Learning-rate tuning (xstilts.pipeline.tuning) on a cheap analytic objective: reproducibility, resume after kill -9,
failed trials, pruning, stale-trial recovery, plots, and two worker processes sharing one study (journal file
and PostgreSQL on 127.0.0.1)."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna
import pytest

from xstilts.core.sections import Tune
from xstilts.pipeline import tuning

from .conftest import REPO

KW = dict(seed=3, lr_low=1e-5, lr_high=1e-1, pruner="none")


def space(n_trials: int, lr_low: float = 1e-5, lr_high: float = 1e-1, pruner: str = "none") -> Tune:
    """A `tune` section for the analytic objective (the keys search_lr does not read are filler)."""
    return Tune(seed=0, n_trials=n_trials, lr_low=lr_low, lr_high=lr_high, train_examples=1, epochs=2, pruner=pruner,
                storage="memory", shared=False)


def search(objective, *, n_trials: int, seed: int, lr_low: float, lr_high: float, pruner: str, **kw):
    return tuning.search_lr(objective, space(n_trials, lr_low, lr_high, pruner), seed=seed, **kw)

# the objective used in every test: a smooth peak at lr = 1e-3 (90 points), reported once per "epoch"
OBJECTIVE = """
import math
def objective(lr, report, number, kill_at=None, nan_above=None, sleep=0.0):
    import os, signal, time
    score = 90.0 - 10.0 * (math.log10(lr) + 3.0) ** 2
    for epoch in range(2):
        time.sleep(sleep)
        if kill_at is not None and number == kill_at and epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        report(epoch + 1, score - (1 - epoch) * 5.0, last=epoch == 1)
    if nan_above is not None and lr > nan_above:
        return float("nan")
    return score
"""
_ns: dict = {}
exec(OBJECTIVE, _ns)
objective = _ns["objective"]


def _lrs(result: tuning.StudyResult) -> list[float]:
    return [r.learning_rate for r in result.records]


def test_sequential_search_is_reproducible_and_seed_dependent():
    a = search(objective, n_trials=6, study_name="s", **KW)
    b = search(objective, n_trials=6, study_name="s", **KW)
    c = search(objective, n_trials=6, study_name="s", **{**KW, "seed": 4})
    assert _lrs(a) == _lrs(b) and _lrs(a) != _lrs(c)
    assert [r.number for r in a.records] == list(range(6)) and all(r.state == "complete" for r in a.records)
    best = max(a.records, key=lambda r: r.value)
    assert (a.best_learning_rate, a.best_value, a.best_number) == (best.learning_rate, best.value, best.number)
    assert all(KW["lr_low"] <= lr <= KW["lr_high"] for lr in _lrs(a))


def test_few_trials_cover_the_range_one_per_log_stratum():
    """4 trials (the default) are a stratified design: one learning rate in each quarter of the log range, in a
    seeded order; TPE's own start-up would draw them at random and could leave whole quarters untried."""
    res = search(objective, n_trials=4, study_name="s", **KW)
    lo, hi = math.log(KW["lr_low"]), math.log(KW["lr_high"])
    strata = sorted(int((math.log(lr) - lo) / (hi - lo) * 4) for lr in _lrs(res))
    assert strata == [0, 1, 2, 3]


def test_each_study_draws_its_own_proposals():
    """The sampler seed distinguishes studies (the tune stage derives it from tune.seed, the role and the task):
    two tasks with the same tune.seed get different learning rates, and a seed reproduces its own."""
    from xstilts.stages.tune import sampler_seed

    params = {"tune": {"seed": 3}}
    seeds = {task: sampler_seed(params, task) for task in ("mnli", "qqp", "xnli", "panx")}
    assert len(set(seeds.values())) == 4
    designs = {task: tuning.startup_design(s, 4, 1e-3, 1e-2) for task, s in seeds.items()}
    assert len({tuple(d) for d in designs.values()}) == 4
    assert designs["mnli"] == tuning.startup_design(seeds["mnli"], 4, 1e-3, 1e-2)
    # beyond TPE_STARTUP trials TPE takes over (and still stays in range)
    many = search(objective, n_trials=tuning.TPE_STARTUP + 2, study_name="m", **KW)
    assert len(set(_lrs(many))) == tuning.TPE_STARTUP + 2
    assert all(KW["lr_low"] <= lr <= KW["lr_high"] for lr in _lrs(many))


def test_nan_and_diverged_trials_fail_with_their_reason_and_the_study_goes_on():
    def diverging(lr, report, number):
        if number == 1:
            raise RuntimeError("Diverged: loss became nan at step 3")
        return objective(lr, report, number, nan_above=1e-2)

    res = search(diverging, n_trials=8, study_name="nan", **KW)
    failed = [r for r in res.records if r.state == "failed"]
    assert len(res.records) == 8 and failed
    assert any("Diverged" in r.reason for r in failed)
    assert all(r.learning_rate > 1e-2 or r.number == 1 for r in failed)
    assert {r.reason for r in failed if r.number != 1} <= {"FloatingPointError: objective returned nan"}
    assert res.best_learning_rate <= 1e-2 and math.isfinite(res.best_value)


def test_all_trials_failing_is_an_error():
    with pytest.raises(RuntimeError, match="no trial completed"):
        search(lambda lr, report, n: float("nan"), n_trials=2, study_name="bad", **KW)


def test_median_pruner_stops_bad_trials_on_intermediate_values():
    res = search(objective, n_trials=12, study_name="p", **{**KW, "pruner": "median"})
    pruned = [r for r in res.records if r.state == "pruned"]
    assert pruned and all(r.reason.startswith("pruned at step") and len(r.intermediate) >= 1 for r in pruned)
    assert all(r.value <= res.best_value for r in pruned)


def test_a_trials_last_evaluation_is_never_pruned():
    """A trial that reached its last evaluation has paid for its training: it completes with that score, even
    where the pruner would have stopped it (here every trial ties at step 1 and differs only at step 2)."""
    def flat_then_peaked(lr, report, number, last_flag=True):
        report(1, 50.0)
        score = objective(lr, lambda *a, **k: None, number)
        report(2, score, last=last_flag)
        return score

    res = search(flat_then_peaked, n_trials=8, study_name="last", **{**KW, "pruner": "median"})
    assert [r.state for r in res.records] == ["complete"] * 8
    assert all(r.value == r.intermediate[-1] for r in res.records)
    # the same reports without `last` do get pruned at step 2: the test above is not vacuous
    unmarked = search(functools.partial(flat_then_peaked, last_flag=False), n_trials=8, study_name="x",
                      **{**KW, "pruner": "median"})
    assert any(r.state == "pruned" and len(r.intermediate) == 2 for r in unmarked.records)


def test_the_reporting_protocol_is_part_of_the_study_name(monkeypatch):
    before = tuning.study_name("mnli", {"seed": 1})
    monkeypatch.setattr(tuning, "PROTOCOL", tuning.PROTOCOL + 1)
    assert tuning.study_name("mnli", {"seed": 1}) != before


def _worker_script(storage: str, name: str, n_trials: int, exclusive: bool, **objective_kwargs) -> str:
    return textwrap.dedent(OBJECTIVE) + textwrap.dedent(f"""
        import functools, sys
        from pathlib import Path
        from xstilts.core.sections import Tune
        from xstilts.pipeline import tuning
        storage = tuning.open_storage({storage!r}, Path("."))
        space = Tune(seed=0, n_trials={n_trials}, lr_low=1e-5, lr_high=1e-1, train_examples=1, epochs=2,
                     pruner="none", storage="memory", shared=False)
        tuning.search_lr(functools.partial(objective, **{objective_kwargs!r}), space, seed=3, study_name={name!r},
                         storage=storage,
                         exclusive={exclusive}, heartbeat=0.2, grace=30.0, collect=False,
                         on_start=lambda number, set_attr: set_attr("pid", __import__("os").getpid()))
        """)


def _python(script: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_kill_9_mid_trial_then_rerun_continues_the_same_study(tmp_path):
    """A worker SIGKILLed in the middle of trial 2 leaves a RUNNING trial; the re-run (the only worker) re-runs
    it with the same LR and ends with exactly the trials an uninterrupted run has: nothing lost or duplicated."""
    url = f"journal:{tmp_path / 'journal.log'}"
    proc = _python(_worker_script(url, "study", 5, True, kill_at=2), tmp_path)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == -signal.SIGKILL, out
    storage = tuning.open_storage(url, tmp_path)
    states = [t.state for t in optuna.load_study(study_name="study", storage=storage).trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.RUNNING]

    resumed = search(objective, n_trials=5, study_name="study", storage=storage, **KW)
    fresh = search(objective, n_trials=5, study_name="fresh", **KW)
    assert _lrs(resumed) == _lrs(fresh) and len(resumed.records) == 5
    assert resumed.interrupted == [2] and resumed.resumed == 2
    retry = next(r for r in resumed.records if r.retry_of == 2)
    assert retry.number == 3 and retry.state == "complete"
    assert len({r.number for r in resumed.records}) == 5
    assert (resumed.best_learning_rate, resumed.best_value) == (fresh.best_learning_rate, fresh.best_value)
    # what the tune stage writes to tuned/<task>.json is the uninterrupted run's, byte for byte
    assert json.dumps(resumed.trials(), sort_keys=True) == json.dumps(fresh.trials(), sort_keys=True)
    # a third run finds the study full: no new trial
    again = search(objective, n_trials=5, study_name="study", storage=storage, **KW)
    assert _lrs(again) == _lrs(resumed) and again.resumed == 5


def test_stale_trials_of_a_dead_worker_are_rerun_by_the_others(tmp_path):
    storage = tuning.open_storage("memory", tmp_path)
    study = tuning.open_study(storage, "stale", "none")
    dead = study.ask()
    dead.suggest_float("learning_rate", 1e-5, 1e-1, log=True)
    dead.set_user_attr("xstilts_heartbeat", time.time() - 3600)
    alive = study.ask()
    alive.suggest_float("learning_rate", 1e-5, 1e-1, log=True)
    alive.set_user_attr("xstilts_heartbeat", time.time())
    assert tuning.recover_interrupted(study, exclusive=False, grace=60) == [dead.number]
    trials = study.get_trials(deepcopy=False)
    assert trials[dead.number].state == optuna.trial.TrialState.FAIL
    assert trials[alive.number].state == optuna.trial.TrialState.RUNNING
    waiting = [t for t in trials if t.state == optuna.trial.TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].user_attrs["retry_of"] == dead.number


def _check_shared_study(storage, name: str, n_trials: int) -> None:
    res = tuning.load_result(storage, name)
    counted = [r.number for r in res.records]
    assert len(counted) == n_trials and len(set(counted)) == n_trials  # every trial recorded exactly once
    study = optuna.load_study(study_name=name, storage=storage)
    extra = [t for t in study.trials if t.number not in counted]
    assert all(t.user_attrs.get("surplus") for t in extra)  # anything else is a surplus ask, never run
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials if t.number in counted)
    assert res.best_value == max(t.value for t in study.trials if t.number in counted)
    assert res.best_learning_rate == study.best_trial.params["learning_rate"]
    assert len({r.user_attrs["pid"] for r in res.records}) == 2  # both workers ran trials


def _two_workers(url: str, cwd: Path, name: str, n_trials: int) -> None:
    procs = [_python(_worker_script(url, name, n_trials, False, sleep=0.3), cwd) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs


def test_two_local_workers_share_one_journal_study(tmp_path):
    url = f"journal:{tmp_path / 'shared.log'}"
    storage = tuning.open_storage(url, tmp_path)
    tuning.open_study(storage, "shared", "none")  # create the study first, then start the workers
    _two_workers(url, tmp_path, "shared", 8)
    _check_shared_study(storage, "shared", 8)


# ------------------------------------------------------------------------------------------------ PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists() and (base / "pg_ctl").exists():
            return base
    return None


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server on 127.0.0.1 (run as the `postgres` user when we are root). Skipped where
    PostgreSQL is not installed, unless XSTILTS_REQUIRE_POSTGRES=1 (set by .ci/run, which installs it)."""
    if os.environ.get("XSTILTS_REQUIRE_POSTGRES"):
        import psycopg  # noqa: F401  (CI: a missing driver is a failure, not a skip)
    else:
        pytest.importorskip("psycopg")
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("XSTILTS_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql (install `postgresql`)")
        pytest.skip("PostgreSQL is not installed")
    data = Path(tempfile.mkdtemp(prefix="xstilts-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "xstilts"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                    "-o", f"-h 127.0.0.1 -p {port} -k {data}", "start"], check=True, capture_output=True)
    try:
        subprocess.run([*as_user, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "xstilts",
                        "optuna"], check=True, capture_output=True)
        yield f"postgresql://xstilts@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_two_workers_on_postgresql_record_every_trial_once(postgres_url, tmp_path):
    storage = tuning.open_storage(postgres_url, tmp_path)
    tuning.open_study(storage, "pg", "none")  # schema and study first: concurrent creation races
    _two_workers(postgres_url, tmp_path, "pg", 8)
    _check_shared_study(storage, "pg", 8)


# ------------------------------------------------------------------------------------------------ misc


def test_storage_urls_and_study_names(tmp_path, monkeypatch):
    monkeypatch.delenv(tuning.STORAGE_ENV, raising=False)
    assert tuning.storage_url(None) == "journal" and tuning.storage_url("memory") == "memory"
    monkeypatch.setenv(tuning.STORAGE_ENV, "postgresql://u@h/db")
    assert tuning.storage_url("journal") == "postgresql://u@h/db"
    tuning.open_storage("journal", tmp_path)
    assert (tmp_path / ".optuna" / "journal.log").parent.is_dir()
    with pytest.raises(ValueError, match="tune.storage"):
        tuning.open_storage("redis://x", tmp_path)
    a = tuning.study_name("mnli", {"lr": [1, 2], "md5": "x"})
    assert a == tuning.study_name("mnli", {"md5": "x", "lr": [1, 2]}) and a.startswith("xstilts-mnli-")
    assert a != tuning.study_name("mnli", {"lr": [1, 3], "md5": "x"})


def test_optuna_plots_are_written(tmp_path):
    storage = tuning.open_storage("memory", tmp_path)
    search(objective, n_trials=4, study_name="plots", storage=storage, **KW)
    paths = tuning.save_plots(storage, "plots", tmp_path / "plots")
    assert [p.name for p in paths] == ["optimization_history.png", "slice.png", "intermediate_values.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_a_torn_journal_line_is_cut_off_by_the_only_worker_and_named_otherwise(tmp_path, capsys):
    url = f"journal:{tmp_path / 'journal.log'}"
    search(objective, n_trials=2, study_name="torn", storage=tuning.open_storage(url, tmp_path), **KW)
    path = tmp_path / "journal.log"
    whole = path.read_bytes()
    n_lines = whole.count(b"\n")
    path.write_bytes(whole + b'{"op_code": 5, "worker_id": "x", "trial_id": 1, "val')  # a kill mid-write
    with pytest.raises(ValueError, match=rf"journal.log:{n_lines + 1}: .*cut short.*delete that line"):
        tuning.open_storage(url, tmp_path)  # a shared storage: another worker may still be writing it
    storage = tuning.open_storage(url, tmp_path, repair=True)
    assert path.read_bytes() == whole and f"journal.log:{n_lines + 1}: cut off" in capsys.readouterr().err
    again = search(objective, n_trials=2, study_name="torn", storage=storage, **KW)
    assert again.resumed == 2  # the study is intact
    lines = whole.split(b"\n")
    path.write_bytes(b"\n".join(lines[:1] + [b"garbage"] + lines[1:]))
    with pytest.raises(ValueError, match=r"journal.log:2: .*not a JSON line"):
        tuning.open_storage(url, tmp_path, repair=True)  # inside the file: never cut, always named
