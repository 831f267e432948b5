"""The 70x70 PatchGAN discriminator of pix2pix, conditioned on the source image (6 input channels)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import norm_layer


@dataclass
class PatchGANConfig:
    ndf: int = 64
    n_layers: int = 3
    norm: str = "instance"
    conditional: bool = True


class PatchGAN(nn.Module):

    def __init__(self, **config):
        super().__init__()
        self.config = cfg = PatchGANConfig(**config)
        ndf = cfg.ndf
        cin = 6 if cfg.conditional else 3
        layers = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, cfg.n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < cfg.n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1), norm_layer(cfg.norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, source, image):
        return self.model(torch.cat([source, image], 1) if self.config.conditional else image)
