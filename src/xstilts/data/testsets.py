"""Writing one target task's clean test file for one language and every adversarial subset `prepare` builds
from it; shared by both `prepare` sources so that the layout and the adversaries' seeds are the same whatever the
data. Model-based subsets (`aflite`) are built later by their own stage from the same clean files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..adversaries import MODEL
from ..adversaries import REGISTRY as ADVERSARIES
from ..adversaries.dictionaries import Dictionaries, muse_path, read_muse, write_muse
from ..core import paths
from ..core import tasks as T
from ..core.io import md5_file, stable_seed
from . import schema

GENERATED = "generated"


def adversary_rng(params: dict, adversary: str, task: str, lang: str) -> np.random.Generator:
    """Each adversary draws from its own generator, seeded by (adversaries.seed, adversary, task, lang)."""
    return np.random.default_rng(stable_seed("adversary", params["adversaries"]["seed"], adversary, task, lang))


def uses(params: dict, adversary: str) -> bool:
    return any(adversary in advs for advs in params["adversaries"]["subsets"].values())


def load_dictionaries(params: dict, out: Path, summary: dict, test_languages: list[str],
                      generated: dict[str, dict[str, str]] | None = None) -> Dictionaries | None:
    """The bilingual dictionaries of the code-switching adversary (None when no subset uses it). `generated`
    ({lang: {english: form}}) is written first as MUSE files under data/prepared/dictionaries; otherwise
    `adversaries.code_switch.dictionaries` names a directory of user-supplied MUSE files (relative to the repository
root, where stages run) with `en-<lang>.txt` for every language of `test_languages` (those of the targets that
    use the adversary) and of `code_switch.into`. Every file's md5 goes into the prepare metrics."""
    if not uses(params, "code_switch"):
        return None
    setting = str((params["adversaries"].get("code_switch") or {}).get("dictionaries", GENERATED))
    cs = params["adversaries"].get("code_switch") or {}
    langs = sorted((set(test_languages) | set(cs.get("into") or [])) - {"en"})
    if setting == GENERATED:
        if generated is None:
            raise ValueError("`adversaries.code_switch.dictionaries: generated` exists only for the embedded "
                             "benchmark; with real data give a directory of MUSE files en-<lang>.txt")
        directory = paths.dictionaries_dir(out)
        for lang in langs:
            if lang not in generated:
                raise ValueError(f"`adversaries.code_switch.into`: {lang!r} is not a language of the benchmark")
            write_muse(muse_path(directory, lang), {e: f for e, f in generated[lang].items() if e.isalpha()})
    else:
        directory = Path(setting)
    dicts = Dictionaries.from_dir(directory, langs, "adversaries.code_switch.dictionaries")
    for lang in langs:
        summary[f"dictionary.{lang}.md5"] = md5_file(muse_path(directory, lang))
        summary[f"dictionary.{lang}.entries"] = len(read_muse(muse_path(directory, lang)))
    return dicts


def write_test_set(params: dict, out: Path, task: str, lang: str, clean: pd.DataFrame, summary: dict,
                   dictionaries: Dictionaries | None = None) -> None:
    """test/<lang>.parquet and adversarial/<adversary>/<lang>.parquet under out/targets/<task>; row counts into
    `summary`."""
    info = T.get(task)
    schema.write(clean, paths.test_path(None, task, lang, prepared=out), info.format)
    summary[f"{task}.test.{lang}"] = len(clean)
    options = {**params["adversaries"], "dictionaries": dictionaries}
    for adv in params["adversaries"]["subsets"].get(task, []):
        if ADVERSARIES[adv].kind == MODEL:
            continue  # built by its own stage (e.g. `aflite`) from this clean file
        try:
            adv_df = ADVERSARIES[adv].apply(clean, info.format, info.labels, adversary_rng(params, adv, task, lang),
                                            options)
        except ValueError as exc:
            raise ValueError(f"adversaries.subsets.{task}: {adv} on the {lang!r} test set: {exc}") from exc
        schema.write(adv_df, paths.rule_based_subset_path(None, task, adv, lang, prepared=out), info.format,
                     adversarial=True)
        summary[f"{task}.{adv}.{lang}"] = len(adv_df)
