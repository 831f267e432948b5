"""Tiny things built in code for the conformance kit: smooth photos, pairs, a random student."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def tiny_images(count: int = 4, size: int | tuple[int, int] = 32, seed: int = 0) -> list[Image.Image]:
    """Smooth synthetic RGB photos (gradients and a disc) so edits have structure to act on."""
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        img = np.stack([np.sin(xx * rng.uniform(2, 6) + rng.uniform(0, 3)), np.cos(yy * rng.uniform(2, 6)), xx * yy], -1)
        img = (img - img.min()) / (img.max() - img.min() + 1e-9)
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.25)
        img[((xx - cx) ** 2 + (yy - cy) ** 2) < r**2] = rng.uniform(0, 1, 3)
        out.append(Image.fromarray((img * 255).astype(np.uint8)))
    return out


def perturb_weights(module: torch.nn.Module, relative: float = 0.05, seed: int = 0) -> torch.nn.Module:
    """Move every weight by ``relative`` of its tensor's spread (``relative`` itself where the tensor is constant, as a
    zero-initialised head), so that the output depends on all of them. Relative, so the output stays in range: an absolute
    step drove comodgan's unbounded output to thousands and saturated nearly every pixel, which tests nothing."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            spread = float(p.std()) if p.numel() > 1 else 0.0
            p.add_(torch.randn(p.shape, generator=g).to(p) * relative * (spread or 1.0))
    return module


def photo(seed: int, size: int = 48) -> Image.Image:
    """One smooth synthetic photo (gradients + a disc) so edits have structure to act on."""
    return tiny_images(1, size, seed)[0]


def tiny_pairs(count: int = 12, size: int = 32, prompt: str = "warm tint", seed: int = 0):
    """A ``PairTensors`` whose targets are a fixed edit (warmer, mirrored) of smooth sources."""
    from e2gan.data.dataset import PairTensors

    src = torch.stack([torch.from_numpy(np.asarray(im)).permute(2, 0, 1) for im in tiny_images(count, size, seed)])
    tgt = src.flip(-1).float() * torch.tensor([1.1, 1.0, 0.8])[:, None, None]
    return PairTensors(src, tgt.clamp(0, 255).round().to(torch.uint8), [prompt] * count)


def tiny_student(backbone: str = "e2gan-small", seed: int = 0, **config):
    """A random text-conditioned student whose output is not the identity (its zero head is perturbed)."""
    from e2gan.student import Student

    torch.manual_seed(seed)
    student = Student.create(backbone, "hashed-words", text_settings={"dim": 16, "max_tokens": 8}, **config)
    with torch.no_grad():
        for name, p in student.generator.named_parameters():
            if name.startswith("head") or "film" in name:
                p.normal_(0, 0.05)
    return student.__class__(student.generator.eval(), student.backbone, student.text_encoder, student.text_encoder_name, student.meta)


def tiny_invert_adapter(root, name: str = "invert") -> Path:
    """A tiny base in ``root/base`` and an adapter trained on it to invert colours, in ``root/NAME``: a concept
    whose edit is plain to see, for tests of the paths that apply one (video, the web page)."""
    from e2gan.adapt import finetune
    from e2gan.data.dataset import PairTensors
    from e2gan.engine import TrainConfig

    root = Path(root)
    base = tiny_student("e2gan-small")
    base.meta["resolution"] = 32  # the side its adapter trains at: both work at 32 px on larger frames
    base.save_pretrained(root / "base")
    src = torch.randint(0, 256, (4, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    finetune(str(root / "base"), PairTensors(src, 255 - src, ["invert"] * 4), root / name,
             TrainConfig(steps=40, batch_size=4, lr=2e-2, gan_weight=0), progress=False)
    return root / name
