"""Stage `report`: the correlation report (reports/): degradation = clean - adversarial per model, its correlation
with log(intermediate training size) across tasks and within task (with task fixed/random effects), hierarchical
bootstrap CIs over seeds and paired test examples (predictions/), permutation p-values, Holm/BH corrections, the
comparison with the published numbers (data/reference/), plots, and provenance (dvc.lock md5s, git commit, params
hash, MLflow run ids)."""

from __future__ import annotations

import pandas as pd

from ..analysis import paired
from ..core import paths, tasks
from ..core.io import read_json, read_parquet
from ..pipeline import stagerun
from ..report import CONTROL_ARMS, TRAINING_LANGUAGE, build_report, provenance, published


def _zero_shot(predictions: pd.DataFrame) -> pd.DataFrame:
    return predictions[predictions["language"] != TRAINING_LANGUAGE] if "language" in predictions else predictions


def main(argv: list[str] | None = None) -> None:
    st = stagerun.begin("report", __doc__, argv)
    params, root = st.params, st.root
    variant_arms = [a for a in params["study"]["arms"] if a in tasks.VARIANTS]  # beside, never in the size analyses
    arms = [a for a in params["study"]["arms"] if a not in variant_arms]
    results = pd.concat([read_parquet(paths.results_path(root, arm)) for arm in arms], ignore_index=True)
    variants = None
    if variant_arms:
        variants = (pd.concat([read_parquet(paths.results_path(root, arm)) for arm in variant_arms],
                              ignore_index=True),
                    {arm: read_json(paths.metrics_path(root, f"variant/{arm}.json")) for arm in variant_arms})
    # the bootstrap resamples the zero-shot pairs of the intermediate arms: controls and English are not needed
    predictions = pd.concat([_zero_shot(read_parquet(paths.predictions_path(root, arm)))
                             for arm in arms if arm not in CONTROL_ARMS], ignore_index=True)
    reference = published.load_reference(root / published.REFERENCE_PATH)
    prov = provenance.collect(root, results if variants is None else pd.concat([results, variants[0]]),
                              inputs=[published.REFERENCE_PATH])
    out = paths.reports_dir(root)
    report = build_report(results, prov, params, out, predictions=predictions, gold=paired.prepared_gold(root),
                          reference=reference, variants=variants)
    print(f"report: {out / 'correlation.md'} and {out / 'correlation.html'}")
    print(report["answer"] if isinstance(report.get("answer"), str) else "")


if __name__ == "__main__":
    stagerun.run("report", main)
