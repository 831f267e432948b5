"""Step 4, Ship: export one concept of a student to ONNX (adapter merged, prompt embedding baked in),
checked against eager PyTorch with ONNX Runtime."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn


class ConceptModule(nn.Module):
    """``image -> edited image`` for one prompt: the text embedding becomes a constant."""

    def __init__(self, generator: nn.Module, embeds: torch.Tensor | None, mask: torch.Tensor | None):
        super().__init__()
        self.generator = generator
        self.conditioned = embeds is not None
        if self.conditioned:
            self.register_buffer("embeds", embeds, persistent=False)
            self.register_buffer("mask", mask, persistent=False)

    def forward(self, image):
        if not self.conditioned:
            return self.generator(image)
        b = image.shape[0]
        return self.generator(image, self.embeds.expand(b, -1, -1), self.mask.expand(b, -1))


def concept_module(student, prompt: str) -> ConceptModule:
    s = copy.deepcopy(student)
    if hasattr(s.generator, "merge_and_unload"):
        s.generator = s.generator.merge_and_unload()
    embeds, mask = s.embed([prompt])
    if embeds is not None:  # keep only the prompt's real tokens: smaller graph, same result
        keep = mask[0]
        embeds, mask = embeds[:, keep], mask[:, keep]
    return ConceptModule(s.generator.eval(), embeds, mask).eval()


def export_onnx(student, prompt: str, path, size: int = 256, opset: int = 17) -> Path:
    """Write ``path`` (.onnx) with dynamic batch, height and width."""
    from e2gan.io import atomic_save_file

    module = concept_module(student, prompt)
    example = torch.zeros(2, 3, size, size)

    def save(tmp):
        torch.onnx.export(module, (example,), tmp, input_names=["image"], output_names=["edited"], opset_version=opset, dynamo=False,
                          dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "edited": {0: "batch", 2: "height", 3: "width"}})

    atomic_save_file(path, save)
    return Path(path)


def onnx_session(path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@torch.no_grad()
def check_onnx(student, prompt: str, path, size: int = 64, batch: int = 2) -> float:
    """Max |ONNX Runtime - eager| on a random batch (a different size from the export's example)."""
    module = concept_module(student, prompt)
    x = torch.rand(batch, 3, size, size) * 2 - 1
    want = module(x).numpy()
    got = onnx_session(path).run(None, {"image": x.numpy()})[0]
    return float(abs(want - got).max())
