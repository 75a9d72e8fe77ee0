"""Stage `report`: the correlation report (reports/): degradation = clean - adversarial per model, its correlation
with log(intermediate training size) across tasks and within task, plots, and provenance (dvc.lock md5s, git
commit, params hash, MLflow run ids)."""

from __future__ import annotations

import argparse

import pandas as pd

from .. import config, provenance
from ..io import read_parquet, repo_root
from ..report import build_report


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = config.load()
    root = repo_root()
    results = pd.concat([read_parquet(root / "results" / f"{arm}.parquet") for arm in params["study"]["arms"]],
                        ignore_index=True)
    report = build_report(results, provenance.collect(root, results), params, root / "reports")
    print(f"report: {root / 'reports' / 'correlation.md'}")
    print(report["answer"] if isinstance(report.get("answer"), str) else "")


if __name__ == "__main__":
    main()
