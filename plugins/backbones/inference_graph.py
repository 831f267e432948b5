"""Exact rewrites of a (merged) e2gan generator for inference: the same function with fewer memory-bound ops.

Each rewrite is algebra, not a new model, so quality does not move (tests/test_inference_graph.py checks it to float
rounding); what each one buys in speed is measured by ``python -m benchmarks.inference_variants``.

- ``coords``: CoordConv's ``conv(cat[image, y, x])`` becomes ``conv(image) + conv(cat[y, x])``, the second one
  computed once per call at batch 1 and broadcast (no full-resolution concatenation of the batch).
- ``head``: the head's ``conv(cat[features, image])`` becomes ``conv(features) + conv(image)``.
- ``subpixel``: nearest x2 up-sampling followed by a zero-padded 3x3 conv becomes one 3x3 conv at the low resolution
  with four times the output channels and a pixel shuffle (the up-sampled tensor is never made). With nearest
  up-sampling each output phase sees a 2x2 window of the low-resolution input, so the rewrite is exact, borders
  included. The 3x3 kernels of that conv are zero in one row and one column of each phase, so the MACs stay those of
  the original conv.
- ``subpixel-2x2``: the same, as four 2x2 convs (one per output phase) on the padded low-resolution input, stacked
  and shuffled: 16/36 of the up-sampling convs' MACs, at the price of more, smaller ops. Applied instead of
  ``subpixel`` when both are asked for.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .layers import coordinates

REWRITES = ("coords", "head", "subpixel", "subpixel-2x2")


def _conv_like(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Conv2d:
    out = nn.Conv2d(weight.shape[1], weight.shape[0], conv.kernel_size, conv.stride, conv.padding, bias=bias is not None,
                    padding_mode=conv.padding_mode)
    out.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
    if bias is not None:
        out.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)
    return out


class SplitCoordStem(nn.Module):
    """The stem's conv on (image, y, x) as conv(image) + conv(y, x) at batch 1, then its norm and activation."""

    def __init__(self, stem: nn.Sequential):
        super().__init__()
        conv = stem[0]
        self.image_conv = _conv_like(conv, conv.weight[:, :3], conv.bias)
        self.coord_conv = _conv_like(conv, conv.weight[:, 3:], None)
        self.rest = nn.Sequential(*list(stem)[1:])

    def forward(self, image):
        return self.rest(self.image_conv(image) + self.coord_conv(coordinates(image)))


class SplitHead(nn.Module):
    """The head's first conv on (features, image) as conv(features) + conv(image)."""

    def __init__(self, head: nn.Sequential, feature_channels: int):
        super().__init__()
        conv = head[0]
        self.feature_conv = _conv_like(conv, conv.weight[:, :feature_channels], conv.bias)
        self.image_conv = _conv_like(conv, conv.weight[:, feature_channels:], None)
        self.rest = nn.Sequential(*list(head)[1:])

    def forward(self, features, image):
        return self.rest(self.feature_conv(features) + self.image_conv(image))


def subpixel_weight(weight: torch.Tensor) -> torch.Tensor:
    """(cout, cin, 3, 3) for conv(nearest_x2(x)) -> (4 * cout, cin, 3, 3) for pixel_shuffle(conv(x), 2).

    Output row 2i+a of the up-sampled conv reads input rows 2i+a-1 .. 2i+a+1, which nearest up-sampling maps to
    low-resolution rows {i-1, i, i} (a = 0) or {i, i, i+1} (a = 1); the same holds for columns. Zero padding of the
    up-sampled image is zero padding of the low-resolution one, so borders stay exact."""
    taps = {0: ((0,), (1, 2), ()), 1: ((), (0, 1), (2,))}  # phase -> the 3x3 rows summed into low-res rows i-1, i, i+1
    cout, cin = weight.shape[:2]
    out = weight.new_zeros(cout, 2, 2, cin, 3, 3)
    for a in (0, 1):
        for b in (0, 1):
            for r, rows in enumerate(taps[a]):
                for c, cols in enumerate(taps[b]):
                    if rows and cols:
                        out[:, a, b, :, r, c] = weight[:, :, list(rows)][:, :, :, list(cols)].sum(dim=(2, 3))
    return out.reshape(cout * 4, cin, 3, 3)  # pixel_shuffle reads channel (c * 4 + a * 2 + b) as phase (a, b) of c


class SubpixelUpsample(nn.Module):
    """``Upsample`` (nearest x2, then ConvNormAct) as a low-resolution conv and a pixel shuffle, then the norm/act."""

    def __init__(self, up: nn.Module):
        super().__init__()
        conv = up.conv[0]
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) or conv.padding_mode != "zeros":
            raise ValueError("the sub-pixel rewrite needs a zero-padded 3x3 stride-1 conv after the up-sampling")
        bias = None if conv.bias is None else conv.bias.repeat_interleave(4)
        self.conv = _conv_like(conv, subpixel_weight(conv.weight), bias)
        self.rest = nn.Sequential(*list(up.conv)[1:])

    def forward(self, x, size=None):
        if size is not None:
            raise ValueError("the sub-pixel rewrite only up-samples by exactly 2")
        return self.rest(F.pixel_shuffle(self.conv(x), 2))


class PhaseUpsample(nn.Module):
    """``Upsample`` as four 2x2 convs, one per output phase (a, b), on the zero-padded low-resolution input."""

    def __init__(self, up: nn.Module):
        super().__init__()
        sub = SubpixelUpsample(up)  # its checks, and its 3x3 phase kernels to cut 2x2 windows from
        w = sub.conv.weight.detach().reshape(-1, 4, *sub.conv.weight.shape[1:])  # (cout, phase, cin, 3, 3)
        self.kernels = nn.ParameterList()
        for phase, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            self.kernels.append(nn.Parameter(w[:, phase, :, a:a + 2, b:b + 2].clone(), requires_grad=False))
        self.bias = None if sub.conv.bias is None else nn.Parameter(sub.conv.bias.detach()[::4].clone(), requires_grad=False)
        self.rest = sub.rest

    def forward(self, x, size=None):
        if size is not None:
            raise ValueError("the sub-pixel rewrite only up-samples by exactly 2")
        h, w = x.shape[-2:]
        xp = F.pad(x, (1, 1, 1, 1))
        phases = [F.conv2d(xp[:, :, a:a + h + 1, b:b + w + 1], k, self.bias)
                  for k, (a, b) in zip(self.kernels, ((0, 0), (0, 1), (1, 0), (1, 1)))]
        y = torch.stack(phases, dim=2).flatten(1, 2)  # channel c * 4 + phase, as pixel_shuffle reads it
        return self.rest(F.pixel_shuffle(y, 2))


def rewrite(generator: nn.Module, rewrites=REWRITES) -> nn.Module:
    """A copy of a merged e2gan generator (no LoRA layers left) with ``rewrites`` applied; the original is untouched."""
    unknown = set(rewrites) - set(REWRITES)
    if unknown:
        raise ValueError(f"unknown rewrite(s) {sorted(unknown)}; use any of {', '.join(REWRITES)}")
    if any("lora" in name for name, _ in generator.named_modules()):
        raise ValueError("rewrite a generator after merging its adapter (concept_module merges it)")
    g = copy.deepcopy(generator).eval()  # a rewrite already applied (a second call) is left as it is
    if "coords" in rewrites and g.config.coords and not getattr(g, "inference_coords", False):
        g.stem = SplitCoordStem(g.stem)
        g.inference_coords = True
    if "head" in rewrites and not getattr(g, "inference_head", False):
        g.head = SplitHead(g.head, g.config.ngf)
        g.inference_head = True
    if ("subpixel" in rewrites or "subpixel-2x2" in rewrites) and g.config.padding == "zeros":
        kind = PhaseUpsample if "subpixel-2x2" in rewrites else SubpixelUpsample
        for name in ("us", "up1", "up2"):
            if not isinstance(getattr(g, name), (SubpixelUpsample, PhaseUpsample)):
                setattr(g, name, kind(getattr(g, name)))
    g.requires_grad_(False)
    return g
