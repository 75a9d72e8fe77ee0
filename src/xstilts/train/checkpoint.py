"""Epoch checkpoints of the training loop (`training.fit(checkpoint=...)`): a run killed at any point (even
`kill -9`) and started again with the same inputs resumes after its last completed epoch and ends with exactly
the weights, losses and dev scores of an uninterrupted run (bit-identical on one machine).

A checkpoint directory holds `epoch-<k>/` with
- `model.safetensors`: the weights after epoch k;
- `state.safetensors`: the optimizer's tensors (AdamW moments and step counts) and the torch RNG states;
- `state.json`: epoch, optimizer step, per-epoch losses and dev scores, the optimizer's param groups, the LR
  scheduler's state, Python's and NumPy's global RNG states, and the fingerprint of the run.
Each `epoch-<k>/` is written atomically (`io.atomic_path`) before the previous one is removed, so a kill leaves
the last complete epoch. Nothing is pickled (no `torch.load`). The fingerprint is a digest of everything that
determines the run (initial weights and which of them train, the tokenised training features, every
hyperparameter); a checkpoint with another fingerprint is discarded and training restarts from scratch. After
the last epoch the optimizer state is dropped (weights, results and RNG states stay): a finished fit is
restored without training.

The stages keep one directory per fit under `.checkpoints/<stage>/<instance>/` (outside DVC's outputs, which
`dvc repro` deletes before it runs a stage) and remove `.checkpoints/<stage>/<instance>` once every output of the
stage is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.io import atomic_path, pid_alive

_PREFIX = "epoch-"


def clear(path: Path) -> None:
    """Remove a stage invocation's checkpoints (after its outputs are written)."""
    shutil.rmtree(path, ignore_errors=True)


def fingerprint(model: torch.nn.Module, feats: list, hyper: dict[str, Any]) -> str:
    """md5 of the initial weights (and whether each parameter trains), the training features and `hyper`."""
    h = hashlib.md5(json.dumps(hyper, sort_keys=True).encode())
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(repr([(n, p.requires_grad) for n, p in model.named_parameters()]).encode())
    for f in feats:
        ids = np.ascontiguousarray(f.ids)
        h.update(f"{f.example}:{ids.dtype}:{ids.shape}:{np.asarray(f.target).tolist()!r}".encode())
        h.update(ids.tobytes())
    return h.hexdigest()


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return tensors, {"python": [version, list(internal), gauss],
                     "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def _set_rng_state(tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")),
                                       key=lambda k: int(k.rsplit(".", 1)[1]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


class EpochCheckpoint:
    """The checkpoints of one fit in `path`, valid only for runs with the same `fingerprint`."""

    def __init__(self, path: Path | str, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint

    def _epochs(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        found = [p for p in self.path.iterdir() if p.name.startswith(_PREFIX) and p.name[len(_PREFIX):].isdigit()]
        return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]), reverse=True)

    def restore(self, model: torch.nn.Module, opt: torch.optim.Optimizer, sched, result) -> tuple[int, int]:
        """Load the newest checkpoint of this run into `model`, `opt`, `sched`, the RNGs and `result` (losses,
        evals, resumed); returns (first epoch still to run, optimizer steps done). (0, 0) without one."""
        from safetensors.torch import load_file, load_model

        for ckpt in self._epochs():
            try:
                state = json.loads((ckpt / "state.json").read_text())
            except (OSError, ValueError):
                continue  # not a complete checkpoint (written atomically, so only by hand); try an older one
            if state.get("fingerprint") != self.fingerprint:
                print(f"checkpoint {ckpt}: from a run with other inputs; discarded, training from the start",
                      file=sys.stderr)
                clear(self.path)
                return 0, 0
            try:  # both files are read whole before the model is touched: a torn file changes nothing
                tensors = load_file(str(ckpt / "state.safetensors"))
                load_model(model, str(ckpt / "model.safetensors"), strict=True,
                           device=str(next(model.parameters()).device))
            except Exception as exc:  # a truncated or corrupt file (a crash, a full disk): drop it, try an older one
                print(f"checkpoint {ckpt}: unreadable ({type(exc).__name__}: {str(exc)[:120]}); removed, trying an "
                      f"older checkpoint", file=sys.stderr)
                shutil.rmtree(ckpt, ignore_errors=True)
                continue
            if not state["final"]:
                opt.load_state_dict(_optimizer_state(tensors, state["optimizer"]))
                sched.load_state_dict(state["scheduler"])
            _set_rng_state(tensors, state["rng"])
            result.losses[:] = state["losses"]
            result.evals[:] = state["evals"]
            result.resumed = state["epoch"] + 1
            print(f"checkpoint {ckpt}: resuming after epoch {state['epoch'] + 1}", file=sys.stderr)
            return state["epoch"] + 1, state["step"]
        return 0, 0

    def save(self, epoch: int, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer, sched, result, *,
             final: bool) -> None:
        """Write `epoch-<epoch>/` atomically, then remove older epochs. `final`: weights and results only."""
        from safetensors.torch import save_file, save_model

        name = f"{_PREFIX}{epoch:04d}"
        state: dict[str, Any] = {"fingerprint": self.fingerprint, "epoch": epoch, "step": step, "final": final,
                                 "losses": list(result.losses), "evals": list(result.evals)}
        tensors, state["rng"] = _rng_state()
        if not final:
            opt_tensors, state["optimizer"] = _flatten_optimizer(opt.state_dict())
            tensors.update(opt_tensors)
            state["scheduler"] = sched.state_dict()
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path / name) as tmp:
            tmp.mkdir()
            save_model(model, str(tmp / "model.safetensors"))
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / "state.safetensors"))
            (tmp / "state.json").write_text(json.dumps(state, sort_keys=True))
        for old in self._epochs():
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        _clear_dead_writers(self.path)  # what a writer killed while saving any epoch left behind


def _clear_dead_writers(directory: Path) -> None:
    """Remove `atomic_path` temporaries of any epoch (`.epoch-NNNN.<pid>.<random>`) whose writer is dead: a kill
    between the rename and the cleanup leaves one, and later epochs have other names, so `atomic_path`'s own
    per-name cleanup never meets it."""
    pattern = re.compile(rf"\.{re.escape(_PREFIX)}\d{{4}}\.(\d+)\.[a-z0-9_]{{8}}")
    for entry in directory.iterdir():
        m = pattern.fullmatch(entry.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _flatten_optimizer(sd: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer state_dict as safetensors tensors (`optim.<param>.<key>`) + a JSON-able rest."""
    tensors, rest = {}, {}
    for pid, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                rest.setdefault(str(pid), {})[key] = value
    return tensors, {"state": rest, "param_groups": sd["param_groups"],
                     "params": sorted(int(p) for p in sd["state"])}


def _optimizer_state(tensors: dict[str, torch.Tensor], saved: dict) -> dict:
    state: dict[int, dict[str, Any]] = {pid: dict(saved["state"].get(str(pid), {})) for pid in saved["params"]}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state[int(pid)][name] = value
    return {"state": state, "param_groups": saved["param_groups"]}
