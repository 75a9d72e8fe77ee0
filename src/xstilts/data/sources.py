"""Dataset sources for the `prepare` stage. Each source materialises every task of the study into the canonical
schema (`schema.py`) under an output directory. `synthetic` is the embedded benchmark; the `hub` source (real
datasets at pinned revisions) plugs in here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..core import paths
from ..core import tasks as T
from . import schema, synthetic
from .testsets import load_dictionaries, write_test_set
from .world import Language, Lexicon


def languages_of(params: dict) -> dict[str, Language]:
    return {code: Language(code, **params["languages"][code]) for code in params["study"]["languages"][1:]}


def lexicon_of(params: dict) -> Lexicon:
    return Lexicon(languages_of(params), params["prepare"]["seed"])


def prepare_synthetic(params: dict, out: Path, progress: Callable[[str], None] = print) -> dict:
    """Generate every dataset of the study into `out` (= data/prepared). Returns a summary for the metrics file."""
    pr, st = params["prepare"], params["study"]
    lex = lexicon_of(params)
    langs = [lex.languages[c] for c in st["languages"]]
    en = lex.languages["en"]
    seed = pr["seed"]
    summary: dict[str, int] = {}

    def emit(task: str, split: str, n: int) -> list[dict]:
        structs = synthetic.generate(task, n, seed, split)
        df = pd.DataFrame(synthetic.to_rows(task, structs, en, lex, split))
        schema.write(df, paths.split_path(None, task, split, prepared=out), T.get(task).format)
        summary[f"{task}.{split}"] = len(df)
        return structs

    dictionaries = load_dictionaries(params, out, summary, st["languages"], generated=lex.forms)

    def write_test(task: str, lang: str, clean: pd.DataFrame) -> None:
        write_test_set(params, out, task, lang, clean, summary, dictionaries)

    va = params["variants"]
    translate = va["translated"]["task"] if "translated" in va["arms"] else None
    for task in st["intermediate_tasks"]:
        progress(f"prepare: {task}")
        structs = emit(task, "train", pr["train_size"][task])
        emit(task, "dev", pr["dev_size"])
        if task == translate:  # the `translated` variant: the benchmark's own translations of the training rows
            for code in va["translated"]["languages"]:
                df = pd.DataFrame(synthetic.to_rows(task, structs, lex.languages[code], lex, "train"))
                schema.write(df, paths.translated_path(None, task, code, prepared=out), T.get(task).format)
                summary[f"{task}.translated.{code}"] = len(df)
        _task_json(out, task, params)

    for task in st["target_tasks"]:
        progress(f"prepare: {task}")
        info = T.get(task)
        if info.format == "retrieval":  # each language's queries + the candidate pool, in one file per language
            if info.metric == "bucc_f1":  # mining: a dev pool per language for the threshold
                for lang, rows in synthetic.bucc_rows(pr["test_size"], seed, langs, lex, "dev").items():
                    schema.write(pd.DataFrame(rows), paths.dev_pool_path(None, task, lang, prepared=out), "retrieval")
                    summary[f"{task}.dev.{lang}"] = len(rows)
            sets = retrieval_test_sets(task, pr["test_size"], seed, langs, lex)
            for lang, clean in sets.items():
                write_test(task, lang, clean)
            _task_json(out, task, params, languages=list(sets))
            continue
        emit(task, "train", pr["target_train_size"][task])
        emit(task, "dev", pr["dev_size"])
        structs = synthetic.generate(task, pr["test_size"], seed, "test")
        for lang in langs:
            write_test(task, lang.code, pd.DataFrame(synthetic.to_rows(task, structs, lang, lex, "test")))
        _task_json(out, task, params)

    progress("prepare: pretraining corpus")
    for lang in langs:
        text = synthetic.pretraining_corpus(pr["pretrain_sentences"], seed, lang, lex)
        path = paths.pretrain_corpus_dir(None, prepared=out) / f"{lang.code}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"text": text}).to_parquet(path, index=False, compression="zstd")
    lexicon = pd.DataFrame([{"lang": code, "english": w, "form": f} for code in sorted(lex.forms)
                            for w, f in lex.forms[code].items()])
    lexicon.to_parquet(paths.pretrain_corpus_dir(None, prepared=out) / "lexicon.parquet", index=False,
                       compression="zstd")
    return summary


def retrieval_test_sets(task: str, n: int, seed: int, langs: list, lex) -> dict[str, pd.DataFrame]:
    """The clean test file of each language of a retrieval target: its queries and the whole candidate pool.
    Tatoeba: the non-English sentences query the English ones (no English file). LAReQA: every language's
    questions query the answer sentences of every language. Mewsli-X: every language's mentions query the
    English entity names. BUCC: each non-English language's comparable corpus with English (its test pool; the
    dev pools are written beside it)."""
    if task == "bucc":
        return {code: pd.DataFrame(rows) for code, rows in synthetic.bucc_rows(n, seed, langs, lex, "test").items()}
    if task == "tatoeba":
        df = pd.DataFrame(synthetic.retrieval_rows(n, seed, langs, lex))
        english = df[df.lang == "en"]
        return {lang.code: pd.concat([df[df.lang == lang.code], english], ignore_index=True)
                for lang in langs if lang.code != "en"}
    df = pd.DataFrame({"lareqa": synthetic.lareqa_rows, "mewslix": synthetic.mewslix_rows}[task](n, seed, langs, lex))
    pool = df[df.side == "candidate"]
    return {lang.code: pd.concat([df[(df.side == "query") & (df.lang == lang.code)], pool], ignore_index=True)
            for lang in langs}


def _task_json(out: Path, task: str, params: dict, languages: list[str] | None = None) -> None:
    """task.json; a target's `languages` are those it has test files in (default: every study language)."""
    extra = {}
    if T.get(task).role == "target":
        langs = languages if languages is not None else list(params["study"]["languages"])
        extra = {"languages": langs,
                 "adversaries": params["adversaries"]["subsets"].get(task, [])}
    schema.write_task_json(task, params, out, extra)


def prepare_hub(params: dict, out: Path, progress: Callable[[str], None] = print) -> dict:
    """The real datasets (paper profile); imported lazily so that the default never imports `datasets`."""
    from .hub.prepare import prepare_hub as run

    return run(params, out, progress)


SOURCES: dict[str, Callable[[dict, Path, Callable[[str], None]], dict]] = {"synthetic": prepare_synthetic,
                                                                          "hub": prepare_hub}
