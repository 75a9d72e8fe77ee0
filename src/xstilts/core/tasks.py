"""Task metadata shared by every source (synthetic or hub): format, metric and label inventory."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    name: str
    role: str  # "intermediate" | "target"
    format: str  # key of xstilts.formats.REGISTRY
    metric: str  # accuracy | f1 (seqeval chunk F1) | squad_f1 | mlqa_f1 | retrieval_accuracy | map_at_20 | mrr_at_20
    # | bucc_f1 (F1 of mined translation pairs)
    labels: tuple[str, ...] = field(default=())
    mirrors: str = ""  # the real dataset this task stands in for
    natural_adversary: str = ""  # non-empty: the whole test set is adversarial by construction (how), e.g. PAWS-X

    @property
    def num_labels(self) -> int:
        return len(self.labels)


NLI_LABELS = ("entailment", "neutral", "contradiction")
NER_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
UPOS_LABELS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
               "PUNCT", "SCONJ", "SYM", "VERB", "X")
PAWSX_LABELS = ("different", "paraphrase")  # hub label "0" / "1"
CCG_LABELS = (
    "NP/N", "N/N", "N", "NP", "(S\\NP)/NP", "S\\NP", "(S\\NP)\\(S\\NP)", "PP/NP", "((S\\NP)\\(S\\NP))/NP",
    "(S\\NP)/(S\\NP)", "conj", ".", "N/N[num]",
)

TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task("anli", "intermediate", "pair", "accuracy", NLI_LABELS, "ANLI R1-R3"),
        Task("ccg", "intermediate", "tagging", "accuracy", CCG_LABELS, "CCGbank supertagging"),
        Task("commonsenseqa", "intermediate", "mc", "accuracy", (), "CommonsenseQA (5 choices)"),
        Task("cosmosqa", "intermediate", "mc", "accuracy", (), "Cosmos QA (4 choices)"),
        Task("hellaswag", "intermediate", "mc", "accuracy", (), "HellaSwag (4 endings)"),
        Task("mnli", "intermediate", "pair", "accuracy", NLI_LABELS, "MultiNLI"),
        Task("qqp", "intermediate", "pair", "accuracy", ("not_duplicate", "duplicate"), "Quora Question Pairs"),
        Task("squad", "intermediate", "span", "squad_f1", (), "SQuAD v1.1"),
        Task("socialiqa", "intermediate", "mc", "accuracy", (), "SocialIQA (3 choices)"),
        Task("xnli", "target", "pair", "accuracy", NLI_LABELS, "XNLI (trained on English NLI)"),
        Task("xquad", "target", "span", "squad_f1", (), "XQuAD (trained on English SQuAD-style QA)"),
        Task("panx", "target", "tagging", "f1", NER_LABELS, "PAN-X / WikiANN NER"),
        Task("pawsx", "target", "pair", "accuracy", PAWSX_LABELS, "PAWS-X (trained on English PAWS)",
             natural_adversary="paraphrase-adversarial by construction (Yang et al. 2019): pairs made by word "
                               "swapping and back-translation, so nearly every pair shares most of its words "
                               "whatever its label; its clean score is itself a robustness measure, and "
                               "lexical_overlap / word_swap / char_noise / code_switch / aflite apply to it"),
        Task("udpos", "target", "tagging", "f1", UPOS_LABELS, "UD-POS v2.5 (seqeval F1, as XTREME)"),
        Task("mlqa", "target", "span", "mlqa_f1", (), "MLQA (trained on SQuAD v1.1; MLQA's per-language F1)"),
        Task("tydiqa", "target", "span", "squad_f1", (), "TyDiQA-GoldP (trained on its English train)"),
        Task("xcopa", "target", "mc", "accuracy", (), "XCOPA (trained on English COPA)"),
        Task("tatoeba", "target", "retrieval", "retrieval_accuracy", (), "Tatoeba (encoder only, no training)"),
        Task("lareqa", "target", "retrieval", "map_at_20", (),
             "LAReQA / XQuAD-R (language-agnostic answer retrieval, mAP@20; encoder only, no training)"),
        Task("mewslix", "target", "retrieval", "mrr_at_20", (),
             "Mewsli-X (entity linking as retrieval, mAP@20 = MRR@20; encoder only, no training)"),
        Task("bucc", "target", "retrieval", "bucc_f1", (),
             "BUCC 2018 bitext mining (XTREME, not XTREME-R: F1 of the translation pairs mined from a comparable "
             "corpus, threshold chosen on dev; encoder only, no training)"),
    ]
}

INTERMEDIATE = tuple(n for n, t in TASKS.items() if t.role == "intermediate")
TARGETS = tuple(n for n, t in TASKS.items() if t.role == "target")
CONTROLS = ("baseline", "random")
VARIANTS = {
    "multitask": "multi-task intermediate training on every intermediate task (a head each, a seeded task sampler)",
    "mlm": "one intermediate task with a multilingual masked-LM loss mixed in (a fixed share of the steps)",
    "translated": "one intermediate task trained on its English data plus its translations into other languages",
}
"""The paper's other intermediate-training variants (Phang et al. 2020), each an arm of its own beside the
single-task arms; none enters the within-task size analysis (xstilts.report)."""
SAMPLERS = ("uniform", "proportional", "temperature")  # jiant's multi-task samplers (xstilts.train.multitask)
TRAINING_LANGUAGE = "en"  # the one language every model is fine-tuned in (zero-shot transfer to the others)
NATURAL_ADVERSARIAL = tuple(n for n, t in TASKS.items() if t.natural_adversary)
"""Target tasks that are adversarial datasets in their own right (registered as natural adversarial targets)."""


def trained_targets(target_tasks) -> list[str]:
    """The target tasks that get a fine-tuned model (every format but retrieval, whose targets embed with the
    encoder itself), in the given order."""
    return [t for t in target_tasks if get(t).format != "retrieval"]


def get(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
