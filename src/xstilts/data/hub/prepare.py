"""The `hub` source of the `prepare` stage: every dataset of the study from the Hugging Face hub at a pinned
revision (or from a local mirror in the hubs' exact schemas), converted to the canonical layout of
`xstilts.data.schema`.

Params (`hub` section, see profiles/paper.yaml):
    benchmark        xtreme | xtreme-r          language table of every target task (languages.VERSIONS)
    revisions        {dataset key: commit SHA}  overrides of each HubSpec's pinned revision
    data_dir         null | path                a local mirror: <data_dir>/<key>/<split>.parquet, or
                                                <data_dir>/<key>/<hub language>/<split>.parquet for per-language
                                                configs (same code path: datasets.load_dataset on local files)
    target_languages {task: [lang, ...]}        optional subset of a target's table languages (default: all)
    squad_version    v1 | v2                    which SQuAD is the `squad` intermediate task
    anli_composition rounds | plus              ANLI R1-R3, or jiant's ANLI + MNLI + SNLI
    ccg_path         null | path                CCGbank in load_ccgbank's format (licensed, never downloaded)
    lareqa_dir       null | path                LAReQA's released xquad-r/<lang>.json (sentence breaks): XTREME-R's
                                                exact LAReQA pools; null: the hub rows (`revisions.lareqa` required)
                                                split by xstilts.data.hub.lareqa's rule
    mewslix_dir      null | path                a user-built Mewsli-X folder (load_mewslix; required for mewslix)
    model            {id, revision}             the encoder the pretrain stage pins (written for it here)

Target training data follow XTREME (TARGET_SOURCES); evaluation languages come from the benchmark's table,
restricted to the languages the hub dataset has (the ones left out are listed in the prepare metrics). Splits
without gold labels are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...core import paths
from ...core import tasks as T
from .. import schema
from ..testsets import load_dictionaries, write_test_set
from . import HubError, corpus, get, lareqa, load_split
from .intermediate import anli_rounds, compose_anli_plus, load_ccgbank
from .languages import VERSIONS
from .targets import HUB_LANGS, hub_lang, load_bucc_pool, load_mewslix


@dataclass(frozen=True)
class TargetSource:
    """Where one target task's data come from: English train/dev (hub key and split) and the evaluation data."""

    train: str | None  # hub key of the English training data; None = no training (retrieval)
    eval: str | None  # hub key of the per-language evaluation data (our split "test"); None: `folder` only
    dev: tuple[str, str] | None = None  # (hub key, split) of the English dev set; default (train, "dev")
    folder: str | None = None  # the `hub` key of a user-supplied folder that holds (or can replace) the eval data


# XTREME's recipe: XNLI trains on MNLI, XQuAD/MLQA on SQuAD v1.1, XCOPA on English COPA (XTREME-R's baseline
# trains on SIQA then COPA, `target.xcopa_recipe: socialiqa_then_copa`, see XCOPA_FIRST_STAGE; SocialIQA is one of
# our intermediate arms), Tatoeba on nothing, the others on their own
# English train. TyDiQA-GoldP has no English dev beside its evaluation set: its English part tunes the LR (the
# zero-shot languages stay untouched).
TARGET_SOURCES: dict[str, TargetSource] = {
    "xnli": TargetSource("mnli", "xnli"),
    "pawsx": TargetSource("pawsx", "pawsx"),
    "udpos": TargetSource("udpos", "udpos"),
    "panx": TargetSource("panx", "panx"),
    "xquad": TargetSource("squad_v1", "xquad"),
    "mlqa": TargetSource("squad_v1", "mlqa"),
    "tydiqa": TargetSource("tydiqa", "tydiqa", dev=("tydiqa", "test")),
    "xcopa": TargetSource("copa", "xcopa"),
    "tatoeba": TargetSource(None, "tatoeba"),
    # BUCC 2018's full mining pools: a folder the user supplies (hub.bucc_dir); the hub copy has gold pairs only
    "bucc": TargetSource(None, None, folder="bucc_dir"),
    # every language's questions against one pool of all 11 XQuAD-R languages (xstilts.data.hub.lareqa); from the
    # hub rows (hub.revisions.lareqa must pin them) or LAReQA's released files (hub.lareqa_dir)
    "lareqa": TargetSource(None, "lareqa", folder="lareqa_dir"),
    # not officially on the hub: a folder the user builds (hub.mewslix_dir, load_mewslix)
    "mewslix": TargetSource(None, None, folder="mewslix_dir"),
}
# hub keys whose data are English by construction (no language argument)
_ENGLISH_ONLY = {"mnli", "squad_v1", "copa"}
# XTREME-R's XCOPA recipe (scripts/train_xcopa.sh) trains on English SocialIQA before COPA: whenever xcopa is a
# target, prepare also writes SocialIQA's train/dev into targets/xcopa/socialiqa/, the first-phase data the target
# stage reads with `target.xcopa_recipe: socialiqa_then_copa` (written whatever the recipe, so that switching the
# recipe re-runs only the target stages, not prepare and everything that reads data/prepared/targets)
XCOPA_FIRST_STAGE = "socialiqa"


def _files(hp: dict, key: str, split: str, lang: str | None) -> list[Path] | None:
    if not hp.get("data_dir"):
        return None
    base = Path(hp["data_dir"]) / key
    name = get(key).splits.get(split, split)
    flat = base / f"{name}.parquet"
    if flat.exists() or lang is None:
        return [flat]
    return [base / hub_lang(key, lang) / f"{name}.parquet"]


def load(hp: dict, key: str, split: str, lang: str | None = None) -> pd.DataFrame:
    """One split of one hub dataset (one language), converted; from the mirror when `hub.data_dir` is set."""
    spec = get(key)
    files = _files(hp, key, split, lang)
    config_lang = hub_lang(key, lang) if (lang and "{lang}" in (spec.config or "")) else None
    ds = load_split(spec, split, lang=config_lang, revision=revision_of(hp, key), data_files=files)
    return spec.convert(ds, split=split, lang=lang)


def intermediate_data(hp: dict, task: str, split: str) -> tuple[pd.DataFrame, str]:
    """(canonical rows, the variant actually used) of one intermediate task."""
    if task == "ccg":
        df, labels = load_ccgbank(hp.get("ccg_path"), split=split)
        return df.assign(lang="en"), f"CCGbank ({len(labels)} supertags) from {hp.get('ccg_path')}"
    if task == "squad":
        key = f"squad_{hp.get('squad_version', 'v1')}"
        return load(hp, key, split), key
    if task == "anli":
        rounds = ("r1", "r2", "r3")
        parts = {r: _anli_round(hp, split, r) for r in rounds}
        df = anli_rounds(parts, split=split, rounds=rounds)
        if hp.get("anli_composition", "rounds") == "plus" and split == "train":
            df = compose_anli_plus(df, load(hp, "mnli", "train"), load(hp, "snli", "train"))
            return df, "ANLI R1-R3 + MNLI + SNLI (jiant)"
        return df, "ANLI R1-R3"
    return load(hp, task, split), task


def _anli_round(hp: dict, split: str, r: str):
    spec = get("anli")
    name = f"{'dev' if split == 'dev' else split}_{r}"
    files = [Path(hp["data_dir"]) / "anli" / f"{name}.parquet"] if hp.get("data_dir") else None
    return load_split(spec, name, revision=revision_of(hp, "anli"), data_files=files)


def target_languages(hp: dict, task: str) -> tuple[list[str], list[str]]:
    """(languages used, languages of the benchmark table the hub dataset lacks) for one target task."""
    table = VERSIONS[hp.get("benchmark", "xtreme-r")]
    if task == "bucc":  # XTREME's (XTREME-R dropped BUCC)
        table = {"bucc": VERSIONS["xtreme"]["bucc2018"]}
    if task not in table:
        raise HubError(f"target task {task!r} has no language list in benchmark {hp.get('benchmark')!r}")
    langs = table[task]
    chosen = hp.get("target_languages", {}).get(task)
    if chosen:
        unknown = [lang for lang in chosen if lang not in langs]
        if unknown:
            raise HubError(f"hub.target_languages.{task}: {unknown} not in the {hp.get('benchmark')} table ({langs})")
        langs = list(chosen)
    if task not in TARGET_SOURCES:
        raise HubError(f"target task {task!r} has no hub source (hub targets: {', '.join(TARGET_SOURCES)})")
    key = TARGET_SOURCES[task].eval
    have = HUB_LANGS.get(key) if key else None
    used = [lang for lang in langs if have is None or lang in have]
    if "en" not in used and key not in ("tatoeba", "xcopa", "bucc2018"):  # English is the query side / not in XCOPA
        used = ["en"] + used
    return sorted(used, key=lambda x: (x != "en", x)), [lang for lang in langs if lang not in used]


WIKIPEDIA = "wikipedia"
"""`variants.mlm.corpus` value (and hub key) of the masked-LM text from wikimedia/wikipedia
(xstilts.data.hub.corpus)."""


def _reads_wikipedia(params: dict) -> bool:
    va = params.get("variants") or {"arms": []}
    return "mlm" in va["arms"] and va["mlm"]["corpus"] == WIKIPEDIA


def used_keys(hp: dict, st: dict, params: dict | None = None) -> list[str]:
    """Hub dataset keys a study reads (their revisions go into the prepare metrics); with `params`, the variants'
    (the mlm variant's Wikipedia) too."""
    keys = {WIKIPEDIA} if params is not None and _reads_wikipedia(params) else set()
    for task in st["intermediate_tasks"]:
        if task == "squad":
            keys.add(f"squad_{hp.get('squad_version', 'v1')}")
        elif task == "anli" and hp.get("anli_composition", "rounds") == "plus":
            keys |= {"anli", "mnli", "snli"}
        elif task != "ccg":
            keys.add(task)
    for task in st["target_tasks"]:
        src = TARGET_SOURCES[task]
        keys |= {k for k in (src.train, None if reads_folder(hp, task) else src.eval) if k}
        if task == "xcopa":
            keys.add(XCOPA_FIRST_STAGE)
    return sorted(keys)


def reads_folder(hp: dict, task: str) -> bool:
    """Whether `task`'s evaluation data come from its user-supplied folder (TargetSource.folder) instead of the hub."""
    src = TARGET_SOURCES[task]
    return src.folder is not None and (src.eval is None or bool(hp.get(src.folder)))


def revision_of(hp: dict, key: str) -> str:
    return hp.get("revisions", {}).get(key) or get(key).revision


def mirror_files(params: dict) -> dict[str, list[Path]]:
    """{hub dataset key: the files `prepare_hub` reads from the local mirror `hub.data_dir`} (the same paths
    `load` and `_anli_round` open), for the manual-inputs check (xstilts.core.inputs)."""
    hp, st = params["hub"], params["study"]
    if not hp.get("data_dir"):
        return {}
    out: dict[str, list[Path]] = {}

    def add(key: str, split: str, lang: str | None = None) -> None:
        out.setdefault(key, []).extend(_files(hp, key, split, lang))

    for task in st["intermediate_tasks"]:
        for split in ("train", "dev"):
            if task == "ccg":
                continue  # CCGbank: hub.ccg_path, not the mirror
            if task == "squad":
                add(f"squad_{hp.get('squad_version', 'v1')}", split)
            elif task == "anli":
                for r in ("r1", "r2", "r3"):
                    out.setdefault("anli", []).append(Path(hp["data_dir"]) / "anli" / f"{split}_{r}.parquet")
                if hp.get("anli_composition", "rounds") == "plus" and split == "train":
                    add("mnli", "train")
                    add("snli", "train")
            else:
                add(task, split)
    for task in st["target_tasks"]:
        src = TARGET_SOURCES[task]
        if src.train is not None:
            for key, split in ((src.train, "train"), src.dev or (src.train, "dev")):
                add(key, split, None if key in _ENGLISH_ONLY else "en")
        if reads_folder(hp, task):
            pass  # a manual input of its own (xstilts.core.inputs)
        elif task == "lareqa":
            for lang in lareqa.POOL_LANGUAGES:  # one pool of every language, whatever the languages tested
                add(src.eval, "test", lang)
        else:
            for lang in target_languages(hp, task)[0]:
                add(src.eval, "test", lang)
        if task == "xcopa":
            for split in ("train", "dev"):
                add(XCOPA_FIRST_STAGE, split)
    if _reads_wikipedia(params):
        for lang in params["variants"]["mlm"]["languages"]:
            add(WIKIPEDIA, "train", lang)
    return {key: sorted(set(files)) for key, files in out.items()}


def _variant_data(params: dict, out: Path, summary: dict, progress: Callable[[str], None]) -> None:
    """The paper's variants' data: the translations of the `translated` task's training rows (a folder the user
    supplies, <folder>/<lang>.parquet in the canonical schema) and the masked-LM text of the `mlm` variant (each
    language's Wikipedia at a pinned revision, `variants.mlm.corpus: wikipedia`, or <folder>/<lang>.txt, a sentence
    per line), at most `variants.mlm.max_lines` lines a language, written into data/prepared after checks. The
    folders are manual inputs (xstilts.core.inputs)."""
    va = params["variants"]
    if "translated" in va["arms"]:
        task, folder = va["translated"]["task"], Path(va["translated"]["source"])
        progress(f"prepare (hub): translations of {task}")
        for lang in va["translated"]["languages"]:
            src = folder / f"{lang}.parquet"
            df = schema.check(pd.read_parquet(src), T.get(task).format, src)
            schema.write(df, paths.translated_path(None, task, lang, prepared=out), T.get(task).format)
            summary[f"{task}.translated.{lang}"] = len(df)
    if "mlm" in va["arms"]:
        mlm, hp = va["mlm"], params["hub"]
        wiki = mlm["corpus"] == WIKIPEDIA
        progress(f"prepare (hub): masked-LM text ({'Wikipedia' if wiki else mlm['corpus']})")
        for lang in mlm["languages"]:
            if wiki:  # streamed: the dump's first max_lines paragraphs (xstilts.data.hub.corpus)
                lines = corpus.wikipedia_lines(lang, mlm["max_lines"], revision=revision_of(hp, WIKIPEDIA),
                                               data_files=_files(hp, WIKIPEDIA, "train", lang))
            else:
                text = (Path(mlm["corpus"]) / f"{lang}.txt").read_text(encoding="utf-8")
                lines = [t for t in text.splitlines() if t.strip()][:mlm["max_lines"] or None]
            path = paths.mlm_corpus_path(None, lang, prepared=out)
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"text": lines}).to_parquet(path, index=False, compression="zstd")
            summary[f"mlm.{lang}"] = len(lines)
        summary["mlm.source"] = (f"{corpus.WIKIPEDIA_REPO} ({get(WIKIPEDIA).config.format(lang='<lang>')})" if wiki
                                 else f"user-supplied folder {mlm['corpus']}")


def retrieval_test_sets(hp: dict, task: str, langs: list[str], summary: dict) -> tuple[dict[str, pd.DataFrame], dict]:
    """({language: clean test file}, task.json extras) of LAReQA or Mewsli-X; counts go into `summary`.

    LAReQA: one pool of every XQuAD-R language in every file (hub.target_languages.lareqa picks the query languages
    only), from LAReQA's released files (hub.lareqa_dir: XTREME-R's sentence breaks) or from the hub rows at
    hub.revisions.lareqa (xstilts.data.hub.lareqa.split_sentences: not XTREME-R's breaks). Mewsli-X: the user-built
    folder hub.mewslix_dir (load_mewslix), split "test"."""
    if task == "mewslix":
        folder = hp["mewslix_dir"]
        sets = {lang: load_mewslix(folder, lang, "test") for lang in langs}
        summary["mewslix.source"] = f"user-built folder {folder} (hub.mewslix_dir)"
        return sets, {"source_detail": "user-built Mewsli-X folder (hub.mewslix_dir); not officially on the hub"}
    if hp.get("lareqa_dir"):
        rows, sentences = lareqa.read_released(hp["lareqa_dir"]), "LAReQA's released sentence_breaks"
    else:
        spec = get("lareqa")
        rows = {}
        for lang in lareqa.POOL_LANGUAGES:
            ds = load_split(spec, "test", lang=hub_lang("lareqa", lang), revision=revision_of(hp, "lareqa"),
                            data_files=_files(hp, "lareqa", "test", lang))
            rows[lang] = ds.to_list()
        sentences = "xstilts.data.hub.lareqa.split_sentences (not XTREME-R's breaks: scores not comparable)"
    sets, stats = lareqa.build_pools(rows, langs)
    for lang, n in stats.items():
        for name, value in n.items():
            summary[f"lareqa.pool.{lang}.{name}"] = value
    summary["lareqa.sentences"] = sentences
    return sets, {"pool_languages": list(lareqa.POOL_LANGUAGES), "sentences": sentences,
                  "candidate_text": "sentence_and_context"}


def prepare_hub(params: dict, out: Path, progress: Callable[[str], None] = print) -> dict:
    """Write every dataset of the study into `out` (= data/prepared) from the hub (or its local mirror). Every
    manual input (MUSE dictionaries, CCGbank, the mirror's files: xstilts.core.inputs) is checked before anything is
    read or downloaded."""
    from ...core.inputs import require

    require(params, Path.cwd())  # relative paths in params.yaml are relative to where the stage runs (the root)
    hp, st = params["hub"], params["study"]
    summary: dict = {}
    loaded: dict[tuple[str, str], tuple[pd.DataFrame, str]] = {}  # (intermediate task, split) -> rows, variant
    switched = [lang for task in st["target_tasks"] if "code_switch" in params["adversaries"]["subsets"].get(task, [])
                for lang in target_languages(hp, task)[0]]
    dictionaries = load_dictionaries(params, out, summary, switched)  # user-supplied MUSE files, before any download

    for task in st["intermediate_tasks"]:
        progress(f"prepare (hub): {task}")
        fmt = T.get(task).format
        for split in ("train", "dev"):
            df, variant = loaded[(task, split)] = intermediate_data(hp, task, split)
            schema.write(df, paths.split_path(None, task, split, prepared=out), fmt)
            summary[f"{task}.{split}"] = len(df)
            summary[f"{task}.{split}.dropped"] = int(df.attrs.get("dropped", 0))
        declared = params["prepare"]["train_size"].get(task)
        summary[f"{task}.variant"] = variant
        if declared is not None and summary[f"{task}.train"] < max(
                [s for s in params["subsample"]["sizes"] if s != "full"], default=0):
            raise HubError(f"{task}: {summary[f'{task}.train']} training examples after filtering, fewer than the "
                           f"largest subsample size in `subsample.sizes`")
        schema.write_task_json(task, params, out, {"variant": variant})

    _variant_data(params, out, summary, progress)

    for task in st["target_tasks"]:
        progress(f"prepare (hub): {task}")
        info = T.get(task)
        src = TARGET_SOURCES.get(task)
        if src is None:
            raise HubError(f"target task {task!r} has no hub source (hub targets: {', '.join(TARGET_SOURCES)})")
        langs, missing = target_languages(hp, task)
        summary[f"{task}.languages_missing_on_hub"] = " ".join(missing)
        if src.train is not None:
            for split, (key, hub_split) in (("train", (src.train, "train")), ("dev", src.dev or (src.train, "dev"))):
                df = load(hp, key, hub_split, None if key in _ENGLISH_ONLY else "en")
                schema.write(df, paths.split_path(None, task, split, prepared=out), info.format)
                summary[f"{task}.{split}"] = len(df)
        if task == "xcopa":  # XTREME-R's first-phase data (target.xcopa_recipe), see XCOPA_FIRST_STAGE
            first = T.get(XCOPA_FIRST_STAGE)
            for split in ("train", "dev"):
                df, _ = loaded.get((XCOPA_FIRST_STAGE, split)) or intermediate_data(hp, XCOPA_FIRST_STAGE, split)
                path = paths.first_stage_path(None, task, XCOPA_FIRST_STAGE, split, prepared=out)
                schema.write(df, path, first.format)
                summary[f"{task}.{XCOPA_FIRST_STAGE}.{split}"] = len(df)
        extra: dict = {}
        if task in ("lareqa", "mewslix"):
            sets, extra = retrieval_test_sets(hp, task, langs, summary)
            for lang in langs:
                write_test_set(params, out, task, lang, sets[lang], summary, dictionaries)
        elif task == "bucc":  # the full pools from hub.bucc_dir; dev = BUCC's sample set (the threshold)
            for lang in langs:
                dev = load_bucc_pool(hp["bucc_dir"], lang, "dev")
                schema.write(dev, paths.dev_pool_path(None, task, lang, prepared=out), info.format)
                summary[f"{task}.dev.{lang}"] = len(dev)
                write_test_set(params, out, task, lang, load_bucc_pool(hp["bucc_dir"], lang, "test"), summary,
                               dictionaries)
            extra = {"source_detail": "BUCC 2018 pools from a user-supplied folder (hub.bucc_dir)"}
        else:
            for lang in langs:
                write_test_set(params, out, task, lang, load(hp, src.eval, "test", lang), summary, dictionaries)
        schema.write_task_json(task, params, out, {"languages": langs, "languages_missing_on_hub": missing,
                                                   "adversaries": params["adversaries"]["subsets"].get(task, []),
                                                   **extra})
    for key in used_keys(hp, st, params):
        summary[f"revision.{key}"] = revision_of(hp, key)

    pin = paths.pretrain_corpus_dir(None, prepared=out) / "model.json"
    pin.parent.mkdir(parents=True, exist_ok=True)
    pin.write_text(json.dumps({"id": hp["model"]["id"], "revision": hp["model"]["revision"]}, indent=2) + "\n")
    return summary
