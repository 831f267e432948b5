"""Exports for phones and x86 CPUs, each loaded back with its own runtime: ExecuTorch (.pte, XNNPACK) through its
Python runtime, OpenVINO IR through OpenVINO, Core ML (.mlpackage) by its spec (Core ML cannot run on Linux); and the
runtimes of apply/video giving the same pixels as PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from e2gan.runtime import formats
from e2gan.runtime.runner import ConceptRunner
from e2gan.testing.cli import run_cli
from e2gan.testing.tiny import tiny_images
from e2gan.testing.tolerance import assert_close, assert_same_pixels

pytestmark = pytest.mark.slow  # lowering to ExecuTorch or Core ML takes tens of seconds


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    from e2gan.testing.tiny import tiny_invert_adapter

    return tiny_invert_adapter(tmp_path_factory.mktemp("mobile"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from e2gan.teach import teach

    root = tmp_path_factory.mktemp("mobile-data")
    teach("classic", ["sepia"], [(f"p{i}", img) for i, img in enumerate(tiny_images(6, 48, seed=7))], root, size=32, split="train", progress=False)
    teach("classic", ["sepia"], [(f"t{i}", img) for i, img in enumerate(tiny_images(3, 48, seed=8))], root, size=32, split="test", progress=False)
    return root


@pytest.mark.parametrize("fmt,precision", [pytest.param("executorch", "fp32", marks=pytest.mark.numerics), pytest.param("openvino", "fp32", marks=pytest.mark.numerics),
                                            ("executorch", "int8"), ("openvino", "int8")])
def test_an_export_runs_in_its_own_runtime_and_matches_pytorch(fmt, precision, tmp_path, adapter):
    from e2gan.inference import concept_module
    from e2gan.student import Student

    student = Student.from_pretrained(adapter)
    path = tmp_path / f"x{formats.FORMATS[fmt].suffix}"
    calibration = torch.randint(0, 256, (8, 3, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    formats.export(fmt, student, "invert", path, 32, precision, calibration)
    x = torch.from_numpy(np.stack([np.asarray(im) for im in tiny_images(1, 32, seed=2)])).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        want = concept_module(student, "invert")(x)
    got = formats.load(fmt, path)(x)
    if precision == "fp32":
        assert_close(got, want, f"{fmt} fp32 against PyTorch")
    else:
        from e2gan.metrics.quality import psnr

        assert float(psnr(got, want).mean()) > 25, "int8 is far from fp32 on a smooth photo"


def test_export_cli_writes_each_format_with_its_check(tmp_path, adapter, data):
    code, out = run_cli("export", "--model", adapter, "--format", "executorch", "--int8", "--data", data, "--prompt", "sepia",
                        "--out", tmp_path / "x.pte", "--size", "32")
    assert code == 0, out
    assert "int8: max |executorch - pytorch|" in out and "PSNR to PyTorch fp32" in out and "to the teacher" in out
    code, out = run_cli("export", "--model", adapter, "--format", "coreml", "--out", tmp_path / "x.mlpackage", "--size", "32")
    assert code == 0, out
    assert "input image [1, 3, 32, 32] FLOAT32" in out and "cannot run on Linux" in out
    from e2gan.runtime.coreml import check_spec

    spec = check_spec(tmp_path / "x.mlpackage", 32)
    assert spec["metadata"]["e2gan.prompt"] == "invert" and spec["outputs"][0]["name"] == "edited"
    code, out = run_cli("export", "--model", adapter, "--format", "coreml", "--out", tmp_path / "x.onnx")
    assert code == 2 and "end the path in .mlpackage" in out
    code, out = run_cli("export", "--model", adapter, "--format", "coreml", "--int8", "--data", data, "--out", tmp_path / "y.mlpackage")
    assert code == 2 and "exports fp16, not int8" in out


@pytest.mark.numerics
@pytest.mark.parametrize("runtime", ["openvino", "executorch"])
def test_every_runtime_gives_the_same_pixels_on_a_101x77_photo(runtime, adapter):
    from e2gan.student import Student

    student = Student.from_pretrained(adapter)
    photo = tiny_images(1, (101, 77), seed=3)[0]
    edited = np.asarray(student.edit([photo], "invert")[0])
    got = ConceptRunner(student, "invert", runtime)(np.asarray(photo)[None])[0]
    assert_same_pixels(got, edited, f"{runtime} against Student.edit")
