"""ONNX export of one concept: dynamic batch and size, equal to eager PyTorch (adapter merged)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnxruntime")

from e2gan.adapt import finetune  # noqa: E402
from e2gan.data.dataset import load_pairs  # noqa: E402
from e2gan.engine import TrainConfig  # noqa: E402
from e2gan.inference import concept_module  # noqa: E402
from e2gan.runtime.export import (  # noqa: E402
    check_onnx,
    export_onnx,
    onnx_session,
    read_metadata,
)
from e2gan.student import Student  # noqa: E402
from e2gan.train import train_base  # noqa: E402
from e2gan.testing.tolerance import assert_close

pytestmark = pytest.mark.numerics  # run again under other kernels and threads (make test-numerics)


def test_adapter_exports_and_matches_eager(tmp_path, tiny_data):
    train_base(load_pairs(tiny_data), tmp_path / "base", "e2gan-small", cfg=TrainConfig(steps=2, batch_size=2), progress=False)
    student, _ = finetune(str(tmp_path / "base"), load_pairs(tiny_data, "sepia"), tmp_path / "ad",
                          TrainConfig(steps=3, batch_size=2, lr=1e-2, gan_weight=0), progress=False)
    path = export_onnx(student, "sepia", tmp_path / "m.onnx", size=32)
    assert check_onnx(student, "sepia", path, shape=(3, 3, 48, 48)) < 1e-4
    x = torch.rand(1, 3, 40, 56) * 2 - 1
    out = onnx_session(path).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        assert abs(out - student(x, "sepia").numpy()).max() < 1e-4  # merged export == unmerged adapter


def test_unconditioned_backbone_exports(tmp_path):
    s = Student.create("pix2pix-resnet9", ngf=8)
    assert not concept_module(s, "x").conditioned
    path = export_onnx(s, "x", tmp_path / "p.onnx", size=32)
    assert check_onnx(s, "x", path, shape=(1, 3, 30, 34)) < 1e-4


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, tiny_data):
    root = tmp_path_factory.mktemp("export")
    train_base(load_pairs(tiny_data), root / "base", "e2gan-small", cfg=TrainConfig(steps=2, batch_size=2), progress=False)
    finetune(str(root / "base"), load_pairs(tiny_data, "sepia"), root / "ad", TrainConfig(steps=3, batch_size=2, lr=1e-2, gan_weight=0),
             progress=False)
    return root


def test_any_image_size_runs_in_onnxruntime_and_metadata_says_what_it_is(adapter):
    student = Student.from_pretrained(adapter / "ad")
    path = export_onnx(student, "sepia", adapter / "any.onnx", size=32, source=str(adapter / "ad"))
    for h, w in [(113, 114), (37, 200), (17, 24)]:  # 113x114 failed with "Attempting to broadcast an axis" before padding in the graph
        x = torch.rand(1, 3, h, w) * 2 - 1
        out = onnx_session(path).run(None, {"image": x.numpy()})[0]
        assert out.shape == (1, 3, h, w)
        with torch.no_grad():
            assert_close(out, concept_module(student, "sepia")(x), f"ONNX Runtime at {h}x{w}")
    meta = read_metadata(path)
    assert meta["e2gan.prompt"] == "sepia"
    assert meta["e2gan.base"] == str(adapter / "base") and meta["e2gan.adapter"] == str(adapter / "ad")
    assert "[-1, 1]" in meta["e2gan.input"] and meta["e2gan.precision"] == "fp32"


def test_strength_zero_is_the_base_and_one_is_the_adapter(adapter):
    student = Student.from_pretrained(adapter / "ad")
    base = Student.from_pretrained(adapter / "base")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        zero, one, half = (concept_module(student, "sepia", s)(x) for s in (0.0, 1.0, 0.5))
        assert_close(zero, base(x, "sepia"), "strength 0 against the base")
        assert_close(one, student(x, "sepia"), "strength 1 against the unmerged adapter")
        assert (one - zero).abs().max() > 1e-3, "the adapter changes the output"
        assert 0 < (half - zero).abs().mean() < (one - zero).abs().mean()
    with pytest.raises(ValueError, match="no adapter"):
        concept_module(base, "sepia", 0.5)


@pytest.mark.parametrize("flag", ["--fp16", "--int8"])
def test_export_fp16_and_int8_report_quality_and_speed(adapter, tiny_data, flag):
    from click.testing import CliRunner

    from e2gan.cli import cli

    out = adapter / f"m{flag[2:]}.onnx"
    res = CliRunner().invoke(cli, ["export", "--model", str(adapter / "ad"), "--out", str(out), "--size", "32", "--data", str(tiny_data), flag])
    assert res.exit_code == 0, res.output
    assert f"{flag[2:]} on 4 held-out pairs of 32x32: PSNR to fp32" in res.output and "ms/image" in res.output
    assert read_metadata(out)["e2gan.precision"] == flag[2:]
    x = torch.rand(1, 3, 45, 50) * 2 - 1
    assert onnx_session(out).run(None, {"image": x.numpy()})[0].shape == (1, 3, 45, 50)


def test_int8_without_calibration_data_says_what_to_pass(adapter):
    from click.testing import CliRunner

    from e2gan.cli import cli

    res = CliRunner().invoke(cli, ["export", "--model", str(adapter / "ad"), "--out", str(adapter / "x.onnx"), "--int8"])
    assert res.exit_code == 2 and "pass --data" in res.output
    assert not (adapter / "x.onnx").exists()
