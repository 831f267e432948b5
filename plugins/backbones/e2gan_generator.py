"""The paper's generator, shaped for edits: down-sampling, 2 ResNet blocks, DS, one transformer
block (self- + cross-attention on the prompt), US, 1 ResNet block, up-sampling to RGB.

e2gan's own choices where the paper is silent (documented in docs/architecture.md):
U-Net additive skips at 1/4, 1/2 and full resolution; up-sampling by resize + conv (LoRA-able);
a prompt FiLM on the two fine decoder stages; and a head that sees the source pixels and predicts
the *change* (``output = source + head(features, source)``), because an edit keeps most of its source.

Presets at 256x256 (MACs: multiply-accumulates, attention included; checked by tests/test_backbones.py):

================  =====  ==========  =========
name              ngf    params      G MACs
================  =====  ==========  =========
e2gan-small       8      0.106 M     0.67
e2gan             16     0.404 M     2.36
e2gan-large       32     1.577 M     8.81
================  =====  ==========  =========
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from e2gan.config import Bounded, bounded

from .layers import ConvNormAct, ResnetBlock, TextFiLM, TransformerBlock, Upsample, with_coords


@dataclass
class E2GANConfig(Bounded):
    ngf: int = bounded(16, 1, 512)
    text_dim: int = bounded(64, 1, 4096)
    heads: int = bounded(4, 1, 64)
    n_res_before: int = bounded(2, 0, 32)
    n_res_after: int = bounded(1, 0, 32)
    norm: str = "instance"
    residual: bool = True
    film: bool = True
    padding: str = "zeros"  # peft's LoRA convs zero-pad: a zero-padded base makes merged == unmerged exactly
    coords: bool = False  # two extra input channels with the pixel's (y, x) in [-1, 1]: position-dependent edits (vignettes, light)


class E2GANGenerator(nn.Module):
    text_conditioned = True
    #: the paper's LoRA placement: down-sampling, DS, transformer, US, up-sampling (and the prompt FiLMs and
    #: head, which e2gan adds); no ResNet block. Module names, regex, full match.
    lora_targets = (
        r"down\d\.0", r"ds\.0", r"transformer\.(self_attn|cross_attn)\.to_(q|k|v|out)", r"transformer\.ff\.(0|2)",
        r"us\.conv\.0", r"up\d\.conv\.0", r"film\d\.proj", r"head\.(0|2)",
    )
    #: whose output (mean-pooled) describes an image for data selection: the transformer's input
    feature_module = "ds"

    def __init__(self, **config):
        super().__init__()
        self.config = cfg = E2GANConfig(**config)
        c1, c2, c4 = cfg.ngf, cfg.ngf * 2, cfg.ngf * 4
        n, pad = cfg.norm, cfg.padding
        self.stem = ConvNormAct(5 if cfg.coords else 3, c1, 7, 1, n, padding=pad)
        self.down1 = ConvNormAct(c1, c2, 3, 2, n, padding=pad)
        self.down2 = ConvNormAct(c2, c4, 3, 2, n, padding=pad)
        self.res_before = nn.Sequential(*[ResnetBlock(c4, n, pad) for _ in range(cfg.n_res_before)])
        self.ds = ConvNormAct(c4, c4, 3, 2, n, padding=pad)
        self.transformer = TransformerBlock(c4, cfg.text_dim, cfg.heads)
        self.us = Upsample(c4, c4, n, pad)
        self.res_after = nn.Sequential(*[ResnetBlock(c4, n, pad) for _ in range(cfg.n_res_after)])
        self.up1 = Upsample(c4, c2, n, pad)
        self.up2 = Upsample(c2, c1, n, pad)
        if cfg.film:
            self.film1 = TextFiLM(cfg.text_dim, c2)
            self.film2 = TextFiLM(cfg.text_dim, c1)
        self.head = nn.Sequential(
            nn.Conv2d(c1 + 3, c1, 3, padding=1, padding_mode=pad), nn.ReLU(inplace=True), nn.Conv2d(c1, 3, 1)
        )
        if cfg.residual:  # start as the identity edit
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

    #: height and width must be multiples of this (three stride-2 stages)
    size_multiple = 8

    def for_inference(self, rewrites=("coords", "head")) -> nn.Module:
        """The same function with fewer memory-bound ops (exact rewrites: see inference_graph.py), for a merged generator.
        The default is what ``benchmarks/inference_variants.md`` measured to help (the sub-pixel rewrites slowed OpenVINO)."""
        from .inference_graph import rewrite

        return rewrite(self, rewrites)

    def forward(self, image, text_embeds=None, text_mask=None):
        h, w = image.shape[-2:]
        if not torch.jit.is_tracing() and (h % 8 or w % 8):  # the check is Python; a traced graph gets padded input
            raise ValueError(f"e2gan generator needs height and width divisible by 8, got {h}x{w}")
        coords = self.config.coords and not getattr(self, "inference_coords", False)  # see inference_graph.py
        x0 = self.stem(with_coords(image) if coords else image)
        x1 = self.down1(x0)
        x2 = self.res_before(self.down2(x1))
        x3 = self.transformer(self.ds(x2), text_embeds, text_mask)
        y = self.res_after(self.us(x3) + x2)
        y = self.up1(y) + x1
        if self.config.film:
            y = self.film1(y, text_embeds, text_mask)
        y = self.up2(y) + x0
        if self.config.film:
            y = self.film2(y, text_embeds, text_mask)
        out = self.head(y, image) if getattr(self, "inference_head", False) else self.head(torch.cat([y, image], dim=1))
        return image + out if self.config.residual else torch.tanh(out)
