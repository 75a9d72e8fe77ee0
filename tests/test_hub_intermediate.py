"""Intermediate-task hub converters, offline: few-row fixtures in each dataset's exact hub schema (features as on
the hub: ClassLabel names and order, int32, string labels, nested answers/choices), loaded through the same code
path as the hub (`hub.load_split(..., data_files=...)` -> `spec.convert`), then checked field by field.

The committed fixtures under tests/fixtures/hub/intermediate/ are written by `make_fixtures` (run this module as a
script to regenerate them); `test_committed_fixtures_match_generator` keeps the two in step.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from xstilts.core.tasks import NLI_LABELS
from xstilts.data import hub, schema
from xstilts.data.hub import HubError, intermediate, revisions

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hub" / "intermediate"
E, N, C = (NLI_LABELS.index(x) for x in ("entailment", "neutral", "contradiction"))


# ---- fixtures in the hubs' exact schemas --------------------------------------------------------------------------
def _features():
    from datasets import ClassLabel, Features, Sequence, Value

    s, i32 = Value("string"), Value("int32")
    nli = ClassLabel(names=["entailment", "neutral", "contradiction"])
    return {
        "mnli": Features({"premise": s, "hypothesis": s, "label": nli, "idx": i32}),
        "qqp": Features({"question1": s, "question2": s,
                         "label": ClassLabel(names=["not_duplicate", "duplicate"]), "idx": i32}),
        "squad": Features({"id": s, "title": s, "context": s, "question": s,
                           "answers": Sequence({"text": s, "answer_start": i32})}),
        "hellaswag": Features({"ind": i32, "activity_label": s, "ctx_a": s, "ctx_b": s, "ctx": s,
                               "endings": Sequence(s), "source_id": s, "split": s, "split_type": s, "label": s}),
        "anli": Features({"uid": s, "premise": s, "hypothesis": s, "label": nli, "reason": s}),
        "snli": Features({"premise": s, "hypothesis": s, "label": nli}),
        "cosmosqa": Features({"id": s, "context": s, "question": s, "answer0": s, "answer1": s, "answer2": s,
                              "answer3": s, "label": i32}),
        "commonsenseqa": Features({"id": s, "question": s, "question_concept": s,
                                   "choices": Sequence({"label": s, "text": s}), "answerKey": s}),
        "socialiqa": Features({"context": s, "question": s, "answerA": s, "answerB": s, "answerC": s, "label": s}),
    }


def _squad_rows(items):
    ids, titles, ctxs, qs, answers = [], [], [], [], []
    for id_, ctx, q, texts in items:
        ids.append(id_), titles.append("T"), ctxs.append(ctx), qs.append(q)
        answers.append({"text": texts, "answer_start": [ctx.index(t) for t in texts]})
    return {"id": ids, "title": titles, "context": ctxs, "question": qs, "answers": answers}


SQ_CTX = "Normandy is a region in France. The Normans gave their name to it in the 10th century."
HS = dict(activity_label=["Cooking", "Cooking"], source_id=["a1", "a2"], split_type=["indomain", "zeroshot"])


def fixture_data() -> dict[tuple[str, str], tuple[str, dict]]:
    """(key, split) -> (features key, columns) for every committed fixture."""
    nli3 = ["A man sleeps.", "A dog runs.", "Two kids play.", "It rains."]
    return {
        ("mnli", "train"): ("mnli", {"premise": nli3, "hypothesis": ["He rests.", "A cat runs.", "Kids nap.", "?"],
                                     "label": [0, 1, 2, -1], "idx": [0, 1, 2, 3]}),
        ("mnli", "dev"): ("mnli", {"premise": ["P0", "P1"], "hypothesis": ["H0", "H1"], "label": [2, 0],
                                   "idx": [0, 1]}),
        ("mnli", "test"): ("mnli", {"premise": ["P0", "P1"], "hypothesis": ["H0", "H1"], "label": [-1, -1],
                                    "idx": [0, 1]}),
        ("qqp", "train"): ("qqp", {"question1": ["How old is Paris?", "What is CCG?", "Why?"],
                                   "question2": ["What is the age of Paris?", "Who won?", "Why not?"],
                                   "label": [1, 0, 0], "idx": [10, 11, 12]}),
        ("qqp", "test"): ("qqp", {"question1": ["a"], "question2": ["b"], "label": [-1], "idx": [0]}),
        ("squad_v1", "train"): ("squad", _squad_rows([
            ("s1", SQ_CTX, "Where is Normandy?", ["France"]),
            ("s2", SQ_CTX, "When?", ["10th century"]),
            ("s3", "Tesla was born in 1856 in Smiljan.", "Born where?", ["Smiljan"])])),
        ("squad_v1", "dev"): ("squad", _squad_rows([
            ("d1", SQ_CTX, "Who gave the name?", ["The Normans", "Normans", "The Normans"])])),
        ("squad_v2", "train"): ("squad", _squad_rows([
            ("v1", SQ_CTX, "Where is Normandy?", ["France"]),
            ("v2", SQ_CTX, "Who founded Normandy in 2020?", []),
            ("v3", SQ_CTX, "Which century?", ["10th century"]),
            ("v4", SQ_CTX, "What is the capital of Mars?", [])])),
        ("hellaswag", "train"): ("hellaswag", {
            "ind": [4, 9], **HS, "ctx_a": ["A man cracks eggs.", "She pours water."], "ctx_b": ["he", "then she"],
            "ctx": ["A man cracks eggs. he", "She pours water. then she"],
            "endings": [["whisks them.", "flies away.", "sings.", "sleeps."],
                        ["drinks.", "boils it.", "paints.", "jumps."]],
            "split": ["train", "train"], "label": ["0", "3"]}),
        ("hellaswag", "test"): ("hellaswag", {
            "ind": [1, 2], **HS, "ctx_a": ["x", "y"], "ctx_b": ["a", "b"], "ctx": ["x a", "y b"],
            "endings": [["1", "2", "3", "4"]] * 2, "split": ["test", "test"], "label": ["", ""]}),
        **{("anli", f"train_{r}"): ("anli", {
            "uid": [f"{r}-u1", f"{r}-u2"], "premise": [f"{r} premise one", f"{r} premise two"],
            "hypothesis": ["h1", "h2"], "label": [k % 3, (k + 1) % 3], "reason": ["", "because"]})
           for k, r in enumerate(("r1", "r2", "r3"))},
        ("anli", "dev_r1"): ("anli", {"uid": ["d1"], "premise": ["p"], "hypothesis": ["h"], "label": [1],
                                      "reason": [""]}),
        ("snli", "train"): ("snli", {"premise": ["A boy jumps.", "A boy jumps.", "Cats."],
                                     "hypothesis": ["A child moves.", "The boy sits.", "Dogs."],
                                     "label": [0, 2, -1]}),
        ("cosmosqa", "train"): ("cosmosqa", {
            "id": ["c1", "c2"], "context": ["I missed the bus.", "It was sunny."],
            "question": ["Why was I late?", "What did we do?"],
            "answer0": ["Bus missed", "Swam"], "answer1": ["Overslept", "Slept"], "answer2": ["Ran", "Read"],
            "answer3": ["None of the above choices .", "Cooked"], "label": [0, 3]}),
        ("cosmosqa", "test"): ("cosmosqa", {
            "id": ["t1"], "context": ["c"], "question": ["q"], "answer0": ["a"], "answer1": ["b"],
            "answer2": ["c"], "answer3": ["d"], "label": [-1]}),
        ("commonsenseqa", "train"): ("commonsenseqa", {
            "id": ["q1", "q2"], "question": ["Where do you keep milk?", "What do dogs do?"],
            "question_concept": ["milk", "dogs"],
            "choices": [{"label": list("ABCDE"), "text": ["fridge", "oven", "car", "tree", "sky"]},
                        {"label": list("ABCDE"), "text": ["fly", "bark", "swim", "read", "type"]}],
            "answerKey": ["A", "B"]}),
        ("commonsenseqa", "test"): ("commonsenseqa", {
            "id": ["t1"], "question": ["q"], "question_concept": ["c"],
            "choices": [{"label": list("ABCDE"), "text": list("vwxyz")}], "answerKey": [""]}),
        ("socialiqa", "train"): ("socialiqa", {
            "context": ["Tracy gave Jan a gift.", "Kai slept late."],
            "question": ["How does Jan feel?", "What will Kai do next?"],
            "answerA": ["happy", "eat breakfast"], "answerB": ["sad", "sleep more"], "answerC": ["angry", "run"],
            "label": ["1", "3"]}),
    }


CCG_TRAIN = (["The cat sleeps .", "Dogs bark loudly ."],
             ["NP/N N S\\NP .", "N S\\NP (S\\NP)\\(S\\NP) ."])
CCG_DEV = (["A dog barks ."], ["NP/N N S\\NP ."])
CCG_TAGS = {"NP/N": 0, "N": 1, "S\\NP": 2, "(S\\NP)\\(S\\NP)": 3, ".": 4, "conj": 5}


def make_fixtures(root: Path) -> list[Path]:
    """Write every fixture under `root` (<key>/<split>.parquet and the ccg/ directory); returns the paths."""
    from datasets import Dataset

    feats, out = _features(), []
    for (key, split), (fkey, data) in fixture_data().items():
        path = root / key / f"{split}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(data, features=feats[fkey]).to_parquet(str(path))
        out.append(path)
    ccg = root / "ccg"
    ccg.mkdir(parents=True, exist_ok=True)
    for split, (tokens, tags) in {"train": CCG_TRAIN, "dev": CCG_DEV}.items():
        for ext, lines in (("tokens", tokens), ("tags", tags)):
            (ccg / f"{split}.{ext}").write_text("\n".join(lines) + "\n", encoding="utf-8")
            out.append(ccg / f"{split}.{ext}")
    (ccg / "tags_to_id.json").write_text(json.dumps(CCG_TAGS, indent=1) + "\n", encoding="utf-8")
    out.append(ccg / "tags_to_id.json")
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("hf_cache"))


def load(key: str, split: str, cache: str, root: Path = FIXTURES, **kw) -> pd.DataFrame:
    """The production path: load_split on local files in the hub schema, then the registered converter."""
    spec = hub.get(key)
    ds = hub.load_split(spec, split, data_files=[root / key / f"{split}.parquet"], cache_dir=cache)
    return spec.convert(ds, split=split, **kw)


def _canonical(df, fmt):
    assert list(df.columns) == list(schema.COLUMNS[fmt])
    assert (df["lang"] == "en").all() and (df["meta"] == "").all()
    assert df["id"].is_unique and all(isinstance(i, str) for i in df["id"])
    schema.check(df, fmt, "test")


# ---- registry -----------------------------------------------------------------------------------------------------
def test_registered_specs():
    keys = {"mnli", "qqp", "squad_v1", "squad_v2", "hellaswag", "anli", "snli", "cosmosqa", "commonsenseqa",
            "socialiqa"}
    assert keys <= set(hub.REGISTRY)
    for key in keys:
        spec = hub.get(key)
        assert spec is intermediate.SPECS[key]
        assert revisions.SHA.match(spec.revision) and spec.licence  # a commit SHA, not a branch
        assert revisions.evidence(spec.path) and not revisions.evidence(spec.path).startswith("UNPINNED")
        assert spec.format in schema.COLUMNS and "train" in spec.splits and "dev" in spec.splits
    assert hub.get("mnli").splits["dev"] == "validation_matched"
    assert (hub.get("mnli").path, hub.get("mnli").config) == ("nyu-mll/glue", "mnli")


def test_committed_fixtures_match_generator(tmp_path):
    fresh = make_fixtures(tmp_path)
    for path in fresh:
        committed = FIXTURES / path.relative_to(tmp_path)
        assert committed.exists(), f"regenerate fixtures: {committed} missing"
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq
            from datasets import Features

            a, b = pq.read_table(path), pq.read_table(committed)
            assert a.equals(b), committed
            assert Features.from_arrow_schema(a.schema) == Features.from_arrow_schema(b.schema), committed
        else:
            assert path.read_bytes() == committed.read_bytes(), committed


def test_fixture_features_survive_parquet(cache):
    """Loading the parquet files gives back the hub features (ClassLabel names, int32, string labels)."""
    feats = _features()
    for (key, split), (fkey, _) in fixture_data().items():
        ds = hub.load_split(hub.get(key), split, data_files=[FIXTURES / key / f"{split}.parquet"], cache_dir=cache)
        assert ds.features == feats[fkey], (key, split)


# ---- pair ---------------------------------------------------------------------------------------------------------
def test_mnli(cache):
    df = load("mnli", "train", cache)
    _canonical(df, "pair")
    assert df["label"].tolist() == [E, N, C] and df.attrs["dropped"] == 1  # label -1 dropped
    assert df.loc[0, ["text_a", "text_b", "id"]].tolist() == ["A man sleeps.", "He rests.", "train-0"]
    dev = load("mnli", "dev", cache)
    assert dev["label"].tolist() == [C, E]
    with pytest.raises(HubError, match="no gold labels"):
        load("mnli", "test", cache)


def test_labels_are_mapped_by_name_not_position(tmp_path, cache):
    """A ClassLabel in another order (same names) gives the same canonical labels: mapping is by name."""
    from datasets import ClassLabel, Dataset, Features, Value

    names = ["contradiction", "entailment", "neutral"]  # permuted
    s = Value("string")
    data = {"premise": ["p0", "p1", "p2"], "hypothesis": ["h0", "h1", "h2"],
            "label": [names.index("entailment"), names.index("neutral"), names.index("contradiction")]}
    for key in ("snli", "mnli"):
        cols = dict(data, idx=[0, 1, 2]) if key == "mnli" else data
        feats = {"premise": s, "hypothesis": s, "label": ClassLabel(names=names)}
        if key == "mnli":
            feats["idx"] = Value("int32")
        path = tmp_path / key / "train.parquet"
        path.parent.mkdir()
        Dataset.from_dict(cols, features=Features(feats)).to_parquet(str(path))
        df = load(key, "train", cache, root=tmp_path)
        assert df["label"].tolist() == [E, N, C], key
    # and the committed (hub-ordered) SNLI fixture maps to the same indices as MNLI's names
    snli = load("snli", "train", cache)
    assert snli["label"].tolist() == [E, C] and snli.attrs["dropped"] == 1
    _canonical(snli, "pair")


def test_unknown_label_name_refused(tmp_path, cache):
    from datasets import ClassLabel, Dataset, Features, Value

    s = Value("string")
    path = tmp_path / "snli" / "train.parquet"
    path.parent.mkdir()
    Dataset.from_dict({"premise": ["p"], "hypothesis": ["h"], "label": [0]},
                      features=Features({"premise": s, "hypothesis": s,
                                         "label": ClassLabel(names=["yes", "no"])})).to_parquet(str(path))
    with pytest.raises(HubError, match="not in"):
        load("snli", "train", cache, root=tmp_path)


def test_qqp(cache):
    df = load("qqp", "train", cache)
    _canonical(df, "pair")
    assert df["label"].tolist() == [1, 0, 0]  # not_duplicate=0, duplicate=1 by name
    assert df["id"].tolist() == ["train-10", "train-11", "train-12"]
    assert df.loc[0, "text_b"] == "What is the age of Paris?"
    with pytest.raises(HubError):
        load("qqp", "test", cache)


def test_anli_rounds_and_composition(cache):
    spec = hub.get("anli")
    by_round = {r: hub.load_split(spec, f"train_{r}", data_files=[FIXTURES / "anli" / f"train_{r}.parquet"],
                                  cache_dir=cache) for r in ("r1", "r2", "r3")}
    one = spec.convert(by_round["r2"], split="train_r2")
    _canonical(one, "pair")
    assert one["id"].tolist() == ["r2-u1", "r2-u2"] and one["label"].tolist() == [N, C]
    allr = intermediate.anli_rounds(by_round, split="train")
    _canonical(allr, "pair")
    assert len(allr) == 6 and allr["id"].iloc[0] == "r1:r1-u1" and allr["label"].tolist() == [E, N, N, C, C, E]
    sub = intermediate.anli_rounds(by_round, rounds=("r1", "r3"))
    assert sub["id"].str[:2].tolist() == ["r1", "r1", "r3", "r3"]
    with pytest.raises(HubError):
        intermediate.anli_rounds(by_round, rounds=("r4",))
    with pytest.raises(HubError, match="r3"):
        intermediate.anli_rounds({"r1": by_round["r1"]}, rounds=("r1", "r3"))
    plus = intermediate.compose_anli_plus(allr, load("mnli", "train", cache), load("snli", "train", cache))
    _canonical(plus, "pair")
    assert plus.attrs["sources"] == {"anli": 6, "mnli": 3, "snli": 2} and len(plus) == 11
    assert plus["id"].str.split(":").str[0].tolist() == ["anli"] * 6 + ["mnli"] * 3 + ["snli"] * 2
    assert load("anli", "dev_r1", cache)["label"].tolist() == [N]
    assert hub.get("anli").splits["train"] == "train_r1+train_r2+train_r3"


# ---- span ---------------------------------------------------------------------------------------------------------
def _offsets_ok(df):
    for ctx, texts, starts in zip(df["context"], df["answers_text"], df["answers_start"]):
        assert len(texts) == len(starts) > 0
        for t, s in zip(texts, starts):
            assert isinstance(s, int) and ctx[s:s + len(t)] == t


def test_squad_v1(cache):
    df = load("squad_v1", "train", cache)
    _canonical(df, "span")
    _offsets_ok(df)
    assert df["id"].tolist() == ["s1", "s2", "s3"] and df.loc[2, "answers_text"] == ["Smiljan"]
    assert df.loc[0, "question"] == "Where is Normandy?" and df.attrs["dropped"] == 0
    dev = load("squad_v1", "dev", cache)
    assert dev.loc[0, "answers_text"] == ["The Normans", "Normans", "The Normans"]
    _offsets_ok(dev)


def test_squad_v2_unanswerable_dropped(cache):
    df = load("squad_v2", "train", cache)
    _canonical(df, "span")
    _offsets_ok(df)
    assert df["id"].tolist() == ["v1", "v3"] and df.attrs["dropped"] == 2
    kept = load("squad_v2", "train", cache, keep_unanswerable=True)
    assert len(kept) == 4 and kept.loc[1, "answers_text"] == [] and kept.attrs["dropped"] == 0


# ---- multiple choice ----------------------------------------------------------------------------------------------
def test_hellaswag(cache):
    df = load("hellaswag", "train", cache)
    _canonical(df, "mc")
    assert df["label"].tolist() == [0, 3]  # parsed from the strings "0", "3"
    assert df.loc[0, "context"] == "A man cracks eggs. he"
    assert list(df.loc[1, "choices"]) == ["drinks.", "boils it.", "paints.", "jumps."]
    assert df["id"].tolist() == ["train-4", "train-9"]
    with pytest.raises(HubError, match="no gold labels"):
        load("hellaswag", "test", cache)


def test_cosmosqa(cache):
    df = load("cosmosqa", "train", cache)
    _canonical(df, "mc")
    assert df.loc[0, "context"] == "I missed the bus. Why was I late?"
    assert list(df.loc[0, "choices"]) == ["Bus missed", "Overslept", "Ran", "None of the above choices ."]
    assert df["label"].tolist() == [0, 3] and df["id"].tolist() == ["c1", "c2"]
    with pytest.raises(HubError):
        load("cosmosqa", "test", cache)


def test_commonsenseqa(cache):
    df = load("commonsenseqa", "train", cache)
    _canonical(df, "mc")
    assert df.loc[0, "context"] == "Where do you keep milk?"
    assert list(df.loc[1, "choices"]) == ["fly", "bark", "swim", "read", "type"]
    assert df["label"].tolist() == [0, 1]  # answerKey letters -> positions in choices.label
    with pytest.raises(HubError, match="no gold labels"):
        load("commonsenseqa", "test", cache)


def test_socialiqa(cache):
    df = load("socialiqa", "train", cache)
    _canonical(df, "mc")
    assert df["label"].tolist() == [0, 2]  # "1".."3" -> 0..2
    assert df.loc[0, "context"] == "Tracy gave Jan a gift. How does Jan feel?"
    assert list(df.loc[1, "choices"]) == ["eat breakfast", "sleep more", "run"]
    assert df["id"].tolist() == ["train-0", "train-1"]


# ---- CCGbank ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [None, "/nonexistent/ccgbank"])
def test_ccg_missing_path_refused(path):
    with pytest.raises(HubError, match="LDC2005T13") as err:
        intermediate.load_ccgbank(path)
    assert "licensed" in str(err.value) and "never" in str(err.value) and "params" in str(err.value)


def test_ccg_directory(tmp_path):
    df, labels = intermediate.load_ccgbank(FIXTURES / "ccg", "train")
    _canonical(df, "tagging")
    assert labels == ("NP/N", "N", "S\\NP", "(S\\NP)\\(S\\NP)", ".", "conj")  # tags_to_id.json order
    assert list(df.loc[0, "tokens"]) == ["The", "cat", "sleeps", "."] and list(df.loc[0, "tags"]) == [0, 1, 2, 4]
    assert list(df.loc[1, "tags"]) == [1, 2, 3, 4] and df["id"].tolist() == ["train-1", "train-2"]
    dev, dev_labels = intermediate.load_ccgbank(FIXTURES / "ccg", "dev")
    assert dev_labels == labels and list(dev.loc[0, "tags"]) == [0, 1, 2, 4]
    # without tags_to_id.json: the sorted train supertag set
    plain = tmp_path / "ccg"
    shutil.copytree(FIXTURES / "ccg", plain)
    (plain / "tags_to_id.json").unlink()
    df2, labels2 = intermediate.load_ccgbank(plain, "train")
    assert labels2 == tuple(sorted({t for line in CCG_TRAIN[1] for t in line.split()}))
    assert [labels2[i] for i in df2.loc[0, "tags"]] == CCG_TRAIN[1][0].split()
    (plain / "dev.tags").write_text("NP/N N\n", encoding="utf-8")  # misaligned with dev.tokens
    with pytest.raises(HubError, match="tokens but"):
        intermediate.load_ccgbank(plain, "dev")


# ---- offline hub --------------------------------------------------------------------------------------------------
def test_offline_hub_load_fails_fast(cache):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by conftest.py
    spec = hub.get("squad_v1")
    t0 = time.perf_counter()
    with pytest.raises(HubError) as err:
        hub.load_split(spec, "train", cache_dir=cache)
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert spec.path in msg and spec.revision in msg and "HF_HUB_OFFLINE" in msg


if __name__ == "__main__":  # regenerate the committed fixtures
    for p in make_fixtures(FIXTURES):
        print(p.relative_to(FIXTURES))
