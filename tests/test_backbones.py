"""Every backbone: forward at two sizes, shape and finiteness; documented sizes hold; configs round-trip."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import e2gan
from e2gan.macs import count_macs

# name -> (config overrides for a fast test, two input sides)
CASES = {
    "e2gan-small": ({}, (32, 64)),
    "e2gan": ({}, (32, 48)),
    "e2gan-large": ({}, (32, 40)),
    "pix2pix-resnet9": ({"ngf": 8}, (32, 48)),
    "pix2pix-unet256": ({"ngf": 8, "num_downs": 5}, (32, 64)),
    "timm-unet": ({"encoder": "mobilenetv3_small_050"}, (32, 64)),
}


def test_every_registered_backbone_has_a_case():
    assert set(e2gan.list_backbones()) <= set(CASES), "add new backbones to CASES"


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_at_two_sizes(name):
    overrides, sizes = CASES[name]
    model = e2gan.create_backbone(name, **overrides).eval()
    for side in sizes:
        x = torch.rand(2, 3, side, side) * 2 - 1
        text = torch.randn(2, 5, getattr(model.config, "text_dim", 64))
        mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
        with torch.no_grad():
            y = model(x, text, mask)
        assert y.shape == x.shape
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_rebuilds_the_same_architecture(name):
    overrides, _ = CASES[name]
    model = e2gan.create_backbone(name, **overrides)
    clone = e2gan.create_backbone(name, **dataclasses.asdict(model.config))
    assert [(k, v.shape) for k, v in model.state_dict().items()] == [(k, v.shape) for k, v in clone.state_dict().items()]


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
