"""Counting multiply-accumulates (MACs) with both known traps handled:

* transposed convolutions are counted per *output* pixel (the convention under which pix2pix's
  ResNet-9 is 56.8 G MACs at 256x256; per input pixel gives 49.6 G);
* attention's two matrix products (QK^T and AV) are counted, which torch's FLOP counter misses for
  CPU scaled-dot-product attention: a module declares such products with ``extra_macs(inputs, output)``. Norms, activations and resizes are ignored (they are not MACs).
"""

from __future__ import annotations

import torch
from torch import nn


def count_macs(model: nn.Module, *inputs, transposed: str = "output") -> int:
    """MACs of one forward pass on ``inputs``; ``transposed``: 'output' or 'input' pixel convention."""
    if transposed not in ("output", "input"):
        raise ValueError("transposed must be 'output' or 'input'")
    total = 0
    hooks = []

    def conv(m: nn.Conv2d, inp, out):
        nonlocal total
        kh, kw = m.kernel_size
        total += out.numel() * (m.in_channels // m.groups) * kh * kw

    def tconv(m: nn.ConvTranspose2d, inp, out):
        nonlocal total
        kh, kw = m.kernel_size
        pixels = out.numel() if transposed == "output" else inp[0].numel() // m.in_channels * m.out_channels
        total += pixels * (m.in_channels // m.groups) * kh * kw

    def linear(m: nn.Linear, inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    def extra(m, inp, out):
        nonlocal total
        total += int(m.extra_macs(inp, out))

    for mod in model.modules():
        if isinstance(mod, nn.ConvTranspose2d):
            hooks.append(mod.register_forward_hook(tconv))
        elif isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(linear))
        elif callable(getattr(mod, "extra_macs", None)):  # products that are no module (e.g. attention's)
            hooks.append(mod.register_forward_hook(extra))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return total
