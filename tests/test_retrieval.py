"""Retrieval targets (Tatoeba, LAReQA, Mewsli-X): pooling, nearest-neighbour accuracy, mAP@20 and MRR@20 with known
answers, the paired clean score of noisy queries, the embedded benchmark's analogues, and the file checks that run
before any model does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from xstilts.adversaries import REGISTRY
from xstilts.core import tasks
from xstilts.eval import retrieval
from xstilts.eval.zeroshot import chance, evaluate_encoder
from xstilts.train.common import Dataset
from xstilts.train.modeling import encoder_config, new_encoder, train_tokenizer

EN = ["the red car stops", "a small dog runs", "my old friend sings", "the cold wind blows"]
XX = ["xa red car stops", "xa small dog runs", "xa old friend sings", "xa cold wind blows"]


def pool(queries=XX, cands=EN, lang="xx") -> pd.DataFrame:
    rows = [{"id": f"{lang}.{i}", "lang": lang, "text": t, "pair_id": f"p{i}"} for i, t in enumerate(queries)]
    rows += [{"id": f"en.{i}", "lang": "en", "text": t, "pair_id": f"p{i}"} for i, t in enumerate(cands)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    tok = train_tokenizer(EN + XX, out, 32)
    torch.manual_seed(0)
    enc = new_encoder(encoder_config(tok.get_vocab_size(), {"hidden_size": 16, "num_layers": 2, "num_heads": 2,
                                                             "intermediate_size": 32, "max_length": 32}))
    return enc.eval(), tok


def test_nearest_and_accuracy_known_answers():
    q = np.eye(3, dtype=np.float32)
    c = np.eye(3, dtype=np.float32)[[2, 0, 1]]  # candidate k is query (k+2)%3's direction
    assert retrieval.nearest(q, c).tolist() == [1, 2, 0]
    queries = pd.DataFrame({"id": ["q0", "q1", "q2"], "pair_id": ["a", "b", "c"]})
    cands = pd.DataFrame({"id": ["c0", "c1", "c2"], "pair_id": ["c", "a", "x"]})
    acc, per_query, hits = retrieval.accuracy(queries, cands, q, c)
    assert acc == pytest.approx(200 / 3) and per_query == [1.0, 0.0, 1.0] and hits == ["c1", "c2", "c0"]
    assert retrieval.nearest(np.ones((1, 2)), np.ones((2, 2))).tolist() == [0]  # ties -> lowest index


def test_embed_is_normalised_mean_pooling_independent_of_batching(model):
    enc, tok = model
    a = retrieval.embed(enc, tok, EN, layer=1, max_length=32, batch_size=1)
    b = retrieval.embed(enc, tok, EN[::-1], layer=1, max_length=32, batch_size=3)[::-1]
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.allclose(a, b, atol=1e-5)  # padding is excluded from the mean
    with pytest.raises(ValueError, match="retrieval_layer = 3"):
        retrieval.embed(enc, tok, EN, layer=3, max_length=32, batch_size=2)


def test_identical_translations_are_all_found(model):
    enc, tok = model
    df = pool(queries=EN)  # every query is exactly its English translation
    sets = {("xx", "clean"): Dataset(tasks.get("tatoeba"), df, "clean.parquet", "md5")}
    res, preds = evaluate_encoder(enc, "tatoeba", sets, tok, layer=2, max_length=32, batch_size=2)
    assert res[0]["score"] == 100.0 and res[0]["n"] == 4 and res[0]["chance"] == 25.0
    assert [p["prediction"] for p in preds] == ['"en.0"', '"en.1"', '"en.2"', '"en.3"']


def test_noisy_queries_are_paired_with_the_same_clean_queries(model):
    enc, tok = model
    df = pool()
    noisy = REGISTRY["char_noise"].apply(df, "retrieval", (), np.random.default_rng(0), {"char_noise_rate": 1.0})
    assert (noisy["lang"] == "xx").all() and noisy["source_id"].tolist() == [f"xx.{i}" for i in range(4)]
    assert (noisy["text"] != df[df.lang == "xx"]["text"].to_numpy()).all()
    half = noisy.iloc[:2]  # an adversarial subset built from two of the four queries
    sets = {("xx", "clean"): Dataset(tasks.get("tatoeba"), df, "clean.parquet", "m1"),
            ("xx", "char_noise"): Dataset(tasks.get("tatoeba"), half, "adv.parquet", "m2")}
    res, _ = evaluate_encoder(enc, "tatoeba", sets, tok, layer=1, max_length=32, batch_size=4)
    clean, adv = res
    assert (clean["subset"], adv["subset"]) == ("clean", "char_noise") and adv["n"] == 2
    q, c = retrieval.split_pool(df, "x")
    _, per_query, _ = retrieval.accuracy(q, c, *(retrieval.embed(enc, tok, t, layer=1, max_length=32, batch_size=4)
                                                 for t in (q.text.tolist(), c.text.tolist())))
    assert adv["clean_score"] == pytest.approx(100 * np.mean(per_query[:2]))


def test_retrieval_files_are_checked():
    with pytest.raises(ValueError, match="bad.parquet: a retrieval file needs queries and candidates"):
        retrieval.split_pool(pool()[lambda d: d.lang == "en"], "bad.parquet")
    broken = pool()
    broken.loc[broken.lang == "en", "pair_id"] = "other"
    with pytest.raises(ValueError, match="4 queries have no candidate with their pair_id"):
        retrieval.split_pool(broken, "f.parquet")
    assert chance(tasks.get("tatoeba"), pool()) == 25.0


def _sided(queries: list[tuple[str, str, str]], cands: list[tuple[str, str, str]]) -> pd.DataFrame:
    """A retrieval file with a `side` column from (lang, text, pair_id) triples."""
    rows = [{"id": f"q{i}", "lang": lang, "text": t, "pair_id": g, "side": "query"}
            for i, (lang, t, g) in enumerate(queries)]
    rows += [{"id": f"c{i}", "lang": lang, "text": t, "pair_id": g, "side": "candidate"}
             for i, (lang, t, g) in enumerate(cands)]
    return pd.DataFrame(rows)


def test_lareqa_retrieves_every_language_of_the_answer(model):
    enc, tok = model
    # each question's answer exists in English and in xx with the question's own text: both rank first
    cands = [("en", EN[0], "a0"), ("xx", EN[0], "a0"), ("en", EN[1], "a1"), ("xx", EN[1], "a1"),
             ("en", EN[2], "a2"), ("xx", EN[3], "a3")]
    df = _sided([("xx", EN[0], "a0"), ("xx", EN[1], "a1")], cands)
    q, c = retrieval.split_pool(df, "lareqa.parquet")
    assert q["id"].tolist() == ["q0", "q1"] and len(c) == 6  # split by `side`, English queries allowed
    sets = {("xx", "clean"): Dataset(tasks.get("lareqa"), df, "clean.parquet", "md5")}
    res, preds = evaluate_encoder(enc, "lareqa", sets, tok, layer=2, max_length=32, batch_size=4)
    assert res[0]["metric"] == "map_at_20" and res[0]["score"] == pytest.approx(100.0)
    assert [p["example_score"] for p in preds] == [1.0, 1.0]
    # a random ranking of 6 candidates with 2 targets: its expected AP@20
    from xstilts.eval.ranking import chance_ap_at_k

    assert res[0]["chance"] == pytest.approx(100 * chance_ap_at_k(2, 6))


def test_mewslix_scores_the_rank_of_the_one_gold_entity(model):
    enc, tok = model
    df = _sided([("xx", EN[1], "e1"), ("xx", EN[3], "e3")], [("en", EN[i], f"e{i}") for i in range(4)])
    sets = {("xx", "clean"): Dataset(tasks.get("mewslix"), df, "clean.parquet", "md5")}
    res, preds = evaluate_encoder(enc, "mewslix", sets, tok, layer=2, max_length=32, batch_size=4)
    assert res[0]["metric"] == "mrr_at_20" and res[0]["score"] == pytest.approx(100.0)
    assert [p["prediction"] for p in preds] == ['"c1"', '"c3"']
    dup = _sided([("xx", EN[1], "e1")], [("en", EN[1], "e1"), ("en", EN[2], "e1")])
    with pytest.raises(ValueError, match="one candidate per pair_id"):
        evaluate_encoder(enc, "mewslix", {("xx", "clean"): Dataset(tasks.get("mewslix"), dup, "d.parquet", "m")},
                         tok, layer=2, max_length=32, batch_size=4)


def test_noise_hits_only_the_query_side():
    df = _sided([("en", "the red car stops", "a0")], [("en", "the red car stops", "a0"), ("xx", "xa red", "a0")])
    noisy = REGISTRY["char_noise"].apply(df, "retrieval", (), np.random.default_rng(0), {"char_noise_rate": 1.0})
    assert noisy["source_id"].tolist() == ["q0"] and noisy["text"].iloc[0] != "the red car stops"


def test_the_embedded_analogues_have_their_benchmarks_structure():
    import yaml

    from xstilts.data.sources import lexicon_of, retrieval_test_sets

    from .conftest import REPO

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    lex = lexicon_of(params)
    langs = [lex.languages[c] for c in params["study"]["languages"]]
    lareqa = retrieval_test_sets("lareqa", 20, 7, langs, lex)
    assert list(lareqa) == [lang.code for lang in langs]  # English questions too (XQuAD-R has them)
    pools = [d[d.side == "candidate"].reset_index(drop=True) for d in lareqa.values()]
    assert all(p.equals(pools[0]) for p in pools)  # one multilingual pool in every file
    for d in lareqa.values():
        q, c = retrieval.split_pool(d, "lareqa")
        targets = c.groupby("pair_id")["lang"].apply(sorted)
        assert all(targets[g] == sorted(lang.code for lang in langs) for g in q["pair_id"])  # answer in all languages
    mewslix = retrieval_test_sets("mewslix", 20, 7, langs, lex)
    for lang, d in mewslix.items():
        q, c = retrieval.split_pool(d, "mewslix")
        assert len(q) == 20 and (q["lang"] == lang).all() and (c["lang"] == "en").all()
        assert c["pair_id"].is_unique and set(q["pair_id"]) <= set(c["pair_id"])  # one gold entity each
    tatoeba = retrieval_test_sets("tatoeba", 20, 7, langs, lex)
    assert "en" not in tatoeba and "side" not in tatoeba["ea"]  # the Tatoeba files as before


def _mining_pool(src, trg) -> pd.DataFrame:
    rows = [{"id": f"s{i}", "lang": "xx", "text": t, "pair_id": g, "side": "query"} for i, (t, g) in enumerate(src)]
    rows += [{"id": f"t{i}", "lang": "en", "text": t, "pair_id": g, "side": "candidate"}
             for i, (t, g) in enumerate(trg)]
    return pd.DataFrame(rows)


def test_bucc_outcomes_known_answer():
    # s0 = t1 and s1 = t0 exactly; s2 and t2 are close to each other (cos 0.8) but also to everything (hubs), so
    # their ratio margin (1.2) is below the true pairs' (1.8): the threshold keeps only the two pairs
    src = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0.5, 0]], dtype=np.float32)
    trg = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0.5]], dtype=np.float32)
    df = _mining_pool([("a", "p"), ("b", "q"), ("c", "")], [("b", "q"), ("a", "p"), ("d", "")])
    s, t = retrieval.split_pool(df, "bucc.parquet", mining=True)
    assert retrieval.gold_pairs(s, t, "bucc") == {"s0": "t1", "s1": "t0"}
    threshold, dev_f1 = retrieval.bucc_threshold(s, t, src, trg, "dev.parquet")
    assert dev_f1 == pytest.approx(100.0)  # the two exact pairs outscore the weak s2-t2 pair
    outcomes = retrieval.bucc_outcomes(s, t, src, trg, threshold, "test.parquet")
    assert outcomes == [("t1", "t1"), ("t0", "t0"), (None, None)]
    assert retrieval.bucc_f1(outcomes) == (pytest.approx(100.0), [1.0, 1.0, 0.0])
    keep_all = retrieval.bucc_outcomes(s, t, src, trg, -np.inf, "test.parquet")
    assert keep_all[2] == ("t2", None)  # kept at any score: one false positive, F1 = 2*2 / (3 + 2)
    assert retrieval.bucc_f1(keep_all)[0] == pytest.approx(80.0)
    for bad, match in ((_mining_pool([("a", "p")], [("b", "")]), "one side only"),
                       (_mining_pool([("a", "p"), ("b", "p")], [("a", "p")]), "two source"),
                       (_mining_pool([("a", "")], [("b", "")]), "no gold pair")):
        with pytest.raises(ValueError, match=match):
            retrieval.split_pool(bad, "bad.parquet", mining=True)


def test_bucc_threshold_comes_from_dev_and_noise_is_paired_with_the_same_sources(model):
    enc, tok = model
    dev = _mining_pool([(EN[0], "a"), (XX[2], ""), (EN[1], "b")], [(EN[1], "b"), (XX[3], ""), (EN[0], "a")])
    test = _mining_pool([(EN[2], "c"), (XX[0], ""), (EN[3], "d"), (XX[1], "")],
                        [(EN[3], "d"), (EN[2], "c"), (XX[3], "")])
    noisy = REGISTRY["char_noise"].apply(test, "retrieval", (), np.random.default_rng(0), {"char_noise_rate": 1.0})
    noisy = noisy.iloc[[0, 2]].reset_index(drop=True)  # a subset of the sources
    t = tasks.get("bucc")
    sets = {("xx", "clean"): Dataset(t, test, "test.parquet", "md5"),
            ("xx", "char_noise"): Dataset(t, noisy, "adv.parquet", "md5")}
    with pytest.raises(ValueError, match="no dev pool"):
        evaluate_encoder(enc, "bucc", sets, tok, layer=2, max_length=32, batch_size=4)
    res, preds = evaluate_encoder(enc, "bucc", sets, tok, layer=2, max_length=32, batch_size=4,
                                  dev={"xx": Dataset(t, dev, "dev.parquet", "m")})
    clean, adv = res
    assert clean["metric"] == "bucc_f1" and clean["n"] == 4 and adv["n"] == 2
    assert clean["bucc_threshold"] == adv["bucc_threshold"]  # one threshold per language, from dev
    s, tr = retrieval.split_pool(dev, "dev", mining=True)
    emb = [retrieval.embed(enc, tok, x["text"].tolist(), layer=2, max_length=32, batch_size=4) for x in (s, tr)]
    assert clean["bucc_threshold"] == retrieval.bucc_threshold(s, tr, *emb, "dev")[0]
    assert clean["chance"] == pytest.approx(100 * (2 * 2 / 3) / (4 + 2))

    def f1(rows):
        from xstilts.eval.ranking import outcome_counts

        c = np.array([outcome_counts(**{k: v for k, v in __import__("json").loads(p["prediction"]).items()})
                      for p in rows])
        return 100 * c[:, 0].sum() / c[:, 1].sum() if c[:, 1].sum() else 0.0

    clean_preds = [p for p in preds if p["subset"] == "clean"]
    adv_preds = [p for p in preds if p["subset"] == "char_noise"]
    assert [p["source_id"] for p in adv_preds] == ["s0", "s2"]
    assert f1(clean_preds) == pytest.approx(clean["score"]) and f1(adv_preds) == pytest.approx(adv["score"])
    paired_clean = [p for p in clean_preds if p["id"] in ("s0", "s2")]
    assert f1(paired_clean) == pytest.approx(adv["clean_score"])  # the clean F1 of exactly the noisy sources


def test_the_embedded_bucc_pools_hide_pairs_among_distractors():
    import yaml

    from xstilts.data import synthetic
    from xstilts.data.sources import lexicon_of, retrieval_test_sets

    from .conftest import REPO

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    lex = lexicon_of(params)
    langs = [lex.languages[c] for c in params["study"]["languages"]]
    test = retrieval_test_sets("bucc", 30, 7, langs, lex)
    dev = {k: pd.DataFrame(v) for k, v in synthetic.bucc_rows(30, 7, langs, lex, "dev").items()}
    assert sorted(test) == sorted(dev) == sorted(c for c in params["study"]["languages"] if c != "en")
    for pools in (test, dev):
        for lang, df in pools.items():
            s, t = retrieval.split_pool(df, lang, mining=True)
            assert len(s) == len(t) == 60 and (s["lang"] == lang).all() and (t["lang"] == "en").all()
            assert len(retrieval.gold_pairs(s, t, lang)) == 30  # half of each side has no counterpart
            assert t["text"].is_unique  # no English distractor repeats a sentence
    assert not test["ea"]["text"].equals(dev["ea"]["text"])  # an independent stream per split
    assert test["ea"]["id"].str.startswith("bucc-ea-test").all()
