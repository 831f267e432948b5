"""Isola et al.'s pix2pix generators (ResNet-9 and U-Net-256), as from-scratch baselines.

Faithful to the reference: reflection padding, instance norm, transposed-conv up-sampling, tanh
output; they ignore the prompt (one model per concept). resnet9 at ngf 64: 11.378 M parameters,
56.8 G MACs at 256x256 counting transposed convs per output pixel (49.6 G per input pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from e2gan.config import Bounded, bounded

from .layers import norm_layer


@dataclass
class ResnetGeneratorConfig(Bounded):
    ngf: int = bounded(64, 1, 512)
    n_blocks: int = bounded(9, 0, 64)
    norm: str = "instance_plain"


class _PaddedResBlock(nn.Module):
    def __init__(self, c, norm):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm_layer(norm, c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm_layer(norm, c),
        )

    def forward(self, x):
        return x + self.conv_block(x)


def _last_res_block(layers) -> int:
    return max(i for i, m in enumerate(layers) if isinstance(m, _PaddedResBlock))


class ResnetGenerator(nn.Module):
    #: the paper's placement on pix2pix: the stem, the two down-sampling convs and the output conv (peft
    #: cannot wrap the transposed-conv up-sampling); no ResNet block
    lora_targets: tuple = ()  # set in __init__: the output conv's index depends on n_blocks
    feature_module = ""  # set in __init__: the last ResNet block
    text_conditioned = False
    size_multiple = 4  # two stride-2 convs, two transposed convs

    def __init__(self, **config):
        super().__init__()
        self.config = cfg = ResnetGeneratorConfig(**config)
        ngf, norm = cfg.ngf, cfg.norm
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), norm_layer(norm, ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2**i
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), norm_layer(norm, ngf * m * 2), nn.ReLU(True)]
        layers += [_PaddedResBlock(ngf * 4, norm) for _ in range(cfg.n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                norm_layer(norm, ngf * m // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.lora_targets = (r"model\.(1|4|7)", rf"model\.{len(layers) - 2}")
        self.feature_module = f"model.{_last_res_block(layers)}"

    def forward(self, image, text_embeds=None, text_mask=None):
        return self.model(image)


@dataclass
class UnetGeneratorConfig(Bounded):
    ngf: int = bounded(64, 1, 512)
    num_downs: int = bounded(8, 5, 12)
    norm: str = "instance_plain"


class _UnetBlock(nn.Module):
    def __init__(self, outer, inner, submodule=None, outermost=False, innermost=False, norm="instance", cin=None):
        super().__init__()
        cin = outer if cin is None else cin
        self.outermost = outermost
        down = [nn.Conv2d(cin, inner, 4, 2, 1)]
        if outermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
            model = down + [submodule] + up
        elif innermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1), norm_layer(norm, outer)]
            model = [nn.LeakyReLU(0.2, True)] + down + up
        else:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), norm_layer(norm, outer)]
            model = [nn.LeakyReLU(0.2, True)] + down + [norm_layer(norm, inner), submodule] + up
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    #: every Conv2d of this U-Net is a down-sampling conv (its up-sampling is transposed, which peft cannot wrap)
    lora_targets = (r".*",)
    text_conditioned = False

    def __init__(self, **config):
        super().__init__()
        self.config = cfg = UnetGeneratorConfig(**config)
        ngf, norm = cfg.ngf, cfg.norm
        block = _UnetBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(cfg.num_downs - 5):
            block = _UnetBlock(ngf * 8, ngf * 8, block, norm=norm)
        block = _UnetBlock(ngf * 4, ngf * 8, block, norm=norm)
        block = _UnetBlock(ngf * 2, ngf * 4, block, norm=norm)
        block = _UnetBlock(ngf, ngf * 2, block, norm=norm)
        self.model = _UnetBlock(3, ngf, block, outermost=True, norm=norm, cin=3)
        convs = [n for n, m in self.named_modules() if type(m) is nn.Conv2d]
        self.feature_module = max(convs, key=len)  # the innermost down-sampling conv: the bottleneck

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this."""
        return 2**self.config.num_downs

    def forward(self, image, text_embeds=None, text_mask=None):
        need = 2**self.config.num_downs
        if not torch.jit.is_tracing() and (image.shape[-1] % need or image.shape[-2] % need):
            raise ValueError(
                f"pix2pix-unet with num_downs={self.config.num_downs} needs sides divisible by {need}, "
                f"got {tuple(image.shape[-2:])}; pass num_downs=log2(size) for smaller images"
            )
        return self.model(image)
