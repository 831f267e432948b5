"""Co-Mod-GAN (Zhao et al., ICLR 2021): the paper's "pix2pix-zero-distilled" baseline.

An image encoder gives skip features and a global code; a mapping network turns a latent z into a style
vector w; each modulated convolution of a StyleGAN2 decoder takes its style from both (co-modulation).
The decoder starts from the encoder's bottom features, adds the encoder's skip features at every
resolution, and sums toRGB outputs across resolutions (StyleGAN2's skip architecture).

Departures from the original, each for a stated reason:
- The global code is an average over the bottom feature map, then a linear layer (the original flattens a
  fixed 4x4 map): one model runs at any size that is a multiple of ``2**levels``, as e2gan's other backbones do.
- Modulation scales activations and demodulation rescales outputs (StyleGAN2-ADA's non-fused path; the same
  arithmetic as modulating weights). A grouped convolution with one group per sample would bake the batch
  size into an exported graph; this form exports to ONNX with a dynamic batch.
- The prompt is ignored: like pix2pix, one Co-Mod-GAN is trained per concept (``text_conditioned = False``).
- z is drawn from N(0, I) and per-layer noise is added while training; in eval mode z = 0 and no noise, so
  a distilled model edits deterministically.
- Equalised learning rate is folded into the initialisation (see ``EqualLinear``), and the mapping network has
  no 0.01 learning-rate multiplier: the engine's Adam settings are shared by every backbone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from e2gan.config import Bounded, bounded


@dataclass
class CoModGANConfig(Bounded):
    levels: int = bounded(6, 1, 10)  # stride-2 stages: 256 px -> 4x4 at the bottom, as the original at 256
    channel_base: int = bounded(16384, 1, 1 << 20)  # channels at resolution r: min(channel_base / r, channel_max), r relative to 256
    channel_max: int = bounded(512, 1, 2048)
    z_dim: int = bounded(512, 1, 4096)
    w_dim: int = bounded(512, 1, 4096)
    mapping_layers: int = bounded(8, 0, 16)
    noise: bool = True


def _channels(cfg: CoModGANConfig, level: int) -> int:
    """Channels at ``level`` stages below full resolution (level 0: full), for a nominal 256 px input."""
    res = 256 >> level
    return int(min(cfg.channel_base // max(res, 1), cfg.channel_max))


class EqualLinear(nn.Module):
    """StyleGAN's linear layer with leaky ReLU x sqrt(2). StyleGAN's equalised learning rate (weights N(0, 1) scaled
    by 1/sqrt(fan_in) at run time, lr 0.002) is folded into a He initialisation here: e2gan's engine trains
    every backbone with Adam at lr 2e-4, and with run-time scaling these layers would move about 20x slower
    than the other backbones' (measured: 9.98 dB after 100 steps where pix2pix reached 17.1)."""

    def __init__(self, cin, cout, bias_init=0.0, act=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / math.sqrt(cin))
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale, self.lr_mul, self.act = 1.0, 1.0, act

    def extra_macs(self, inputs, output) -> int:  # a functional linear: e2gan.metrics.macs cannot see it
        return output.numel() * self.weight.shape[1]

    def forward(self, x):
        y = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(y, 0.2) * math.sqrt(2) if self.act else y


class EqualConv(nn.Module):
    """Conv with leaky ReLU x sqrt(2) (the encoder's and the discriminator's layers), He-initialised (see EqualLinear)."""

    def __init__(self, cin, cout, k=3, down=False, act=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k) / math.sqrt(cin * k * k))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale, self.down, self.act, self.pad = 1.0, down, act, k // 2

    def extra_macs(self, inputs, output) -> int:  # a functional conv: e2gan.metrics.macs cannot see it
        return output.numel() * self.weight[0].numel()

    def forward(self, x):
        if self.down:
            x = F.avg_pool2d(x, 2)
        y = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)
        return F.leaky_relu(y, 0.2) * math.sqrt(2) if self.act else y


class ModulatedConv(nn.Module):
    """A 3x3 (or 1x1 toRGB) convolution whose input channels are scaled by a style (from the co-modulated
    vector) and whose outputs are demodulated to unit variance (not for toRGB)."""

    def __init__(self, cin, cout, style_dim, k=3, up=False, demodulate=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k) / math.sqrt(cin * k * k))  # He init (see EqualLinear)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.affine = nn.Linear(style_dim, cin)  # a plain Linear, so that peft can put LoRA on it
        nn.init.normal_(self.affine.weight, std=1 / math.sqrt(style_dim))
        nn.init.ones_(self.affine.bias)
        self.scale, self.up, self.demodulate, self.pad = 1.0, up, demodulate, k // 2

    def extra_macs(self, inputs, output) -> int:  # the functional conv (the affine Linear is counted on its own)
        return output.numel() * self.weight[0].numel()

    def forward(self, x, style):
        s = self.affine(style)  # (B, cin)
        w = self.weight * self.scale
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        y = F.conv2d(x * s[:, :, None, None], w, padding=self.pad)
        if self.demodulate:
            d = torch.rsqrt((w.square().sum([2, 3])[None] * s.square()[:, None, :]).sum(2) + 1e-8)  # (B, cout)
            y = y * d[:, :, None, None]
        return y + self.bias[None, :, None, None]


class StyledLayer(nn.Module):
    def __init__(self, cin, cout, style_dim, up=False, noise=True):
        super().__init__()
        self.conv = ModulatedConv(cin, cout, style_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(())) if noise else None

    def forward(self, x, style):
        y = self.conv(x, style)
        if self.noise_strength is not None and self.training:
            y = y + torch.randn(y.shape[0], 1, y.shape[2], y.shape[3], device=y.device, dtype=y.dtype) * self.noise_strength
        return F.leaky_relu(y, 0.2) * math.sqrt(2)


class CoModGAN(nn.Module):
    text_conditioned = False
    #: LoRA on the style affines of the decoder (plain Linear layers; peft cannot wrap the modulated weights)
    lora_targets = (r"decoder\.\d+\.\d+\.conv\.affine",)
    feature_module = "bottom"

    def __init__(self, **config):
        super().__init__()
        self.config = cfg = CoModGANConfig(**config)
        L = cfg.levels
        self.size_multiple = 2**L
        ch = [_channels(cfg, i) for i in range(L + 1)]
        self.from_rgb = EqualConv(3, ch[0], k=1)
        self.encoder = nn.ModuleList(
            nn.Sequential(EqualConv(ch[i], ch[i]), EqualConv(ch[i], ch[i + 1], down=True)) for i in range(L)
        )
        self.bottom = EqualConv(ch[L], ch[L])
        self.global_code = EqualLinear(ch[L], cfg.w_dim * 2)
        self.mapping = nn.Sequential(*[EqualLinear(cfg.z_dim if i == 0 else cfg.w_dim, cfg.w_dim) for i in range(cfg.mapping_layers)])
        style_dim = cfg.w_dim * 3  # w, and the encoder's global code (2 * w_dim)
        self.decoder = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        self.decoder.append(nn.ModuleList([StyledLayer(ch[L], ch[L], style_dim, noise=cfg.noise)]))
        self.to_rgb.append(ModulatedConv(ch[L], 3, style_dim, k=1, demodulate=False))
        for i in reversed(range(L)):
            self.decoder.append(nn.ModuleList([StyledLayer(ch[i + 1], ch[i], style_dim, up=True, noise=cfg.noise),
                                               StyledLayer(ch[i], ch[i], style_dim, noise=cfg.noise)]))
            self.to_rgb.append(ModulatedConv(ch[i], 3, style_dim, k=1, demodulate=False))

    @property
    def default_discriminator(self) -> tuple[str, dict]:
        """The engine trains this backbone against its own discriminator, at the same depth and widths."""
        c = self.config
        return "comodgan", {"levels": c.levels, "channel_base": c.channel_base, "channel_max": c.channel_max}

    def forward(self, image, text_embeds=None, text_mask=None):
        m = self.size_multiple
        h, w = image.shape[-2:]
        if not torch.jit.is_tracing() and (h % m or w % m):  # the check is Python; a traced graph gets padded input
            raise ValueError(f"comodgan with levels={self.config.levels} needs sides divisible by {m}, got {h}x{w}")
        x = self.from_rgb(image)
        skips = []
        for block in self.encoder:
            skips.append(x)
            x = block(x)
        x = self.bottom(x)
        code = self.global_code(x.mean([2, 3]))
        b = image.shape[0]
        if self.training:
            z = torch.randn(b, self.config.z_dim, device=image.device, dtype=image.dtype)
        else:
            z = torch.zeros(b, self.config.z_dim, device=image.device, dtype=image.dtype)
        z = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)  # StyleGAN's pixel norm (0 stays 0)
        style = torch.cat([self.mapping(z), code], 1)  # co-modulation
        rgb = None
        for i, (layers, to_rgb) in enumerate(zip(self.decoder, self.to_rgb)):
            for layer in layers:
                x = layer(x, style)
            if i > 0:
                x = x + skips[-i]  # the encoder's features at this resolution
            y = to_rgb(x, style)
            rgb = y if rgb is None else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + y
        return rgb


@dataclass
class CoModDiscriminatorConfig:
    levels: int = 6
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group: int = 4
    r1_gamma: float = 10.0  # R1 penalty weight (StyleGAN2's value at 256 px is 1-10)
    r1_every: int = 16  # lazy regularisation: every this many steps, scaled up to match


class CoModDiscriminator(nn.Module):
    """StyleGAN2's residual discriminator on (source, image) (6 channels), with minibatch standard deviation,
    trained with the non-saturating loss and a lazy R1 penalty (``gan_loss`` tells e2gan's engine)."""

    gan_loss = "nonsaturating"

    def __init__(self, **config):
        super().__init__()
        self.config = cfg = CoModDiscriminatorConfig(**config)
        gen_cfg = CoModGANConfig(levels=cfg.levels, channel_base=cfg.channel_base, channel_max=cfg.channel_max)
        ch = [_channels(gen_cfg, i) for i in range(cfg.levels + 1)]
        self.r1_gamma, self.r1_every = cfg.r1_gamma, cfg.r1_every
        self.from_rgb = EqualConv(6, ch[0], k=1)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"conv1": EqualConv(ch[i], ch[i]), "conv2": EqualConv(ch[i], ch[i + 1], down=True),
                           "skip": EqualConv(ch[i], ch[i + 1], k=1, down=True, act=False)}) for i in range(cfg.levels)
        )
        self.final_conv = EqualConv(ch[-1] + 1, ch[-1])
        self.final = nn.Sequential(EqualLinear(ch[-1], ch[-1]), EqualLinear(ch[-1], 1, act=False))

    def forward(self, source, image):
        x = self.from_rgb(torch.cat([source, image], 1))
        for blk in self.blocks:
            x = (blk["conv2"](blk["conv1"](x)) + blk["skip"](x)) / math.sqrt(2)
        b = x.shape[0]
        g = min(self.config.mbstd_group, b) if b % min(self.config.mbstd_group, b) == 0 else 1
        y = x.reshape(g, -1, *x.shape[1:])
        std = (y.var(0, unbiased=False) + 1e-8).sqrt().mean([1, 2, 3])  # (b / g,)
        std = std.repeat(g)[:, None, None, None].expand(b, 1, *x.shape[2:])
        x = self.final_conv(torch.cat([x, std], 1))
        return self.final(x.mean([2, 3]))
