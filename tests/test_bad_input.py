"""Bad input fails early with a message naming the file, key or service, and leaves nothing half-written."""

from __future__ import annotations

import os
import socket

import pandas as pd
import pytest

from xstilts.core import io
from xstilts.pipeline import tracking
from xstilts.train.common import load_dataset
from xstilts.train.modeling import TaskModel, load_encoder


@pytest.fixture
def xnli_file(tmp_path):
    df = pd.DataFrame({"id": ["a", "b"], "lang": ["en", "en"], "text_a": ["x y", "z"], "text_b": ["x", "w"],
                       "label": [0, 2], "meta": ["", ""]})
    path = tmp_path / "test" / "en.parquet"
    io.write_parquet(df, path)
    return path


def test_truncated_parquet_names_the_file(xnli_file):
    data = xnli_file.read_bytes()
    xnli_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{xnli_file}: not a readable parquet file"):
        load_dataset("xnli", xnli_file)


def test_garbage_and_missing_parquet_name_the_file(tmp_path):
    bad = tmp_path / "garbage.parquet"
    bad.write_text("not parquet at all")
    with pytest.raises(ValueError, match="garbage.parquet: not a readable parquet file"):
        io.read_parquet(bad)
    with pytest.raises(FileNotFoundError, match="missing.parquet: missing .*dvc repro"):
        io.read_parquet(tmp_path / "missing.parquet")


def test_wrong_schema_names_the_file_and_columns(tmp_path):
    path = tmp_path / "x.parquet"
    io.write_parquet(pd.DataFrame({"id": ["a"], "premise": ["p"]}), path)
    with pytest.raises(ValueError, match=r"x.parquet: not in the canonical 'pair' schema; missing columns"):
        load_dataset("xnli", path)


def test_missing_checkpoints_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors: encoder checkpoint missing"):
        load_encoder(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="model checkpoint missing"):
        TaskModel.load(tmp_path / "nothing")


def test_output_under_a_file_fails_before_writing(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    with pytest.raises((FileExistsError, NotADirectoryError), match="results"):
        io.write_json(blocker / "metrics.json", {"a": 1})
    assert blocker.read_text().startswith("a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_directory_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="locked is not writable"):
            io.write_json(locked / "m.json", {})
    finally:
        locked.chmod(0o700)


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "out.json"
    io.write_json(target, {"old": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text('{"new": ')  # a crash in the middle of writing
            raise RuntimeError("crash")
    assert io.read_json(target) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_tracking_server_down_fails_early_naming_it(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    with pytest.raises(RuntimeError, match=f"MLflow tracking server http://127.0.0.1:{port} is not reachable"):
        with tracking.stage_run(tmp_path, "tune", "x"):
            pass


def _cli(monkeypatch, root, *argv):
    from xstilts import cli

    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.setenv("XSTILTS_ROOT", str(root))
    return cli.main(list(argv))


def test_verify_report_names_a_file_that_is_not_a_report(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text("profile: default\n")
    assert _cli(monkeypatch, tmp_path, "verify-report", "--report", "params.yaml") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "params.yaml: not a report" in err[0] and "correlation.json" in err[0]
    (tmp_path / "other.json").write_text('{"a": 1}')
    assert _cli(monkeypatch, tmp_path, "verify-report", "--report", "other.json") == 1
    assert "other.json: not a report (no `provenance` section" in capsys.readouterr().err


def test_adversaries_refuses_an_unknown_language_and_an_index_beyond_every_set(tmp_path, monkeypatch, capsys):
    import json

    from xstilts.adversaries import subset_path
    from xstilts.core import paths

    d = tmp_path / "data" / "prepared" / "targets" / "xnli"
    d.mkdir(parents=True)
    (d / "task.json").write_text(json.dumps({"task": "xnli", "languages": ["en", "ea"],
                                             "adversaries": ["char_noise"]}))
    clean = pd.DataFrame({"id": ["a", "b"], "lang": ["ea", "ea"], "text_a": ["x y", "z"], "text_b": ["x", "w"],
                          "label": [0, 2], "meta": ["", ""]})
    io.write_parquet(clean, paths.test_path(tmp_path, "xnli", "ea"))
    adv = clean.assign(id=["a~n", "b~n"], source_id=["a", "b"], text_a=["x yy", "zz"])
    io.write_parquet(adv, subset_path(tmp_path, "xnli", "char_noise", "ea"))
    assert _cli(monkeypatch, tmp_path, "adversaries", "--lang", "ea", "--index", "1") == 0
    assert "zz" in capsys.readouterr().out
    for argv, message in ((["--lang", "zz"], "--lang 'zz': not a language of the prepared data (ea, en)"),
                          (["--index", "-1"], "--index -1: expected an example number >= 0"),
                          (["--index", "100000"], "--index 100000: beyond every adversarial set of 'ea' "
                                                  "(the largest has 2 examples")):
        assert _cli(monkeypatch, tmp_path, "adversaries", *argv) == 2
        assert message in capsys.readouterr().err


def test_an_out_of_range_label_names_the_file_and_the_example(xnli_file):
    df = pd.read_parquet(xnli_file).assign(label=[0, 7])
    io.write_parquet(df, xnli_file)
    with pytest.raises(ValueError, match=r"en.parquet: label 7 of example 'b' is outside xnli's 3 labels \(0..2: "
                                         r"entailment, neutral, contradiction\)"):
        load_dataset("xnli", xnli_file)


def test_a_read_only_tracking_store_fails_early_naming_it(tmp_path, monkeypatch):
    """A local mlflow.db that cannot be written is one user error naming the file and the fix (not MLflow's
    SQLAlchemy traceback); the failure is injected (root writes read-only files anyway), then tried for real when
    the tests do not run as root."""
    import os
    import sqlite3

    from xstilts.pipeline import stagerun

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    db = tmp_path / "mlflow.db"
    sqlite3.connect(db).close()
    tracking.check_writable(db)  # a writable store passes, and the probe leaves it as it was
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 0
    real = sqlite3.connect

    class ReadOnly:
        def __init__(self, path):
            self.con = real(path)

        def execute(self, sql, *args):
            if sql.startswith("PRAGMA user_version ="):
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return self.con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.con, name)

    monkeypatch.setattr(tracking.sqlite3, "connect", ReadOnly)
    with pytest.raises(tracking.TrackingUnavailable, match=f"{db}: the MLflow store cannot be written.*chmod u"):
        with tracking.stage_run(tmp_path, "tune", "x"):
            pass
    assert tracking.TrackingUnavailable in stagerun.user_errors()  # one line under `dvc repro`
    monkeypatch.setattr(tracking.sqlite3, "connect", real)
    if os.geteuid() != 0:
        db.chmod(0o444)
        with pytest.raises(tracking.TrackingUnavailable, match="cannot be written"):
            tracking.check_writable(db)
