"""Loading a diffusers pipeline for a teacher: Hub id (with revision) or local folder, dtype, device,
scheduler; and the resolved revision that goes into every manifest record."""

from __future__ import annotations

import hashlib
from pathlib import Path

INSTALL_HINT = "the diffusion teachers need diffusers and transformers: pip install 'e2gan[diffusers]'"


def require_diffusers():
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


def resolve_device(device: str) -> str:
    from e2gan.engine import pick_device

    return str(pick_device(device))


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    try:
        return {"fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
                "fp32": torch.float32, "float32": torch.float32}[dtype]
    except KeyError:
        raise ValueError(f"dtype {dtype!r} is not one of auto, fp16, bf16, fp32") from None


def model_folder(model: str, revision: str | None) -> tuple[Path, str]:
    """(local folder, resolved revision): a Hub snapshot's commit hash, or a digest of a local folder's configs."""
    path = Path(model).expanduser()
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(path.rglob("*.json")):
            h.update(f.relative_to(path).as_posix().encode())
            h.update(f.read_bytes())
        return path, f"local-sha256:{h.hexdigest()[:16]}"
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(model, revision=revision or "main", allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"]))
    except Exception as exc:
        raise FileNotFoundError(f"could not fetch teacher model {model!r} (revision {revision or 'main'}): {type(exc).__name__}: {exc}") from exc
    return folder, folder.name


def set_scheduler(pipe, name: str | None):
    """Swap the scheduler by diffusers class name (e.g. 'DDIMScheduler'), keeping its config."""
    if not name:
        return pipe
    import diffusers

    cls = getattr(diffusers, name, None)
    if cls is None or not hasattr(cls, "from_config"):
        raise ValueError(f"scheduler {name!r} is not a diffusers scheduler class (e.g. EulerAncestralDiscreteScheduler, DDIMScheduler)")
    pipe.scheduler = cls.from_config(pipe.scheduler.config)
    return pipe


def generators(seeds, device):
    import torch

    gen_device = "cpu" if device == "mps" else device
    return [torch.Generator(gen_device).manual_seed(int(s)) for s in seeds]
