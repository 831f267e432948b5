"""OpenVINO IR (``.xml`` + ``.bin``) for x86 CPUs: fp32, or int8 (NNCF post-training quantisation, calibrated on the
concept's own pairs). Any batch, height and width: the graph pads to the backbone's size multiple and crops back."""

from __future__ import annotations

from pathlib import Path

import torch

INSTALL = "pip install 'e2gan[openvino]'  (openvino, nncf)"


def _ov():
    try:
        import openvino as ov
    except ImportError as exc:
        raise ImportError(f"OpenVINO export needs openvino: {INSTALL}") from exc
    return ov


def export_openvino(student, prompt: str, path, size: int = 256, precision: str = "fp32", calibration: torch.Tensor | None = None,
                    strength: float = 1.0) -> Path:
    """Write ``path`` (``.xml``, its weights beside it as ``.bin``) for ``prompt``. ``precision``: ``fp32``, or ``int8``
    (NNCF, calibrated on ``calibration``: uint8 (N, 3, H, W) sources of the concept)."""
    import os
    import tempfile

    from e2gan.data.images import u8_to_unit
    from e2gan.inference import concept_module

    ov = _ov()
    if precision not in ("fp32", "int8"):
        raise ValueError(f"OpenVINO export: precision {precision!r}; use fp32 or int8")
    path = Path(path)
    if path.suffix != ".xml":
        raise ValueError(f"--out {path}: an OpenVINO model is a .xml file (its weights go beside it as .bin)")
    model = convert_module(concept_module(student, prompt, strength).cpu().eval(), size)
    if precision == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 export needs calibration images: pass --data (the concept's pairs)")
        import logging

        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # NNCF's import looks for CUDA: no matter on a CPU
        import nncf

        data = nncf.Dataset([u8_to_unit(img[None]).numpy() for img in calibration])
        model = nncf.quantize(model, data, subset_size=len(calibration))
    # written beside the target under temporary names, then renamed: a crash leaves the old model or none
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".e2gan-ov-", dir=path.parent))
    try:
        ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
        os.replace(tmp / "model.bin", path.with_suffix(".bin"))
        os.replace(tmp / "model.xml", path)
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return path


def convert_module(module: torch.nn.Module, size: int = 256):
    """``module`` (image -> edited image) as an OpenVINO model in memory, with dynamic batch, height and width."""
    import warnings

    ov = _ov()
    with torch.no_grad(), warnings.catch_warnings():
        # OpenVINO's converter traces with torch.jit, which torch now calls deprecated: OpenVINO's matter, not the model's
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace", category=FutureWarning)
        return ov.convert_model(module, example_input=torch.zeros(1, 3, size, size), input=[ov.PartialShape([-1, 3, -1, -1])])


class OpenVINOModule:
    """An OpenVINO model as a callable on [-1, 1] tensors (N, 3, H, W), compiled for the CPU with ``threads``."""

    def __init__(self, path, threads: int | None = None):
        """``path``: a ``.xml`` file, or a model from :func:`convert_module`."""
        ov = _ov()
        core = ov.Core()
        # f32 arithmetic where the model is not quantised: OpenVINO would otherwise pick bf16 on CPUs that have it (AVX512-BF16,
        # AMX), and the export is checked against PyTorch's fp32
        config = {"INFERENCE_PRECISION_HINT": "f32", **({"INFERENCE_NUM_THREADS": int(threads)} if threads else {})}
        self.compiled = core.compile_model(path if isinstance(path, ov.Model) else str(path), "CPU", config)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.compiled(x.numpy())[0].copy())
