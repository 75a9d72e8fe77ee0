"""The generated world of the embedded benchmark: an English lexicon and derived languages.

Derived languages follow the "fake English" recipe (K et al. 2020; Deshpande et al. 2022): every English word
type gets a new form (vocabulary substitution) unless it is one of the language's anchors (a `share` fraction
of word types kept identical, as real languages share names, numbers and subwords), the script may change
(Latin -> Cyrillic/Greek transliteration of the new forms) and the word order may change (SOV: the verb moves
to the end of its clause). Sentences are built as constituents so that spans (answers, entities, roles) survive
reordering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..core.io import stable_seed

# ---- English lexicon -----------------------------------------------------------------------------------------
FUNCTION = ["the", "a", "that", "did", "not", "was", "by", "in", "and", "but", "then", "who", "what", "where",
            "why", "how", "would", "you", "find", "feel", "because", "with", "from", "for", "it", "use", "his",
            "her", "they", "at"]
PUNCT = [".", "?", ","]
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "kevin", "laura",
         "mike", "nina", "oscar", "peggy", "quinn", "rosa", "sam", "tina", "umar", "vera", "walt", "xena",
         "yusuf", "zoe", "hana", "omar", "lena", "pablo"]
LAST = ["smith", "jones", "brown", "lopez", "meyer", "novak", "costa", "silva", "kim", "ivanova", "moreau", "khan"]
# names/entities never seen in target training data (entity_swap adversary); they do occur in pretraining text
HELDOUT_FIRST = ["olga", "ravi", "sven", "keiko", "amara", "tariq"]
HELDOUT_LAST = ["okafor", "larsen", "tanaka"]
OCCUPATIONS = ["doctor", "teacher", "farmer", "lawyer", "pilot", "baker", "singer", "painter", "driver", "nurse",
               "judge", "writer", "guard", "cook", "miner", "tailor"]
OBJECTS = ["car", "book", "apple", "lamp", "chair", "phone", "ring", "hat", "ball", "cup", "clock", "bag", "coat",
           "drum", "kite", "pen", "key", "box", "shoe", "bike", "bread", "letter"]
PLACES = ["park", "school", "market", "library", "kitchen", "garden", "station", "museum", "harbor", "office"]
COLORS = ["red", "blue", "green", "black", "white", "yellow"]
ADJ_PAIRS = [("tall", "short"), ("big", "small"), ("old", "young"), ("happy", "sad"), ("rich", "poor"),
             ("fast", "slow"), ("loud", "quiet"), ("clean", "dirty")]
ADJECTIVES = [a for pair in ADJ_PAIRS for a in pair]
# transitive verbs on objects: (past, base) with an antonym pair (contradictions)
VERB_PAIRS = [(("bought", "buy"), ("sold", "sell")), (("opened", "open"), ("closed", "close")),
              (("found", "find"), ("lost", "lose")), (("liked", "like"), ("hated", "hate")),
              (("took", "take"), ("gave", "give")), (("built", "build"), ("broke", "break")),
              (("pushed", "push"), ("pulled", "pull")), (("washed", "wash"), ("dropped", "drop"))]
OBJ_VERBS = [v for pair in VERB_PAIRS for v in pair]
OBJ_ANTONYM = {a[0]: b for a, b in VERB_PAIRS} | {b[0]: a for a, b in VERB_PAIRS}
# verbs on people: (past, base, how the patient feels, how the agent feels)
SOCIAL_VERBS = [("helped", "help", "grateful", "proud"), ("hurt", "hurt", "upset", "guilty"),
                ("thanked", "thank", "pleased", "polite"), ("insulted", "insult", "angry", "rude"),
                ("ignored", "ignore", "lonely", "busy"), ("surprised", "surprise", "amazed", "clever"),
                ("called", "call", "curious", "friendly"), ("followed", "follow", "nervous", "sneaky")]
INTRANSITIVE = ["slept", "laughed", "waited", "danced", "cried", "smiled"]
STATES = ["hungry", "thirsty", "cold", "bored", "tired", "late", "lost", "sick"]
# cosmosqa: an action explained by a state
CAUSES = [("hungry", "ate", "eat", "bread"), ("thirsty", "drank", "drink", "cup"), ("cold", "wore", "wear", "coat"),
          ("bored", "read", "read", "book"), ("tired", "sat", "sit", "chair"), ("late", "rode", "ride", "bike"),
          ("lost", "checked", "check", "phone"), ("sick", "called", "call", "doctor")]
# hellaswag: what people do next with an object after a first action
NEXT = {"bought": "used", "found": "kept", "broke": "fixed", "washed": "dried", "opened": "emptied",
        "dropped": "picked", "took": "carried", "built": "painted"}
NEXT_POOL = sorted(set(NEXT.values()) | {"hid", "threw", "tested", "cleaned"})
# commonsenseqa: where things are found and what workers use
OBJ_PLACE = {"book": "library", "apple": "market", "bread": "kitchen", "kite": "park", "pen": "school",
             "letter": "office", "clock": "museum", "bike": "station", "ball": "garden", "cup": "kitchen"}
WORKER_TOOL = {"doctor": "phone", "teacher": "book", "farmer": "apple", "pilot": "key", "baker": "bread",
               "singer": "drum", "painter": "pen", "driver": "car", "writer": "letter", "tailor": "coat"}
SYNONYMS = {"bought": "purchased", "big": "large", "small": "little", "happy": "glad", "car": "automobile",
            "fast": "quick", "phone": "telephone", "sad": "unhappy", "buy": "purchase", "liked": "enjoyed",
            "like": "enjoy", "found": "discovered", "find": "discover"}
NUMBERS = ["two", "three", "four", "five", "six", "seven"]
LOC_A = ["north", "south", "stone", "green", "silver", "eagle", "maple", "river"]
LOC_B = ["hill", "bay", "port", "field", "ridge", "falls"]
HELDOUT_LOC = [("crystal", "lake"), ("iron", "cove")]
ORG_A = ["acme", "delta", "nova", "apex", "orion", "vega", "zenith"]
ORG_B = ["corp", "group", "labs", "union"]
HELDOUT_ORG = [("polaris", "works"), ("summit", "guild")]
OTHER = ["works", "visited", "met", "lives", "near", "left", "joined", "moved", "to", "of", "guild", "works",
         "used", "kept", "fixed", "dried", "emptied", "picked", "carried", "painted", "hid", "threw", "tested",
         "cleaned", "ate", "eat", "drank", "drink", "wore", "wear", "read", "sat", "sit", "rode", "ride", "checked",
         "check", "call", "lake", "cove", "works", "person", "people", "someone", "many", "some", "lamps"]


def english_vocabulary() -> list[str]:
    words: list[str] = []
    groups: Iterable[Iterable[str]] = [
        FUNCTION, FIRST, LAST, HELDOUT_FIRST, HELDOUT_LAST, OCCUPATIONS, OBJECTS, [o + "s" for o in OBJECTS],
        PLACES, COLORS, ADJECTIVES, [v for pair in OBJ_VERBS for v in pair],
        [w for s in SOCIAL_VERBS for w in s], INTRANSITIVE, STATES, [w for c in CAUSES for w in c],
        NEXT.keys(), NEXT_POOL, SYNONYMS.values(), NUMBERS, LOC_A, LOC_B, [w for p in HELDOUT_LOC for w in p],
        ORG_A, ORG_B, [w for p in HELDOUT_ORG for w in p], OTHER,
    ]
    for g in groups:
        for w in g:
            if w not in words:
                words.append(w)
    return words


# ---- derived languages ---------------------------------------------------------------------------------------
CYRILLIC = dict(zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхијклмнопљрстувшџыз"))
GREEK = dict(zip("abcdefghijklmnopqrstuvwxyz", "αβψδεφγηιξκλμνοπϙρστθωςχυζ"))
_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "kr", "st", "tr", "pl", "gl"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODAS = ["", "", "", "n", "r", "s", "k", "l"]


@dataclass(frozen=True)
class Language:
    code: str
    order: str = "svo"
    script: str = "latin"
    share: float = 1.0
    align_noise: float = 0.0


ENGLISH = Language("en")


class Lexicon:
    """Word forms of every language: `form(lang, english_word)`; `source(lang, form)` inverts it."""

    def __init__(self, languages: dict[str, Language], seed: int):
        self.languages = {"en": ENGLISH, **languages}
        self.english = english_vocabulary()
        english_set = set(self.english) | set(PUNCT)
        used: set[str] = set(english_set)
        self.forms: dict[str, dict[str, str]] = {"en": {w: w for w in self.english + PUNCT}}
        for code, lang in sorted(languages.items()):
            rng = np.random.default_rng(stable_seed("lexicon", seed, code))
            n_anchor = int(round(lang.share * len(self.english)))
            anchors = set(rng.permutation(self.english)[:n_anchor].tolist())
            table = {p: p for p in PUNCT}
            for w in self.english:
                if w in anchors:
                    table[w] = w
                    continue
                while True:
                    form = self._pseudo_word(rng, len(w))
                    form = self._transliterate(form, lang.script)
                    if form not in used:
                        break
                used.add(form)
                table[w] = form
            self.forms[code] = table
        self._inverse = {code: {f: w for w, f in t.items()} for code, t in self.forms.items()}

    @staticmethod
    def _pseudo_word(rng: np.random.Generator, length: int) -> str:
        out = ""
        target = max(2, length + int(rng.integers(-1, 2)))
        while len(out) < target:
            out += _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
        return out + _CODAS[rng.integers(len(_CODAS))]

    @staticmethod
    def _transliterate(word: str, script: str) -> str:
        if script == "latin":
            return word
        table = CYRILLIC if script == "cyrillic" else GREEK
        return "".join(table.get(c, c) for c in word)

    def form(self, lang: str, word: str) -> str:
        return self.forms[lang][word]

    def source(self, lang: str, form: str) -> str | None:
        return self._inverse[lang].get(form)

    def is_anchor(self, lang: str, word: str) -> bool:
        return self.forms[lang][word] == word


# ---- sentences as constituents ---------------------------------------------------------------------------------
Word = tuple[str, str]  # (english word, tag)
Constituent = tuple[str, list[Word]]  # (role, words); role "V" moves in SOV languages, "P" is final punctuation


def realize(sentence: list[Constituent], lang: Language, lexicon: Lexicon) -> list[Word]:
    """Surface form of a sentence in `lang`: reorder constituents, then substitute every word."""
    cons = list(sentence)
    if lang.order == "sov":
        cons = _verb_final(cons)
    return [(lexicon.form(lang.code, w), tag) for _, words in cons for w, tag in words]


def _verb_final(cons: list[Constituent]) -> list[Constituent]:
    """Move each clause's verb constituent to the end of that clause (clauses end at P or a conjunction)."""
    out: list[Constituent] = []
    clause: list[Constituent] = []
    for role, words in cons:
        if role in ("P", "CONJ"):
            out.extend(_flush(clause))
            clause = []
            out.append((role, words))
        else:
            clause.append((role, words))
    out.extend(_flush(clause))
    return out


def _flush(clause: list[Constituent]) -> list[Constituent]:
    verbs = [c for c in clause if c[0] == "V"]
    rest = [c for c in clause if c[0] != "V"]
    return rest + verbs


def words_of(sentence: list[Constituent]) -> list[str]:
    return [w for _, ws in sentence for w, _ in ws]
