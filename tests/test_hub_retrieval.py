"""The paper profile's retrieval targets beyond Tatoeba, offline: LAReQA's pools from XQuAD-R rows in the hub's exact
schema (google-research-datasets/xquad_r: id, context, question, answers{text, answer_start}; no sentence breaks)
or from LAReQA's released files (with `sentence_breaks`), the refusal while the hub revision is unpinned, and
Mewsli-X from a user-built folder (hub.mewslix_dir) with its missing-file error. Fixtures are tiny, with known
answers; the prepare test runs the real `prepare_hub` on a local mirror."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml

from xstilts.core import config, inputs
from xstilts.data import hub, schema
from xstilts.data.hub import HubError, lareqa
from xstilts.data.hub.prepare import mirror_files, prepare_hub, reads_folder, used_keys
from xstilts.eval import retrieval

from .conftest import REPO

V = datasets.Value
# google-research-datasets/xquad_r's features, per language config, split "validation" (its dataset card)
XQUAD_R_FEATURES = datasets.Features({"id": V("string"), "context": V("string"), "question": V("string"),
                                      "answers": datasets.Sequence({"text": V("string"), "answer_start": V("int32")})})
PIN = "0" * 40  # a placeholder of the right shape, not a real commit

# 2 languages x 2 paragraphs of 2 sentences; q3 and q4 are answered by the same sentence
PARAGRAPHS = {
    "en": ["Paris is the capital of France. It has two million people.",
           "The Rhine flows north. It ends in the North Sea."],
    "de": ["Paris ist die Hauptstadt Frankreichs. Es hat zwei Millionen Einwohner.",
           "Der Rhein fließt nach Norden. Er mündet in die Nordsee."],
}
QUESTIONS = {  # id -> (paragraph, {lang: (question, answer)})
    "q1": (0, {"en": ("How many people live in Paris?", "two million"),
               "de": ("Wie viele Menschen leben in Paris?", "zwei Millionen")}),
    "q2": (0, {"en": ("What is the capital of France?", "Paris"), "de": ("Was ist die Hauptstadt?", "Paris")}),
    "q3": (1, {"en": ("Where does the Rhine end?", "North Sea"), "de": ("Wo mündet der Rhein?", "Nordsee")}),
    "q4": (1, {"en": ("What does the Rhine end in?", "the North Sea"),
               "de": ("Worin mündet der Rhein?", "die Nordsee")}),
}


def hub_rows(lang: str, paragraphs: dict = PARAGRAPHS) -> dict:
    ids, contexts, questions, answers = [], [], [], []
    for qid, (p, by_lang) in QUESTIONS.items():
        question, text = by_lang[lang]
        ctx = paragraphs[lang][p]
        ids.append(qid)
        contexts.append(ctx)
        questions.append(question)
        answers.append({"text": [text], "answer_start": [ctx.index(text)]})
    return {"id": ids, "context": contexts, "question": questions, "answers": answers}


def write_hub(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(data, features=XQUAD_R_FEATURES).to_parquet(str(path))
    return path


def load_rows(tmp_path: Path, lang: str, data: dict) -> list[dict]:
    """Through the hub code path: local files in the hub's exact schema -> load_split -> rows."""
    path = write_hub(tmp_path / "xquad_r" / lang / "validation.parquet", data)
    ds = hub.load_split(hub.get("lareqa"), "test", lang=lang, data_files=[path], cache_dir=str(tmp_path / "cache"))
    assert ds.features == XQUAD_R_FEATURES
    return ds.to_list()


def targets(df: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    """{question id: {(language, sentence)}} of a LAReQA file's pool (candidate_text="sentence")."""
    out: dict[str, set] = {}
    cands = df[df.side == "candidate"]
    for lang, text, pair_id in zip(cands["lang"], cands["text"], cands["pair_id"]):
        for g in schema.candidate_groups(pair_id):
            out.setdefault(g, set()).add((lang, text))
    return out


# ------------------------------------------------------------------------------------------------ sentence rule


@pytest.mark.parametrize("lang, text, sentences", [
    ("en", "Dr. Smith met J. S. Bach in the U.S. today. He left at 3.5 p.m. sharp. Then? Home!",
     ["Dr. Smith met J. S. Bach in the U.S. today.", "He left at 3.5 p.m. sharp.", "Then?", "Home!"]),
    ("de", "Er starb am 7. Januar 1943. Seine Papiere blieben.", ["Er starb am 7. Januar 1943.",
                                                              "Seine Papiere blieben."]),
    ("zh", "巴黎是首都。它很大！对吗？", ["巴黎是首都。", "它很大！", "对吗？"]),
    ("hi", "पेरिस राजधानी है। यह बड़ा है।", ["पेरिस राजधानी है।", "यह बड़ा है।"]),
    ("el", "Πού είναι; Εδώ.", ["Πού είναι;", "Εδώ."]),
    ("en", "Stop; go on.", ["Stop; go on."]),  # ";" ends a question in Greek only
    ("ar", "أين باريس؟ في فرنسا.", ["أين باريس؟", "في فرنسا."]),
    ("en", 'He said "no." [citation needed] Then he left.', ['He said "no." [citation needed]', "Then he left."]),
    ("th", "ปารีสเป็นเมืองหลวง ของฝรั่งเศส. มันใหญ่", ["ปารีสเป็นเมืองหลวง ของฝรั่งเศส. มันใหญ่"]),
])
def test_split_sentences(lang, text, sentences):
    spans = lareqa.split_sentences(text, lang)
    assert [text[s:e] for s, e in spans] == sentences
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())  # every character in one sentence


def test_locate_answer_after_the_hubs_strip():
    original = "  Paris is big. Paris is old."
    stripped = original.strip()  # the hub's loading script strips contexts, not offsets
    assert lareqa.locate_answer(stripped, "old", original.index("old")) == stripped.index("old")
    assert lareqa.locate_answer(stripped, "Paris", original.rindex("Paris")) == stripped.rindex("Paris")
    assert lareqa.locate_answer(stripped, "Paris", 0) == 0
    assert lareqa.locate_answer(stripped, "Rome", 3) is None


# ------------------------------------------------------------------------------------------------ pools


def test_pools_from_hub_rows(tmp_path):
    rows = {lang: load_rows(tmp_path, lang, hub_rows(lang)) for lang in ("en", "de")}
    files, stats = lareqa.build_pools(rows, candidate_text="sentence")
    assert list(files) == ["en", "de"]
    pools = [f[f.side == "candidate"].reset_index(drop=True) for f in files.values()]
    pd.testing.assert_frame_equal(pools[0], pools[1])  # one multilingual pool in every file
    assert len(pools[0]) == 8 and pools[0]["lang"].tolist() == ["en"] * 4 + ["de"] * 4
    for lang, df in files.items():
        schema.check(df, "retrieval", lang)
        q = df[df.side == "query"]
        assert q["lang"].eq(lang).all() and q["pair_id"].tolist() == ["q1", "q2", "q3", "q4"]
        assert q["text"].tolist() == [QUESTIONS[i][1][lang][0] for i in ("q1", "q2", "q3", "q4")]
        queries, cands = retrieval.split_pool(df, lang)
        assert len(queries) == 4 and len(cands) == 8
    expected = {
        "q1": {("en", "It has two million people."), ("de", "Es hat zwei Millionen Einwohner.")},
        "q2": {("en", "Paris is the capital of France."), ("de", "Paris ist die Hauptstadt Frankreichs.")},
        "q3": {("en", "It ends in the North Sea."), ("de", "Er mündet in die Nordsee.")},
    }
    expected["q4"] = expected["q3"]
    assert targets(files["en"]) == expected  # each question: its answer sentence in every language
    groups = dict(zip(pools[0]["text"], pools[0]["pair_id"]))
    assert groups["It ends in the North Sea."] == "q3 q4" and groups["The Rhine flows north."] == ""
    assert stats["en"] == {"questions": 4, "skipped": 0, "relocated": 0, "candidates": 4, "paragraphs": 2}
    assert files["en"]["id"].is_unique


def test_candidate_text_is_sentence_then_context(tmp_path):
    rows = {lang: load_rows(tmp_path, lang, hub_rows(lang)) for lang in ("en", "de")}
    files, _ = lareqa.build_pools(rows, ["de"])
    cands = files["de"][files["de"].side == "candidate"]
    assert cands["text"].iloc[1] == f"It has two million people. {PARAGRAPHS['en'][0]}"
    with pytest.raises(HubError, match="candidate_text"):
        lareqa.build_pools(rows, candidate_text="context")
    with pytest.raises(HubError, match="no rows for languages"):
        lareqa.build_pools(rows, ["fr"])


def test_unparallel_splits_keep_each_questions_own_targets(tmp_path):
    """German writes paragraph 1 as ONE sentence: q1 and q2 share that German target but keep their own English
    ones (a union of groups would give each both English sentences)."""
    paragraphs = copy.deepcopy(PARAGRAPHS)
    paragraphs["de"][0] = "Paris ist die Hauptstadt Frankreichs und hat zwei Millionen Einwohner."
    rows = {"en": load_rows(tmp_path, "en", hub_rows("en")),
            "de": load_rows(tmp_path, "de", hub_rows("de", paragraphs))}
    files, _ = lareqa.build_pools(rows, candidate_text="sentence")
    t = targets(files["en"])
    german = ("de", paragraphs["de"][0])
    assert t["q1"] == {("en", "It has two million people."), german}
    assert t["q2"] == {("en", "Paris is the capital of France."), german}
    pool = files["en"][files["en"].side == "candidate"]
    assert pool.loc[pool["text"] == german[1], "pair_id"].item() == "q1 q2"
    # the metric reads the groups: embeddings that point each question at exactly its targets score 100
    queries, cands = retrieval.split_pool(files["en"], "en")
    names = sorted(t)
    q_emb = np.eye(len(names))[[names.index(g) for g in queries["pair_id"]]]
    c_emb = np.array([[float(g in schema.candidate_groups(p)) for g in names] for p in cands["pair_id"]])
    score, per_query, _ = retrieval.score("map_at_20", queries, cands, q_emb, c_emb)
    assert score == pytest.approx(100.0) and per_query == pytest.approx([1.0] * 4)
    assert 0 < retrieval.chance("map_at_20", queries, cands) < 100


def test_shifted_offsets_are_found_again_and_unfindable_answers_skipped(tmp_path):
    data = hub_rows("en")
    data["answers"][0] = {"text": ["two million"], "answer_start": [data["answers"][0]["answer_start"][0] + 2]}
    data["answers"][1] = {"text": ["Lyon"], "answer_start": [0]}
    rows = {"en": load_rows(tmp_path, "en", data)}
    files, stats = lareqa.build_pools(rows, candidate_text="sentence")
    assert stats["en"]["relocated"] == 1 and stats["en"]["skipped"] == 1 and stats["en"]["questions"] == 3
    assert files["en"][files["en"].side == "query"]["pair_id"].tolist() == ["q1", "q3", "q4"]
    assert targets(files["en"])["q1"] == {("en", "It has two million people.")}


def released_file(folder: Path, lang: str, breaks: list[list[int]]) -> None:
    """One paragraph in LAReQA's released layout (SQuAD JSON + sentence_breaks)."""
    ctx = PARAGRAPHS[lang][0]
    qas = [{"id": qid, "question": by_lang[lang][0],
            "answers": [{"text": by_lang[lang][1], "answer_start": ctx.index(by_lang[lang][1])}]}
           for qid, (p, by_lang) in QUESTIONS.items() if p == 0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lang}.json").write_text(json.dumps({"data": [{"paragraphs": [
        {"context": ctx, "qas": qas, "sentence_breaks": breaks}]}]}), encoding="utf-8")


def test_released_sentence_breaks_are_used_as_given(tmp_path):
    en = PARAGRAPHS["en"][0]
    cut = en.index(" the capital")  # a break no rule would make
    released_file(tmp_path / "xquad-r", "en", [[0, cut], [cut + 1, len(en)]])
    released_file(tmp_path / "xquad-r", "de", [[0, len(PARAGRAPHS["de"][0])]])
    rows = lareqa.read_released(tmp_path / "xquad-r", ["en", "de"])
    files, stats = lareqa.build_pools(rows, candidate_text="sentence")
    assert stats["en"]["candidates"] == 2 and stats["de"]["candidates"] == 1
    t = targets(files["de"])
    assert t["q2"] == {("en", "Paris is"), ("de", PARAGRAPHS["de"][0])}
    assert t["q1"] == {("en", en[cut + 1:]), ("de", PARAGRAPHS["de"][0])}
    with pytest.raises(HubError, match=r"missing files .*fr\.json"):
        lareqa.read_released(tmp_path / "xquad-r", ["en", "fr"])


# ------------------------------------------------------------------------------------------------ the paper profile


@pytest.fixture
def paper(params) -> dict:
    from xstilts.cli import deep_merge

    p = deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))
    p["adversaries"]["subsets"] = {"lareqa": ["char_noise"], "mewslix": ["char_noise"]}
    p["study"].update(intermediate_tasks=["mnli"], arms=["baseline", "mnli"], target_tasks=["lareqa"])
    p["variants"]["arms"] = []  # no variant arms in this study
    p["subsample"]["sizes"] = [1, "full"]
    return p


def test_lareqa_is_refused_until_its_revision_is_pinned(paper):
    with pytest.raises(config.ConfigError, match="study.source: hub.*not pinned.*hub.revisions.lareqa") as err:
        config.validate(copy.deepcopy(paper))
    assert "hub.lareqa_dir" in str(err.value) and "\n" not in str(err.value)
    branch = copy.deepcopy(paper)
    branch["hub"]["revisions"] = {"lareqa": "main"}
    with pytest.raises(config.ConfigError, match="'main' is not a 40-hex commit SHA"):
        config.validate(branch)
    pinned = copy.deepcopy(paper)
    pinned["hub"]["revisions"] = {"lareqa": PIN}
    config.validate(pinned)
    assert used_keys(pinned["hub"], pinned["study"]) == ["lareqa", "mnli"] and not reads_folder(pinned["hub"], "lareqa")
    released = copy.deepcopy(paper)
    released["hub"]["lareqa_dir"] = "data/xquad-r"
    config.validate(released)
    assert reads_folder(released["hub"], "lareqa") and "lareqa" not in used_keys(released["hub"], released["study"])
    assert inputs.hub_target_refusal("xnli", paper["hub"]) is None


def test_lareqa_released_folder_is_a_manual_input(paper, tmp_path):
    paper["hub"]["lareqa_dir"] = "xquad-r"
    config.validate(paper)
    items = [i for i in inputs.manual_inputs(paper, tmp_path) if i.key == "hub.lareqa_dir"]
    assert [Path(i.path).name for i in items] == [f"{lang}.json" for lang in lareqa.POOL_LANGUAGES]
    assert not any(i.present for i in items)
    with pytest.raises(inputs.ManualInputError, match=r"`hub.lareqa_dir` .*xquad-r/ar.json"):
        inputs.require(paper, tmp_path)


def write_mewslix(root: Path, langs: list[str]) -> None:
    d = root / "test"
    d.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        (d / f"mentions.{lang}.jsonl").write_text(
            json.dumps({"id": "m1", "text": f"Merkel ({lang})", "entity_id": "Q567"}) + "\n", encoding="utf-8")
    (d / "candidates.jsonl").write_text("".join(json.dumps(c) + "\n" for c in [
        {"entity_id": "Q567", "text": "Angela Merkel, German politician"},
        {"entity_id": "Q1", "text": "Universum", "lang": "de"}]), encoding="utf-8")


def test_mewslix_needs_its_folder_and_names_the_missing_files(paper, tmp_path):
    p = copy.deepcopy(paper)
    p["study"]["target_tasks"] = ["mewslix"]
    with pytest.raises(config.ConfigError, match="hub.mewslix_dir") as err:
        config.validate(copy.deepcopy(p))
    assert "get-mewsli-x.sh" in str(err.value) and "izhx/mewsli-x" in str(err.value)
    p["hub"]["mewslix_dir"] = "mx"
    p["hub"]["target_languages"] = {"mewslix": ["en", "de"]}
    config.validate(p)
    with pytest.raises(inputs.ManualInputError) as err:
        inputs.require(p, tmp_path)
    line = str(err.value)
    assert "\n" not in line and "`hub.mewslix_dir`" in line and "nothing was read or downloaded" in line
    assert all(f"mx/test/{name}" in line for name in ("mentions.en.jsonl", "mentions.de.jsonl", "candidates.jsonl"))
    write_mewslix(tmp_path / "mx", ["en", "de"])
    assert all(i.present for i in inputs.manual_inputs(p, tmp_path) if i.key == "hub.mewslix_dir")


def test_prepare_writes_lareqa_and_mewslix_test_files(paper, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    for ours, hub_name in {"train": "train", "dev": "validation_matched"}.items():
        (mirror / "mnli").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "tests" / "fixtures" / "hub" / "intermediate" / "mnli" / f"{ours}.parquet",
                    mirror / "mnli" / f"{hub_name}.parquet")
    for lang in lareqa.POOL_LANGUAGES:  # the pool needs every XQuAD-R language (English text stands in)
        write_hub(mirror / "lareqa" / lang / "validation.parquet", hub_rows("de" if lang == "de" else "en"))
    write_mewslix(tmp_path / "mx", ["en", "de"])
    p = copy.deepcopy(paper)
    p["study"]["target_tasks"] = ["lareqa", "mewslix"]
    p["hub"].update(data_dir=str(mirror), mewslix_dir="mx", revisions={"lareqa": PIN},
                    target_languages={"lareqa": ["en", "de"], "mewslix": ["en", "de"]})
    config.validate(p)
    files = mirror_files(p)
    assert len(files["lareqa"]) == 11 and "mewslix" not in files
    monkeypatch.chdir(tmp_path)  # stages run at the repository root; relative hub paths resolve there
    out = tmp_path / "prepared"
    summary = prepare_hub(p, out, progress=lambda s: None)
    for lang in ("en", "de"):
        df = pd.read_parquet(out / "targets" / "lareqa" / "test" / f"{lang}.parquet")
        # 4 sentences in each of 10 languages; Thai is not split: one candidate per paragraph
        assert (df.side == "query").sum() == 4 and (df.side == "candidate").sum() == 10 * 4 + 2
        assert df.loc[df.side == "query", "lang"].eq(lang).all()
        mx = pd.read_parquet(out / "targets" / "mewslix" / "test" / f"{lang}.parquet")
        assert mx["side"].tolist() == ["query", "candidate", "candidate"]  # English mentions are queries too
        assert mx["lang"].tolist() == [lang, "en", "de"]
        assert (out / "targets" / "lareqa" / "adversarial" / "char_noise" / f"{lang}.parquet").exists()
    task = json.loads((out / "targets" / "lareqa" / "task.json").read_text())
    assert task["languages"] == ["en", "de"] and len(task["pool_languages"]) == 11
    assert "not comparable" in task["sentences"] and task["candidate_text"] == "sentence_and_context"
    assert summary["revision.lareqa"] == PIN and summary["lareqa.pool.th.candidates"] == 2
    assert "hub.mewslix_dir" in summary["mewslix.source"]
    assert "user-built" in json.loads((out / "targets" / "mewslix" / "task.json").read_text())["source_detail"]
