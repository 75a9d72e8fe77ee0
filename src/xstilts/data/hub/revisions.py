"""Pinned commits of every hub repository the paper profile reads, with where each SHA was seen.

No network was available when these were pinned. Each SHA was copied exactly from public code that loads that
repository at that commit (`load_dataset(..., revision=SHA)`, `hf_hub_download(..., revision=SHA)`, `hf://` paths,
HF cache snapshot paths) or from a huggingface.co URL containing it; none was typed from a short hash. So each is
known to exist and (except where noted) to hold parquet data, but was not loaded here: the first real run is the
check, and `prepare` records the revision it used for every dataset in its metrics.
Override any of them without editing code: `hub.revisions.<dataset key>: <sha>` in params.yaml.
"""

from __future__ import annotations

import re

SHA = re.compile(r"^[0-9a-f]{40}$")


# repo -> (commit SHA, evidence)
PINNED: dict[str, tuple[str, str]] = {
    "nyu-mll/glue": ("bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c",
                     "hf://datasets/nyu-mll/glue@bcdcba79.../mrpc/train-00000-of-00001.parquet in public code; "
                     "load_dataset('nyu-mll/glue', 'mnli', revision=...) pins; parquet at this commit"),
    "rajpurkar/squad": ("7b6d24c440a36b6815f21b70d25016731768db1f",
                        "pinned by several public projects; 'Update dataset card (#8) 7b6d24c' is main's head on "
                        "huggingface.co; README configs plain_text/train-*, plain_text/validation-*"),
    "rajpurkar/squad_v2": ("3ffb306f725f7d2ce8394bc1873b24868140c412",
                           "public code reads squad_v2/{train,validation}-00000-of-00001.parquet at this commit "
                           "(fetched 2026-09-29)"),
    "Rowan/hellaswag": ("218ec52e09a7e7462a5400043bb9a69a41d06b76",
                        "hub head on 2026-09-15 per public code; data/validation-00000-of-00001.parquet (10,042 "
                        "rows) read at this commit"),
    "facebook/anli": ("8e4813d81f46d313dac7892e1c28076917cfcdf9",
                      "hf_hub_download(..., 'plain_text/test_r{1,2,3}-00000-of-00001.parquet', revision=...) in "
                      "public code"),
    "stanfordnlp/snli": ("cdb5c3d5eed6ead6e5a341c8e56e669bb666725b",
                         "plain_text/train-00000-of-00001.parquet at this commit in public code; "
                         "https://huggingface.co/datasets/stanfordnlp/snli/blob/cdb5c3d5.../README.md"),
    "allenai/cosmos_qa": ("ed50fe83db62b355759053b1cd5eef344ee371e0",
                          "commit of refs/convert/parquet (default/train/0000.parquet) in public code; main "
                          "(28d9d5e2...) is a loading script only"),
    "tau/commonsense_qa": ("94630fe30dad47192a8546eb75f094926d47e155",
                           "data/train-00000-of-00001.parquet at this commit; hub head on 2026-09-15 per public "
                           "code"),
    "allenai/social_i_qa": ("537a2ec8ec565adc0b70b70752893e59e024df26",
                            "commit of refs/convert/parquet (default/train/0000.parquet) in public code; main "
                            "(8835ceb9...) is a loading script only"),
    "google/xtreme": ("b6419ab883183e08a85be8eef7cc71562f946684",
                      "the commit that added parquet, 2024-02-22 "
                      "(https://huggingface.co/datasets/google/xtreme/commits/b6419ab8...)"),
    "google-research-datasets/paws-x": ("4cd8187c404bda33cb1f62b49b001115862acf37",
                                        ".../paws-x/resolve/4cd8187c.../zh/validation-00000-of-00001.parquet in "
                                        "public code (observed 2026-09-24)"),
    "cambridgeltl/xcopa": ("042f78955ba48e6404616762fa6e05e839c3907a",
                           "<lang>/{validation,test}-00000-of-00001.parquet read at this commit (observed "
                           "2026-09-24); https://huggingface.co/datasets/cambridgeltl/xcopa/blob/042f7895.../"
                           "README.md"),
    "aps/super_glue": ("3de24cf8022e94f4ee4b9d55a6f539891524d646",
                       "pinned as aps/super_glue's revision with the 'copa' config in public code; parquet layout "
                       "<config>/<split>-00000-of-00001.parquet"),
    "wikimedia/wikipedia": ("b04c8d1ceb2f5cd4588862100d08de323dccfbaa",
                            "three unrelated public projects read 20231101.<lang>/train-0000N-of-000MM.parquet "
                            "(pl, fa, zh, en) from .../datasets/wikimedia/wikipedia/resolve/b04c8d1c.../ (2026); the "
                            "mlm variant's masked-LM text on the paper profile"),
    "FacebookAI/xlm-roberta-large": ("c23d21b0620b635a76227c604d44e43a9f0ee389",
                                     "'Copied from FacebookAI/xlm-roberta-large@c23d21b0...' and HF cache snapshot "
                                     "paths in public code (2026-09)"),
}

# no commit SHA found for these: a branch name, flagged wherever it is used
UNPINNED: dict[str, tuple[str, str]] = {
    "google-research-datasets/xquad_r": ("main", "no full SHA of main's parquet conversion ('Convert dataset to "
                                                 "Parquet (#2)', c6be781) found: the full SHAs seen are "
                                                 "refs/convert/parquet commits of the parquet-converter, or a "
                                                 "README of the loading-script era; the paper profile refuses "
                                                 "lareqa until hub.revisions.lareqa is set (or hub.lareqa_dir)"),
}

PINS: dict[str, str] = {repo: sha for repo, (sha, _) in {**PINNED, **UNPINNED}.items()}


def evidence(repo: str) -> str:
    if repo in PINNED:
        return PINNED[repo][1]
    if repo in UNPINNED:
        return f"UNPINNED: {UNPINNED[repo][1]}"
    raise KeyError(f"no pin recorded for hub repository {repo!r}")
