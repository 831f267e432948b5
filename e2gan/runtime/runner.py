"""Running one concept fast on many frames: the prompt is embedded once, frames go through in batches, in
PyTorch or in ONNX Runtime (an fp32 export made on the fly, or a given .onnx). Any frame size works: both pad to
the backbone's size multiple and crop back, through the one inference path (``e2gan.inference``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from e2gan.config import DEFAULT_DEVICE
from e2gan.inference import concept_module, edit_frames, edit_images, pick_device

RUNTIMES = ("torch", "onnx")


class ConceptRunner:
    """``frames (N, H, W, 3) uint8 -> edited frames`` for one prompt at one LoRA ``strength``."""

    def __init__(self, student, prompt: str, runtime: str = "torch", device: str = DEFAULT_DEVICE, strength: float = 1.0, batch: int = 8,
                 onnx_path=None, threads: int | None = None):
        from e2gan.runtime.export import export_onnx, onnx_session

        if runtime not in RUNTIMES:
            raise ValueError(f"--runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
        self.runtime, self.batch, self.prompt, self.strength = runtime, max(1, int(batch)), prompt, strength
        self.device = pick_device(device)
        if runtime == "torch":
            self.module = concept_module(student, prompt, strength).to(self.device)
        else:
            if onnx_path is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="e2gan-onnx-")
                onnx_path = export_onnx(student, prompt, Path(self._tmp.name) / "concept.onnx", size=64, strength=strength)
            session = onnx_session(onnx_path, threads or torch.get_num_threads())
            self.module = lambda x: session.run(None, {"image": x.numpy()})[0]

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return edit_frames(self.module, frames, self.batch, self.device if self.runtime == "torch" else None)

    def edit_images(self, images) -> list:
        """PIL images (any sizes) -> edited PIL images of the same sizes."""
        return edit_images(self, images, self.batch)
