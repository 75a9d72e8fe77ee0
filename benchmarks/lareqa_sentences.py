"""How far LAReQA pools built from the hub rows (xstilts.data.hub.lareqa.split_sentences) are from XTREME-R's, which
use the `sentence_breaks` of LAReQA's released XQuAD-R. Needs those files (github.com/google-research-datasets/lareqa,
folder `xquad-r/`, CC BY-SA 4.0); the hub rows are made from them as the hub's loading script makes them
(huggingface/datasets `datasets/xquad_r/xquad_r.py`: context, question and answer texts stripped, `answer_start`
unchanged). Prints, per language: the candidates of each pool, the answers whose offset had to be found again (and
whether at the true offset), and the questions whose target in that language is the same sentence as XTREME-R's
(compared without surrounding whitespace, which some released breaks include).

    python benchmarks/lareqa_sentences.py <folder with ar.json ... zh.json>
"""

from __future__ import annotations

import argparse

from xstilts.data.hub import lareqa


def hub_rows(released: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {lang: [{"id": r["id"], "context": r["context"].strip(), "question": r["question"].strip(),
                    "answers": {"text": [t.strip() for t in r["answers"]["text"]],
                                "answer_start": list(r["answers"]["answer_start"])}} for r in rows]
            for lang, rows in released.items()}


def targets(pool) -> dict[tuple[str, str], set[str]]:
    """{(question id, language): the texts of that question's targets in that language}."""
    cands = pool[pool.side == "candidate"]
    out: dict[tuple[str, str], set[str]] = {}
    for lang, text, pair_id in zip(cands["lang"], cands["text"], cands["pair_id"]):
        for group in pair_id.split(" ") if pair_id else []:
            out.setdefault((group, lang), set()).add(text.strip())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    args = ap.parse_args()
    released = lareqa.read_released(args.folder)
    hub = hub_rows(released)
    first = lareqa.POOL_LANGUAGES[0]
    ref, ref_stats = lareqa.build_pools(released, [first], candidate_text="sentence")
    ours, our_stats = lareqa.build_pools(hub, [first], candidate_text="sentence")
    a, b = targets(ref[first]), targets(ours[first])
    print(f"{'lang':<5}{'XTREME-R cands':>15}{'hub cands':>10}{'relocated':>10}{'at true offset':>15}"
          f"{'same target':>12}")
    for lang in lareqa.POOL_LANGUAGES:
        exact = 0
        for r, h in zip(released[lang], hub[lang]):
            lead = len(r["context"]) - len(r["context"].lstrip())
            text = r["answers"]["text"][0]
            true = r["answers"]["answer_start"][0] + len(text) - len(text.lstrip()) - lead
            exact += lareqa.locate_answer(h["context"], text.strip(), h["answers"]["answer_start"][0]) == true
        keys = [k for k in a if k[1] == lang]
        same = sum(a[k] == b.get(k) for k in keys)
        print(f"{lang:<5}{ref_stats[lang]['candidates']:>15}{our_stats[lang]['candidates']:>10}"
              f"{our_stats[lang]['relocated']:>10}{exact:>11}/{len(hub[lang]):<4}{same:>7}/{len(keys)}")


if __name__ == "__main__":
    main()
