"""Building blocks shared by the generators: norms, ResNet blocks, resize+conv up-sampling, attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "instance_plain":  # pix2pix's reference: no affine parameters
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use 'instance', 'instance_plain', 'batch', 'group' or 'none'")


def coordinates(like: torch.Tensor) -> torch.Tensor:
    """(1, 2, H, W): each pixel's (y, x) in [-1, 1], for an image shaped like ``like``."""
    h, w = like.shape[-2:]
    ys = torch.linspace(-1, 1, h, dtype=like.dtype, device=like.device).view(1, 1, h, 1).expand(1, 1, h, w)
    xs = torch.linspace(-1, 1, w, dtype=like.dtype, device=like.device).view(1, 1, 1, w).expand(1, 1, h, w)
    return torch.cat([ys, xs], dim=1)


def with_coords(image: torch.Tensor) -> torch.Tensor:
    """Append (y, x) coordinate channels in [-1, 1] (CoordConv): the convolutions then know where a pixel is."""
    return torch.cat([image, coordinates(image).expand(image.shape[0], -1, -1, -1)], dim=1)


class ConvNormAct(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1, norm="instance", act=True, padding="zeros"):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, padding_mode=padding),
            norm_layer(norm, cout),
            nn.ReLU(inplace=True) if act else nn.Identity(),
        )


class ResnetBlock(nn.Module):
    def __init__(self, channels, norm="instance", padding="zeros"):
        super().__init__()
        self.block = nn.Sequential(
            ConvNormAct(channels, channels, 3, 1, norm, padding=padding), ConvNormAct(channels, channels, 3, 1, norm, act=False, padding=padding)
        )

    def forward(self, x):
        return x + self.block(x)


class Upsample(nn.Module):
    """Resize x2 then a 3x3 conv: peft can put LoRA on it, unlike ``ConvTranspose2d``."""

    def __init__(self, cin, cout, norm="instance", padding="zeros"):
        super().__init__()
        self.conv = ConvNormAct(cin, cout, 3, 1, norm, padding=padding)

    def forward(self, x, size=None):
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class Attention(nn.Module):
    """Multi-head attention with plain ``nn.Linear`` projections (LoRA-targetable)."""

    def __init__(self, dim, context_dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by heads={heads}")
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def extra_macs(self, inputs, output) -> int:
        """QK^T and AV over all heads (the projections are counted as Linear layers); see e2gan.metrics.macs."""
        x = inputs[0]
        ctx = inputs[1] if len(inputs) > 1 and inputs[1] is not None else x
        b, n, d = x.shape
        return 2 * b * n * ctx.shape[1] * d

    def forward(self, x, context=None, mask=None):
        context = x if context is None else context
        b, n, d = x.shape
        h = self.heads
        q = self.to_q(x).view(b, n, h, d // h).transpose(1, 2)
        k = self.to_k(context).view(b, context.shape[1], h, d // h).transpose(1, 2)
        v = self.to_v(context).view(b, context.shape[1], h, d // h).transpose(1, 2)
        attn_mask = None if mask is None else mask[:, None, None, :].to(torch.bool)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


#: self-attention's keys and values come from a token grid of at most this many a side: 32 (1,024 tokens) is the whole
#: grid of a 256 px image for a generator that attends at 1/8, so up to 256 px nothing changes, and above it the cost
#: of attention grows with the pixels (queries), not with their square
KV_GRID = 32


def pooling_matrix(n, grid: int, like: torch.Tensor) -> torch.Tensor:
    """``(ceil(n / s), n)``: averages of ``s = ceil(n / grid)`` consecutive positions (the last block may be shorter);
    the identity when ``n <= grid``. Built from the size with integer arithmetic, so an exported graph keeps it dynamic."""
    stride = (n + grid - 1) // grid
    blocks = (n + stride - 1) // stride
    member = (torch.arange(n, device=like.device) // stride)[None, :] == torch.arange(blocks, device=like.device)[:, None]
    weight = member.to(like.dtype)
    return weight / weight.sum(1, keepdim=True)


def pooled_tokens(tokens: torch.Tensor, h, w, grid: int | None = None) -> torch.Tensor:
    """``tokens`` (B, h*w, C) of an h x w grid, average-pooled to at most ``grid`` x ``grid`` (B, <= grid**2, C); the
    same tokens, exactly, when the grid is no larger (the pooling matrices are the identity)."""
    grid = KV_GRID if grid is None else grid  # read at call time: benchmarks/fullres turns the budget off to compare
    b, _, c = tokens.shape
    x = tokens.transpose(1, 2).reshape(b, c, h, w)
    x = torch.matmul(torch.matmul(pooling_matrix(h, grid, x), x), pooling_matrix(w, grid, x).transpose(0, 1))
    return x.flatten(2).transpose(1, 2)


class TransformerBlock(nn.Module):
    """Self-attention over image tokens (keys and values from at most ``KV_GRID`` x ``KV_GRID`` of them: larger grids
    are average-pooled, so cost stays linear in pixels), cross-attention on the prompt's token embeddings, MLP."""

    def __init__(self, dim, text_dim, heads=4, mlp_ratio=2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, text_dim, heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x, text=None, mask=None):
        b, c, hh, ww = x.shape
        t = x.flatten(2).transpose(1, 2)
        n1 = self.norm1(t)
        t = t + self.self_attn(n1, pooled_tokens(n1, hh, ww))
        if text is not None:
            t = t + self.cross_attn(self.norm2(t), text, mask)
        t = t + self.ff(self.norm3(t))
        return t.transpose(1, 2).reshape(b, c, hh, ww)


class TextFiLM(nn.Module):
    """Per-channel scale and shift from the mean prompt embedding: lets fine-scale decoder stages
    depend on the concept, not only the coarse transformer output."""

    def __init__(self, text_dim, channels):
        super().__init__()
        self.proj = nn.Linear(text_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, text=None, mask=None):
        if text is None:
            return x
        if mask is None:
            pooled = text.mean(1)
        else:
            m = mask.to(text.dtype)[..., None]
            pooled = (text * m).sum(1) / m.sum(1).clamp_min(1.0)
        scale, shift = self.proj(pooled)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + scale) + shift
