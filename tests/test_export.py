"""ONNX export of one concept: dynamic batch and size, equal to eager PyTorch (adapter merged)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnxruntime")

from e2gan.adapt import finetune  # noqa: E402
from e2gan.dataset import load_pairs  # noqa: E402
from e2gan.engine import TrainConfig  # noqa: E402
from e2gan.export import check_onnx, concept_module, export_onnx, onnx_session  # noqa: E402
from e2gan.student import Student  # noqa: E402
from e2gan.train import train_base  # noqa: E402


def test_adapter_exports_and_matches_eager(tmp_path, tiny_data):
    train_base(load_pairs(tiny_data), tmp_path / "base", "e2gan-small", cfg=TrainConfig(steps=2, batch_size=2), progress=False)
    student, _ = finetune(str(tmp_path / "base"), load_pairs(tiny_data, "sepia"), tmp_path / "ad",
                          TrainConfig(steps=3, batch_size=2, lr=1e-2, gan_weight=0), progress=False)
    path = export_onnx(student, "sepia", tmp_path / "m.onnx", size=32)
    assert check_onnx(student, "sepia", path, size=48, batch=3) < 1e-4
    x = torch.rand(1, 3, 40, 56) * 2 - 1
    out = onnx_session(path).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        assert abs(out - student(x, "sepia").numpy()).max() < 1e-4  # merged export == unmerged adapter


def test_unconditioned_backbone_exports(tmp_path):
    s = Student.create("pix2pix-resnet9", ngf=8)
    assert not concept_module(s, "x").conditioned
    path = export_onnx(s, "x", tmp_path / "p.onnx", size=32)
    assert check_onnx(s, "x", path, size=32) < 1e-4
