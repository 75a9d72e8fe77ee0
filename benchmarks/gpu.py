"""GPU check: bf16 fine-tuning throughput, MFU and peak memory of XLM-R Large through the project's own training
loop (`xstilts.train.loop.fit`: bf16 autocast, SDPA attention, fused AdamW, TF32), at the paper profile's batch sizes
and lengths, on synthetic token ids (random weights: no hub access is needed or attempted).

    python benchmarks/gpu.py --out benchmarks/gpu_throughput.json     # on a GPU: under 5 minutes
    python benchmarks/gpu.py --tiny --out /tmp/gpu.json               # a tiny model on CPU (the test runs this)

Per format (pair = XNLI, span = XQuAD/MLQA/TyDiQA, tagging = UD-POS/PAN-X) it times `--steps` optimizer steps of
batch_size x grad_accum examples of exactly `max_length` tokens (no padding) after `--warmup` steps, and reports
steps/s, examples/s, tokens/s, the model FLOP/s, MFU and peak GPU memory. Batch sizes, accumulation and lengths
come from profiles/paper.yaml (`finetune.overrides`: jiant's settings). `xstilts plan` reads the JSON written to
benchmarks/gpu_throughput.json (examples/s per format) instead of its assumed throughput.

FLOPs (Kaplan et al. 2020; PaLM, Chowdhery et al. 2022, appendix B): training FLOPs per token =
6 x N + 12 x n_layers x seq_len x hidden, N = the encoder's non-embedding parameters plus the task head (embedding
lookups are gathers, not matmuls; there is no output softmax over the vocabulary), the second term the attention
score and value matmuls. MFU = achieved model FLOP/s / the GPU's peak dense bf16 FLOP/s (PEAK_BF16_TFLOPS, matched
on torch.cuda.get_device_name(); `--peak-tflops` for another GPU). The JSON also gives `mfu_6N_all_params`, the
cruder 6 x all parameters x tokens, which counts the 256M-parameter word embedding as matmul work.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]

# XLM-R Large (Conneau et al. 2020): the values of FacebookAI/xlm-roberta-large's config.json on the Hugging Face
# hub (the pinned revision c23d21b0620b635a76227c604d44e43a9f0ee389 of profiles/paper.yaml). Not fetched here (no
# network): written from that file as quoted in public code that loads the model; the parameter count they give,
# 558,840,832 without the pooler (559,890,432 with it), matches the published ~560M.
XLMR_LARGE = {"vocab_size": 250002, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096, "max_position_embeddings": 514, "type_vocab_size": 1,
              "layer_norm_eps": 1e-5, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
TINY = {**XLMR_LARGE, "vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 66}

# format -> (the paper-profile target its shape comes from, head outputs)
FORMATS = {"pair": ("xnli", 3), "span": ("xquad", 2), "tagging": ("panx", 7)}

# Peak dense (no 2:4 sparsity) bf16 tensor-core FLOP/s per GPU, in TFLOP/s: NVIDIA's datasheets give the sparse
# figure, twice these. (regex on torch.cuda.get_device_name(), first match wins; label; TFLOP/s; source)
PEAK_BF16_TFLOPS = [
    (r"H200.*NVL", "H200 NVL", 835.0, "NVIDIA H200 datasheet: 1,671 TFLOPS with sparsity [not re-checked here]"),
    (r"GH200", "GH200", 989.4, "NVIDIA GH200 datasheet: 1,979 with sparsity [not re-checked here]"),
    (r"H200", "H200 SXM", 989.4, "NVIDIA H200 datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity (same GH100 "
                                 "compute as H100 SXM)"),
    (r"H100.*NVL", "H100 NVL", 835.0, "NVIDIA H100 datasheet (NVL): 1,671 with sparsity [not re-checked here]"),
    (r"H100.*PCIE", "H100 PCIe", 756.0, "NVIDIA H100 datasheet: BF16 Tensor Core 1,513 TFLOPS with sparsity (PCIe)"),
    (r"H100|H800", "H100 SXM", 989.4, "NVIDIA H100 datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity (SXM)"),
    (r"A100|A800", "A100", 312.0, "NVIDIA A100 datasheet: BF16 Tensor Core 312 TFLOPS (624 with sparsity)"),
    (r"L40S", "L40S", 362.0, "NVIDIA L40S datasheet: 733 with sparsity [not re-checked here]"),
    (r"\bA10\b", "A10", 125.0, "NVIDIA A10 datasheet: BF16 Tensor Core 125 TFLOPS (250 with sparsity)"),
    (r"\bL4\b", "L4", 121.0, "NVIDIA L4 datasheet: 242 with sparsity [not re-checked here]"),
    (r"B200", "B200", 2250.0, "NVIDIA HGX B200 figures: 4.5 PFLOPS with sparsity per GPU [not re-checked here]"),
]


def peak_tflops(device_name: str) -> tuple[float | None, str]:
    """(peak dense bf16 TFLOP/s, its label and source) for a device name; (None, why) when unknown."""
    for pattern, label, tflops, source in PEAK_BF16_TFLOPS:
        if re.search(pattern, device_name.upper()):
            return tflops, f"{label}: {source}"
    return None, f"no peak for {device_name!r} in PEAK_BF16_TFLOPS (give --peak-tflops)"


def paper_shapes() -> dict[str, dict]:
    """{format: batch_size, grad_accum, max_length} of the paper profile (finetune.overrides of its targets)."""
    import yaml

    from xstilts.cli import deep_merge
    from xstilts.train.finetune import hyper

    params = deep_merge(yaml.safe_load((REPO / "params.yaml").read_text()),
                        yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))
    out = {}
    for fmt, (task, _) in FORMATS.items():
        hp = hyper(params, task)
        out[fmt] = {"task": task, "batch_size": hp["batch_size"], "grad_accum": hp["grad_accum"],
                    "max_length": hp["max_length"], "warmup": hp["warmup"], "weight_decay": hp["weight_decay"],
                    "max_grad_norm": hp["max_grad_norm"], "freeze_embeddings": hp["freeze_embeddings"]}
    return out


def synthetic_features(fmt: str, n: int, length: int, vocab: int, labels: int, seed: int) -> list:
    """`n` features of exactly `length` token ids (<s> ... </s>, no padding) in the format's own shape."""
    from xstilts.formats import Feature
    from xstilts.formats.tagging import IGNORE

    rng = np.random.default_rng(seed)
    feats = []
    for i in range(n):
        ids = rng.integers(5, vocab, size=length, dtype=np.int64)
        ids[0], ids[-1] = 0, 2  # <s>, </s>
        if fmt == "pair":
            feats.append(Feature(ids, i, int(rng.integers(labels))))
        elif fmt == "span":  # question in the first quarter, context after it
            ctx = np.zeros(length, dtype=bool)
            ctx[length // 4: length - 1] = True
            start = int(rng.integers(length // 4, length - 3))
            end = min(length - 2, start + int(rng.integers(0, 3)))
            offsets = np.stack([np.arange(length), np.arange(length) + 1], axis=1).astype(np.int64)
            feats.append(Feature(ids, i, (start, end), (ctx, offsets)))
        else:  # tagging: every word piece between <s> and </s> labelled (first sub-tokens)
            tags = np.full(length, IGNORE, dtype=np.int64)
            tags[1:-1] = rng.integers(labels, size=length - 2)
            first = np.where(tags != IGNORE, np.cumsum(tags != IGNORE) - 1, -1).astype(np.int64)
            feats.append(Feature(ids, i, tags, (first, length - 2)))
    return feats


def build_model(cfg: dict, out_features: int, dev: torch.device):
    """A randomly initialised XLM-R encoder (the project's `new_encoder`: SDPA attention, no pooler) + task head."""
    from transformers import XLMRobertaConfig

    from xstilts.train.loop import seed_everything
    from xstilts.train.modeling import TaskModel, new_encoder

    seed_everything(0)
    with torch.device(dev):  # initialise on the GPU directly (XLM-R Large's init on CPU takes tens of seconds)
        encoder = new_encoder(XLMRobertaConfig(**cfg))
        model = TaskModel(encoder, out_features)
    return model


def count_parameters(model) -> tuple[int, int]:
    """(all parameters, non-embedding parameters: the encoder's matmul weights and biases, norms and the head)."""
    total = sum(p.numel() for p in model.parameters())
    embeddings = sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in f".{n}")
    return total, total - embeddings


def measure(fmt: str, shape: dict, cfg: dict, dev: torch.device, steps: int, warmup: int, compile: bool,
            peak: float | None) -> dict:
    from xstilts import formats
    from xstilts.train.loop import FitSettings, fit, runtime_path
    from xstilts.train.modeling import freeze_word_embeddings

    task, out_features = FORMATS[fmt]
    bs, accum, length = shape["batch_size"], shape["grad_accum"], shape["max_length"]
    model = build_model(cfg, out_features, dev)
    freeze_word_embeddings(model, shape["freeze_embeddings"])
    n_all, n_matmul = count_parameters(model)
    per_step = bs * accum
    feats = synthetic_features(fmt, per_step * (warmup + steps), length, cfg["vocab_size"], out_features, seed=1)
    f = formats.get(fmt)
    kw = {"lr": 1e-5, "settings": FitSettings(epochs=1, batch_size=bs, grad_accum=accum, warmup=shape["warmup"],
                                              weight_decay=shape["weight_decay"],
                                              max_grad_norm=shape["max_grad_norm"], compile=compile)}
    cuda = dev.type == "cuda"
    if warmup:  # kernels, cuBLAS workspaces, the allocator (and torch.compile, if asked)
        fit(model, f, feats[: per_step * warmup], seed=0, label=f"gpu-check {fmt} warm-up", **kw)
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    res = fit(model, f, feats[per_step * warmup:], seed=1, label=f"gpu-check {fmt}", **kw)
    if cuda:
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t0
    timed_steps = math.ceil(len(feats[per_step * warmup:]) / per_step)
    examples = timed_steps * per_step
    tokens_per_second = examples * length / seconds
    flops_per_token = 6 * n_matmul + 12 * cfg["num_hidden_layers"] * length * cfg["hidden_size"]
    achieved = tokens_per_second * flops_per_token
    out = {"task": task, "batch_size": bs, "grad_accum": accum, "max_length": length, "steps": timed_steps,
           "seconds": seconds, "steps_per_second": timed_steps / seconds, "examples_per_second": examples / seconds,
           "tokens_per_second": tokens_per_second, "parameters": n_all, "non_embedding_parameters": n_matmul,
           "flops_per_token": flops_per_token, "achieved_tflops": achieved / 1e12,
           "mfu": achieved / (peak * 1e12) if peak else None,
           "mfu_6N_all_params": tokens_per_second * 6 * n_all / (peak * 1e12) if peak else None,
           "peak_memory_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else None,
           "peak_memory_reserved_gib": torch.cuda.max_memory_reserved(dev) / 2**30 if cuda else None,
           "final_loss": res.losses[-1] if res.losses else None,
           "runtime": {k: v for k, v in runtime_path(model, dev, fused=cuda, compiled=compile).items()}}
    del model, res
    if cuda:
        torch.cuda.empty_cache()
    return out


def table(result: dict) -> str:
    rows = [("format", "batch", "len", "steps/s", "examples/s", "tokens/s", "TFLOP/s", "MFU", "peak GiB")]
    for fmt, r in result["results"].items():
        if "error" in r:
            rows.append((fmt, "", "", "", "", "", "", "", r["error"][:40]))
            continue
        rows.append((fmt, f"{r['batch_size']}x{r['grad_accum']}", str(r["max_length"]), f"{r['steps_per_second']:.2f}",
                     f"{r['examples_per_second']:.1f}", f"{r['tokens_per_second']:,.0f}", f"{r['achieved_tflops']:.1f}",
                     f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a",
                     f"{r['peak_memory_gib']:.1f}" if r["peak_memory_gib"] is not None else "n/a"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    head = (f"{result['model']} on {result['device']} ({result['dtype']}; peak {result['peak_bf16_tflops'] or 'n/a'} "
            f"TFLOP/s dense bf16: {result['peak_source']})")
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="write the result as JSON here (xstilts plan reads "
                                             "benchmarks/gpu_throughput.json)")
    ap.add_argument("--tiny", action="store_true", help="a tiny XLM-R and short sequences (CPU test of the script)")
    ap.add_argument("--steps", type=int, default=None, help="timed optimizer steps per format (default 30; tiny 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed optimizer steps first (default 3; tiny 1)")
    ap.add_argument("--formats", default="pair,span,tagging", help="comma-separated subset of pair,span,tagging")
    ap.add_argument("--compile", action="store_true", help="torch.compile the forward (finetune.compile: true)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s of this GPU")
    ap.add_argument("--max-seconds", type=float, default=270.0,
                    help="skip the remaining formats once this much time has passed (default 270)")
    args = ap.parse_args(argv)
    steps = args.steps if args.steps is not None else (2 if args.tiny else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 3)
    chosen = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or steps < 1 or warmup < 0:
        print(f"error: --formats takes {', '.join(FORMATS)} (got {', '.join(unknown)}); --steps >= 1, --warmup >= 0",
              file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    from xstilts.train.loop import device

    dev = device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    if args.peak_tflops is not None:
        peak, source = args.peak_tflops, "given by --peak-tflops"
    elif dev.type == "cuda":
        peak, source = peak_tflops(name)
    else:
        peak, source = None, "CPU: no peak bf16 figure (MFU not computed)"
    cfg = TINY if args.tiny else XLMR_LARGE
    shapes = paper_shapes()
    if args.tiny:
        shapes = {f: {**s, "batch_size": 2, "grad_accum": 2, "max_length": 16} for f, s in shapes.items()}
    if dev.type != "cuda" and not args.tiny:
        print("warning: no GPU visible: XLM-R Large on CPU is very slow; use --tiny to test the script",
              file=sys.stderr)
    result = {"model": "tiny XLM-R (test)" if args.tiny else "XLM-R Large (random weights)", "tiny": args.tiny,
              "device": name, "dtype": "bfloat16 autocast" if dev.type == "cuda" else "float32",
              "torch": torch.__version__, "cuda": torch.version.cuda,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
              "peak_bf16_tflops": peak, "peak_source": source, "config": cfg, "steps": steps, "warmup": warmup,
              "compile": args.compile, "results": {}}
    for fmt in chosen:
        if time.perf_counter() - t_start > args.max_seconds:
            result["results"][fmt] = {"error": f"skipped: --max-seconds {args.max_seconds:g} reached"}
            continue
        try:
            result["results"][fmt] = measure(fmt, shapes[fmt], cfg, dev, steps, warmup, args.compile, peak)
        except torch.cuda.OutOfMemoryError as exc:  # report it and go on with the other formats
            result["results"][fmt] = {"error": f"out of memory: {exc}".splitlines()[0]}
            torch.cuda.empty_cache()
    result["seconds"] = time.perf_counter() - t_start
    print(table(result))
    print(f"total {result['seconds']:.1f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.out}")
    return 1 if any("error" in r for r in result["results"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
