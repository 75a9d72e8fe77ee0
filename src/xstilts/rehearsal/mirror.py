"""Build the local inputs of the `rehearsal` profile: the paper profile's DAG and code paths, offline on CPU.

    python -m xstilts.rehearsal.mirror .rehearsal      # then: see profiles/rehearsal.yaml / the README

Writes, under the output directory:

* ``mirror/<key>/...parquet``: every dataset the paper profile reads (the eight intermediate tasks, SNLI for
  ANLI's variant, and the English training, dev and per-language evaluation data of every paper target), in each
  hub dataset's exact schema, written through ``datasets`` so that the parquet files carry the feature metadata
  (``ClassLabel`` names, sequences) that ``datasets`` writes; the layout is ``hub.data_dir``'s
  (``<key>/<split>.parquet`` or ``<key>/<hub language>/<split>.parquet``, hub split names);
* ``hf/hub/models--FacebookAI--xlm-roberta-large/``: a tiny randomly initialised model of XLM-R's architecture
  (``XLMRobertaForMaskedLM``, safetensors) with a SentencePiece-Unigram tokenizer trained here on the mirror's
  text, laid out in the Hugging Face cache at the paper profile's pinned model id and revision, so that
  ``from_pretrained(id, revision=<sha>)`` resolves under ``HF_HUB_OFFLINE=1`` with ``HF_HOME=<out>/hf``;
* ``ccgbank/``: a tiny sample in ``load_ccgbank``'s format (``<split>.tokens`` / ``<split>.tags``);
* ``muse/en-<lang>.txt``: tiny MUSE-format bilingual dictionaries for ``code_switch``;
* ``mirror/wikipedia/<lang>/train.parquet``: Wikipedia articles in ``wikimedia/wikipedia``'s schema (id, url,
  title, text; paragraphs, a heading and a blank line in each text), the ``mlm`` variant's masked-LM text.

Every example comes from templates over a small lexicon in English, German, Chinese and Arabic (four scripts'
worth of tokenisation: spaces, umlauts, no spaces, right-to-left), so the real-data adversaries find what they
select (hypotheses whose words are all in the premise but not entailed, entailed pairs with swappable words,
several contexts per language for the distractor). Deterministic: the same seed writes the same rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

MODEL_ID = "FacebookAI/xlm-roberta-large"
LANGS = ("en", "de", "zh", "ar")
UDPOS_NAME = {"en": "English", "de": "German", "zh": "Chinese", "ar": "Arabic"}
ISO3 = {"de": "deu", "zh": "cmn", "ar": "ara"}
TYDI_NAME = {"en": "english", "ar": "arabic"}
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}

N_NAMES = 120


def _names(lang: str) -> list[str]:
    """N_NAMES distinct person names per language, the i-th of every language standing for the same person.
    Many and rare, as in real data: the real-data adversaries treat a word in more than a tenth of a file's texts
    as a function word (never swapped), so a handful of names would leave them nothing to select."""
    if lang == "zh":  # two Han characters (CJK block, spread out): units of unspaced scripts are characters
        chars = [chr(0x4E00 + 37 * k) for k in range(2 * N_NAMES)]
        return [chars[2 * i] + chars[2 * i + 1] for i in range(N_NAMES)]
    import itertools

    if lang == "ar":
        letters = "بتثجحخدذرزسشصضطظعغفقكلمنهوي"
        combos = [a + "ا" + b + "ي" for a, b in itertools.product(letters, letters) if a != b]
    else:
        syll = ["ba", "ko", "ri", "mu", "te", "lo", "sa", "ni", "ve", "du", "ha", "ze"]
        combos = [(a + b).capitalize() for a, b in itertools.product(syll, syll) if a != b]
    step = len(combos) // N_NAMES
    return combos[::step][:N_NAMES]


LEX = {
    "en": {"names": _names("en"), "places": ["Paris", "Berlin", "Rome", "Cairo"],
           "things": ["book", "letter", "apple", "ticket"]},
    "de": {"names": _names("de"), "places": ["Paris", "Berlin", "Rom", "Kairo"],
           "things": ["Buch", "Brief", "Apfel", "Ticket"]},
    "zh": {"names": _names("zh"), "places": ["巴黎", "柏林", "罗马", "开罗"], "things": ["书", "信", "苹果", "票"]},
    "ar": {"names": _names("ar"), "places": ["باريس", "برلين", "روما", "القاهرة"],
           "things": ["كتاب", "رسالة", "تفاحة", "تذكرة"]},
}
# premise, entailed (drops the place), neutral (roles swapped: every hypothesis word is in the premise), and
# contradiction (negated) templates
NLI = {
    "en": ("{a} visited {b} in {p} .", "{a} visited {b} .", "{b} visited {a} .", "{a} never visited {b} ."),
    "de": ("{a} besuchte {b} in {p} .", "{a} besuchte {b} .", "{b} besuchte {a} .", "{a} besuchte {b} nie ."),
    "zh": ("{a}在{p}拜访了{b}。", "{a}拜访了{b}。", "{b}拜访了{a}。", "{a}从未拜访过{b}。"),
    "ar": ("زار {a} {b} في {p} .", "زار {a} {b} .", "زار {b} {a} .", "لم يزر {a} {b} ."),
}
HOME = {"en": "{a} stayed at home .", "de": "{a} blieb zu Hause .", "zh": "{a}待在家里。", "ar": "بقي {a} في البيت ."}
GIVE = {"en": "{a} gave {b} a {t} in {p} .", "de": "{a} gab {b} ein {t} in {p} .",
        "zh": "{a}在{p}给了{b}一本{t}。", "ar": "أعطى {a} {b} {t} في {p} ."}
WHO = {"en": "Who visited {b} in {p} ?", "de": "Wer besuchte {b} in {p} ?", "zh": "谁在{p}拜访了{b}？",
       "ar": "من زار {b} في {p} ؟"}
MUSE_WORDS = {"visited": {"de": "besuchte", "zh": "拜访了", "ar": "زار"},
              "gave": {"de": "gab", "zh": "给了", "ar": "أعطى"}}
UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"]
NER = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


class Gen:
    """Seeded choices over the lexicon."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def pick(self, seq, k: int = 1):
        idx = self.rng.choice(len(seq), size=k, replace=False)
        return [seq[int(i)] for i in idx]

    def slots(self, lang: str) -> dict:
        lex = LEX[lang]
        a, b = self.pick(lex["names"], 2)
        return {"a": a, "b": b, "p": self.pick(lex["places"])[0], "t": self.pick(lex["things"])[0]}


def _write(rows: dict, features: dict, path: Path) -> None:
    import datasets

    datasets.disable_progress_bars()
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=datasets.Features(features)).to_parquet(str(path))


def _nli(g: Gen, lang: str, n: int) -> list[tuple[str, str, int]]:
    """(premise, hypothesis, label 0/1/2 = entailment/neutral/contradiction), the labels balanced."""
    out = []
    for i in range(n):
        s = g.slots(lang)
        prem, ent, neu, con = (t.format(**s) for t in NLI[lang])
        label = i % 3
        if (i // 3) % 2:  # every other neutral / contradiction shares few words with its premise
            neu, con = GIVE[lang].format(**{**g.slots(lang), "a": s["b"]}), HOME[lang].format(**s)
        out.append((prem, (ent, neu, con)[label], label))
    return out


def _squad(g: Gen, lang: str, n: int, prefix: str) -> dict:
    rows = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for i in range(n):
        s, other = g.slots(lang), g.slots(lang)
        first = NLI[lang][0].format(**s)
        context = f"{GIVE[lang].format(**other)} {first}" if i % 2 else f"{first} {GIVE[lang].format(**other)}"
        start = context.index(first) + first.index(s["a"])
        rows["id"].append(f"{prefix}-{lang}-{i}")
        rows["title"].append("rehearsal")
        rows["context"].append(context)
        rows["question"].append(WHO[lang].format(**s))
        rows["answers"].append({"text": [s["a"]], "answer_start": [start]})
    return rows


def _tagged(g: Gen, lang: str, n: int) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """(tokens, NER tags, UPOS tags) of 'A visited B in P .'-style sentences, tokenised by words (Chinese by
    the template's pieces)."""
    toks, ner, pos = [], [], []
    for _ in range(n):
        s = g.slots(lang)
        if lang == "zh":
            t = [s["a"], "在", s["p"], "拜访了", s["b"], "。"]
            n_tags = ["B-PER", "O", "B-LOC", "O", "B-PER", "O"]
            p_tags = ["PROPN", "ADP", "PROPN", "VERB", "PROPN", "PUNCT"]
        elif lang == "ar":
            t = ["زار", s["a"], s["b"], "في", s["p"], "."]
            n_tags = ["O", "B-PER", "B-PER", "O", "B-LOC", "O"]
            p_tags = ["VERB", "PROPN", "PROPN", "ADP", "PROPN", "PUNCT"]
        else:
            verb = {"en": "visited", "de": "besuchte"}[lang]
            t = [s["a"], verb, s["b"], "in", s["p"], "."]
            n_tags = ["B-PER", "O", "B-PER", "O", "B-LOC", "O"]
            p_tags = ["PROPN", "VERB", "PROPN", "ADP", "PROPN", "PUNCT"]
        toks.append(t)
        ner.append(n_tags)
        pos.append(p_tags)
    return toks, ner, pos


def build_datasets(root: Path, seed: int = 0, n_train: int = 48, n_dev: int = 24, n_test: int = 24) -> list[str]:
    """Write every dataset of the paper profile into `root` in its hub schema; returns the texts (for the
    tokenizer)."""
    import datasets

    V, S, CL = datasets.Value, datasets.Sequence, datasets.ClassLabel
    g = Gen(seed)
    texts: list[str] = []
    nli_names = ["entailment", "neutral", "contradiction"]

    def pairs(n: int, lang: str = "en"):
        rows = _nli(g, lang, n)
        texts.extend(t for r in rows for t in r[:2])
        return rows

    # --- intermediate tasks (English), hub schemas as in tests/fixtures/hub/intermediate ------------------
    for split, n in (("train", n_train), ("validation_matched", n_dev)):
        rows = pairs(n)
        _write({"premise": [r[0] for r in rows], "hypothesis": [r[1] for r in rows], "label": [r[2] for r in rows],
                "idx": list(range(n))},
               {"premise": V("string"), "hypothesis": V("string"), "label": CL(names=nli_names), "idx": V("int32")},
               root / "mnli" / f"{split}.parquet")
    for split, n in (("train", n_train), ("validation", n_dev)):
        rows = pairs(n)
        _write({"premise": [r[0] for r in rows], "hypothesis": [r[1] for r in rows], "label": [r[2] for r in rows]},
               {"premise": V("string"), "hypothesis": V("string"), "label": CL(names=nli_names)},
               root / "snli" / f"{split}.parquet")
    for r in ("r1", "r2", "r3"):
        for split, n in ((f"train_{r}", n_train // 3), (f"dev_{r}", n_dev // 3)):
            rows = pairs(n)
            _write({"uid": [f"{split}-{i}" for i in range(n)], "premise": [x[0] for x in rows],
                    "hypothesis": [x[1] for x in rows], "label": [x[2] for x in rows], "reason": [""] * n},
                   {"uid": V("string"), "premise": V("string"), "hypothesis": V("string"),
                    "label": CL(names=nli_names), "reason": V("string")}, root / "anli" / f"{split}.parquet")
    for split, n in (("train", n_train), ("validation", n_dev)):
        q1, q2, lab = [], [], []
        for i in range(n):
            s = g.slots("en")
            q1.append(f"Who visited {s['b']} in {s['p']} ?")
            q2.append(f"Who visited {s['b']} in {s['p']} ?" if i % 2 else f"Who visited {s['a']} in {s['p']} ?")
            lab.append(i % 2)
        texts += q1 + q2
        _write({"question1": q1, "question2": q2, "label": lab, "idx": list(range(n))},
               {"question1": V("string"), "question2": V("string"),
                "label": CL(names=["not_duplicate", "duplicate"]), "idx": V("int32")},
               root / "qqp" / f"{split}.parquet")
    squad_f = {"id": V("string"), "title": V("string"), "context": V("string"), "question": V("string"),
               "answers": S({"text": V("string"), "answer_start": V("int32")})}
    for split, n in (("train", n_train), ("validation", n_dev)):
        rows = _squad(g, "en", n, f"squad-{split}")
        texts += rows["context"] + rows["question"]
        _write(rows, squad_f, root / "squad_v1" / f"{split}.parquet")

    def mc_items(n: int, k: int):
        """(context, question, choices, answer index): who was visited; the distractors are other names."""
        out = []
        for i in range(n):
            s = g.slots("en")
            wrong = [x for x in LEX["en"]["names"] if x not in (s["a"], s["b"])][: k - 1]
            choices = list(wrong)
            ans = i % k
            choices.insert(ans, s["b"])
            out.append((NLI["en"][0].format(**s), f"Whom did {s['a']} visit ?", choices, ans))
            texts.extend([out[-1][0], out[-1][1], *choices])
        return out

    for split, n in (("train", n_train), ("validation", n_dev)):
        items = mc_items(n, 4)
        _write({"ind": list(range(n)), "activity_label": ["visit"] * n, "source_id": [f"s{i}" for i in range(n)],
                "split_type": ["indomain"] * n, "ctx_a": [c for c, *_ in items], "ctx_b": ["then"] * n,
                "ctx": [f"{c} then" for c, *_ in items], "endings": [ch for _, _, ch, _ in items],
                "split": [split] * n, "label": [str(a) for *_, a in items]},
               {"ind": V("int32"), "activity_label": V("string"), "source_id": V("string"), "split_type": V("string"),
                "ctx_a": V("string"), "ctx_b": V("string"), "ctx": V("string"), "endings": S(V("string")),
                "split": V("string"), "label": V("string")}, root / "hellaswag" / f"{split}.parquet")
        items = mc_items(n, 4)
        _write({"id": [f"c{i}" for i in range(n)], "context": [c for c, *_ in items],
                "question": [q for _, q, *_ in items],
                **{f"answer{j}": [ch[j] for _, _, ch, _ in items] for j in range(4)},
                "label": [a for *_, a in items]},
               {"id": V("string"), "context": V("string"), "question": V("string"),
                **{f"answer{j}": V("string") for j in range(4)}, "label": V("int32")},
               root / "cosmosqa" / f"{split}.parquet")
        items = mc_items(n, 5)
        _write({"id": [f"q{i}" for i in range(n)], "question": [f"{c} {q}" for c, q, _, _ in items],
                "question_concept": ["visit"] * n,
                "choices": [{"label": list("ABCDE"), "text": ch} for _, _, ch, _ in items],
                "answerKey": ["ABCDE"[a] for *_, a in items]},
               {"id": V("string"), "question": V("string"), "question_concept": V("string"),
                "choices": S({"label": V("string"), "text": V("string")}), "answerKey": V("string")},
               root / "commonsenseqa" / f"{split}.parquet")
        items = mc_items(n, 3)
        _write({"context": [c for c, *_ in items], "question": [q for _, q, *_ in items],
                **{f"answer{x}": [ch[j] for _, _, ch, _ in items] for j, x in enumerate("ABC")},
                "label": [str(a + 1) for *_, a in items]},
               {"context": V("string"), "question": V("string"), **{f"answer{x}": V("string") for x in "ABC"},
                "label": V("string")}, root / "socialiqa" / f"{split}.parquet")

    # --- targets: English training data and per-language evaluation data ---------------------------------
    xnli = {"language": [], "sentence1": [], "sentence2": [], "gold_label": []}
    for split in ("validation", "test"):
        rows = {k: [] for k in xnli}
        for lang in LANGS:
            for prem, hyp, lab in pairs(n_test, lang):
                rows["language"].append(lang)
                rows["sentence1"].append(prem)
                rows["sentence2"].append(hyp)
                rows["gold_label"].append(nli_names[lab])
        _write(rows, {k: V("string") for k in rows}, root / "xnli" / f"{split}.parquet")
    for lang in LANGS:
        for split in ("validation",):
            rows = _squad(g, lang, n_test, f"xquad-{split}")
            texts += rows["context"] + rows["question"]
            _write(rows, squad_f, root / "xquad" / lang / f"{split}.parquet")
        for split in ("validation", "test"):
            rows = _squad(g, lang, n_test, f"mlqa-{split}")
            texts += rows["context"] + rows["question"]
            _write(rows, squad_f, root / "mlqa" / lang / f"{split}.parquet")
    for split, n in (("train", n_train), ("validation", n_test)):
        rows = {"id": [], "title": [], "context": [], "question": [], "answers": []}
        for lang in ("en", "ar"):
            part = _squad(g, lang, n if lang == "en" or split == "validation" else 4, "tydi")
            part["id"] = [f"{TYDI_NAME[lang]}-{split}-{i}" for i in range(len(part["id"]))]
            texts += part["context"] + part["question"]
            for k in rows:
                rows[k] += part[k]
        _write(rows, squad_f, root / "tydiqa" / f"{split}.parquet")
    panx_f = {"tokens": S(V("string")), "ner_tags": S(CL(names=NER)), "langs": S(V("string"))}
    pos_f = {"tokens": S(V("string")), "pos_tags": S(CL(names=UPOS))}
    for lang in LANGS:
        splits = (("train", n_train), ("validation", n_dev), ("test", n_test)) if lang == "en" else (("test", n_test),)
        for split, n in splits:
            toks, ner, pos = _tagged(g, lang, n)
            texts += [" ".join(t) for t in toks]
            _write({"tokens": toks, "ner_tags": [[NER.index(x) for x in t] for t in ner],
                    "langs": [[lang] * len(t) for t in toks]}, panx_f, root / "panx" / lang / f"{split}.parquet")
            toks, ner, pos = _tagged(g, lang, n)
            _write({"tokens": toks, "pos_tags": [[UPOS.index(x) for x in t] for t in pos]}, pos_f,
                   root / "udpos" / UDPOS_NAME[lang] / f"{split}.parquet")
    copa_q = ["cause", "effect"]

    def copa_items(lang: str, n: int):
        out = []
        for i in range(n):
            s = g.slots(lang)
            right, wrong = NLI[lang][0].format(**s), GIVE[lang].format(**g.slots(lang))
            label = i % 2
            choices = [right, wrong] if label == 0 else [wrong, right]
            out.append((NLI[lang][1].format(**s), choices, copa_q[i % 2], label))
            texts.extend([out[-1][0], *choices])
        return out

    copa_f = {"premise": V("string"), "choice1": V("string"), "choice2": V("string"), "question": V("string"),
              "idx": V("int32"), "label": CL(names=["choice1", "choice2"])}
    for split, n in (("train", n_train), ("validation", n_dev)):
        items = copa_items("en", n)
        _write({"premise": [p for p, *_ in items], "choice1": [c[0] for _, c, *_ in items],
                "choice2": [c[1] for _, c, *_ in items], "question": [q for *_, q, _ in items],
                "idx": list(range(n)), "label": [lab for *_, lab in items]}, copa_f, root / "copa" / f"{split}.parquet")
    xcopa_f = {"premise": V("string"), "choice1": V("string"), "choice2": V("string"), "question": V("string"),
               "label": V("int32"), "idx": V("int32"), "changed": V("bool")}
    for split in ("validation", "test"):
        items = copa_items("zh", n_test)
        _write({"premise": [p for p, *_ in items], "choice1": [c[0] for _, c, *_ in items],
                "choice2": [c[1] for _, c, *_ in items], "question": [q for *_, q, _ in items],
                "label": [lab for *_, lab in items], "idx": list(range(n_test)), "changed": [False] * n_test},
               xcopa_f, root / "xcopa" / "zh" / f"{split}.parquet")
    for lang, iso in ISO3.items():
        src, tgt = [], []
        for _ in range(n_test):
            s = g.slots("en")
            s_lang = {**s, "a": LEX[lang]["names"][LEX["en"]["names"].index(s["a"])],
                      "b": LEX[lang]["names"][LEX["en"]["names"].index(s["b"])],
                      "p": LEX[lang]["places"][LEX["en"]["places"].index(s["p"])]}
            src.append(NLI[lang][0].format(**s_lang) + "\n")
            tgt.append(NLI["en"][0].format(**s) + "\n")
        texts += src + tgt
        _write({"source_sentence": src, "target_sentence": tgt, "source_lang": [iso] * n_test,
                "target_lang": ["eng"] * n_test}, {k: V("string") for k in ("source_sentence", "target_sentence",
                                                                             "source_lang", "target_lang")},
               root / "tatoeba" / iso / "validation.parquet")
    return texts


def build_ccgbank(out: Path, seed: int = 0, n: int = 48) -> list[str]:
    """A tiny sample in load_ccgbank's format: <split>.tokens / <split>.tags (one sentence per line)."""
    g = Gen(seed + 1)
    out.mkdir(parents=True, exist_ok=True)
    texts = []
    for split, k in (("train", n), ("dev", n // 2), ("test", n // 2)):
        toks, tags = [], []
        for _ in range(k):
            s = g.slots("en")
            toks.append(f"{s['a']} visited {s['b']} in {s['p']} .")
            tags.append("N (S\\NP)/NP N ((S\\NP)\\(S\\NP))/NP N .")
        (out / f"{split}.tokens").write_text("\n".join(toks) + "\n")
        (out / f"{split}.tags").write_text("\n".join(tags) + "\n")
        texts += toks
    return texts


def build_muse(out: Path) -> None:
    """MUSE-format dictionaries en-<lang>.txt ("english foreign" per line) from the lexicon."""
    out.mkdir(parents=True, exist_ok=True)
    for lang in LANGS[1:]:
        lines = []
        for kind in ("names", "places", "things"):
            lines += [f"{e.lower()} {f}" for e, f in zip(LEX["en"][kind], LEX[lang][kind], strict=True)]
        lines += [f"{e} {tr[lang]}" for e, tr in MUSE_WORDS.items()]
        (out / f"en-{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_wikipedia(root: Path) -> list[str]:
    """wikipedia/<lang>/train.parquet in wikimedia/wikipedia's schema: one article per lexicon name, its text a
    heading line too short to be an MLM example, then two paragraphs of lexicon words separated by a blank line (the
    dumps' layout), for the `mlm` variant's masked-LM text (xstilts.data.hub.corpus)."""
    import datasets

    texts = []
    for lang in LANGS:
        lex = LEX[lang]
        rows: dict[str, list[str]] = {"id": [], "url": [], "title": [], "text": []}
        for i, (name, thing, place) in enumerate(zip(lex["names"], lex["things"], lex["places"])):
            other, far = lex["things"][(i + 1) % len(lex["things"])], lex["places"][(i + 2) % len(lex["places"])]
            paras = [f"{name} {thing} {place} {other} {name} {far} {thing} {place}",
                     f"{place} {name} {thing} {far} {place} {other} {name} {thing}"]
            rows["id"].append(str(i + 1))
            rows["url"].append(f"https://{lang}.wikipedia.org/wiki?curid={i + 1}")
            rows["title"].append(name)
            rows["text"].append(f"{name}\n\n" + "\n\n".join(paras) + "\n")
            texts += paras
        _write(rows, {k: datasets.Value("string") for k in rows}, root / "wikipedia" / lang / "train.parquet")
    return texts


def build_model(hf_home: Path, texts: list[str], revision: str, seed: int = 0) -> Path:
    """The tiny XLM-R-architecture model and its SentencePiece tokenizer in the HF cache layout at
    (MODEL_ID, revision); returns the snapshot directory."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from .tokenizer import build_xlmr_like_tokenizer

    repo = hf_home / "hub" / f"models--{MODEL_ID.replace('/', '--')}"
    snap = repo / "snapshots" / revision
    if repo.exists():
        shutil.rmtree(repo)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    tok = build_xlmr_like_tokenizer(texts, snap)
    cfg = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), max_position_embeddings=514, type_vocab_size=1,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, **TINY)
    torch.manual_seed(seed)
    XLMRobertaForMaskedLM(cfg).save_pretrained(str(snap), safe_serialization=True)
    return snap


def build(out: Path, revision: str | None = None, seed: int = 0) -> dict:
    """Everything the rehearsal profile reads, under `out` (replaced if it exists)."""
    from ..data.hub.revisions import PINS

    out = Path(out)
    revision = revision or PINS[MODEL_ID]
    for sub in ("mirror", "ccgbank", "muse", "variants"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    texts = build_datasets(out / "mirror", seed)
    texts += build_ccgbank(out / "ccgbank", seed)
    build_muse(out / "muse")
    build_wikipedia(out / "mirror")
    snap = build_model(out / "hf", texts, revision, seed)
    info = {"model": MODEL_ID, "revision": revision, "snapshot": str(snap.relative_to(out)),
            "datasets": sorted(p.name for p in (out / "mirror").iterdir()), "languages": list(LANGS)}
    (out / "rehearsal.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=".rehearsal", help="output directory (default: .rehearsal)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    info = build(Path(args.out), seed=args.seed)
    print(f"rehearsal inputs in {args.out}: {len(info['datasets'])} datasets, model {info['model']}@"
          f"{info['revision'][:12]} (set HF_HOME={Path(args.out) / 'hf'} HF_HUB_OFFLINE=1)")


if __name__ == "__main__":
    main()
