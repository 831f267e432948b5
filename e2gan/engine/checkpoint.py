"""Checkpoints of a training run, for exact resume: generator, discriminator, optimisers, torch's RNG state,
the step (which is also the data position: see ``e2gan.engine.batches``), the elapsed time and the loss log, written atomically under ``OUT/checkpoints/step-NNNNNNNN``.

Weights and RNG states are safetensors; the optimisers' state is e2gan's own file, read back with
``torch.load(weights_only=True)`` (tensors and numbers only, no code). ``state.json`` is written last and
lists every file's SHA-256: a checkpoint whose files do not match (a crash mid-write, a truncated copy)
is skipped with a message, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

CHECKPOINTS = "checkpoints"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(folder, step: int, G, D, opt_g, opt_d, extra: dict, keep: int = 2) -> Path:
    """Write checkpoint ``step`` into ``folder/checkpoints`` (a temporary folder renamed into place), keep the last ``keep``."""
    root = Path(folder) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}, str(tmp / "generator.safetensors"))
    if D is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in D.state_dict().items()}, str(tmp / "discriminator.safetensors"))
    torch.save({"g": opt_g.state_dict(), "d": None if opt_d is None else opt_d.state_dict()}, tmp / "optimizers.pt")
    save_file({"torch": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
    files = {p.name: _sha(p) for p in sorted(tmp.iterdir())}
    state = {"step": step, "files": files, **extra}
    with open(tmp / "state.json", "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in sorted(root.glob("step-*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest(folder) -> tuple[Path, dict] | None:
    """The newest checkpoint whose files all match their recorded hashes (corrupt ones are reported and skipped)."""
    root = Path(folder) / CHECKPOINTS
    for ck in sorted(root.glob("step-*"), reverse=True):
        try:
            state = json.loads((ck / "state.json").read_text())
            bad = [name for name, sha in state["files"].items() if not (ck / name).is_file() or _sha(ck / name) != sha]
            if bad:
                raise ValueError(f"{', '.join(bad)} do not match their recorded hashes")
            return ck, state
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(f"skipping checkpoint {ck} ({exc}): it is incomplete or corrupt; an earlier one is used if there is one")
    return None


def load(ck: Path, G, D, opt_g, opt_d) -> None:
    G.load_state_dict(load_file(str(ck / "generator.safetensors")))
    if D is not None:
        D.load_state_dict(load_file(str(ck / "discriminator.safetensors")))
    opts = torch.load(ck / "optimizers.pt", weights_only=True)  # e2gan's own file, verified by hash; tensors and numbers only
    opt_g.load_state_dict(opts["g"])
    if opt_d is not None and opts["d"] is not None:
        opt_d.load_state_dict(opts["d"])
    rng = load_file(str(ck / "rng.safetensors"))
    torch.set_rng_state(rng["torch"])


def clear(folder) -> None:
    shutil.rmtree(Path(folder) / CHECKPOINTS, ignore_errors=True)
