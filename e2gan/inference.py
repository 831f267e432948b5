"""The one inference path. Every way of running a model on pictures (``Student.edit`` and ``predict``, the torch
runtime, ONNX and the other exports, video, the web page) pads an image to the backbone's ``size_multiple``
(edge-replicated, right and bottom) and crops the output back here, so that all of them give the same pixels
for the same photo, whatever its size.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from e2gan.lora import base_model

#: the size multiple of a backbone that declares none (three stride-2 stages, as e2gan's own generators)
DEFAULT_SIZE_MULTIPLE = 8


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` (the default everywhere: ``e2gan.config.DEFAULT_DEVICE``) is CUDA when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def size_multiple(generator: nn.Module) -> int:
    """What the backbone declares its height and width must be multiples of."""
    return int(getattr(base_model(generator), "size_multiple", DEFAULT_SIZE_MULTIPLE) or 1)


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """``image`` (B, C, H, W) edge-replicated on the right and bottom to multiples of ``multiple``."""
    h, w = image.shape[-2], image.shape[-1]
    return F.pad(image, (0, (multiple - w % multiple) % multiple, 0, (multiple - h % multiple) % multiple), mode="replicate")


def run_padded(generator: nn.Module, image: torch.Tensor, embeds=None, mask=None, multiple: int | None = None) -> torch.Tensor:
    """``generator`` on ``image`` (any height and width): padded to the size multiple, run, cropped back."""
    m = size_multiple(generator) if multiple is None else multiple
    h, w = image.shape[-2], image.shape[-1]
    x = pad_to_multiple(image, m).contiguous()  # one memory layout: conv kernels (and their rounding) differ by layout
    y = generator(x) if embeds is None else generator(x, embeds, mask)
    return y[:, :, :h, :w]


class ConceptModule(nn.Module):
    """``image -> edited image`` for one prompt, any height and width: the prompt's embedding is a constant and the
    padding to the generator's size multiple happens inside the module (and inside an exported graph)."""

    def __init__(self, generator: nn.Module, embeds: torch.Tensor | None, mask: torch.Tensor | None, multiple: int = DEFAULT_SIZE_MULTIPLE):
        super().__init__()
        self.generator = generator
        self.multiple = int(multiple)
        self.conditioned = embeds is not None
        if self.conditioned:
            self.register_buffer("embeds", embeds, persistent=False)
            self.register_buffer("mask", mask, persistent=False)

    def forward(self, image):
        if not self.conditioned:
            return run_padded(self.generator, image, multiple=self.multiple)
        b = image.shape[0]
        return run_padded(self.generator, image, self.embeds.expand(b, -1, -1), self.mask.expand(b, -1), self.multiple)


def concept_module(student, prompt: str, strength: float = 1.0, rewrite: bool = True) -> ConceptModule:
    """The student's generator for ``prompt`` alone, its LoRA merged at ``strength`` (the student is not changed).

    ``strength`` multiplies the student's own (``Student.strength``: the weight ``--model a:W`` gave its adapter).
    ``rewrite``: where the backbone offers ``for_inference()`` (the same function as a faster graph, exact up to float
    rounding), use it; every export and runtime goes through here, so all of them get it."""
    from e2gan.lora import WEIGHTS, set_strength

    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"--strength {strength}: use a value from 0 (the base alone) to 1 (the adapter as trained), at most 2")
    generator = student.generator  # a base is used as it is (a copy could round differently: oneDNN picks kernels by layout)
    total = float(getattr(student, "strength", 1.0)) * strength
    if hasattr(generator, "merge_and_unload"):
        generator = copy.deepcopy(generator)
        set_strength(generator, total, WEIGHTS)
        generator = generator.merge_and_unload()
    elif strength != 1.0:
        raise ValueError(f"--strength {strength} scales an adapter's effect, and {student.meta.get('stage', 'this model')} has no adapter")
    embeds, mask = student.embed([prompt], strength=total)  # before merging: a learned prompt lives beside the adapter
    if embeds is not None:  # keep only the prompt's real tokens: smaller graph, same result
        embeds, mask = embeds.detach().cpu(), mask.cpu()
        keep = mask[0]
        embeds, mask = embeds[:, keep], mask[:, keep]
    generator.eval()
    if rewrite and hasattr(generator, "for_inference"):
        generator = generator.for_inference()
    return ConceptModule(generator, embeds, mask, size_multiple(generator)).eval()


@torch.no_grad()
def edit_frames(module: nn.Module, frames, batch: int = 8, device=None):
    """uint8 frames (N, H, W, 3) of one size -> edited uint8 frames, ``batch`` at a time, through ``module``
    (a :class:`ConceptModule`, or any callable taking and returning [-1, 1] tensors)."""
    import numpy as np

    from e2gan.data.images import u8_to_unit, unit_to_u8

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (N, H, W, 3), got {frames.shape}")
    out = []
    for i in range(0, len(frames), max(1, int(batch))):
        x = u8_to_unit(torch.from_numpy(np.array(frames[i:i + batch])).permute(0, 3, 1, 2))  # a copy: frames may be read-only (PIL)
        y = module(x if device is None else x.to(device))
        y = torch.as_tensor(y)
        out.append(unit_to_u8(y).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out) if out else frames[:0].copy()


def edit_images(run, images, batch: int = 8) -> list:
    """PIL images (any sizes) -> edited PIL images of the same sizes: images of one size go through ``run`` (frames
    (N, H, W, 3) uint8 -> edited frames) together, ``batch`` at a time."""
    import numpy as np
    from PIL import Image

    out: list = [None] * len(images)
    by_size: dict = {}
    for i, img in enumerate(images):
        by_size.setdefault(img.size, []).append(i)
    for idx in by_size.values():
        for j in range(0, len(idx), batch):
            chunk = idx[j:j + batch]
            edited = run(np.stack([np.asarray(images[i].convert("RGB")) for i in chunk]))
            for i, arr in zip(chunk, edited):
                out[i] = Image.fromarray(arr)
    return out
