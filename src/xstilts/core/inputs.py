"""Manual inputs: what a profile needs that the pipeline never downloads (licensed or user-built data, local
mirrors) and the services it talks to, each with the path expected and where to get it.

One function, :func:`manual_inputs`, computes the list from params.yaml; `xstilts check` and `xstilts plan`
print it (and exit non-zero while something is missing), and the `prepare` stage calls :func:`require` before
it reads or downloads anything, so a missing file stops the pipeline at once with one line naming every missing
path, the params key that points at it and the fix.

The embedded default needs none (its dictionaries are generated from the lexicon); the paper profile needs the
MUSE dictionaries of the code-switching adversary, CCGbank when `ccg` is an intermediate task, LAReQA's released
files when `hub.lareqa_dir` is set, a user-built Mewsli-X folder when `mewslix` is a target, and the files of a
local hub mirror when `hub.data_dir` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import tasks

# facebookresearch/MUSE ground-truth bilingual dictionaries: the `en-<xx>` files that exist, from the `lgs` list of
# facebookresearch/MUSE@0ca12a00c0086fea018f522820db704b14b2032c:data/get_evaluation.sh (its README lists the
# same 45 en-<xx> "full" dictionaries). There is no en-sw or en-ur among them, two XNLI languages.
MUSE_LANGUAGES = frozenset(
    "af ar bg bn bs ca cs da de el en es et fa fi fr he hi hr hu id it ja ko lt lv mk ms nl no pl pt ro ru sk sl "
    "sq sv ta th tl tr uk vi zh".split())
MUSE_URL = "https://s3.amazonaws.com/arrival/dictionaries/en-{lang}.txt"  # as in get_evaluation.sh ($aws_path)

# XTREME-R datasets that are not pipeline targets (no loader into a target task, or no evaluator yet): a profile
# that lists one is refused by config validation with this text.
NOT_PIPELINE_TARGETS = {
    "bucc2018": "the BUCC 2018 mining target is called `bucc` (bucc2018 is its hub dataset key, which holds the gold "
                "pairs only)",
}
LAREQA_UNPINNED = (
    "LAReQA from the hub (google-research-datasets/xquad_r) needs a pinned revision, and its revision is not pinned: "
    "no full commit SHA of its main branch's parquet conversion was found (xstilts.data.hub.revisions). Set "
    "`hub.revisions.lareqa` to that 40-hex SHA (huggingface.co/datasets/google-research-datasets/xquad_r/commits/main; "
    "the hub rows have no sentence breaks, so xstilts splits them by its own rule and the scores are not XTREME-R's), "
    "or set `hub.lareqa_dir` to a folder with LAReQA's released xquad-r/<lang>.json (github.com/google-research-"
    "datasets/lareqa: XTREME-R's own sentence breaks and pools)")
BUCC_NO_DIR = (
    "`hub.bucc_dir` is null: BUCC 2018's mining pools are not on the hub (its copy has the gold pairs only); set "
    "hub.bucc_dir to the unpacked BUCC 2018 files (README, \"The paper profile\")")
MEWSLIX_NO_DIR = (
    "Mewsli-X is not officially on the hub (an unofficial copy, izhx/mewsli-x, exists; its format and fidelity are "
    "unverified and it is not read): build it with google-research's "
    "dense_representations_for_entity_retrieval/mel/get-mewsli-x.sh, write <dir>/test/mentions.<lang>.jsonl and "
    "<dir>/test/candidates.jsonl (format: xstilts.data.hub.targets.load_mewslix) and set `hub.mewslix_dir` to <dir>")


def hub_target_refusal(task: str, hub: dict) -> str | None:
    """Why the paper profile (`study.source: hub`) cannot run target `task` with this `hub` section; None when it
    can. LAReQA needs a pinned hub revision or LAReQA's released files, Mewsli-X a user-built folder."""
    if task == "lareqa" and not hub.get("lareqa_dir"):
        from ..data.hub.revisions import SHA

        revision = (hub.get("revisions") or {}).get("lareqa")
        if not revision:
            return LAREQA_UNPINNED
        if not SHA.match(str(revision)):
            return (f"`hub.revisions.lareqa` = {revision!r} is not a 40-hex commit SHA; a branch or short hash is "
                    f"not a pin. {LAREQA_UNPINNED}")
    if task == "mewslix" and not hub.get("mewslix_dir"):
        return MEWSLIX_NO_DIR
    if task == "bucc" and not hub.get("bucc_dir"):
        return BUCC_NO_DIR
    return None


# How to put a profile back after a failed `dvc repro` (README, "The paper profile"): the git-tracked files DVC
# rewrites or removes before running a stage, then every DVC output of the restored dvc.lock from the cache.
RESTORE_COMMAND = "git checkout -- params.yaml dvc.lock metrics runs reports && dvc checkout"


@dataclass(frozen=True)
class ManualInput:
    """One file (or service) a profile needs but the pipeline never fetches."""

    group: str  # what it is, e.g. "MUSE bilingual dictionaries"
    key: str  # the params.yaml key that points at it
    path: str  # where the pipeline expects it (as params.yaml gives it)
    present: bool | None  # None: a service, not checkable without using it
    source: str  # where to get it
    needed_for: str  # which part of the study reads it
    without: str  # how to run without it
    detail: str = ""  # e.g. which files of a mirror directory are missing

    @property
    def status(self) -> str:
        return {True: "present", False: "MISSING", None: "not checked"}[self.present]


class ManualInputError(FileNotFoundError):
    """Manual inputs of the profile are missing (the message names every missing path, its key and the fix)."""


def _resolve(path: str | Path, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def manual_inputs(params: dict, root: Path | None = None) -> list[ManualInput]:
    """Every manual input `params` (already validated) needs, checked for presence; relative paths are resolved
    against `root` (default: the repository root, where stages run)."""
    if root is None:
        from .io import repo_root

        root = repo_root()
    root = Path(root)
    items = _muse(params, root)
    if params["study"]["source"] == "hub":
        items += (_ccgbank(params, root) + _bucc(params, root) + _lareqa(params, root) + _mewslix(params, root)
                  + _variant_inputs(params, root) + _mirror(params, root)
                  + _hub_service(params, root))
    return items


def _muse(params: dict, root: Path) -> list[ManualInput]:
    adv = params["adversaries"]
    switching = [t for t in params["study"]["target_tasks"] if "code_switch" in adv["subsets"].get(t, [])]
    setting = str((adv.get("code_switch") or {}).get("dictionaries", "generated"))
    if not switching or setting == "generated":
        return []
    if params["study"]["source"] == "hub":
        from ..data.hub.prepare import target_languages

        tested = {lang for t in switching for lang in target_languages(params["hub"], t)[0]}
    else:
        tested = set(params["study"]["languages"])
    langs = sorted((tested | set(adv["code_switch"].get("into") or [])) - {tasks.TRAINING_LANGUAGE})
    into = ", ".join(adv["code_switch"].get("into") or [])
    out = []
    for lang in langs:
        path = str(Path(setting) / f"en-{lang}.txt")
        if lang in MUSE_LANGUAGES:
            source = MUSE_URL.format(lang=lang)
        else:
            source = (f"not among MUSE's ground-truth dictionaries (no en-{lang}); supply any en-{lang} word list in "
                      f"the same format ('english_word foreign_word' per line)")
        out.append(ManualInput(
            "MUSE bilingual dictionaries", "adversaries.code_switch.dictionaries", path,
            _resolve(path, root).is_file(), source,
            f"code_switch on {', '.join(switching)} (test languages, and switching into {into})",
            f"drop code_switch from {', '.join(f'adversaries.subsets.{t}' for t in switching)}"))
    return out


def _ccgbank(params: dict, root: Path) -> list[ManualInput]:
    if "ccg" not in params["study"]["intermediate_tasks"]:
        return []
    base = params["hub"].get("ccg_path")  # validation refuses ccg without a path
    out = []
    for split in ("train", "dev"):
        for ext in ("tokens", "tags"):
            path = str(Path(base) / f"{split}.{ext}")
            out.append(ManualInput(
                "CCGbank (LDC2005T13, licensed)", "hub.ccg_path", path, _resolve(path, root).is_file(),
                "https://catalog.ldc.upenn.edu/LDC2005T13 (licence from the LDC), exported as <split>.tokens / "
                "<split>.tags (xstilts.data.hub.intermediate.load_ccgbank)",
                "the ccg intermediate task", "drop ccg from study.intermediate_tasks and study.arms"))
    return out


def _bucc(params: dict, root: Path) -> list[ManualInput]:
    if "bucc" not in params["study"]["target_tasks"]:
        return []
    from ..data.hub.languages import XTREME
    from ..data.hub.targets import BUCC_FILE_SPLITS

    base = Path(params["hub"].get("bucc_dir") or "")  # validation refuses bucc without a folder
    out = []
    for lang in XTREME["bucc2018"]:
        for split, names in BUCC_FILE_SPLITS.items():
            for side in (lang, "en", "gold"):
                found = [n for n in names if _resolve(str(base / f"{lang}-en.{n}.{side}"), root).is_file()]
                path = str(base / f"{lang}-en.{(found or names)[0]}.{side}")
                out.append(ManualInput(
                    "BUCC 2018 mining pools", "hub.bucc_dir", path, bool(found),
                    f"https://comparable.limsi.fr/bucc2018/ bucc2018-{lang}-en.{names[1]}-gold.tar.bz2, unpacked "
                    f"(or XTREME's download_data.sh bucc2018/ as {lang}-en.{names[0]}.*)",
                    f"the bucc target ({split} pool)", "drop bucc from study.target_tasks"))
    return out


def _variant_inputs(params: dict, root: Path) -> list[ManualInput]:
    """The paper profile's data for the `translated` and `mlm` variants (the embedded default generates its own)."""
    va = params.get("variants") or {"arms": []}
    out = []
    if "translated" in va["arms"]:
        tr = va["translated"]
        for lang in tr["languages"]:
            path = str(Path(tr["source"]) / f"{lang}.parquet")
            out.append(ManualInput(
                "translated intermediate data", "variants.translated.source", path, _resolve(path, root).is_file(),
                f"your machine translation of {tr['task']}'s English training rows into {lang} (canonical schema, "
                f"the English rows' ids; e.g. XTREME's translate-train files converted), explicitly opted in",
                "the translated variant arm", "drop translated from variants.arms and study.arms"))
    if "mlm" in va["arms"] and va["mlm"]["corpus"] not in ("pretrain", "wikipedia"):  # else: generated or the hub's
        for lang in va["mlm"]["languages"]:
            path = str(Path(va["mlm"]["corpus"]) / f"{lang}.txt")
            out.append(ManualInput(
                "masked-LM text", "variants.mlm.corpus", path, _resolve(path, root).is_file(),
                f"monolingual {lang} text, one sentence per line (or `variants.mlm.corpus: wikipedia`: the hub's "
                f"Wikipedia at a pinned revision)",
                "the mlm variant arm", "drop mlm from variants.arms and study.arms"))
    return out


def _lareqa(params: dict, root: Path) -> list[ManualInput]:
    if "lareqa" not in params["study"]["target_tasks"] or not params["hub"].get("lareqa_dir"):
        return []
    base = params["hub"]["lareqa_dir"]
    from ..data.hub.lareqa import POOL_LANGUAGES

    out = []
    for lang in POOL_LANGUAGES:  # the pool is all 11 languages, whatever hub.target_languages.lareqa keeps
        path = str(Path(base) / f"{lang}.json")
        out.append(ManualInput(
            "LAReQA's released XQuAD-R (with sentence breaks)", "hub.lareqa_dir", path, _resolve(path, root).is_file(),
            "github.com/google-research-datasets/lareqa, folder xquad-r/ (CC BY-SA 4.0; what XTREME's "
            "download_data.sh fetches)", "the lareqa target (XTREME-R's own pools)",
            "set hub.lareqa_dir: null and pin hub.revisions.lareqa (the hub rows, split by xstilts' rule: not "
            "comparable), or drop lareqa from study.target_tasks"))
    return out


def _mewslix(params: dict, root: Path) -> list[ManualInput]:
    if "mewslix" not in params["study"]["target_tasks"] or not params["hub"].get("mewslix_dir"):
        return []  # without a folder, validation refuses the target (hub_target_refusal)
    base = params["hub"]["mewslix_dir"]
    from ..data.hub.prepare import target_languages

    files = [f"mentions.{lang}.jsonl" for lang in target_languages(params["hub"], "mewslix")[0]] + ["candidates.jsonl"]
    out = []
    for name in files:
        path = str(Path(base) / "test" / name)
        out.append(ManualInput(
            "Mewsli-X (user-built)", "hub.mewslix_dir", path, _resolve(path, root).is_file(),
            "google-research dense_representations_for_entity_retrieval/mel/get-mewsli-x.sh, converted to "
            "load_mewslix's format (xstilts.data.hub.targets.MEWSLIX_INSTRUCTIONS)", "the mewslix target",
            "drop mewslix from study.target_tasks"))
    return out


def _mirror(params: dict, root: Path) -> list[ManualInput]:
    hp = params["hub"]
    if not hp.get("data_dir"):
        return []
    from ..data.hub.prepare import mirror_files

    out = []
    for key, files in sorted(mirror_files(params).items()):
        missing = [f for f in files if not _resolve(f, root).is_file()]
        detail = ""
        if missing:
            shown = ", ".join(str(f) for f in missing[:3])
            detail = f"{len(missing)} of {len(files)} files missing: {shown}" + (" ..." if len(missing) > 3 else "")
        out.append(ManualInput(
            "local hub mirror", "hub.data_dir", str(Path(hp["data_dir"]) / key), not missing,
            "the hub dataset's parquet files at its pinned revision (xstilts.data.hub.revisions), in the hub's "
            "exact schema (layout: xstilts.data.hub.prepare); the rehearsal profile's mirror: "
            "`python -m xstilts.rehearsal.mirror .rehearsal`", f"dataset {key}",
            "set hub.data_dir: null to read from the hub", detail))
    return out


def _hub_service(params: dict, root: Path) -> list[ManualInput]:
    hp = params["hub"]
    model = hp["model"]["id"]
    what = []
    if not hp.get("data_dir"):
        what.append("every dataset at its pinned revision")
    if not _resolve(model, root).is_dir():
        what.append(f"the model {model}")
    if not what:
        return []
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    detail = ("HF_HUB_OFFLINE=1: only what is already in the local Hugging Face cache loads" if offline else "")
    return [ManualInput("Hugging Face hub (network service)", "hub.data_dir / hub.model", "https://huggingface.co",
                        None, "network access from the machine that runs `dvc repro`", " and ".join(what),
                        "a local mirror (hub.data_dir) for the datasets; a local model directory as hub.model.id",
                        detail)]


def missing(items: Iterable[ManualInput]) -> list[ManualInput]:
    return [i for i in items if i.present is False]


def render(items: list[ManualInput]) -> list[str]:
    """Lines for `xstilts check` / `xstilts plan`: per group, every input with its status, path and source."""
    if not items:
        return ["manual inputs: none (everything this profile reads is generated or fetched by the pipeline)"]
    n_missing = len(missing(items))
    n_present = sum(i.present is True for i in items)
    n_unchecked = sum(i.present is None for i in items)
    lines = [f"manual inputs: {n_missing} missing, {n_present} present, {n_unchecked} not checked"]
    groups: dict[tuple[str, str], list[ManualInput]] = {}
    for item in items:
        groups.setdefault((item.group, item.key), []).append(item)
    for (group, key), members in groups.items():
        lines.append(f"  {group} (`{key}`), for {members[0].needed_for}:")
        width = max(len(m.path) for m in members)
        for m in members:
            lines.append(f"    {m.status:<12}{m.path:<{width}}  {m.source}")
            if m.detail:
                lines.append(f"    {'':<12}{m.detail}")
        if any(m.present is False for m in members):
            lines.append(f"    without them: {members[0].without}")
    return lines


def require(params: dict, root: Path | None = None) -> list[ManualInput]:
    """Raise ManualInputError (one line: every missing path per key, and the fixes) when a manual input is
    missing; returns the list otherwise. Called by `prepare` before it reads or downloads anything."""
    items = manual_inputs(params, root)
    gone = missing(items)
    if not gone:
        return items
    parts = []
    groups: dict[str, list[ManualInput]] = {}
    for item in gone:
        groups.setdefault(item.key, []).append(item)
    for key, members in groups.items():
        paths = ", ".join(m.detail or m.path for m in members) if members[0].detail else \
            ", ".join(m.path for m in members)
        parts.append(f"`{key}` ({members[0].group}): {paths} (or {members[0].without})")
    raise ManualInputError(f"{len(gone)} manual input(s) missing, nothing was read or downloaded: "
                           + "; ".join(parts) + "; `xstilts check` lists each with where to get it")
