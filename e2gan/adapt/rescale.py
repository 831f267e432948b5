"""An output-preserving rescale of the convolutions that feed an instance norm, for fine-tuning a trained base.

Instance norm divides each channel by its own spread, so scaling a conv by ``s`` (weight and bias together) changes
nothing after the norm once the norm's ``eps`` is scaled by ``s**2`` too: ``(s*y - s*mean) / sqrt(s**2*var + s**2*eps)``
is the old output exactly (up to float rounding). A base's conv weights grow during training (the zoo
base's reached 2-2.6x their initial RMS); an update of a given size then moves them relatively less: LoRA, and any
fine-tune at the same learning rate, learns slower on a well-trained base. Rescaling every such channel back to the
RMS of a fresh conv of its shape before training, and undoing it afterwards (on the base and, for LoRA, on ``lora_B``,
whose rows map into those channels), gives the same function with updates of the size a fresh network gets. The
adapter that comes out applies to the original base, so plain peft loads it as usual.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def convs_feeding_instance_norm(model: nn.Module) -> list[tuple[str, str]]:
    """``(conv, norm)`` names of the ``Conv2d`` layers whose output goes straight into an ``InstanceNorm2d`` (consecutive
    children of an ``nn.Sequential``, as every ``ConvNormAct`` block is)."""
    names = []
    for parent_name, parent in model.named_modules():
        if not isinstance(parent, nn.Sequential):
            continue
        kids = list(parent.named_children())
        prefix = f"{parent_name}." if parent_name else ""
        for (name, mod), (norm_name, nxt) in zip(kids, kids[1:]):
            conv = getattr(mod, "base_layer", mod)  # a peft-wrapped conv counts too
            norm = getattr(nxt, "original_module", nxt)  # and a norm peft trains (modules_to_save)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.InstanceNorm2d):
                names.append((prefix + name, prefix + norm_name))
    return names


def fresh_rms(conv: nn.Conv2d) -> float:
    """The RMS of a newly built conv of this shape (PyTorch's default init: uniform in +-1/sqrt(fan_in))."""
    fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
    return 1.0 / math.sqrt(3 * fan_in)


class Rescaled:
    """Context of a rescale: :meth:`apply` scales each conv to a fresh conv's RMS (and its norm's ``eps`` by the square),
    :meth:`undo` puts the original base weights and ``eps`` back exactly and folds the scale out of LoRA's ``lora_B``
    (or of fully trained weights)."""

    def __init__(self, model: nn.Module, pairs: list[tuple[str, str]] | None = None):
        self.model = model
        self.pairs = convs_feeding_instance_norm(model) if pairs is None else list(pairs)
        self.scales: dict[str, float] = {}
        self.originals: dict[str, tuple[torch.Tensor, torch.Tensor | None, float]] = {}

    def _norms(self, name: str) -> list[nn.Module]:
        """The norm and, when peft trains it, its trainable copy: both get the same ``eps``."""
        mod = self.model.get_submodule(name)
        return [mod] if not hasattr(mod, "original_module") else [mod.original_module, *mod.modules_to_save.values()]

    def _conv(self, name: str) -> nn.Conv2d:
        mod = self.model.get_submodule(name)
        return getattr(mod, "base_layer", mod)

    @torch.no_grad()
    def apply(self) -> "Rescaled":
        for name, norm_name in self.pairs:
            conv = self._conv(name)
            w = conv.weight
            s = fresh_rms(conv) / float(w.pow(2).mean().sqrt().clamp_min(1e-12))
            norm = self.model.get_submodule(norm_name)
            self.scales[name] = s
            self.originals[name] = (w.detach().clone(), None if conv.bias is None else conv.bias.detach().clone(), norm.eps)
            w.mul_(s)
            if conv.bias is not None:
                conv.bias.mul_(s)
            norm.eps = norm.eps * s * s
        return self

    @torch.no_grad()
    def undo(self, trained_base: bool = False) -> None:
        """Back to the original scale. ``trained_base``: the conv weights themselves were trained (a full fine-tune, or
        trainable biases): divide them by the scale instead of restoring the originals."""
        for name, norm_name in self.pairs:
            s = self.scales.pop(name)
            w0, b0, eps = self.originals.pop(name)
            mod = self.model.get_submodule(name)
            conv = getattr(mod, "base_layer", mod)
            if trained_base and conv.weight.requires_grad:
                conv.weight.div_(s)
            else:
                conv.weight.copy_(w0)
            if conv.bias is not None:
                if trained_base or conv.bias.requires_grad:
                    conv.bias.div_(s)
                else:
                    conv.bias.copy_(b0)
            for b in getattr(mod, "lora_B", {}).values():  # B maps into the conv's output: its delta was learnt at scale s
                b.weight.div_(s)
            for norm in self._norms(norm_name):
                norm.eps = eps
