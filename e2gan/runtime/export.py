"""Step 4, Ship: export one concept of a student to ONNX (adapter merged, prompt embedding baked in, padded to the
backbone's size multiple inside the graph: ``e2gan.inference``), checked against eager PyTorch with ONNX Runtime."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from e2gan.inference import concept_module

PRECISIONS = ("fp32", "fp16", "int8")


def export_metadata(student, prompt: str, source: str | None, strength: float, precision: str, multiple: int) -> dict[str, str]:
    """What a newcomer needs to use the .onnx without e2gan: names, layout, value range, where it came from."""
    from e2gan.files import VERSION

    adapter = student.meta.get("adapter") or {}
    return {
        "e2gan.input": "image: float32 (batch, 3, height, width), RGB, values in [-1, 1] (pixel / 127.5 - 1); any height and width",
        "e2gan.output": "edited: float32, the same shape and range ((edited + 1) * 127.5 gives uint8 pixels)",
        "e2gan.prompt": prompt,
        "e2gan.base": str(adapter.get("base") or source or ""),
        "e2gan.adapter": str(adapter.get("source") or ""),
        "e2gan.strength": str(strength),
        "e2gan.precision": precision,
        "e2gan.size_multiple": f"{multiple} (padded inside the graph, cropped back)",
        "e2gan.backbone": student.backbone,
        "e2gan.version": VERSION,
    }


def export_module(student, prompt: str, strength: float = 1.0, full_res: str | None = None, work_size: int | None = None) -> torch.nn.Module:
    """What an export runs: the concept (``concept_module``), or with ``full_res`` the concept at the working size carried
    to the photo's own size (``e2gan.fullres``), so a phone edits a full photo in one graph."""
    module = concept_module(student, prompt, strength).cpu()
    if not full_res or full_res == "direct":
        return module
    from e2gan.fullres import full_resolution

    return full_resolution(student, module, full_res, work_size)


def export_onnx(student, prompt: str, path, size: int = 256, opset: int = 17, strength: float = 1.0, source: str | None = None,
                precision: str = "fp32", calibration: torch.Tensor | None = None, full_res: str | None = None,
                work_size: int | None = None) -> Path:
    """Write ``path`` (.onnx) with dynamic batch, height and width, and e2gan's metadata in ``metadata_props``.

    ``precision``: ``fp32``; ``fp16`` (weights and activations, float32 in and out); ``int8`` (ONNX Runtime static
    quantisation, QDQ, per-channel weights, calibrated on ``calibration``: uint8 (N, 3, H, W) sources of the concept)."""
    import onnx

    from e2gan.io import atomic_save_file

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "int8" and (calibration is None or len(calibration) == 0):
        raise ValueError("int8 export needs calibration images: pass --data (the concept's pairs) to `e2gan export --int8`")
    module = export_module(student, prompt, strength, full_res, work_size)

    def save(tmp):
        trace_onnx(module, tmp, size, opset)
        if precision == "fp16":
            from onnxruntime.transformers.float16 import convert_float_to_float16

            onnx.save(convert_float_to_float16(onnx.load(tmp), keep_io_types=True), tmp)
        elif precision == "int8":
            _quantize_int8(tmp, calibration)
        model = onnx.load(tmp)
        meta = export_metadata(student, prompt, source, strength, precision, module.multiple)
        if full_res and full_res != "direct":
            meta["e2gan.full_res"] = f"{full_res}, working size {module.work_pixels} pixels"
        del model.metadata_props[:]
        for k, v in meta.items():
            model.metadata_props.add(key=k, value=v)
        onnx.save(model, tmp)

    atomic_save_file(path, save)
    return Path(path)


def trace_onnx(module: torch.nn.Module, path, size: int = 256, opset: int = 17) -> None:
    """``module`` (image -> edited image) as plain ONNX at ``path``: input ``image``, output ``edited``, dynamic batch,
    height and width (traced on a batch of 2, so no size is baked in)."""
    with quiet_export():
        torch.onnx.export(module, (torch.zeros(2, 3, size, size),), path, input_names=["image"], output_names=["edited"],
                          opset_version=opset, dynamo=False,
                          dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "edited": {0: "batch", 2: "height", 3: "width"}})


@contextlib.contextmanager
def quiet_export():
    """The exporter's warnings that say nothing about this model, filtered (each with its reason); any other still shows."""
    import warnings

    with warnings.catch_warnings():
        # cropping back to a dynamic height and width is a Slice the exporter cannot fold; the graph is correct
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded")
        # an instance norm always normalises by the image's own statistics, in training and inference alike: "train=True" is right
        warnings.filterwarnings("ignore", message=".*operator 'instance_norm' is set to train=True")
        yield


def _quantize_int8(path: str, calibration: torch.Tensor) -> None:
    """In place: static int8 quantisation calibrated on ``calibration`` (uint8 sources)."""
    import logging
    import os
    import tempfile

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from e2gan.data.images import u8_to_unit

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"image": u8_to_unit(calibration[i:i + 1]).numpy()} for i in range(len(calibration))])

        def get_next(self):
            return next(self.items, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a warning per norm weight it leaves alone
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            pre = os.path.join(tmpdir, "pre.onnx")
            quant_pre_process(path, pre, skip_symbolic_shape=True)
            quantize_static(pre, path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul", "Gemm"])
    finally:
        root.setLevel(level)


def read_metadata(path) -> dict[str, str]:
    """The ``metadata_props`` of an exported model."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def onnx_session(path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


CHECK_SHAPE = (2, 3, 61, 67)  # sides that are not multiples of 8, unlike the export's example


@torch.no_grad()
def check_onnx(student, prompt: str, path, shape=CHECK_SHAPE, strength: float = 1.0, full_res: str | None = None,
               work_size: int | None = None) -> float:
    """Max |ONNX Runtime - eager| on a random batch of ``shape`` (with ``full_res``: a photo twice the working side, so
    that eager carries the edit as the export always does)."""
    module = export_module(student, prompt, strength, full_res, work_size)
    if full_res and full_res != "direct":
        side = int(module.work_pixels ** 0.5)
        shape = (shape[0], 3, 2 * side + 3, 2 * side + 5)
    x = torch.rand(*shape) * 2 - 1
    with torch.no_grad():
        want = module(x).numpy()
    got = onnx_session(path).run(None, {"image": x.numpy()})[0]
    return float(abs(want - got).max())


def runtime_report(reference_path, path, sources: torch.Tensor, targets: torch.Tensor | None = None, repeats: int = 3) -> dict:
    """An exported model against the fp32 export on held-out ``sources`` (uint8): PSNR to fp32's output, PSNR of both
    to the teacher's ``targets``, and milliseconds per image of each (the best of ``repeats`` passes, one image at a time)."""
    import time

    import numpy as np

    from e2gan.data.images import u8_to_unit, unit_to_u8
    from e2gan.metrics.quality import psnr

    def run(p):
        sess = onnx_session(p)
        outs, best = None, float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            outs = [sess.run(None, {"image": u8_to_unit(sources[i:i + 1]).numpy()})[0] for i in range(len(sources))]
            best = min(best, (time.perf_counter() - t0) / len(sources))
        return unit_to_u8(torch.from_numpy(np.concatenate(outs))), best * 1000

    ref, ref_ms = run(reference_path)
    got, ms = run(path)
    res = {"psnr_to_fp32": float(psnr(got, ref).mean()), "ms_per_image": ms, "fp32_ms_per_image": ref_ms, "speedup": ref_ms / ms,
           "images": len(sources), "size": list(sources.shape[-2:])}
    if targets is not None:
        res["psnr_to_teacher"] = float(psnr(got, targets).mean())
        res["fp32_psnr_to_teacher"] = float(psnr(ref, targets).mean())
    return res
