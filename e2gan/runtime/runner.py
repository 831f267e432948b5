"""Running one concept fast on many frames: the prompt is embedded once, frames go through in batches, in PyTorch or
in an exported runtime (ONNX Runtime, OpenVINO, ExecuTorch: an fp32 export made on the fly, or a given file). Any
frame size works: every runtime pads to the backbone's size multiple and crops back (``e2gan.inference``); a
fixed-size format (ExecuTorch) is exported once per frame size. ``auto`` picks the fastest runtime that is installed,
in the order a measured table gives (``measured.json``, written by ``python -m benchmarks.runtimes``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from e2gan.config import DEFAULT_DEVICE
from e2gan.inference import concept_module, edit_frames, edit_images, pick_device

RUNTIMES = ("torch", "onnx", "openvino", "executorch")
MEASURED = Path(__file__).with_name("measured.json")
_PACKAGE = {"torch": "torch", "onnx": "onnxruntime", "openvino": "openvino", "executorch": "executorch"}


def installed(runtime: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(_PACKAGE[runtime]) is not None


def fastest_installed() -> tuple[str, str]:
    """``(runtime, why)``: the first runtime of the measured order whose package is installed (torch is always there)."""
    try:
        table = json.loads(MEASURED.read_text())
        order = [r for r in table["order"] if r in RUNTIMES]
        source = f"measured on {table.get('machine', 'a CPU')} ({table.get('what', 'benchmarks/runtime')})"
    except (OSError, ValueError, KeyError):
        order, source = ["torch"], "no measured table: torch"
    for r in order + ["torch"]:
        if installed(r):
            return r, source
    return "torch", source


class ConceptRunner:
    """``frames (N, H, W, 3) uint8 -> edited frames`` for one prompt at one LoRA ``strength``."""

    def __init__(self, student, prompt: str, runtime: str = "torch", device: str = DEFAULT_DEVICE, strength: float = 1.0, batch: int = 8,
                 onnx_path=None, threads: int | None = None, full_res: str | None = None, work_size: int | None = None):
        if runtime == "auto":
            runtime = fastest_installed()[0] if pick_device(device).type == "cpu" else "torch"
        if runtime not in RUNTIMES:
            raise ValueError(f"--runtime {runtime!r}: use one of {', '.join(RUNTIMES)} or auto")
        if not installed(runtime):
            raise ValueError(f"--runtime {runtime}: {_PACKAGE[runtime]} is not installed (pip install 'e2gan[{'onnx' if runtime == 'onnx' else 'mobile'}]')")
        self.runtime, self.batch, self.prompt, self.strength = runtime, max(1, int(batch)), prompt, strength
        self.device = pick_device(device)
        self.student, self.threads = student, threads or torch.get_num_threads()
        self._sized: dict = {}
        self._build(student, prompt, runtime, strength, onnx_path)
        from e2gan.fullres import default_mode, full_resolution

        # frames larger than the working size: the concept at that size (in the runtime), its edit carried in torch
        self.full_res, self.full_res_why = (full_res, "asked for") if full_res else default_mode(student)
        self.module = full_resolution(student, self.module, self.full_res, work_size)

    def _build(self, student, prompt, runtime, strength, onnx_path):
        if runtime == "torch":
            self.module = concept_module(student, prompt, strength).to(self.device)
            return
        self._tmp = tempfile.TemporaryDirectory(prefix=f"e2gan-{runtime}-")
        if runtime == "executorch":
            self.batch = 1  # a .pte is exported at batch 1 and one frame size
            self.module = self._fixed_size
            return
        from e2gan.runtime import formats

        path = onnx_path if runtime == "onnx" and onnx_path else None
        if path is None:
            path = formats.export(runtime, student, prompt, Path(self._tmp.name) / f"concept{formats.FORMATS[runtime].suffix}", 64,
                                  strength=strength)
        self.module = formats.load(runtime, path, self.threads)

    def _fixed_size(self, x: torch.Tensor) -> torch.Tensor:
        """ExecuTorch: the program for this frame size (exported the first time a size is seen)."""
        key = tuple(x.shape[-2:])
        if key not in self._sized:
            from e2gan.runtime.executorch import ExecuTorchModule, export_executorch

            path = Path(self._tmp.name) / f"concept-{key[0]}x{key[1]}.pte"
            export_executorch(self.student, self.prompt, path, size=0, strength=self.strength, shape=key)
            self._sized[key] = ExecuTorchModule(path)
        return self._sized[key](x)

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return edit_frames(self.module, frames, self.batch, self.device if self.runtime == "torch" else None)

    def edit_images(self, images) -> list:
        """PIL images (any sizes) -> edited PIL images of the same sizes."""
        return edit_images(self, images, self.batch)
