"""LAReQA (XQuAD-R) as XTREME-R builds it, from the hub rows of `google-research-datasets/xquad_r` or from LAReQA's
released `xquad-r/<lang>.json` files, into canonical retrieval files (`xstilts.data.schema`, format "retrieval").

XTREME-R (google-research/xtreme `third_party/utils_lareqa.py`, `load_data`/`generate_examples`, and
`evaluate_retrieval.py`, task `lareqa`): every question of every XQuAD-R language is a query, and the candidate
pool is every sentence of every paragraph in all 11 languages, de-duplicated per (language, paragraph, sentence
position). A question's targets are the sentence that contains its `answer_start` in each language, grouped across
languages by the question's id (XQuAD ids are the same in every language: the `xling_id`); a paragraph sentence
whose text equals the answer sentence is a target too (XTREME compares texts). Questions whose `answer_start` lies
in no sentence are skipped. mAP@20 over that pool is the score (xstilts.eval.ranking.map_at_k).

Canonical layout (the shape `xstilts.data.sources.retrieval_test_sets` gives the embedded benchmark's LAReQA):
one file per language holding that language's questions (`side` "query", `pair_id` = the question's id) and the
whole multilingual pool (`side` "candidate"). A sentence can answer several questions, so a candidate's `pair_id`
lists the ids of every question it answers, separated by single spaces (`schema.candidate_groups`), and is "" when
it answers none. Candidate text is XTREME's `sentence + context` (the sentence, then its whole paragraph; XTREME
concatenates them without a separator and deletes newlines, here a space joins them and newlines become spaces),
truncated by the encoder's `max_length` like every retrieval text; `candidate_text="sentence"` keeps the sentence
alone.

Sentence breaks:
- LAReQA's released files (github.com/google-research-datasets/lareqa, `xquad-r/<lang>.json`, what XTREME's
  `download_data.sh` fetches) carry `sentence_breaks` per paragraph: with them the pools are XTREME-R's exactly
  (`read_released`: 1,190 questions per language; 13,014 candidates, ar 1,222 ... zh 1,196 as LAReQA's README
  lists them).
- The hub rows have no sentence breaks (features id, context, question, answers{text, answer_start}: the dataset
  card and huggingface/datasets `datasets/xquad_r/xquad_r.py`, which drops `sentence_breaks`), so contexts are
  split by `split_sentences`, a rule of this package, NOT LAReQA's breaker: scores on such pools are not
  comparable to XTREME-R's. The hub's loading script also strips each context (`context.strip()`) without shifting
  `answer_start` (the parquet files are taken to be its output: inferred, not read here), so where a context began
  with whitespace the offsets point a few characters too far (`locate_answer` finds the answer text nearest the
  offset, preferring earlier positions).

`split_sentences(text, lang)`: a sentence ends after a run of terminal marks (. ! ? … ؟ । ॥ and Greek ; [U+037E
or, in Greek text only, ";"]) followed by optional closing quotes or brackets and an optional bracketed note of at
most 40 characters ("[citation needed]"), then whitespace or the end of the text; after the CJK marks 。！？．
no whitespace is needed. A lone "." does not end a sentence when the next visible character is a lower-case letter
or a digit, when the word before it is a single letter (an initial), contains a "." (U.S., z.B.) or is one of
ABBREVIATIONS, or, in German, is a number of at most three digits (an ordinal: "31. August"). Thai has no
sentence-final punctuation and is not split: a Thai paragraph is one candidate. Sentences are stripped of
surrounding whitespace; every non-space character of the context falls in exactly one sentence.

How far the rule is from LAReQA's breaks (benchmarks/lareqa_sentences.py, on the released files, with the hub rows
made from them as the hub's loading script makes them): per language, the questions whose target in that language
(the answer sentence) is the same text as XTREME-R's are 1,128-1,166 of 1,190 in ar de el en es hi ru vi, 1,098 in
tr, 1,074 in zh and 83 in th (whole Thai paragraphs against LAReQA's 852 Thai sentences); every displaced answer
was found again at its true offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from .. import schema
from . import HubError
from .languages import XTREME_R

POOL_LANGUAGES: tuple[str, ...] = tuple(XTREME_R["lareqa"])  # the 11 XQuAD-R languages: every file's pool
CANDIDATE_TEXTS = ("sentence_and_context", "sentence")

TERMINALS = ".!?;\u037e\u061f\u0964\u0965\u2026\u3002\uff01\uff1f\uff0e"
CJK_TERMINALS = "\u3002\uff01\uff1f\uff0e"
CLOSERS = "\"'\u201d\u2019\u00bb)]}\u300d\u300f\u3011\u300b\uff09"
ABBREVIATIONS = frozenset("mr mrs ms dr prof st jr sr vs no nr vol ca mio mrd bzw".split())
UNSPLIT_LANGUAGES = frozenset({"th"})
_END = re.compile(rf"([{re.escape(TERMINALS)}]+)([{re.escape(CLOSERS)}]*)(\s*\[[^\[\]]{{1,40}}\])?")
_LAST_WORD = re.compile(r"(\S+)$")


def split_sentences(text: str, lang: str) -> list[tuple[int, int]]:
    """[start, end) character spans of the sentences of `text` (module docstring: the rule)."""
    n = len(text)
    cuts: list[int] = []  # where each sentence after the first starts
    start = 0
    if lang not in UNSPLIT_LANGUAGES:
        for m in _END.finditer(text):
            end, marks = m.end(), m.group(1)
            cjk = marks[-1] in CJK_TERMINALS
            if end < n and not cjk and not text[end].isspace():
                continue
            if set(marks) <= {";"} and lang != "el":
                continue  # ";" ends a question only in Greek
            nxt = end
            while nxt < n and text[nxt].isspace():
                nxt += 1
            if nxt >= n:
                break
            if marks == ".":
                word = _LAST_WORD.search(text[start:m.start()])
                word = word.group(1) if word else ""
                if (text[nxt].islower() or text[nxt].isdigit() or (len(word) == 1 and word.isalpha())
                        or "." in word or word.lower() in ABBREVIATIONS
                        or (lang == "de" and word.isdigit() and len(word) <= 3)):
                    continue
            cuts.append(nxt)
            start = nxt
    spans = []
    for s, e in zip([0] + cuts, cuts + [n]):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def locate_answer(context: str, text: str, start: int) -> int | None:
    """The offset of answer `text` in `context`: `start` when it is there, else the occurrence nearest `start`
    (earlier ones first: the hub's stripped contexts moved answers left), None when the text is absent."""
    if not text:
        return None
    if 0 <= start and context[start:start + len(text)] == text:
        return start
    found = [m.start() for m in re.finditer(re.escape(text), context)]
    if not found:
        return None
    return min(found, key=lambda pos: (abs(pos - start), pos > start))


def _answer(row: Mapping) -> tuple[str, int] | None:
    ans = row["answers"]
    if isinstance(ans, Mapping):
        texts, starts = list(ans["text"]), list(ans["answer_start"])
    else:
        texts, starts = [a["text"] for a in ans], [a["answer_start"] for a in ans]
    if not texts:
        return None
    return str(texts[0]), int(starts[0])  # XQuAD has one answer per question (XTREME asserts it)


def _paragraphs(rows: Iterable[Mapping], lang: str) -> list[dict]:
    """Rows grouped into paragraphs (by context, in order of first appearance), each with its sentence spans."""
    out: dict[str, dict] = {}
    for row in rows:
        ctx = row["context"]
        if ctx not in out:
            breaks = row.get("sentence_breaks")
            spans = [(int(s), int(e)) for s, e in breaks] if breaks is not None else split_sentences(ctx, lang)
            out[ctx] = {"context": ctx, "spans": spans, "questions": [], "released": breaks is not None}
        out[ctx]["questions"].append(row)
    return list(out.values())


def build_pools(rows_by_lang: Mapping[str, Sequence[Mapping]], languages: Sequence[str] | None = None, *,
                candidate_text: str = "sentence_and_context") -> tuple[dict[str, pd.DataFrame], dict]:
    """{language: its retrieval file} for `languages` (default: all of `rows_by_lang`), every file with the pool of
    all of `rows_by_lang` (XQuAD-R: POOL_LANGUAGES), and statistics per pool language.

    Rows are XQuAD-R examples in the hub's schema (id, context, question, answers{text, answer_start}), with
    `sentence_breaks` ([[start, end], ...] per paragraph) where LAReQA's released files give them."""
    if candidate_text not in CANDIDATE_TEXTS:
        raise HubError(f"lareqa: candidate_text must be one of {', '.join(CANDIDATE_TEXTS)}, not {candidate_text!r}")
    languages = list(rows_by_lang) if languages is None else list(languages)
    missing = [lang for lang in languages if lang not in rows_by_lang]
    if missing:
        raise HubError(f"lareqa: no rows for languages {missing} (pool languages: {', '.join(rows_by_lang)})")
    queries: dict[str, list[dict]] = {}
    candidates: list[dict] = []
    stats: dict = {}
    for lang, rows in rows_by_lang.items():
        n = {"questions": 0, "skipped": 0, "relocated": 0, "candidates": 0, "paragraphs": 0}
        queries[lang] = []
        for p, para in enumerate(_paragraphs(rows, lang)):
            ctx, spans = para["context"], para["spans"]
            sentences = [ctx[s:e] for s, e in spans]
            answered: list[list[str]] = [[] for _ in spans]
            for row in para["questions"]:
                qid = str(row["id"]).strip()
                if not qid or any(c.isspace() for c in qid):
                    raise HubError(f"lareqa ({lang}): question id {qid!r} is empty or holds whitespace")
                found = _answer(row)
                pos = None if found is None else (
                    found[1] if para["released"] else locate_answer(ctx, found[0].strip(), found[1]))
                sentence = None if pos is None else next((ctx[s:e] for s, e in spans if s <= pos < e), None)
                if sentence is None:
                    n["skipped"] += 1
                    continue
                n["relocated"] += int(not para["released"] and pos != found[1])
                for j, text in enumerate(sentences):
                    if text == sentence:
                        answered[j].append(qid)
                queries[lang].append({"id": f"lareqa.{lang}.q.{qid}", "lang": lang, "text": row["question"],
                                      "pair_id": qid, "side": "query"})
                n["questions"] += 1
            if not any(answered):
                continue  # XTREME adds a paragraph's sentences through its questions only
            n["paragraphs"] += 1
            flat = ctx.replace("\n", " ")
            for j, text in enumerate(sentences):
                body = text.replace("\n", " ")
                if candidate_text == "sentence_and_context":
                    body = f"{body} {flat}"
                candidates.append({"id": f"lareqa.{lang}.c.{p:04d}.{j:03d}", "lang": lang, "text": body,
                                   "pair_id": " ".join(sorted(set(answered[j]))), "side": "candidate"})
                n["candidates"] += 1
        stats[lang] = n
    pool = pd.DataFrame(candidates, columns=["id", "lang", "text", "pair_id", "side"])
    out = {}
    for lang in languages:
        df = pd.concat([pd.DataFrame(queries[lang], columns=list(pool.columns)), pool], ignore_index=True)
        out[lang] = schema.check(df, "retrieval", f"lareqa/test/{lang}")
    return out, stats


def read_released(folder: str | Path, languages: Sequence[str] = POOL_LANGUAGES) -> dict[str, list[dict]]:
    """LAReQA's released XQuAD-R (`<folder>/<lang>.json`, SQuAD JSON with `sentence_breaks` per paragraph) as
    rows in the hub's schema plus `sentence_breaks`, per language. Missing files -> HubError naming them."""
    folder = Path(folder)
    paths = {lang: folder / f"{lang}.json" for lang in languages}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise HubError(f"lareqa: missing files {missing} (LAReQA's xquad-r/<lang>.json, "
                       f"github.com/google-research-datasets/lareqa)")
    out = {}
    for lang, path in paths.items():
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = []
        for article in data["data"]:
            for para in article["paragraphs"]:
                if "sentence_breaks" not in para:
                    raise HubError(f"lareqa: {path} has a paragraph without `sentence_breaks` (not LAReQA's "
                                   f"XQuAD-R release)")
                for qa in para["qas"]:
                    rows.append({"id": qa["id"], "context": para["context"], "question": qa["question"],
                                 "answers": {"text": [a["text"] for a in qa["answers"]],
                                             "answer_start": [a["answer_start"] for a in qa["answers"]]},
                                 "sentence_breaks": para["sentence_breaks"]})
        out[lang] = rows
    return out
