"""The `synthetic` source: a generated, learnable multilingual benchmark, deterministic given its seeds.

English intermediate tasks mirror the paper's nine in format (scaled-down sizes), target tasks mirror XTREME-R
formats with English training data and parallel test sets in every derived language (see `world.py`). Each
generator returns canonical rows (see `schema.py`); structured hints for the adversaries (role spans, distractor
sentences, held-out entity replacements) travel in the JSON `meta` column so that the adversaries themselves stay
generic, language-agnostic transformations (`xstilts.adversaries`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from ..core.io import stable_seed
from ..core.tasks import CCG_LABELS, NER_LABELS, NLI_LABELS
from . import world as W
from .world import Constituent, Language, Lexicon, realize

Gen = np.random.Generator


def _pick(rng: Gen, seq):
    return seq[int(rng.integers(len(seq)))]


# ---- noun phrases ------------------------------------------------------------------------------------------------
def person_np(rng: Gen, exclude: set[str] = frozenset(), role: str = "") -> tuple[list[tuple[str, str]], str]:
    """A person: a name (tag NP) or 'the [adj] occupation'. Returns (words, head) where head identifies the person."""
    if rng.random() < 0.5:
        name = _pick(rng, [n for n in W.FIRST if n not in exclude])
        return [(name, "NP")], name
    occ = _pick(rng, [o for o in W.OCCUPATIONS if o not in exclude])
    words = [("the", "NP/N")]
    if rng.random() < 0.5:
        words.append((_pick(rng, W.ADJECTIVES), "N/N"))
    return words + [(occ, "N")], occ


def object_np(rng: Gen, exclude: set[str] = frozenset(), det: str | None = None) -> tuple[list[tuple[str, str]], str]:
    obj = _pick(rng, [o for o in W.OBJECTS if o not in exclude])
    words = [(det or _pick(rng, ["the", "a"]), "NP/N")]
    if rng.random() < 0.5:
        words.append((_pick(rng, W.COLORS), "N/N"))
    return words + [(obj, "N")], obj


def place_pp(rng: Gen, exclude: set[str] = frozenset()) -> tuple[list[tuple[str, str]], str]:
    place = _pick(rng, [p for p in W.PLACES if p not in exclude])
    return [("in", "((S\\NP)\\(S\\NP))/NP"), ("the", "NP/N"), (place, "N")], place


def _simplify(np_words: list[tuple[str, str]], rng: Gen) -> list[tuple[str, str]]:
    return [(w, t) for w, t in np_words if t != "N/N" or rng.random() < 0.5]


def _tag(words: list[tuple[str, str]], tag: str) -> list[tuple[str, str]]:
    return [(w, tag) for w, _ in words]


P_DOT: Constituent = ("P", [(".", ".")])
P_Q: Constituent = ("P", [("?", ".")])


# ---- NLI (mnli, xnli) ----------------------------------------------------------------------------------------------
def nli(rng: Gen) -> dict:
    social = rng.random() < 0.5
    subj, s_head = person_np(rng)
    if social:
        verb = _pick(rng, W.SOCIAL_VERBS)
        obj, _ = person_np(rng, exclude={s_head})
        v_past, v_base = verb[0], verb[1]
    else:
        v_past, v_base = _pick(rng, W.OBJ_VERBS)
        obj, _ = object_np(rng)
    pp = place_pp(rng)[0] if rng.random() < 0.5 else None
    premise = [("S", subj), ("V", [(v_past, "")]), ("O", obj)] + ([("X", pp)] if pp else []) + [P_DOT]
    label = int(rng.integers(3))
    h_subj, h_obj = _simplify(subj, rng), _simplify(obj, rng)
    h_pp = pp if (pp and rng.random() < 0.5) else None
    verb_c: Constituent = ("V", [(v_past, "")])
    extra: list[Constituent] = []
    if label == 1:  # neutral: add information the premise does not give
        options = ["with"]
        if not pp:
            options.append("pp")
        if not any(t == "N/N" for _, t in obj) and not social:
            options.append("color")
        choice = _pick(rng, options)
        if choice == "pp":
            h_pp = place_pp(rng)[0]
        elif choice == "color":
            h_obj = h_obj[:1] + [(_pick(rng, W.COLORS), "N/N")] + h_obj[1:]
        else:
            extra = [("X", [("with", ""), (_pick(rng, W.FIRST), "")])]
    elif label == 2:  # contradiction: antonym verb or negation
        if not social and rng.random() < 0.5:
            verb_c = ("V", [(W.OBJ_ANTONYM[v_past][0], "")])
        else:
            verb_c = ("V", [("did", ""), ("not", ""), (v_base, "")])
    hyp = [("S", _tag(h_subj, "SUBJ")), verb_c, ("O", _tag(h_obj, "OBJ" if social else ""))]
    hyp += ([("X", h_pp)] if h_pp else []) + extra + [P_DOT]
    return {"premise": premise, "hypothesis": hyp, "label": label, "swappable": social and label == 0}


def anli(rng: Gen) -> dict:
    """Two clauses with counts; the hypothesis is about one of them (binding + numbers, harder than mnli)."""
    names = rng.choice(W.FIRST, size=3, replace=False).tolist()
    objs = rng.choice(W.OBJECTS, size=3, replace=False).tolist()
    nums = rng.choice(W.NUMBERS, size=2, replace=False).tolist()
    verbs = [_pick(rng, W.OBJ_VERBS)[0] for _ in range(2)]
    clauses = [[("S", [(names[i], "")]), ("V", [(verbs[i], "")]), ("O", [(nums[i], ""), (objs[i] + "s", "")])]
               for i in range(2)]
    premise = clauses[0] + [("CONJ", [("and", "")])] + clauses[1] + [P_DOT]
    k = int(rng.integers(2))
    label = int(rng.integers(3))
    name, verb, num, obj = names[k], verbs[k], nums[k], objs[k]
    if label == 1:  # neutral: someone or something not mentioned
        if rng.random() < 0.5:
            name = names[2]
        else:
            obj = objs[2]
    elif label == 2:  # contradiction: the other clause's count, or another count
        num = nums[1 - k] if rng.random() < 0.5 else _pick(rng, [n for n in W.NUMBERS if n not in nums])
    hyp = [("S", [(name, "")]), ("V", [(verb, "")]), ("O", [(num, ""), (obj + "s", "")]), P_DOT]
    return {"premise": premise, "hypothesis": hyp, "label": label, "swappable": False}


# ---- paraphrase (qqp) ----------------------------------------------------------------------------------------------
def _question(rng: Gen) -> tuple[list[Constituent], dict]:
    kind = _pick(rng, ["what", "where", "who"])
    subj, _ = person_np(rng)
    v_past, v_base = _pick(rng, W.OBJ_VERBS)
    obj, _ = object_np(rng, det="the")
    pp, _ = place_pp(rng)
    if kind == "what":
        q = [("Q", [("what", ""), ("did", "")]), ("S", subj), ("V", [(v_base, "")]), ("X", pp)]
    elif kind == "where":
        q = [("Q", [("where", ""), ("did", "")]), ("S", subj), ("V", [(v_base, "")]), ("O", obj)]
    else:
        q = [("Q", [("who", "")]), ("V", [(v_past, "")]), ("O", obj), ("X", pp)]
    return q + [P_Q], {"kind": kind}


def qqp(rng: Gen) -> dict:
    q1, _ = _question(rng)
    dup = int(rng.random() < 0.5)
    words = [(r, list(ws)) for r, ws in q1]
    if dup:  # paraphrase: synonyms and/or fronted place phrase
        changed = False
        for _, ws in words:
            for i, (w, t) in enumerate(ws):
                if w in W.SYNONYMS and rng.random() < 0.7:
                    ws[i] = (W.SYNONYMS[w], t)
                    changed = True
        xs = [c for c in words if c[0] == "X"]
        if xs and (not changed or rng.random() < 0.5):
            rest = [c for c in words if c[0] not in ("X", "P")]
            words = xs + [("P", [(",", "")])] + rest + [P_Q]
    else:  # a different question: one content word replaced by a non-synonym
        pools = {**{o: W.OBJECTS for o in W.OBJECTS}, **{p: W.PLACES for p in W.PLACES},
                 **{n: W.FIRST for n in W.FIRST}, **{o: W.OCCUPATIONS for o in W.OCCUPATIONS}}
        slots = [(ci, i) for ci, (_, ws) in enumerate(words) for i, (w, _) in enumerate(ws) if w in pools]
        ci, i = slots[int(rng.integers(len(slots)))]
        w, t = words[ci][1][i]
        words[ci][1][i] = (_pick(rng, [x for x in pools[w] if x != w]), t)
    return {"premise": q1, "hypothesis": words, "label": dup, "swappable": False}


# ---- extractive QA (squad, xquad) ----------------------------------------------------------------------------------
def qa(rng: Gen) -> dict:
    n = int(rng.integers(2, 4))
    heads_used: set[str] = set()
    verbs = rng.choice(len(W.OBJ_VERBS), size=n + 1, replace=False)
    objs_used: set[str] = set()
    places_used: set[str] = set()
    sents = []
    facts = []
    for j in range(n + 1):  # the last one is the distractor (same verb as the asked sentence)
        subj, head = person_np(rng, exclude=heads_used)
        heads_used.add(head)
        obj, o = object_np(rng, exclude=objs_used)
        objs_used.add(o)
        pp, pl = place_pp(rng, exclude=places_used)
        places_used.add(pl)
        facts.append({"subj": subj, "obj": obj, "pp": pp, "verb": W.OBJ_VERBS[verbs[j]]})
    k = int(rng.integers(n))
    facts[n]["verb"] = facts[k]["verb"]
    kind = _pick(rng, ["what", "where", "who"])
    for j, f in enumerate(facts):
        mark = j == k
        subj = [(w, "ANS" if (mark and kind == "who" and t != "NP/N") else "") for w, t in f["subj"]]
        obj = [(w, "ANS" if (mark and kind == "what" and t != "NP/N") else "") for w, t in f["obj"]]
        pp = [(w, "ANS" if (mark and kind == "where" and t == "N") else "") for w, t in f["pp"]]
        sents.append([("S", subj), ("V", [(f["verb"][0], "")]), ("O", obj), ("X", pp), P_DOT])
    f = facts[k]
    by = [("by", "")] + f["subj"]
    if kind == "what":
        q = [("Q", [("what", ""), ("was", "")]), ("V", [(f["verb"][0], "")]), ("X", by + f["pp"])]
    elif kind == "where":
        q = [("Q", [("where", ""), ("was", "")]), ("O", f["obj"]), ("V", [(f["verb"][0], "")]), ("X", by)]
    else:
        q = [("Q", [("who", "")]), ("V", [(f["verb"][0], "")]), ("O", f["obj"])]
    return {"context": sents[:n], "question": q + [P_Q], "distractor": sents[n]}


# ---- multiple choice -------------------------------------------------------------------------------------------------
def hellaswag(rng: Gen) -> dict:
    subj, _ = person_np(rng)
    first = _pick(rng, sorted(W.NEXT))
    obj, _ = object_np(rng, det="the")
    ctx = [("S", subj), ("V", [(first, "")]), ("O", obj), ("CONJ", [("and", ""), ("then", "")])]
    right = W.NEXT[first]
    wrong = rng.choice([v for v in W.NEXT_POOL if v != right], size=3, replace=False).tolist()
    options = [right] + wrong
    order = rng.permutation(4)
    choices = [[("S", [("they", "")]), ("V", [(options[i], "")]), ("O", [("it", "")]), P_DOT] for i in order]
    return {"context": [ctx], "choices": choices, "label": int(np.argmin(order))}


def cosmosqa(rng: Gen) -> dict:
    a, b = rng.choice(W.FIRST, size=2, replace=False).tolist()
    ca, cb = [W.CAUSES[i] for i in rng.choice(len(W.CAUSES), size=2, replace=False)]
    who, cause = (a, ca) if rng.random() < 0.5 else (b, cb)
    ctx = [[("S", [(a, "")]), ("V", [("was", "")]), ("O", [(ca[0], "")]), P_DOT],
           [("S", [(b, "")]), ("V", [("was", "")]), ("O", [(cb[0], "")]), P_DOT],
           [("S", [(who, "")]), ("V", [(cause[1], "")]), ("O", [("the", ""), (cause[3], "")]), P_DOT]]
    q = [("Q", [("why", ""), ("did", "")]), ("S", [(who, "")]), ("V", [(cause[2], "")]),
         ("O", [("the", ""), (cause[3], "")]), P_Q]
    other = b if who == a else a
    wrong_state = cb[0] if cause is ca else ca[0]
    third = _pick(rng, [s for s in W.STATES if s not in (ca[0], cb[0])])
    options = [(who, cause[0]), (who, wrong_state), (other, cause[0]), (who, third)]
    order = rng.permutation(4)
    choices = [[("X", [("because", "")]), ("S", [(options[i][0], "")]), ("V", [("was", "")]),
                ("O", [(options[i][1], "")]), P_DOT] for i in order]
    return {"context": ctx + [q], "choices": choices, "label": int(np.argmin(order))}


def commonsenseqa(rng: Gen) -> dict:
    if rng.random() < 0.5:
        obj = _pick(rng, sorted(W.OBJ_PLACE))
        q = [("Q", [("where", ""), ("would", "")]), ("S", [("you", "")]), ("V", [("find", "")]),
             ("O", [("a", ""), (obj, "")]), P_Q]
        right, pool = W.OBJ_PLACE[obj], W.PLACES
    else:
        occ = _pick(rng, sorted(W.WORKER_TOOL))
        q = [("Q", [("what", ""), ("would", "")]), ("S", [("a", ""), (occ, "")]), ("V", [("use", "")]), P_Q]
        right, pool = W.WORKER_TOOL[occ], W.OBJECTS
    wrong = rng.choice([x for x in pool if x != right], size=4, replace=False).tolist()
    options = [right] + wrong
    order = rng.permutation(5)
    choices = [[("O", [("the", ""), (options[i], "")])] for i in order]
    return {"context": [q], "choices": choices, "label": int(np.argmin(order))}


def socialiqa(rng: Gen) -> dict:
    a, b = rng.choice(W.FIRST, size=2, replace=False).tolist()
    verb = _pick(rng, W.SOCIAL_VERBS)
    about_patient = rng.random() < 0.5
    ctx = [("S", [(a, "")]), ("V", [(verb[0], "")]), ("O", [(b, "")]), P_DOT]
    who = b if about_patient else a
    q = [("Q", [("how", ""), ("would", "")]), ("S", [(who, "")]), ("V", [("feel", "")]), P_Q]
    right = verb[2] if about_patient else verb[3]
    confusable = verb[3] if about_patient else verb[2]
    pool = [w for s in W.SOCIAL_VERBS for w in s[2:] if w not in (right, confusable)]
    options = [right, confusable, _pick(rng, pool)]
    order = rng.permutation(3)
    choices = [[("O", [(options[i], "")])] for i in order]
    return {"context": [ctx, q], "choices": choices, "label": int(np.argmin(order))}


# ---- tagging -----------------------------------------------------------------------------------------------------
def ccg(rng: Gen) -> dict:
    def clause() -> list[Constituent]:
        subj, _ = person_np(rng)
        r = rng.random()
        if r < 0.3:
            v = [(_pick(rng, W.INTRANSITIVE), "S\\NP")]
            out = [("S", subj), ("V", v)]
        else:
            if r < 0.5:
                obj = [(x, {"": "NP"}.get(t, t)) for x, t in person_np(rng)[0]]
                past = _pick(rng, W.SOCIAL_VERBS)[0]
            else:
                n = rng.random() < 0.2
                obj = ([(_pick(rng, W.NUMBERS), "N/N[num]"), (_pick(rng, W.OBJECTS) + "s", "N")] if n
                       else object_np(rng)[0])
                past = _pick(rng, W.OBJ_VERBS)[0]
            if rng.random() < 0.2:
                v = [("did", "(S\\NP)/(S\\NP)"), ("not", "(S\\NP)\\(S\\NP)"),
                     (_pick(rng, W.OBJ_VERBS)[1], "(S\\NP)/NP")]
            else:
                v = [(past, "(S\\NP)/NP")]
            out = [("S", subj), ("V", v), ("O", obj)]
        if rng.random() < 0.4:
            out.append(("X", place_pp(rng)[0]))
        return out

    sent = clause()
    if rng.random() < 0.3:
        sent += [("CONJ", [("and", "conj")])] + clause()
    sent.append(P_DOT)
    return {"sentence": sent}


def _entity(rng: Gen, kind: str, heldout: bool = False) -> list[str]:
    if kind == "PER":
        first = W.HELDOUT_FIRST if heldout else W.FIRST
        last = W.HELDOUT_LAST if heldout else W.LAST
        return [_pick(rng, first)] + ([_pick(rng, last)] if rng.random() < 0.5 else [])
    if kind == "LOC":
        return list(_pick(rng, W.HELDOUT_LOC)) if heldout else [_pick(rng, W.LOC_A), _pick(rng, W.LOC_B)]
    return list(_pick(rng, W.HELDOUT_ORG)) if heldout else [_pick(rng, W.ORG_A), _pick(rng, W.ORG_B)]


def _ent_words(tokens: list[str], kind: str, idx: int) -> list[tuple[str, str]]:
    return [(w, f"{'B' if i == 0 else 'I'}-{kind}#{idx}") for i, w in enumerate(tokens)]


NER_TEMPLATES = [
    ["PER", "V:visited", "LOC"],
    ["PER", "V:works", "for", "ORG", "in", "LOC"],
    ["the", "occ", "from", "ORG", "V:met", "PER"],
    ["PER", "and", "PER", "V:moved", "to", "LOC"],
    ["PER", "V:left", "ORG", "and", "V:joined", "ORG"],
    ["the", "occ", "of", "LOC", "V:called", "PER"],
]


def ner(rng: Gen) -> dict:
    tpl = _pick(rng, NER_TEMPLATES)
    cons: list[Constituent] = []
    repl: list[list[str]] = []
    idx = 0
    for item in tpl:
        if item in ("PER", "LOC", "ORG"):
            role = "S" if not cons else "O"
            cons.append((role, _ent_words(_entity(rng, item), item, idx)))
            repl.append(_entity(rng, item, heldout=True))
            idx += 1
        elif item.startswith("V:"):
            cons.append(("V", [(item[2:], "O")]))
        elif item == "occ":
            cons.append(("X", [(_pick(rng, W.OCCUPATIONS), "O")]))
        elif item == "and":
            cons.append(("CONJ", [("and", "O")]))
        else:
            cons.append(("X", [(item, "O")]))
    return {"sentence": cons + [("P", [(".", "O")])], "replacements": repl}


# ---- realisation into canonical rows -------------------------------------------------------------------------------
def _text(sentences: list[list[Constituent]], lang: Language, lex: Lexicon) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for s in sentences:
        out.extend(realize(s, lang, lex))
    return out


def _join(words: list[tuple[str, str]]) -> str:
    return " ".join(w for w, _ in words)


def _span(words: list[tuple[str, str]], tag: str) -> list[int] | None:
    idx = [i for i, (_, t) in enumerate(words) if t == tag]
    return [idx[0], idx[-1] + 1] if idx else None


def pair_row(ex: dict, lang: Language, lex: Lexicon, uid: str) -> dict:
    a, b = realize(ex["premise"], lang, lex), realize(ex["hypothesis"], lang, lex)
    meta = {}
    if ex.get("swappable"):
        meta["swap"] = [_span(b, "SUBJ"), _span(b, "OBJ")]
    elif "swappable" in ex and ex["label"] == 0:
        meta["swap"] = None  # entailed, but no two roles whose swap changes the meaning (word_swap skips it)
    return {"id": uid, "lang": lang.code, "text_a": _join(a), "text_b": _join(b), "label": ex["label"],
            "meta": json.dumps(meta, sort_keys=True) if meta else ""}


def mc_row(ex: dict, lang: Language, lex: Lexicon, uid: str) -> dict:
    return {"id": uid, "lang": lang.code, "context": _join(_text(ex["context"], lang, lex)),
            "choices": [_join(realize(c, lang, lex)) for c in ex["choices"]], "label": ex["label"], "meta": ""}


def span_row(ex: dict, lang: Language, lex: Lexicon, uid: str) -> dict:
    ctx = _text(ex["context"], lang, lex)
    s, e = _span(ctx, "ANS")
    context = _join(ctx)
    start = len(_join(ctx[:s])) + (1 if s else 0)
    answer = _join(ctx[s:e])
    assert context[start:start + len(answer)] == answer
    meta = {"distractor": _join(realize(ex["distractor"], lang, lex))}
    return {"id": uid, "lang": lang.code, "context": context, "question": _join(realize(ex["question"], lang, lex)),
            "answers_text": [answer], "answers_start": [start], "meta": json.dumps(meta, sort_keys=True)}


def tagging_row(ex: dict, lang: Language, lex: Lexicon, uid: str, labels: tuple[str, ...]) -> dict:
    words = realize(ex["sentence"], lang, lex)
    tags = [t.split("#")[0] for _, t in words]
    meta = {}
    if "replacements" in ex:
        spans = []
        for k, rep in enumerate(ex["replacements"]):
            idx = [i for i, (_, t) in enumerate(words) if t.endswith(f"#{k}")]
            kind = words[idx[0]][1].split("-")[1].split("#")[0]
            spans.append([idx[0], idx[-1] + 1, kind, [lex.form(lang.code, w) for w in rep]])
        meta["entities"] = spans
    return {"id": uid, "lang": lang.code, "tokens": [w for w, _ in words], "tags": [labels.index(t) for t in tags],
            "meta": json.dumps(meta, sort_keys=True) if meta else ""}


GENERATORS: dict[str, tuple[Callable[[Gen], dict], str]] = {
    "mnli": (nli, "pair"), "xnli": (nli, "pair"), "anli": (anli, "pair"), "qqp": (qqp, "pair"),
    "squad": (qa, "span"), "xquad": (qa, "span"), "hellaswag": (hellaswag, "mc"), "cosmosqa": (cosmosqa, "mc"),
    "commonsenseqa": (commonsenseqa, "mc"), "socialiqa": (socialiqa, "mc"), "ccg": (ccg, "tagging"),
    "panx": (ner, "tagging"),
}
LABELS = {"ccg": CCG_LABELS, "panx": NER_LABELS, "mnli": NLI_LABELS, "xnli": NLI_LABELS, "anli": NLI_LABELS}


def generate(task: str, n: int, seed: int, split: str) -> list[dict]:
    """`n` English structures of `task` for `split`, from an independent, named random stream."""
    fn, _ = GENERATORS[task]
    rng = np.random.default_rng(stable_seed("synthetic", seed, task, split))
    return [fn(rng) for _ in range(n)]


def to_rows(task: str, structures: list[dict], lang: Language, lex: Lexicon, split: str) -> list[dict]:
    _, fmt = GENERATORS[task]
    rows = []
    for i, ex in enumerate(structures):
        uid = f"{task}-{split}-{i:06d}"
        if fmt == "pair":
            rows.append(pair_row(ex, lang, lex, uid))
        elif fmt == "mc":
            rows.append(mc_row(ex, lang, lex, uid))
        elif fmt == "span":
            rows.append(span_row(ex, lang, lex, uid))
        else:
            rows.append(tagging_row(ex, lang, lex, uid, LABELS[task]))
    return rows


def retrieval_rows(n: int, seed: int, languages: list[Language], lex: Lexicon) -> list[dict]:
    """Tatoeba-like parallel sentences: the same `pair_id` in every language."""
    rng = np.random.default_rng(stable_seed("synthetic", seed, "tatoeba", "test"))
    sents = [nli(rng)["premise"] for _ in range(n)]
    return [{"id": f"tatoeba-{lang.code}-{i:06d}", "lang": lang.code, "text": _join(realize(s, lang, lex)),
             "pair_id": f"tatoeba-{i:06d}"} for lang in languages for i, s in enumerate(sents)]


def lareqa_rows(n: int, seed: int, languages: list[Language], lex: Lexicon) -> list[dict]:
    """LAReQA-like language-agnostic answer retrieval (XQuAD-R): `n` reading-comprehension examples realised in
    every language; each question (side "query", one per language) must retrieve its answer sentence among every
    context sentence of every example in every language (side "candidate"). Its targets are that sentence in all
    languages (one `pair_id`), so a question in `ea` has five targets, one of them English."""
    rng = np.random.default_rng(stable_seed("synthetic", seed, "lareqa", "test"))
    examples = [qa(rng) for _ in range(n)]
    rows = []
    for lang in languages:
        for i, ex in enumerate(examples):
            answer = next(j for j, sent in enumerate(ex["context"]) if any(t == "ANS" for _, ws in sent for _, t in ws))
            rows.append({"id": f"lareqa-{lang.code}-{i:06d}-q", "lang": lang.code,
                         "text": _join(realize(ex["question"], lang, lex)), "pair_id": f"lareqa-{i:06d}-{answer}",
                         "side": "query"})
            for j, sent in enumerate(ex["context"]):
                rows.append({"id": f"lareqa-{lang.code}-{i:06d}-{j}", "lang": lang.code,
                             "text": _join(realize(sent, lang, lex)), "pair_id": f"lareqa-{i:06d}-{j}",
                             "side": "candidate"})
    return rows


def bucc_rows(n: int, seed: int, languages: list[Language], lex: Lexicon, split: str) -> dict[str, list[dict]]:
    """BUCC-like comparable corpora, one per non-English language: `n` translation pairs hidden among `n` sentences
    of that language and `n` English sentences that have no counterpart (BUCC's mining task: find the pairs, and
    only them). Sentences are distinct in English, so no distractor is a translation of anything; each side is
    shuffled. Rows: the language's sentences (side "query") and the English ones (side "candidate"); a pair shares
    pair_id, a distractor has pair_id "". `split` (dev: the threshold pool, test) names an independent stream."""
    rng = np.random.default_rng(stable_seed("synthetic", seed, "bucc", split))
    en = next(lang for lang in languages if lang.code == "en")
    out = {}
    for lang in languages:
        if lang.code == "en":
            continue
        seen: set[str] = set()
        sents = []
        while len(sents) < 3 * n:
            sent = nli(rng)["premise"]
            key = _join(realize(sent, en, lex))
            if key not in seen:
                seen.add(key)
                sents.append(sent)
        pair = [f"bucc-{lang.code}-{split}-{i:06d}" for i in range(n)]
        source = [(s, p) for s, p in zip(sents[:n], pair)] + [(s, "") for s in sents[n:2 * n]]
        target = [(s, p) for s, p in zip(sents[:n], pair)] + [(s, "") for s in sents[2 * n:]]
        rows = []
        for side, code, items in (("query", lang, source), ("candidate", en, target)):
            for j, k in enumerate(rng.permutation(len(items))):
                sent, pid = items[k]
                rows.append({"id": f"bucc-{lang.code}-{split}-{code.code}-{j:06d}", "lang": code.code,
                             "text": _join(realize(sent, code, lex)), "pair_id": pid, "side": side})
        out[lang.code] = rows
    return out


def _entities() -> list[tuple[str, list[str]]]:
    """Every (kind, English tokens) entity of the NER world that target data may mention (held-out ones excluded)."""
    people = [[f] for f in W.FIRST] + [[f, last] for f in W.FIRST for last in W.LAST]
    return ([("PER", t) for t in people] + [("LOC", [a, b]) for a in W.LOC_A for b in W.LOC_B]
            + [("ORG", [a, b]) for a in W.ORG_A for b in W.ORG_B])


def entity_id(kind: str, tokens: list[str]) -> str:
    return f"mewslix-{kind.lower()}-{'-'.join(tokens)}"


def mewslix_rows(n: int, seed: int, languages: list[Language], lex: Lexicon) -> list[dict]:
    """Mewsli-X-like entity linking as retrieval: `n` NER sentences realised in every language; each names one of
    its entities as the mention (side "query": the mention, a comma, then its sentence) whose gold is that entity
    among every entity of the world, given by its English name (side "candidate", lang "en"; Mewsli-X's candidates
    are English entity descriptions). One gold per mention, so mAP@20 is MRR@20."""
    rng = np.random.default_rng(stable_seed("synthetic", seed, "mewslix", "test"))
    examples = []
    for _ in range(n):
        ex = ner(rng)
        mentions = sorted({t.split("#")[1] for _, ws in ex["sentence"] for _, t in ws if "#" in t})
        examples.append((ex["sentence"], _pick(rng, mentions)))
    rows = []
    for lang in languages:
        for i, (sentence, mention) in enumerate(examples):
            words = realize(sentence, lang, lex)
            english = [w for _, ws in sentence for w, t in ws if t.endswith(f"#{mention}")]
            kind = next(t for _, ws in sentence for _, t in ws if t.endswith(f"#{mention}")).split("-")[1].split("#")[0]
            span = [w for w, t in words if t.endswith(f"#{mention}")]
            rows.append({"id": f"mewslix-{lang.code}-{i:06d}", "lang": lang.code,
                         "text": " ".join(span) + " , " + _join(words), "pair_id": entity_id(kind, english),
                         "side": "query"})
    en = next(lang for lang in languages if lang.code == "en")
    rows += [{"id": entity_id(kind, tokens), "lang": "en", "text": _join(realize([("S", [(w, "") for w in tokens])],
                                                                                    en, lex)),
              "pair_id": entity_id(kind, tokens), "side": "candidate"} for kind, tokens in _entities()]
    return rows


def pretraining_corpus(n: int, seed: int, lang: Language, lex: Lexicon) -> list[str]:
    """Masked-LM text in one language: sentences of every kind the benchmark uses, plus held-out entities."""
    rng = np.random.default_rng(stable_seed("synthetic", seed, "pretrain", lang.code))
    kinds = ["nli", "anli", "qqp", "qa", "hellaswag", "cosmosqa", "commonsenseqa", "socialiqa", "ccg", "ner",
             "heldout"]
    out = []
    for _ in range(n):
        kind = _pick(rng, kinds)
        if kind in ("nli", "anli", "qqp"):
            ex = {"nli": nli, "anli": anli, "qqp": qqp}[kind](rng)
            sents = [ex["premise"], ex["hypothesis"]]
        elif kind == "qa":
            ex = qa(rng)
            sents = ex["context"] + [ex["question"]]
        elif kind in ("hellaswag", "cosmosqa", "commonsenseqa", "socialiqa"):
            ex = globals()[kind](rng)
            sents = ex["context"] + [ex["choices"][ex["label"]]]
        elif kind == "ccg":
            sents = [ccg(rng)["sentence"]]
        elif kind == "ner":
            sents = [ner(rng)["sentence"]]
        else:  # held-out entities appear in pretraining text (never in target training data)
            ex = ner(rng)
            cons = ex["sentence"]
            sents = [[("S", [(w, "") for w in ex["replacements"][0]])] + cons[1:]]
        out.append(_join(_text(sents, lang, lex)))
    return out
