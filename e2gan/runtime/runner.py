"""Running one concept fast on many frames: the prompt is embedded once, frames go through in batches, in
PyTorch or in ONNX Runtime (an fp32 export made on the fly, or a given .onnx). Any frame size works: the
graph pads to the backbone's size multiple and crops back (``e2gan.runtime.export.ConceptModule``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

RUNTIMES = ("torch", "onnx")


class ConceptRunner:
    """``frames (N, H, W, 3) uint8 -> edited frames`` for one prompt at one LoRA ``strength``."""

    def __init__(self, student, prompt: str, runtime: str = "torch", device: str = "cpu", strength: float = 1.0, batch: int = 8,
                 onnx_path=None, threads: int | None = None):
        from e2gan.runtime.export import concept_module, export_onnx, onnx_session

        if runtime not in RUNTIMES:
            raise ValueError(f"--runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
        self.runtime, self.batch, self.prompt, self.strength = runtime, max(1, int(batch)), prompt, strength
        self.device = torch.device(device)
        if runtime == "torch":
            self.module = concept_module(student, prompt, strength).to(self.device)
        else:
            if onnx_path is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="e2gan-onnx-")
                onnx_path = export_onnx(student, prompt, Path(self._tmp.name) / "concept.onnx", size=64, strength=strength)
            self.session = onnx_session(onnx_path, threads or torch.get_num_threads())

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames of shape (N, H, W, 3), got {frames.shape}")
        out = []
        for i in range(0, len(frames), self.batch):
            x = torch.from_numpy(np.ascontiguousarray(frames[i:i + self.batch])).permute(0, 3, 1, 2).float() / 127.5 - 1
            if self.runtime == "torch":
                y = self.module(x.to(self.device)).float().cpu()
            else:
                y = torch.from_numpy(self.session.run(None, {"image": x.numpy()})[0])
            out.append(((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
        return np.concatenate(out) if out else frames[:0].copy()

    def edit_images(self, images) -> list:
        """PIL images (any sizes) -> edited PIL images of the same sizes."""
        from PIL import Image

        return [Image.fromarray(self(np.asarray(img.convert("RGB"))[None])[0]) for img in images]
