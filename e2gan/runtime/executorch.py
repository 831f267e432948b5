"""ExecuTorch: a ``.pte`` program for phones (Android, iOS) and edge CPUs, lowered to the XNNPACK delegate, in fp32 or
int8 (PT2E static quantisation, XNNPACK's symmetric per-channel scheme, calibrated on the concept's own pairs).

A ``.pte`` has a fixed input shape (the one it was exported at: ``size``); the prompt is baked in and the adapter merged
(``e2gan.inference.concept_module``). On this machine it runs through ExecuTorch's Python runtime on x86 XNNPACK, the
same kernels a phone's CPU runs (compiled for ARM there)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

INSTALL = "pip install 'e2gan[mobile]'  (executorch)"


def _require():
    try:
        import executorch  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"ExecuTorch export needs executorch: {INSTALL}") from exc


@contextlib.contextmanager
def _quiet():
    """ExecuTorch's runtime prints CPU-probe lines (ARM registers that x86 has not) to stderr: not about the model."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def export_executorch(student, prompt: str, path, size: int = 256, precision: str = "fp32", calibration: torch.Tensor | None = None,
                      strength: float = 1.0, shape: tuple[int, int] | None = None) -> Path:
    """Write ``path`` (.pte) for ``prompt`` at a fixed ``size`` x ``size`` input (or ``shape``: height, width), batch 1,
    lowered to XNNPACK. ``precision``: ``fp32``, or ``int8`` calibrated on ``calibration`` (uint8 (N, 3, H, W) sources
    of the concept)."""
    _require()
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
        XnnpackPartitioner,
    )
    from executorch.exir import to_edge_transform_and_lower

    from e2gan.data.images import u8_to_unit
    from e2gan.inference import concept_module
    from e2gan.io import atomic_write_bytes

    if precision not in ("fp32", "int8"):
        raise ValueError(f"ExecuTorch export: precision {precision!r}; use fp32 or int8")
    module = concept_module(student, prompt, strength).cpu().eval()
    h, w = shape or (size, size)
    example = (torch.zeros(1, 3, h, w),)
    with torch.no_grad():
        if precision == "int8":
            if calibration is None or not len(calibration):
                raise ValueError("int8 export needs calibration images: pass --data (the concept's pairs)")
            from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
                XNNPACKQuantizer,
                get_symmetric_quantization_config,
            )
            from torchao.quantization.pt2e.quantize_pt2e import (
                convert_pt2e,
                prepare_pt2e,
            )

            quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
            graph = prepare_pt2e(torch.export.export(module, example).module(), quantizer)
            for img in calibration:
                x = torch.nn.functional.interpolate(u8_to_unit(img[None]), size=(h, w), mode="bilinear", align_corners=False)
                graph(x)
            module = convert_pt2e(graph)
        program = to_edge_transform_and_lower(torch.export.export(module, example), partitioner=[XnnpackPartitioner()]).to_executorch()
    atomic_write_bytes(path, program.buffer)
    return Path(path)


class ExecuTorchModule:
    """A ``.pte`` as a callable on [-1, 1] tensors (1, 3, size, size), through ExecuTorch's Python runtime."""

    def __init__(self, path):
        _require()
        from executorch.runtime import Runtime

        with _quiet():
            self.method = Runtime.get().load_program(str(path)).load_method("forward")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.method.execute([img[None].contiguous()])[0] for img in x]  # the program's batch is 1
        return torch.cat(outs)
