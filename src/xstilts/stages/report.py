"""Stage `report`: the correlation report (reports/): degradation = clean - adversarial per model, its correlation
with log(intermediate training size) across tasks and within task (with task fixed/random effects), hierarchical
bootstrap CIs over seeds and paired test examples (predictions/), permutation p-values, Holm/BH corrections, the
comparison with the published numbers (data/reference/), plots, and provenance (dvc.lock md5s, git commit, params
hash, MLflow run ids)."""

from __future__ import annotations

import argparse

import pandas as pd

from ..analysis import paired
from ..core import config
from ..core.io import read_parquet, repo_root
from ..pipeline import dvclock
from ..report import CONTROL_ARMS, TRAINING_LANGUAGE, build_report, provenance, published


def _zero_shot(predictions: pd.DataFrame) -> pd.DataFrame:
    return predictions[predictions["language"] != TRAINING_LANGUAGE] if "language" in predictions else predictions


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = config.load()
    root = repo_root()
    dvclock.check_stage_inputs(root, "report")
    arms = params["study"]["arms"]
    results = pd.concat([read_parquet(root / "results" / f"{arm}.parquet") for arm in arms], ignore_index=True)
    # the bootstrap resamples the zero-shot pairs of the intermediate arms: controls and English are not needed
    predictions = pd.concat([_zero_shot(read_parquet(root / "predictions" / f"{arm}.parquet"))
                             for arm in arms if arm not in CONTROL_ARMS], ignore_index=True)
    reference = published.load_reference(root / published.REFERENCE_PATH)
    prov = provenance.collect(root, results, inputs=[published.REFERENCE_PATH])
    report = build_report(results, prov, params, root / "reports", predictions=predictions,
                          gold=paired.prepared_gold(root), reference=reference)
    print(f"report: {root / 'reports' / 'correlation.md'} and {root / 'reports' / 'correlation.html'}")
    print(report["answer"] if isinstance(report.get("answer"), str) else "")


if __name__ == "__main__":
    from ..pipeline.stagerun import run

    run("report", main)
