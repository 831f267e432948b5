"""The export formats in one table: what each writes, in which precisions, at which sizes, how it is loaded back and
checked. ``e2gan export --format NAME`` and the runtimes of ``apply``/video go through it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Format:
    suffix: str
    precisions: tuple[str, ...]
    dynamic: bool  # any batch, height and width (else: batch 1 at the exported size)
    runs_here: bool = True  # it can be run on this OS (Core ML cannot on Linux)
    what: str = ""


FORMATS = {
    "onnx": Format(".onnx", ("fp32", "fp16", "int8"), True, what="ONNX (ONNX Runtime, and most runtimes)"),
    "executorch": Format(".pte", ("fp32", "int8"), False, what="ExecuTorch with the XNNPACK delegate (Android, iOS, edge CPUs)"),
    "coreml": Format(".mlpackage", ("fp16",), False, runs_here=False, what="Core ML ML program (iPhone, iPad, Mac)"),
    "openvino": Format(".xml", ("fp32", "int8"), True, what="OpenVINO IR (x86 CPUs and Intel GPUs)"),
}


def check_request(fmt: str, precision: str, out) -> Format:
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    f = FORMATS[fmt]
    if precision not in f.precisions:
        raise ValueError(f"--format {fmt} exports {' or '.join(f.precisions)}, not {precision}")
    if Path(out).suffix != f.suffix:
        raise ValueError(f"--out {out}: a {fmt} export is a {f.suffix} {'folder' if f.suffix == '.mlpackage' else 'file'}; end the path in {f.suffix}")
    return f


def export(fmt: str, student, prompt: str, out, size: int, precision: str = "fp32", calibration=None, strength: float = 1.0,
           source: str | None = None) -> Path:
    """Write ``out`` in ``fmt`` (adapter merged at ``strength``, prompt baked in)."""
    from e2gan.runtime.export import export_metadata, export_onnx

    check_request(fmt, precision, out)
    if fmt == "onnx":
        return export_onnx(student, prompt, out, size, strength=strength, source=source, precision=precision, calibration=calibration)
    if fmt == "executorch":
        from e2gan.runtime.executorch import export_executorch

        return export_executorch(student, prompt, out, size, precision, calibration, strength)
    if fmt == "openvino":
        from e2gan.runtime.openvino import export_openvino

        return export_openvino(student, prompt, out, size, precision, calibration, strength)
    from e2gan.inference import size_multiple
    from e2gan.runtime.coreml import export_coreml

    return export_coreml(student, prompt, out, size, strength,
                         export_metadata(student, prompt, source, strength, precision, size_multiple(student.generator)))


def load(fmt: str, path, threads: int | None = None):
    """An export as a callable on [-1, 1] tensors (N, 3, H, W)."""
    if fmt == "onnx":
        from e2gan.runtime.export import onnx_session

        session = onnx_session(path, threads or torch.get_num_threads())
        return lambda x: torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
    if fmt == "executorch":
        from e2gan.runtime.executorch import ExecuTorchModule

        if threads:
            torch.set_num_threads(threads)  # XNNPACK's thread pool follows the process's
        return ExecuTorchModule(path)
    if fmt == "openvino":
        from e2gan.runtime.openvino import OpenVINOModule

        return OpenVINOModule(path, threads)
    from e2gan.runtime.coreml import NOT_HERE

    raise ValueError(NOT_HERE)


def check(fmt: str, student, prompt: str, path, size: int, strength: float = 1.0) -> str:
    """One line on how the export agrees with PyTorch: the largest difference on a random batch (at the exported size
    for fixed-size formats, at odd sizes for the others), or the spec for Core ML."""
    from e2gan.inference import concept_module

    f = FORMATS[fmt]
    if not f.runs_here:
        from e2gan.runtime.coreml import NOT_HERE, check_spec

        spec = check_spec(path, size)
        return (f"spec: input {spec['inputs'][0]['name']} {spec['inputs'][0]['shape']} {spec['inputs'][0]['type']}, output "
                f"{spec['outputs'][0]['name']}; {len(spec['metadata'])} metadata entries. {NOT_HERE}")
    shape = (2, 3, 61, 67) if f.dynamic else (1, 3, size, size)
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        want = concept_module(student, prompt, strength).cpu()(x)
    err = float((load(fmt, path)(x) - want).abs().max())
    return f"max |{fmt} - pytorch| = {err:.2e} on a {'x'.join(map(str, shape))} batch ({err * 127.5:.2f} of a pixel level)"


def quality(fmt: str, path, student, prompt: str, sources: torch.Tensor, targets: torch.Tensor | None, size: int,
            strength: float = 1.0, threads: int | None = None) -> dict:
    """The export on held-out ``sources`` (uint8) against PyTorch fp32: PSNR to fp32's output and, with the teacher's
    ``targets``, of both to the teacher; and milliseconds per image, one image at a time (the best of 3 passes)."""
    import torch.nn.functional as F

    from e2gan.data.images import u8_to_unit, unit_to_u8
    from e2gan.inference import concept_module
    from e2gan.metrics.quality import psnr

    x = u8_to_unit(sources)
    if not FORMATS[fmt].dynamic:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        if targets is not None:
            targets = unit_to_u8(F.interpolate(u8_to_unit(targets), size=(size, size), mode="bilinear", align_corners=False))
    with torch.no_grad():
        ref = unit_to_u8(concept_module(student, prompt, strength).cpu()(x))
    run = load(fmt, path, threads)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        got = torch.cat([run(x[i:i + 1]) for i in range(len(x))])
        best = min(best, (time.perf_counter() - t0) / len(x))
    got = unit_to_u8(got)
    res = {"psnr_to_fp32": float(psnr(got, ref).mean()), "ms_per_image": best * 1000, "images": len(x), "size": list(x.shape[-2:])}
    if targets is not None:
        res["psnr_to_teacher"], res["fp32_psnr_to_teacher"] = float(psnr(got, targets).mean()), float(psnr(ref, targets).mean())
    return res
