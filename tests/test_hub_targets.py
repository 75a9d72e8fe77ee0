"""Target-dataset loaders (xstilts.data.hub.targets): offline, on few-row fixtures in each dataset's EXACT hub schema
(real feature types: ClassLabel names/order, string labels, Sequence fields), saved as parquet in tmp_path and read
through the same code path as the hub: load_split(spec, split, data_files=...) -> spec.convert(...)."""

from __future__ import annotations

import json

import datasets
import pytest

from xstilts.core.tasks import NER_LABELS, NLI_LABELS
from xstilts.data import hub, schema
from xstilts.data.hub import HubError, revisions
from xstilts.data.hub import targets as T
from xstilts.data.hub.languages import ISO3, UDPOS_NAMES, XTREME, XTREME_R, languages

V, S, CL = datasets.Value, datasets.Sequence, datasets.ClassLabel
ANSWERS = S({"answer_start": V("int32"), "text": V("string")})
SQUAD_FEATURES = {"id": V("string"), "title": V("string"), "context": V("string"), "question": V("string"),
                  "answers": ANSWERS}
BITEXT_FEATURES = {"source_sentence": V("string"), "target_sentence": V("string"), "source_lang": V("string"),
                   "target_lang": V("string")}
PANX_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


@pytest.fixture
def load(tmp_path):
    """Write `data` with `features` as parquet, then load + convert it through the registered spec."""
    counter = iter(range(1000))

    def _load(key, split, lang, data, features, *, hub_lang=None, **convert_kwargs):
        ds = datasets.Dataset.from_dict(data, features=datasets.Features(features))
        path = tmp_path / f"{key}-{next(counter)}.parquet"
        ds.to_parquet(str(path))
        spec = hub.get(key)
        loaded = hub.load_split(spec, split, lang=hub_lang or lang, data_files=[path],
                                cache_dir=str(tmp_path / "cache"))
        assert loaded.features == ds.features  # hub feature types survive the parquet round trip
        df = spec.convert(loaded, split=split, lang=lang, **convert_kwargs)
        assert list(df.columns) == list(schema.COLUMNS[spec.format])
        return df

    return _load


def squad(ids, contexts, questions, starts, texts):
    return {"id": ids, "title": ["t"] * len(ids), "context": contexts, "question": questions,
            "answers": [{"answer_start": s, "text": t} for s, t in zip(starts, texts)]}


# ------------------------------------------------------------------------------------------------ registry


def test_registered_specs():
    for key in ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba", "xcopa",
                "copa", "lareqa"):
        spec = hub.get(key)
        assert spec.format in schema.COLUMNS and spec.licence and spec.splits
        if spec.path == "google/xtreme":
            assert spec.revision == T.XTREME_REVISION and "pinned" in spec.notes
        elif key == "lareqa":  # the one repository without a known commit: flagged where it is used
            assert spec.revision == "main" and "UNPINNED" in spec.notes
        else:
            assert revisions.SHA.match(spec.revision), key
    assert "MNLI" in hub.get("xnli").notes and "train" not in hub.get("xnli").splits
    assert hub.get("xquad").splits == {"test": "validation"}
    assert hub.get("tatoeba").splits == {"test": "validation"}


def test_hub_lang_config_names():
    assert hub.get("udpos").config.format(lang=T.hub_lang("udpos", "en")) == "udpos.English"
    assert hub.get("tatoeba").config.format(lang=T.hub_lang("tatoeba", "zh")) == "tatoeba.cmn"
    assert hub.get("mlqa").config.format(lang=T.hub_lang("mlqa", "de")) == "MLQA.de.de"
    with pytest.raises(HubError, match="not a config"):
        T.hub_lang("xquad", "ro")  # XTREME-R only
    with pytest.raises(HubError, match="MNLI"):
        T.load_target("xnli", "train", "en")


def test_offline_hub_refused():
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        T.load_target("xquad", "test", "de")


# ------------------------------------------------------------------------------------------------ classification


def test_xnli_string_labels_and_language_filter(load):
    data = {"language": ["en", "de", "de", "de", "fr"],
            "sentence1": ["p0", "p1", "p2", "p3", "p4"], "sentence2": ["h0", "h1", "h2", "h3", "h4"],
            "gold_label": ["neutral", "contradiction", "entailment", "neutral", "entailment"]}
    feats = {"language": V("string"), "sentence1": V("string"), "sentence2": V("string"), "gold_label": V("string")}
    df = load("xnli", "test", "de", data, feats)
    assert df["lang"].tolist() == ["de"] * 3
    assert df["text_a"].tolist() == ["p1", "p2", "p3"] and df["text_b"].tolist() == ["h1", "h2", "h3"]
    assert df["label"].tolist() == [NLI_LABELS.index(x) for x in ("contradiction", "entailment", "neutral")]
    assert df["id"].is_unique and (df["meta"] == "").all()
    data["gold_label"] = [""] * 5  # XTREME download_data.sh placeholders
    with pytest.raises(HubError, match="no gold labels"):
        load("xnli", "test", "de", data, feats)


def test_pawsx_string_labels_and_translated_train_refused(load):
    feats = {"sentence1": V("string"), "sentence2": V("string"), "label": V("string")}
    data = {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": ["1", "0"]}
    df = load("pawsx", "test", "de", data, feats)
    assert df["label"].tolist() == [1, 0] and (df["lang"] == "de").all()
    assert load("pawsx", "train", "en", data, feats)["label"].tolist() == [1, 0]
    with pytest.raises(HubError, match="machine-translated"):
        load("pawsx", "train", "de", data, feats)
    with pytest.raises(HubError, match="machine-translated"):
        T.load_target("pawsx", "train", "fr")  # refused before any download


def test_xcopa_choices(load):
    feats = {"premise": V("string"), "choice1": V("string"), "choice2": V("string"), "question": V("string"),
             "label": V("int32"), "idx": V("int32"), "changed": V("bool")}
    data = {"premise": ["Mees avas kraani.", "Tüdruk jooksis."], "choice1": ["c1", "d1"], "choice2": ["c2", "d2"],
            "question": ["effect", "cause"], "label": [1, 0], "idx": [0, 1], "changed": [False, True]}
    df = load("xcopa", "test", "et", data, feats)
    assert df["choices"].map(list).tolist() == [["c1", "c2"], ["d1", "d2"]]
    assert df["label"].tolist() == [1, 0]
    assert df["context"].tolist() == ["Mees avas kraani. What happened as a result?",
                                      "Tüdruk jooksis. What was the cause?"]
    assert (df["lang"] == "et").all()


def test_copa_is_xcopas_english_training_data(load):
    feats = {"premise": V("string"), "choice1": V("string"), "choice2": V("string"), "question": V("string"),
             "idx": V("int32"), "label": CL(names=["choice1", "choice2"])}  # aps/super_glue copa
    data = {"premise": ["The man opened the tap."], "choice1": ["Water flowed."], "choice2": ["It rained."],
            "question": ["effect"], "idx": [0], "label": [0]}
    df = load("copa", "train", None, data, feats)
    assert df["context"].tolist() == ["The man opened the tap. What happened as a result?"]
    assert df["label"].tolist() == [0] and (df["lang"] == "en").all() and df["id"].tolist() == ["copa.en.train.0"]
    with pytest.raises(HubError, match="copa"):  # SuperGLUE test labels are -1
        load("copa", "test", None, {**data, "label": [-1]}, {**feats, "label": V("int32")})


# ------------------------------------------------------------------------------------------------ tagging


def test_udpos_mapped_by_name_even_when_permuted(load):
    permuted = list(reversed(T.UPOS_LABELS))  # hub order differs from ours: must still map by NAME
    tokens = [["The", "dog", "runs", "."], ["Hi"]]
    names = [["DET", "NOUN", "VERB", "PUNCT"], ["INTJ"]]
    feats = {"tokens": S(V("string")), "pos_tags": S(CL(names=permuted))}
    data = {"tokens": tokens, "pos_tags": [[permuted.index(n) for n in row] for row in names]}
    df = load("udpos", "test", "en", data, feats, hub_lang="English")
    assert [list(x) for x in df["tokens"]] == tokens
    assert [[T.UPOS_LABELS[i] for i in row] for row in df["tags"]] == names
    assert len(T.UPOS_LABELS) == 17 and (df["lang"] == "en").all() and df["id"].is_unique


def test_panx_mapped_by_name(load):
    names = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG"]]
    for order in (PANX_NAMES, ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]):
        feats = {"tokens": S(V("string")), "ner_tags": S(CL(names=order)), "langs": S(V("string"))}
        data = {"tokens": [["Ann", "Lee", "in", "Oslo"], ["Acme", "Inc"]],
                "ner_tags": [[order.index(n) for n in row] for row in names],
                "langs": [["de"] * 4, ["de"] * 2]}
        df = load("panx", "dev", "de", data, feats)
        assert [[NER_LABELS[i] for i in row] for row in df["tags"]] == names
        assert (df["lang"] == "de").all()


def test_tagging_unknown_label_refused(load):
    feats = {"tokens": S(V("string")), "ner_tags": S(CL(names=PANX_NAMES + ["B-MISC"])), "langs": S(V("string"))}
    with pytest.raises(HubError, match="B-MISC"):
        load("panx", "test", "en", {"tokens": [["x"]], "ner_tags": [[7]], "langs": [["en"]]}, feats)


# ------------------------------------------------------------------------------------------------ QA


def test_xquad_offsets_valid_and_bad_rows_dropped(load):
    ctx = "Berlin ist die Hauptstadt."
    data = squad(["q1", "q2", "q3"], [ctx] * 3, ["Was?", "Wer?", "Wo?"], [[0], [5], [15]],
                 [["Berlin"], ["Hauptstadt"], ["Hauptstadt"]])  # q2's offset is wrong
    feats = {k: v for k, v in SQUAD_FEATURES.items() if k != "title"}
    data.pop("title")
    df = load("xquad", "test", "de", data, feats)
    assert df["id"].tolist() == ["q1", "q3"] and df.attrs["dropped"] == 1
    for _, r in df.iterrows():
        for t, s in zip(r["answers_text"], r["answers_start"]):
            assert r["context"][s:s + len(t)] == t
    assert (df["lang"] == "de").all()


def test_mlqa(load):
    data = squad(["m1", "m2"], ["Hanoi la thu do.", "abc def"], ["q?", "r?"], [[0], [4, 4]],
                 [["Hanoi"], ["def", "de"]])
    df = load("mlqa", "test", "vi", data, SQUAD_FEATURES)
    assert df["answers_text"].map(list).tolist() == [["Hanoi"], ["def", "de"]]
    assert df["answers_start"].map(list).tolist() == [[0], [4, 4]] and df.attrs["dropped"] == 0


def test_tydiqa_language_from_id_prefix(load):
    ids = ["english-1-0", "finnish-2-0", "english-3-0", "swahili-4-0"]
    data = squad(ids, ["Paris is big.", "Helsinki on.", "Tokyo is big.", "Nairobi ni."], ["q"] * 4,
                 [[0], [0], [0], [0]], [["Paris"], ["Helsinki"], ["Tokyo"], ["Nairobi"]])
    df = load("tydiqa", "train", "en", data, SQUAD_FEATURES)
    assert df["id"].tolist() == ["english-1-0", "english-3-0"] and (df["lang"] == "en").all()
    allrows = load("tydiqa", "test", None, data, SQUAD_FEATURES)
    assert allrows["lang"].tolist() == ["en", "fi", "en", "sw"]


def test_lareqa_span(load):
    data = squad(["x1"], ["Ana are mere."], ["Ce?"], [[8]], [["mere"]])
    df = load("lareqa", "test", "ar", data, SQUAD_FEATURES)
    assert df["answers_text"].map(list).tolist() == [["mere"]]


# ------------------------------------------------------------------------------------------------ retrieval


def test_tatoeba_pairs_and_newlines(load):
    data = {"source_sentence": ["Hallo Welt.\n", "Danke.\n"], "target_sentence": ["Hello world.\n", "Thanks.\n"],
            "source_lang": ["deu", "deu"], "target_lang": ["eng", "eng"]}
    df = load("tatoeba", "test", "de", data, BITEXT_FEATURES, hub_lang="deu")
    assert df["text"].tolist() == ["Hallo Welt.", "Hello world.", "Danke.", "Thanks."]
    assert df["lang"].tolist() == ["de", "en", "de", "en"]
    assert df.groupby("pair_id")["lang"].apply(sorted).tolist() == [["de", "en"]] * 2
    assert df["id"].is_unique


def test_bucc_refused_with_instructions(load, tmp_path):
    data = {"source_sentence": ["Guten Tag."], "target_sentence": ["Good day."], "source_lang": ["de-000001"],
            "target_lang": ["en-000042"]}
    with pytest.raises(HubError, match="distractor.*download_data.sh"):
        load("bucc2018", "test", "de", data, BITEXT_FEATURES)
    with pytest.raises(HubError, match="download_data.sh"):
        T.load_target("bucc2018", "test", "de")
    with pytest.raises(HubError, match="download_data.sh"):
        T.load_bucc_pool(None, "de")
    with pytest.raises(HubError, match="missing files"):
        T.load_bucc_pool(tmp_path / "nowhere", "de")
    gold = load("bucc2018", "test", "de", data, BITEXT_FEATURES, gold_pairs_only=True)
    assert gold["pair_id"].tolist() == ["de-000001|en-000042"] * 2 and gold["lang"].tolist() == ["de", "en"]


def test_bucc_pool_from_xtreme_layout(tmp_path):
    (tmp_path / "de-en.test.de").write_text("de-1\tGuten Tag.\nde-2\tAblenkung.\n", encoding="utf-8")
    (tmp_path / "de-en.test.en").write_text("en-7\tGood day.\nen-8\tDistractor.\n", encoding="utf-8")
    (tmp_path / "de-en.test.gold").write_text("de-1\ten-7\n", encoding="utf-8")
    df = T.load_bucc_pool(tmp_path, "de", "test")
    assert df["pair_id"].tolist() == ["de-1|en-7", "", "de-1|en-7", ""]
    assert df["lang"].tolist() == ["de", "de", "en", "en"]


def test_mewslix_local_folder(tmp_path):
    with pytest.raises(HubError, match="not officially on the Hugging Face hub"):
        T.load_mewslix(None, "de")
    with pytest.raises(HubError, match="mentions"):
        T.load_mewslix(tmp_path / "absent", "de")
    d = tmp_path / "mx" / "test"
    d.mkdir(parents=True)
    (d / "mentions.de.jsonl").write_text(json.dumps({"id": "m1", "text": "Merkel sagte", "entity_id": "Q567"}) + "\n")
    (d / "candidates.jsonl").write_text(json.dumps({"entity_id": "Q567", "text": "Angela Merkel, politician"}) + "\n"
                                        + json.dumps({"entity_id": "Q1", "text": "Universe"}) + "\n")
    df = T.load_mewslix(tmp_path / "mx", "de")
    assert df["pair_id"].tolist() == ["Q567", "Q567", "Q1"] and df["lang"].tolist() == ["de", "en", "en"]
    assert df["side"].tolist() == ["query", "candidate", "candidate"]


# ------------------------------------------------------------------------------------------------ languages


def test_language_counts():
    counts = {"xnli": 15, "pawsx": 7, "udpos": 33, "panx": 40, "xquad": 11, "mlqa": 7, "tydiqa": 9, "bucc2018": 4,
              "tatoeba": 36}
    assert {k: len(languages(k, "xtreme")) for k in counts} == counts
    counts_r = {"xnli": 15, "xcopa": 11, "udpos": 38, "panx": 48, "xquad": 12, "mlqa": 7, "tydiqa": 9,
                "tatoeba": 41, "mewslix": 11, "lareqa": 11}
    assert {k: len(languages(k)) for k in counts_r} == counts_r
    assert set(XTREME_R) == set(counts_r)
    for table in (XTREME, XTREME_R):
        for langs in table.values():
            assert len(set(langs)) == len(langs)


def test_xtreme_r_supersets():
    for task in ("xnli", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba"):
        assert set(XTREME[task]) <= set(XTREME_R[task]), task
    assert set(XTREME_R["xquad"]) - set(XTREME["xquad"]) == {"ro"}
    assert set(XTREME_R["panx"]) - set(XTREME["panx"]) == set("az gu lt pa pl qu ro uk".split())
    # 40 XTREME languages + az gu ht lt pa pl qu ro uk wo = 50
    assert len(set().union(*XTREME.values())) == 40
    assert len(set().union(*XTREME.values(), *XTREME_R.values())) == 50


def test_config_name_tables_cover_languages():
    for version in ("xtreme", "xtreme-r"):
        assert set(languages("udpos", version)) <= set(UDPOS_NAMES)
        assert set(languages("tatoeba", version)) <= set(ISO3)
    assert len(set(UDPOS_NAMES.values())) == len(UDPOS_NAMES) and len(set(ISO3.values())) == len(ISO3)
    reference_iso3 = set("afr ara ben bul cmn deu ell est eus fin fra heb hin hun ind ita jav jpn kat kaz kor mal mar "
                         "nld pes por rus spa swh tam tel tgl tha tur urd vie".split())
    assert {ISO3[x] for x in XTREME["tatoeba"]} == reference_iso3
    assert UDPOS_NAMES["en"] == "English" and UDPOS_NAMES["eu"] == "Basque" and UDPOS_NAMES["zh"] == "Chinese"


def test_languages_errors():
    with pytest.raises(KeyError, match="pawsx.*xtreme-r"):
        languages("pawsx", "xtreme-r")
    with pytest.raises(KeyError, match="xtreme-9"):
        languages("xnli", "xtreme-9")


def test_bucc_pool_from_the_bucc_archives_and_the_missing_test_gold(tmp_path):
    (tmp_path / "fr-en.training.fr").write_text("fr-1\tBonjour.\nfr-2\tDistraction.\n", encoding="utf-8")
    (tmp_path / "fr-en.training.en").write_text("en-3\tHello.\n", encoding="utf-8")
    (tmp_path / "fr-en.training.gold").write_text("fr-1\ten-3\n", encoding="utf-8")
    df = T.load_bucc_pool(tmp_path, "fr", "test")  # BUCC's training set = XTREME's test
    assert df["id"].tolist() == ["fr-1", "fr-2", "en-3"] and df["pair_id"].tolist() == ["fr-1|en-3", "", "fr-1|en-3"]
    with pytest.raises(HubError, match="fr-en.sample.fr"):
        T.load_bucc_pool(tmp_path, "fr", "dev")
    for side in ("de", "en"):  # XTREME's layout without the gold its download script deletes
        (tmp_path / f"de-en.test.{side}").write_text(f"{side}-1\tx\n", encoding="utf-8")
    with pytest.raises(HubError, match="deletes the test gold: copy de-en.training.gold"):
        T.load_bucc_pool(tmp_path, "de", "test")
