"""Backbone facts beyond the conformance kit (tests/test_conformance.py): documented sizes, MACs, the e2gan head, declared LoRA placement."""

from __future__ import annotations

import pytest
import torch

import e2gan
from e2gan.metrics.macs import count_macs


@pytest.mark.parametrize(
    "name,params,gmacs",
    [("e2gan-small", 106_067, 0.67), ("e2gan", 404_259, 2.36), ("e2gan-large", 1_577_027, 8.81), ("pix2pix-resnet9", 11_378_179, 56.8)],
)
def test_documented_sizes_at_256(name, params, gmacs):
    """The numbers in the docstrings (params, MACs at 256x256, transposed convs per output pixel)."""
    model = e2gan.create_backbone(name)
    assert sum(p.numel() for p in model.parameters()) == params
    text = torch.randn(1, 16, 64)
    assert count_macs(model, torch.zeros(1, 3, 256, 256), text) / 1e9 == pytest.approx(gmacs, abs=0.01)


def test_pix2pix_macs_per_input_pixel_convention():
    model = e2gan.create_backbone("pix2pix-resnet9")
    assert count_macs(model, torch.zeros(1, 3, 256, 256), transposed="input") / 1e9 == pytest.approx(49.55, abs=0.01)


def test_e2gan_generator_starts_as_identity_and_depends_on_prompt():
    model = e2gan.create_backbone("e2gan-small").eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), x)  # residual head is zero-initialised
        torch.nn.init.normal_(model.head[-1].weight, std=0.1)
        a = model(x, torch.randn(1, 3, 64))
        b = model(x, torch.randn(1, 3, 64))
    assert not torch.allclose(a, b)


def test_bad_input_size_names_the_constraint():
    model = e2gan.create_backbone("e2gan-small")
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.zeros(1, 3, 30, 30))


def test_patchgan_is_source_conditioned():
    d = e2gan.create_discriminator("patchgan", ndf=8)
    out = d(torch.zeros(2, 3, 64, 64), torch.zeros(2, 3, 64, 64))
    assert out.shape[:2] == (2, 1) and out.shape[-1] > 1


@pytest.mark.parametrize("name,overrides", [("e2gan", {}), ("pix2pix-resnet9", {"ngf": 8}), ("pix2pix-unet256", {"ngf": 8, "num_downs": 5}),
                                            ("timm-unet", {"encoder": "mobilenetv3_small_050"})])
def test_paper_layers_and_feature_selection_work_on_every_backbone(name, overrides, tmp_path):
    """`finetune --layers paper` and feature-based data selection read what the backbone declares."""
    from e2gan.adapt import adapt, image_features
    from e2gan.engine import TrainConfig
    from e2gan.lora import paper_targets
    from e2gan.student import Student
    from e2gan.testing import tiny_pairs

    student = Student.create(name, "hashed-words", **overrides)
    targets = paper_targets(student.generator)
    assert targets and not any("res" in t or "conv_block" in t for t in targets)  # the paper: no LoRA on ResNet blocks
    pairs = tiny_pairs(8, 32)
    feats = image_features(student, pairs, kind="generator")
    assert feats.shape[0] == 8 and feats.dim() == 2 and feats.std(0).sum() > 0
    student.save_pretrained(tmp_path / "base")
    _, _, info = adapt(str(tmp_path / "base"), pairs, tmp_path / "ad", select="kmeans", count=4, cfg=TrainConfig(steps=1, batch_size=2, gan_weight=0),
                       progress=False)
    assert info["layers"] == targets and info["data_used"] == 4


def test_coordinate_channels_let_the_generator_see_position():
    model = e2gan.create_backbone("e2gan-small", coords=True).eval()
    torch.nn.init.normal_(model.head[-1].weight, std=0.1)
    flat = torch.zeros(1, 3, 32, 32)  # a flat image: without coordinates every interior pixel would get the same output
    with torch.no_grad():
        y = model(flat)[0, :, 8:24, 8:24]
    assert y.std() > 1e-3
