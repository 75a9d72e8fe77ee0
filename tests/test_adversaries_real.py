"""The real-data adversaries on hub-schema fixtures in six scripts (Latin, Han, Thai, Arabic, Devanagari, and
German's Latin with umlauts): `prepare` with the hub source builds lexical_overlap, word_swap, code_switch (from
user-supplied MUSE dictionaries), char_noise and the language-agnostic distractor for XNLI and XQuAD in every
language; each keeps its label contract and pairing, breaks no character, and is deterministic. Plus the
MUSE reader, the AFLite selection and the label-matched controls."""

from __future__ import annotations

import copy
import shutil
import unicodedata
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml

from xstilts.adversaries import REGISTRY
from xstilts.adversaries.aflite import hardness
from xstilts.adversaries.dictionaries import Dictionaries, read_muse
from xstilts.adversaries.text import overlap, sentences, units
from xstilts.cli import deep_merge
from xstilts.core import config
from xstilts.core.io import md5_file
from xstilts.core.tasks import NER_LABELS, NLI_LABELS
from xstilts.data.hub.prepare import prepare_hub

from .conftest import REPO

V = datasets.Value
FIX = REPO / "tests" / "fixtures" / "hub" / "intermediate"
LANGS = ["en", "de", "zh", "th", "ar", "hi"]
E, N, C = "entailment", "neutral", "contradiction"

# per language: (premise, hypothesis, label); rows 3 and 4 are the HANS-like ones (the hypothesis's words nearly
# all in the premise, not entailed), rows 5 and 6 their low-overlap counterparts, rows 1 and 2 entailed
XNLI = {
    "en": [("The doctor visited the lawyer in Paris .", "The doctor visited the lawyer .", E),
           ("The teacher thanked the student after class .", "The teacher thanked the student .", E),
           ("The artist called the banker yesterday .", "The banker called the artist .", N),
           ("The pilot helped the nurse at night .", "The pilot never helped the nurse at night .", C),
           ("The cat slept on the sofa .", "A dog is barking loudly outside .", N),
           ("The shop is open today .", "Nobody ever visits any shops .", C)],
    "de": [("Der Arzt besuchte den Anwalt in Paris.", "Der Arzt besuchte den Anwalt.", E),
           ("Der Lehrer dankte dem Schüler nach dem Unterricht.", "Der Lehrer dankte dem Schüler.", E),
           ("Der Künstler rief gestern den Bankier an.", "Der Bankier rief den Künstler an.", N),
           ("Der Pilot half der Krankenschwester nachts.", "Der Pilot half der Krankenschwester nie.", C),
           ("Die Katze schlief auf dem Sofa.", "Ein Hund bellt draußen laut.", N),
           ("Der Laden ist heute geöffnet.", "Niemand besucht jemals Geschäfte.", C)],
    "zh": [("医生在巴黎拜访了律师。", "医生拜访了律师。", E),
           ("老师下课后感谢了学生。", "老师感谢了学生。", E),
           ("艺术家昨天给银行家打了电话。", "银行家给艺术家打了电话。", N),
           ("飞行员晚上帮助了护士。", "飞行员晚上没帮助护士。", C),
           ("猫在沙发上睡觉。", "一只狗在外面大声叫。", N),
           ("商店今天开门。", "没有人去过那些商场。", C)],
    "th": [("หมอไปเยี่ยมทนายที่ปารีส", "หมอเยี่ยมทนาย", E),
           ("ครูขอบคุณนักเรียนหลังเลิกเรียน", "ครูขอบคุณนักเรียน", E),
           ("ศิลปินโทรหานายธนาคารเมื่อวานนี้", "นายธนาคารโทรหาศิลปิน", N),
           ("นักบินช่วยพยาบาลตอนกลางคืน", "นักบินไม่ช่วยพยาบาลตอนกลางคืน", C),
           ("แมวนอนบนโซฟา", "สุนัขเห่าเสียงดังข้างนอก", N),
           ("ร้านเปิดวันนี้", "ไม่มีใครไปห้างเลย", C)],
    "ar": [("زار الطبيب المحامي في باريس", "زار الطبيب المحامي", E),
           ("شكر المعلم الطالب بعد الدرس", "شكر المعلم الطالب", E),
           ("رأى الرجل المرأة في الحديقة أمس", "رأت المرأة الرجل في الحديقة", N),
           ("الرجل الطويل فتح الباب الكبير بسرعة", "الرجل الطويل أغلق الباب الكبير بسرعة", C),
           ("القطة نامت على الأريكة", "كلب ينبح في الخارج بصوت عال", N),
           ("المتجر مفتوح اليوم", "لا أحد يزور المحلات أبدا", C)],
    "hi": [("डॉक्टर ने पेरिस में वकील से मुलाकात की", "डॉक्टर ने वकील से मुलाकात की", E),
           ("शिक्षक ने कक्षा के बाद छात्र को धन्यवाद दिया", "शिक्षक ने छात्र को धन्यवाद दिया", E),
           ("कलाकार ने कल बैंकर को फोन किया", "बैंकर ने कलाकार को फोन किया", N),
           ("पायलट ने रात में नर्स की मदद की", "पायलट ने रात में नर्स की मदद नहीं की", C),
           ("बिल्ली सोफे पर सो गई", "एक कुत्ता बाहर जोर से भौंक रहा है", N),
           ("दुकान आज खुली है", "कोई भी कभी दुकानों में नहीं जाता", C)],
}
HANS_ROWS = (2, 3)  # 0-based: rows 3 and 4 above

# per language: three (context, question, answer) triples; the contexts share question words with each other
XQUAD = {
    "en": [("Paris is the capital of France. The city has many museums.", "What is the capital of France?", "Paris"),
           ("Berlin is the capital of Germany. It is known for its history.", "What is Berlin known for?",
            "its history"),
           ("The Nile is the longest river in Africa. It flows north.", "Which river is the longest in Africa?",
            "The Nile")],
    "de": [("Paris ist die Hauptstadt von Frankreich. Die Stadt hat viele Museen.",
            "Was ist die Hauptstadt von Frankreich?", "Paris"),
           ("Berlin ist die Hauptstadt von Deutschland. Es ist für seine Geschichte bekannt.",
            "Wofür ist Berlin bekannt?", "seine Geschichte"),
           ("Der Nil ist der längste Fluss in Afrika. Er fließt nach Norden.",
            "Welcher Fluss ist der längste in Afrika?", "Der Nil")],
    "zh": [("巴黎是法国的首都。这座城市有很多博物馆。", "法国的首都是哪里？", "巴黎"),
           ("柏林是德国的首都。它以历史闻名。", "柏林以什么闻名？", "历史"),
           ("尼罗河是非洲最长的河流。它向北流。", "非洲最长的河流是哪条？", "尼罗河")],
    "th": [("ปารีสเป็นเมืองหลวงของฝรั่งเศส เมืองนี้มีพิพิธภัณฑ์มากมาย", "เมืองหลวงของฝรั่งเศสคืออะไร", "ปารีส"),
           ("เบอร์ลินเป็นเมืองหลวงของเยอรมนี เมืองนี้มีชื่อเสียงด้านประวัติศาสตร์", "เบอร์ลินมีชื่อเสียงด้านอะไร",
            "ประวัติศาสตร์"),
           ("แม่น้ำไนล์เป็นแม่น้ำที่ยาวที่สุดในแอฟริกา แม่น้ำไหลไปทางเหนือ", "แม่น้ำสายใดยาวที่สุดในแอฟริกา",
            "แม่น้ำไนล์")],
    "ar": [("باريس هي عاصمة فرنسا. المدينة فيها متاحف كثيرة.", "ما هي عاصمة فرنسا؟", "باريس"),
           ("برلين هي عاصمة ألمانيا. تشتهر بتاريخها.", "بماذا تشتهر برلين؟", "بتاريخها"),
           ("النيل هو أطول نهر في أفريقيا. يتدفق شمالا.", "ما هو أطول نهر في أفريقيا؟", "النيل")],
    "hi": [("पेरिस फ्रांस की राजधानी है। इस शहर में कई संग्रहालय हैं।", "फ्रांस की राजधानी क्या है?", "पेरिस"),
           ("बर्लिन जर्मनी की राजधानी है। यह अपने इतिहास के लिए जाना जाता है।", "बर्लिन किसके लिए जाना जाता है?",
            "इतिहास"),
           ("नील अफ्रीका की सबसे लंबी नदी है। यह उत्तर की ओर बहती है।", "अफ्रीका की सबसे लंबी नदी कौन सी है?", "नील")],
}

# MUSE files (english <tab> foreign), covering words of the fixtures above
MUSE = {
    "de": {"doctor": "arzt", "lawyer": "anwalt", "teacher": "lehrer", "student": "schüler", "artist": "künstler",
           "banker": "bankier", "pilot": "pilot", "nurse": "krankenschwester", "cat": "katze", "dog": "hund",
           "shop": "laden", "capital": "hauptstadt", "river": "fluss", "city": "stadt", "history": "geschichte",
           "france": "frankreich", "africa": "afrika"},
    "zh": {"doctor": "医生", "lawyer": "律师", "teacher": "老师", "student": "学生", "artist": "艺术家",
           "banker": "银行家", "pilot": "飞行员", "nurse": "护士", "cat": "猫", "dog": "狗", "shop": "商店",
           "capital": "首都", "river": "河流", "city": "城市", "history": "历史", "france": "法国", "africa": "非洲"},
    "th": {"doctor": "หมอ", "lawyer": "ทนาย", "teacher": "ครู", "student": "นักเรียน", "artist": "ศิลปิน",
           "banker": "นายธนาคาร", "pilot": "นักบิน", "nurse": "พยาบาล", "cat": "แมว", "dog": "สุนัข",
           "capital": "เมืองหลวง", "river": "แม่น้ำ", "history": "ประวัติศาสตร์", "france": "ฝรั่งเศส"},
    "ar": {"doctor": "الطبيب", "lawyer": "المحامي", "teacher": "المعلم", "student": "الطالب", "man": "الرجل",
           "woman": "المرأة", "door": "الباب", "capital": "عاصمة", "river": "نهر", "france": "فرنسا"},
    "hi": {"doctor": "डॉक्टर", "lawyer": "वकील", "teacher": "शिक्षक", "student": "छात्र", "artist": "कलाकार",
           "banker": "बैंकर", "pilot": "पायलट", "nurse": "नर्स", "capital": "राजधानी", "river": "नदी",
           "history": "इतिहास", "france": "फ्रांस"},
}
SQUAD_F = {"id": V("string"), "title": V("string"), "context": V("string"), "question": V("string"),
           "answers": datasets.Sequence({"text": V("string"), "answer_start": V("int32")})}


def _ds(data: dict, features: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(data, features=datasets.Features(features)).to_parquet(str(path))


def write_muse_dir(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for lang, pairs in MUSE.items():
        (d / f"en-{lang}.txt").write_text("".join(f"{e}\t{f}\n" for e, f in pairs.items()), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, request) -> tuple[Path, dict, dict]:
    """prepare (hub source) on a multi-script mirror of XNLI and XQuAD; (prepared dir, params, summary)."""
    tmp = tmp_path_factory.mktemp("real")
    root = tmp / "mirror"
    for key, files in {"mnli": {"train": "train", "dev": "validation_matched"},
                       "squad_v1": {"train": "train", "dev": "validation"}}.items():
        (root / key).mkdir(parents=True)
        for ours, hub_name in files.items():
            shutil.copy(FIX / key / f"{ours}.parquet", root / key / f"{hub_name}.parquet")
    xnli = {"language": [], "sentence1": [], "sentence2": [], "gold_label": []}
    for lang, triples in XNLI.items():
        for p, h, y in triples:
            for k, v in zip(xnli, (lang, p, h, y)):
                xnli[k].append(v)
    _ds(xnli, {k: V("string") for k in xnli}, root / "xnli" / "test.parquet")
    for lang, triples in XQUAD.items():
        _ds({"id": [f"{lang}-{i}" for i in range(3)], "title": ["t"] * 3, "context": [c for c, _, _ in triples],
             "question": [q for _, q, _ in triples],
             "answers": [{"text": [a], "answer_start": [c.index(a)]} for c, _, a in triples]},
            SQUAD_F, root / "xquad" / lang / "validation.parquet")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    p = deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))
    p["study"].update(intermediate_tasks=["mnli", "squad"], arms=["baseline", "mnli", "squad"],
                      target_tasks=["xnli", "xquad"])
    p["variants"]["arms"] = []  # no variant arms in this study
    p["subsample"]["sizes"] = [1, "full"]
    p["hub"]["data_dir"] = str(root)
    p["hub"]["target_languages"] = {"xnli": LANGS, "xquad": LANGS}
    p["adversaries"]["subsets"] = {"xnli": ["lexical_overlap", "word_swap", "code_switch", "char_noise", "aflite"],
                                   "xquad": ["distractor", "code_switch", "char_noise"]}
    p["adversaries"]["code_switch"] = {"rate": 0.5, "into": ["de", "zh"],
                                       "dictionaries": str(write_muse_dir(tmp / "muse"))}
    config.validate(p)
    out = tmp / "prepared"
    summary = prepare_hub(p, out, progress=lambda s: None)
    return out, p, summary


def read(out: Path, task: str, subset: str, lang: str) -> pd.DataFrame:
    d = out / "targets" / task
    return pd.read_parquet(d / "test" / f"{lang}.parquet" if subset == "clean"
                           else d / "adversarial" / subset / f"{lang}.parquet")


def assert_well_formed(text: str, allowed_scripts: set[str]) -> None:
    """No broken characters: valid UTF-8, NFC-stable where the source was, no word starting with a combining
    mark, every letter from an allowed script."""
    text.encode("utf-8")
    for word in text.split():
        assert not unicodedata.category(word[0]).startswith("M"), (text, word)
    for ch in text:
        if ch.isalpha():
            assert unicodedata.name(ch).split(" ")[0] in allowed_scripts, (text, ch)


def scripts_of(*texts: str) -> set[str]:
    return {unicodedata.name(ch).split(" ")[0] for t in texts for ch in t if ch.isalpha()}


# ---- lexical overlap (HANS-style selection from real data) --------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_lexical_overlap_selects_the_hans_like_pairs(prepared, lang):
    out, _, _ = prepared
    clean, adv = read(out, "xnli", "clean", lang), read(out, "xnli", "lexical_overlap", lang)
    expected = [clean.id[i] for i in HANS_ROWS]
    assert adv["id"].str.removesuffix("~lexical_overlap").tolist() == expected
    by_id = clean.set_index("id")
    for a in adv.itertuples():
        src = by_id.loc[a.id.removesuffix("~lexical_overlap")]
        assert (a.text_a, a.text_b, a.label) == (src.text_a, src.text_b, src.label)  # real, unchanged
        assert overlap(a.text_b, a.text_a) >= 0.8 and NLI_LABELS[a.label] != E
        control = by_id.loc[a.source_id]
        assert control.label == a.label and a.source_id not in expected  # label-matched, unselected control
        assert overlap(control.text_b, control.text_a) < 0.5


# ---- word swap (PAWS-style) -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_word_swap_on_real_pairs(prepared, lang):
    out, _, _ = prepared
    clean, adv = read(out, "xnli", "clean", lang), read(out, "xnli", "word_swap", lang)
    by_id = clean.set_index("id")
    entailed = clean[clean.label == NLI_LABELS.index(E)]
    assert set(adv.source_id) <= set(entailed.id) and len(adv) >= 1
    assert (adv.label == NLI_LABELS.index(N)).all()  # entailment -> neutral (the documented assumption)
    for a in adv.itertuples():
        src = by_id.loc[a.source_id]
        assert a.text_a == src.text_a and a.text_b != src.text_b
        assert Counter(units(a.text_b)) == Counter(units(src.text_b)) or lang in ("zh", "th")
        assert Counter(a.text_b.replace(" ", "")) == Counter(src.text_b.replace(" ", ""))  # same characters
        assert_well_formed(a.text_b, scripts_of(src.text_b))


# ---- code switching (MUSE dictionaries) ---------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_code_switch_substitutes_dictionary_words(prepared, lang):
    out, _, summary = prepared
    clean, adv = read(out, "xnli", "clean", lang), read(out, "xnli", "code_switch", lang)
    by_id = clean.set_index("id")
    foreign = {w for table in (MUSE["de"], MUSE["zh"]) for w in table.values()}
    assert len(adv) >= 2
    for a in adv.itertuples():
        src = by_id.loc[a.source_id]
        assert a.label == src.label  # kept
        changed = a.text_a != src.text_a or a.text_b != src.text_b
        assert changed
        new_text = a.text_a + " " + a.text_b
        assert any(w in new_text or w.capitalize() in new_text for w in foreign)  # switched into de or zh
        assert_well_formed(new_text, scripts_of(src.text_a, src.text_b) | {"LATIN", "CJK"})
    if lang != "en":  # the md5 of every dictionary used is recorded in the prepare metrics
        muse = Path(prepared[1]["adversaries"]["code_switch"]["dictionaries"])
        assert summary[f"dictionary.{lang}.md5"] == md5_file(muse / f"en-{lang}.txt")


def test_code_switch_question_only_for_span_qa(prepared):
    out, _, _ = prepared
    for lang in LANGS:
        clean, adv = read(out, "xquad", "clean", lang).set_index("id"), read(out, "xquad", "code_switch", lang)
        for a in adv.itertuples():
            src = clean.loc[a.source_id]
            assert a.context == src.context and list(a.answers_start) == list(src.answers_start)
            assert a.question != src.question


# ---- distractor (language-agnostic AddOneSent) ----------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_distractor_borrows_a_question_like_sentence(prepared, lang):
    out, _, _ = prepared
    clean, adv = read(out, "xquad", "clean", lang).set_index("id"), read(out, "xquad", "distractor", lang)
    assert len(adv) == 3
    others = {i: {s for j, c in clean.context.items() if j != i for s in sentences(c)} for i in clean.index}
    for a in adv.itertuples():
        src = clean.loc[a.source_id]
        assert a.context.startswith(src.context + " ")
        extra = a.context[len(src.context) + 1:]
        assert extra in others[a.source_id]  # a sentence of another context of the same language
        for text, start in zip(a.answers_text, a.answers_start):  # gold answers unchanged and still valid
            assert a.context[start:start + len(text)] == text
            assert text.casefold() not in extra.casefold()
        assert_well_formed(extra, scripts_of(src.context) | {"LATIN"})
    # the capital question borrows the other capital sentence (most shared question words)
    first = adv[adv.source_id == f"{lang}-0"].iloc[0]
    assert sentences(XQUAD[lang][1][0])[0] in first.context


# ---- character noise ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_char_noise_keeps_scripts_whole(prepared, lang):
    out, _, _ = prepared
    clean, adv = read(out, "xnli", "clean", lang).set_index("id"), read(out, "xnli", "char_noise", lang)
    for a in adv.itertuples():
        src = clean.loc[a.source_id]
        assert a.label == src.label
        assert_well_formed(a.text_a + " " + a.text_b, scripts_of(src.text_a, src.text_b))


# ---- determinism and provenance ----------------------------------------------------------------------------------
def test_prepare_is_deterministic_and_skips_model_subsets(prepared, tmp_path):
    out, p, summary = prepared
    again = prepare_hub(copy.deepcopy(p), tmp_path / "again", progress=lambda s: None)
    assert again == summary
    files = sorted(f.relative_to(out) for f in (out / "targets").rglob("*.parquet"))
    assert files == sorted(f.relative_to(tmp_path / "again")
                           for f in (tmp_path / "again" / "targets").rglob("*.parquet"))
    for f in files:
        assert md5_file(out / f) == md5_file(tmp_path / "again" / f), f
    assert not (out / "targets" / "xnli" / "adversarial" / "aflite").exists()  # built by the aflite stage


# ---- MUSE reader ---------------------------------------------------------------------------------------------------
def test_muse_reader_and_missing_files(tmp_path):
    d = write_muse_dir(tmp_path / "muse")
    assert read_muse(d / "en-de.txt")["doctor"] == "arzt"
    (d / "en-xx.txt").write_text("a b c\n")
    with pytest.raises(ValueError, match=r"en-xx\.txt:1: .*2 fields"):
        read_muse(d / "en-xx.txt")
    with pytest.raises(FileNotFoundError, match=r"my\.key.*en-fi\.txt"):
        Dictionaries.from_dir(d, ["en", "de", "fi"], "my.key")
    dicts = Dictionaries.from_dir(d, ["de", "zh"], "k")
    assert dicts.translate("Arzt", "de", "zh") == "医生" and dicts.translate("医生", "zh", "en") == "doctor"
    assert dicts.translate("nope", "de", "zh") is None


# ---- AFLite selection ----------------------------------------------------------------------------------------------
def test_aflite_selects_reference_failures_with_label_matched_controls():
    df = pd.DataFrame({"id": [f"x{i}" for i in range(8)], "lang": "de", "text_a": "a", "text_b": "b",
                       "label": [0, 0, 0, 1, 1, 1, 2, 2], "meta": ""})
    scores = np.array([0, 1, 1, 0, 1, 1, 0, 0], dtype=float)  # class 2: every example failed -> no control
    out = REGISTRY["aflite"].apply(df, "pair", NLI_LABELS, np.random.default_rng(0),
                                   {"reference_scores": scores, "aflite": {"max_score": 0.5}})
    assert out.id.tolist() == ["x0~aflite", "x3~aflite"]  # the failures whose label has a control
    assert out.source_id.map(lambda s: int(s[1:])).map(df.label.get).tolist() == [0, 1]
    assert set(out.source_id) <= {"x1", "x2", "x4", "x5"}
    # a reference model that fails everything: the max_share lowest-scoring examples, so controls remain
    span = pd.DataFrame({"id": [f"q{i}" for i in range(10)], "lang": "de", "meta": ""})
    out = REGISTRY["aflite"].apply(span.assign(context="c", question="q", answers_text=[["a"]] * 10,
                                               answers_start=[[0]] * 10), "span", (), np.random.default_rng(1),
                                   {"reference_scores": [0.0] * 9 + [0.2], "aflite": {"max_share": 0.3}})
    assert len(out) == 3 and "q9~aflite" not in set(out.id) and not set(out.source_id) & set(
        out.id.str.removesuffix("~aflite"))
    with pytest.raises(ValueError, match="reference scores"):
        REGISTRY["aflite"].apply(df, "pair", NLI_LABELS, np.random.default_rng(0), {"reference_scores": [0.0]})


def test_aflite_hardness_uses_sentence_chunk_f1_for_ner():
    df = pd.DataFrame({"tags": [[1, 2, 0, 0, 0, 0], [0, 0, 0]]})
    preds = [[0, 0, 0, 0, 0, 0], [0, 0, 0]]  # misses the only entity: token accuracy 4/6, chunk F1 0
    assert hardness("f1", df, preds, [4 / 6, 1.0], NER_LABELS).tolist() == [0.0, 1.0]
    assert hardness("accuracy", df, preds, [0.0, 1.0], NER_LABELS).tolist() == [0.0, 1.0]


# ---- PAWS-X: a natural adversarial target -------------------------------------------------------------------------
def test_pawsx_is_registered_as_a_natural_adversarial_target():
    from xstilts.core import tasks
    from xstilts.report import adversary_catalogue

    assert tasks.NATURAL_ADVERSARIAL == ("pawsx",)
    # the selection and swap adversaries take its binary labels: "different" pairs with high overlap are selected
    df = pd.DataFrame({"id": [f"p{i}" for i in range(4)], "lang": "de", "meta": "",
                       "text_a": ["Anna traf Ben in Berlin .", "Anna traf Ben in Berlin .", "Der Hund schläft .",
                                  "Ein Auto fährt schnell ."],
                       "text_b": ["Ben traf Anna in Berlin .", "Anna traf Ben in Berlin .", "Die Katze singt laut .",
                                  "Ein Auto fährt sehr schnell ."],
                       "label": [0, 1, 0, 1]})
    labels = tasks.get("pawsx").labels
    sel = REGISTRY["lexical_overlap"].apply(df, "pair", labels, np.random.default_rng(0))
    assert sel.id.tolist() == ["p0~lexical_overlap"] and sel.source_id.tolist() == ["p2"]
    swapped = REGISTRY["word_swap"].apply(df, "pair", labels, np.random.default_rng(0))
    assert set(swapped.source_id) == {"p1", "p3"} and (swapped.label == labels.index("different")).all()
    results = pd.DataFrame([{"arm": "baseline", "target_task": "pawsx", "subset": s, "n": n, "language": "de"}
                            for s, n in (("clean", 2000), ("lexical_overlap", 350))])
    cat = {a["adversary"]: a for a in adversary_catalogue(results)}
    assert cat["pawsx (natural)"]["kind"] == "natural target" and cat["pawsx (natural)"]["examples"] == {
        "pawsx": [2000, 2000]}
