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

from e2gan.files import CHECKPOINTS, read_json  # noqa: E402


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


def latest(folder, G=None, D=None, opt_g=None, opt_d=None) -> tuple[Path, dict] | None:
    """The newest checkpoint whose files all match their recorded hashes; with models given, also loaded into them.
    A checkpoint that is incomplete, corrupt or fails to load (a tampered optimiser file is refused by the weights-only
    loader) is reported in one line and skipped for the one before it; the models are left as they were."""
    root = Path(folder) / CHECKPOINTS
    for ck in sorted(root.glob("step-*"), reverse=True):
        try:
            state = read_json(ck / "state.json", "delete that checkpoint folder")
            bad = [name for name, sha in state["files"].items() if not (ck / name).is_file() or _sha(ck / name) != sha]
            if bad:
                raise ValueError(f"{', '.join(bad)} do not match their recorded hashes")
            if G is not None:
                _load_or_restore(ck, G, D, opt_g, opt_d)
            return ck, state
        except Exception as exc:  # noqa: BLE001  any failure to read a checkpoint falls back to the one before
            why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            warnings.warn(f"skipping checkpoint {ck} ({type(exc).__name__}: {why}): it is incomplete or corrupt "
                          "(or not e2gan's); an earlier one is used if there is one")
    return None


def _load_or_restore(ck: Path, G, D, opt_g, opt_d) -> None:
    """:func:`load`, or nothing at all: on failure every model, optimiser and the RNG are put back as they were."""
    import copy

    before = [(m, copy.deepcopy(m.state_dict())) for m in (G, D, opt_g, opt_d) if m is not None]
    rng = torch.get_rng_state()
    try:
        load(ck, G, D, opt_g, opt_d)
    except BaseException:
        for m, sd in before:
            m.load_state_dict(sd)
        torch.set_rng_state(rng)
        raise


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
