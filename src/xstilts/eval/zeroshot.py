"""Zero-shot evaluation of one target model on the clean test set and every adversarial subset of every
language, paired example by example: each adversarial score comes with the same model's score on exactly the
clean examples the adversarial ones were built from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import formats
from ..adversaries import subset_path
from ..core import paths, tasks
from ..train.common import Dataset, load_dataset
from ..train.loop import evaluate


def chance(task: tasks.Task, df: pd.DataFrame) -> float:
    """Chance level of the task metric where it is defined (uniform guessing), else NaN."""
    if task.format == "pair":
        return 100.0 / task.num_labels
    if task.format == "mc":
        return 100.0 / float(df["choices"].map(len).mean())
    if task.format == "retrieval":
        return 100.0 / max(1, int((df["lang"] == tasks.TRAINING_LANGUAGE).sum()))
    return float("nan")


def load_eval_sets(root: Path, target: str, languages: list[str], adversaries: list[str]) -> dict:
    """{(language, subset): Dataset}, every file checked before any model runs."""
    sets: dict[tuple[str, str], Dataset] = {}
    for lang in languages:
        sets[(lang, "clean")] = load_dataset(target, paths.test_path(root, target, lang))
        for adv in adversaries:
            sets[(lang, adv)] = load_dataset(target, subset_path(root, target, adv, lang), adversarial=True)
    return sets


def label_matched_score(fmt, df_clean: pd.DataFrame, clean_preds: list, df_adv: pd.DataFrame, metric: str,
                        labels) -> float:
    """The clean score re-weighted to the adversarial set's gold-label mix: sum over its labels of (its share of
    the adversarial set) x (the model's clean score on the clean examples of that label). For an adversary that
    changes the gold label (word_swap: entailment -> neutral) this is the fair clean reference: a constant
    predictor scores the same on both, so it shows no degradation. NaN without labels, or when a label of the
    adversarial set has no clean example."""
    if "label" not in df_adv.columns or "label" not in df_clean.columns or df_adv.empty:
        return float("nan")
    total = 0.0
    for label, share in df_adv["label"].value_counts(normalize=True).sort_index().items():
        rows = [i for i, y in enumerate(df_clean["label"]) if y == label]
        if not rows:
            return float("nan")
        score, _ = fmt.score(df_clean.iloc[rows].reset_index(drop=True), [clean_preds[i] for i in rows], metric, labels)
        total += float(share) * score
    return total


def balanced_score(df: pd.DataFrame, preds: list) -> float:
    """Balanced accuracy (points): the mean over the set's gold labels of the accuracy on that label; NaN for
    formats without labels."""
    if "label" not in df.columns or df.empty:
        return float("nan")
    gold = df["label"].tolist()
    per = [sum(p == y for p, g in zip(preds, gold) if g == y) / gold.count(y) for y in sorted(set(gold))]
    return 100.0 * sum(per) / len(per)


def qa_scores(fmt, df: pd.DataFrame, preds: list, metric: str, f1: float) -> dict:
    """XTREME-R's QA measures next to F1 (`score`): exact match under the same normalisation (SQuAD's, or MLQA's
    per language) and (EM + F1) / 2, the per-language value XTREME-R's `avg_metric` averages; NaN for non-QA
    formats."""
    em_fn = getattr(fmt, "exact_match", None)
    if em_fn is None:
        return {"em": float("nan"), "em_f1_mean": float("nan")}
    em, _ = em_fn(df, preds, metric)
    return {"em": em, "em_f1_mean": (em + f1) / 2}


def evaluate_model(model, target: str, sets: dict, tok, max_length: int, batch_size: int, rule=None,
                   options: dict | None = None):
    """(result rows, prediction rows) of one model on every (language, subset). With a health `rule`
    (xstilts.train.health.Rule), every clean row also carries the model's health on that test set (`health_*`).
    `options`: the format's encode options (span QA's doc_stride; finetuning.encode_options). Every row also
    carries `em` and `em_f1_mean` (QA; NaN otherwise) and what encoding cut or split in that file
    (`formats.truncation_counts`: n_inputs, n_split, n_truncated, ...)."""
    from ..train import health

    info = tasks.get(target)
    results, predictions = [], []
    clean_by_lang: dict[str, tuple[pd.DataFrame, list]] = {}
    for (lang, subset), ds in sorted(sets.items(), key=lambda kv: (kv[0][0], kv[0][1] != "clean", kv[0][1])):
        feats = ds.features(tok, max_length, train=False, **(options or {}))
        score, per_example, preds = evaluate(model, ds.fmt, ds.df, feats, info.metric, info.labels, batch_size)
        extra: dict = {"balanced_score": balanced_score(ds.df, preds),
                       **qa_scores(ds.fmt, ds.df, preds, info.metric, score),
                       **formats.truncation_counts(ds.fmt, feats)}
        if subset == "clean":
            clean_by_lang[lang] = (ds.df, preds)
            clean_score = score
            extra["label_matched_clean_score"] = score
            if rule is not None:
                h = health.assess(ds.fmt.name, ds.fmt.score, info.metric, info.labels, ds.df, preds, score, rule)
                extra.update({"health_majority": h.majority, "health_top_share": h.top_share,
                              "health_entropy": h.entropy, "health_degenerate": h.degenerate,
                              "health_reasons": "; ".join(h.reasons)})
        else:
            clean_df, clean_preds = clean_by_lang[lang]
            pos = pd.Series(range(len(clean_df)), index=clean_df["id"])
            idx = pos.loc[ds.df["source_id"]].tolist()
            matched = clean_df.iloc[idx].reset_index(drop=True)
            clean_score, _ = ds.fmt.score(matched, [clean_preds[i] for i in idx], info.metric, info.labels)
            extra["label_matched_clean_score"] = label_matched_score(ds.fmt, clean_df, clean_preds, ds.df,
                                                                     info.metric, info.labels)
        results.append({"target_task": target, "language": lang, "subset": subset, "metric": info.metric,
                        "score": score, "clean_score": clean_score, "n": len(ds.df), "chance": chance(info, ds.df),
                        "data_md5": ds.md5, **extra})
        source = ds.df["source_id"] if "source_id" in ds.df else ds.df["id"]
        predictions += [{"target_task": target, "language": lang, "subset": subset, "id": i, "source_id": s,
                         "prediction": json.dumps(p), "example_score": float(e)}
                        for i, s, p, e in zip(ds.df["id"], source, preds, per_example)]
    return results, predictions


def dev_pools(root: Path, target: str, languages: list[str]) -> dict:
    """{language: Dataset} of a mining target's dev pools (BUCC: the threshold of each language's test pool); {} for
    every other target."""
    if tasks.get(target).metric != "bucc_f1":
        return {}
    return {lang: load_dataset(target, paths.dev_pool_path(root, target, lang)) for lang in languages}


def _row(target: str, info, lang: str, subset: str, score: float, clean_score: float, n: int, chance: float,
         md5: str, **extra) -> dict:
    return {"target_task": target, "language": lang, "subset": subset, "metric": info.metric, "score": score,
            "clean_score": clean_score, "n": n, "chance": chance, "data_md5": md5, "em": float("nan"),
            "em_f1_mean": float("nan"), **{k: float("nan") for k in formats.TRUNCATION_KEYS}, **extra}


def evaluate_miner(encoder, target: str, sets: dict, dev: dict, tok, *, layer: int, max_length: int,
                   batch_size: int):
    """(result rows, prediction rows) of one encoder on a bitext-mining target (BUCC). Per language: the threshold
    that maximises F1 on its dev pool, then the test pool mined and cut at it. An adversarial subset replaces its
    source sentences by their perturbed versions in the test pool (everything else unchanged) and is scored over
    those sources, paired with the clean outcomes of the same sources. A prediction is {"match", "gold"} per source
    sentence (the mined partner kept, the gold partner; null for none), its example score the true positive 0/1."""
    from . import retrieval

    info = tasks.get(target)
    results, predictions = [], []
    clean_by_lang: dict[str, tuple] = {}

    def emb(texts):
        return retrieval.embed(encoder, tok, list(texts), layer=layer, max_length=max_length, batch_size=batch_size)

    for (lang, subset), ds in sorted(sets.items(), key=lambda kv: (kv[0][0], kv[0][1] != "clean", kv[0][1])):
        if subset == "clean":
            if lang not in dev:
                raise ValueError(f"{ds.path}: no dev pool for {target}/{lang} (its threshold)")
            d_src, d_trg = retrieval.split_pool(dev[lang].df, dev[lang].path, mining=True)
            threshold, dev_f1 = retrieval.bucc_threshold(d_src, d_trg, emb(d_src["text"]), emb(d_trg["text"]),
                                                         dev[lang].path)
            sources, targets = retrieval.split_pool(ds.df, ds.path, mining=True)
            s_emb, t_emb = emb(sources["text"]), emb(targets["text"])
            outcomes = retrieval.bucc_outcomes(sources, targets, s_emb, t_emb, threshold, ds.path)
            clean_by_lang[lang] = (sources, targets, s_emb, t_emb, threshold, dev_f1, outcomes)
            ids, kept = sources["id"].tolist(), outcomes
            clean_score, _ = retrieval.bucc_f1(outcomes)
        else:
            sources, targets, s_emb, t_emb, threshold, dev_f1, clean_outcomes = clean_by_lang[lang]
            pos = pd.Series(range(len(sources)), index=sources["id"])
            missing = sorted(set(ds.df["source_id"]) - set(sources["id"]))
            if missing:
                raise ValueError(f"{ds.path}: source_id {missing[0]!r} is not a source sentence of the clean pool")
            rows = pos.loc[ds.df["source_id"]].to_numpy()
            noisy = s_emb.copy()
            noisy[rows] = emb(ds.df["text"])
            outcomes = retrieval.bucc_outcomes(sources, targets, noisy, t_emb, threshold, ds.path)
            ids, kept = ds.df["id"].tolist(), [outcomes[i] for i in rows]
            clean_score, _ = retrieval.bucc_f1([clean_outcomes[i] for i in rows])
        score, per_source = retrieval.bucc_f1(kept)
        results.append(_row(target, info, lang, subset, score, clean_score, len(kept),
                            retrieval.chance(info.metric, sources, targets), ds.md5, bucc_threshold=threshold,
                            bucc_dev_f1=dev_f1))
        source = ds.df["source_id"] if subset != "clean" else pd.Series(ids)
        predictions += [{"target_task": target, "language": lang, "subset": subset, "id": i, "source_id": s,
                         "prediction": json.dumps({"match": m, "gold": g}, sort_keys=True), "example_score": float(e)}
                        for i, s, (m, g), e in zip(ids, source, kept, per_source, strict=True)]
    return results, predictions


def evaluate_encoder(encoder, target: str, sets: dict, tok, *, layer: int, max_length: int, batch_size: int,
                     dev: dict | None = None):
    """(result rows, prediction rows) of one encoder on a retrieval target (no task training), in the shape of
    `evaluate_model`: every (language, subset), adversarial queries paired with the same clean queries. Bitext
    mining (BUCC) needs each language's `dev` pool (`dev_pools`) and runs `evaluate_miner`."""
    from . import retrieval

    info = tasks.get(target)
    if info.metric == "bucc_f1":
        return evaluate_miner(encoder, target, sets, dev or {}, tok, layer=layer, max_length=max_length,
                              batch_size=batch_size)
    results, predictions = [], []
    clean_by_lang: dict[str, tuple] = {}
    pools: dict[tuple, np.ndarray] = {}  # candidate embeddings by candidate ids (LAReQA: one pool in every file)
    for (lang, subset), ds in sorted(sets.items(), key=lambda kv: (kv[0][0], kv[0][1] != "clean", kv[0][1])):
        if subset == "clean":
            queries, cands = retrieval.split_pool(ds.df, ds.path)
            key = tuple(cands["id"]) + tuple(cands["text"])
            if key not in pools:
                pools[key] = retrieval.embed(encoder, tok, cands["text"].tolist(), layer=layer,
                                             max_length=max_length, batch_size=batch_size)
            c_emb = pools[key]
        else:
            queries = ds.df
            _, cands, c_emb, _ = clean_by_lang[lang]
        q_emb = retrieval.embed(encoder, tok, queries["text"].tolist(), layer=layer, max_length=max_length,
                                batch_size=batch_size)
        score, per_query, hits = retrieval.score(info.metric, queries, cands, q_emb, c_emb)
        if subset == "clean":
            clean_by_lang[lang] = (queries, cands, c_emb, per_query)
            clean_score = score
        else:
            clean_q, _, _, clean_per_query = clean_by_lang[lang]
            pos = pd.Series(range(len(clean_q)), index=clean_q["id"])
            missing = sorted(set(queries["source_id"]) - set(clean_q["id"]))
            if missing:
                raise ValueError(f"{ds.path}: source_id {missing[0]!r} is not a query of the clean file")
            clean_score = 100.0 * float(pd.Series(clean_per_query).iloc[pos.loc[queries["source_id"]]].mean())
        results.append({"target_task": target, "language": lang, "subset": subset, "metric": info.metric,
                        "score": score, "clean_score": clean_score, "n": len(queries),
                        "chance": retrieval.chance(info.metric, queries, cands), "data_md5": ds.md5,
                        "em": float("nan"),
                        "em_f1_mean": float("nan"), **{k: float("nan") for k in formats.TRUNCATION_KEYS}})
        source = queries["source_id"] if "source_id" in queries else queries["id"]
        predictions += [{"target_task": target, "language": lang, "subset": subset, "id": i, "source_id": s,
                         "prediction": json.dumps(h), "example_score": float(e)}
                        for i, s, h, e in zip(queries["id"], source, hits, per_query)]
    return results, predictions
