"""A U-Net generator on any timm encoder (``features_only=True``), with prompt cross-attention at
the bottleneck, so timm's mobile encoders (MobileNetV3, EfficientNet-Lite, ...) become backbones.
Random init offline; ``pretrained=True`` loads the encoder's weights from the Hub when reachable."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from e2gan.config import Bounded, bounded

from .layers import ConvNormAct, TransformerBlock


@dataclass
class TimmUnetConfig(Bounded):
    encoder: str = "mobilenetv3_small_100"
    pretrained: bool = False  # refused: timm's download may unpickle .pth/.bin files; use encoder_weights
    encoder_weights: str | None = None  # a .safetensors file of the encoder's weights (read only when given on the command line)
    decoder_channels: int = bounded(32, 1, 1024)
    bottleneck_dim: int = bounded(64, 1, 4096)
    text_dim: int = bounded(64, 1, 4096)
    heads: int = bounded(4, 1, 64)
    norm: str = "instance"


class TimmUnet(nn.Module):
    text_conditioned = True
    #: LoRA on the bottleneck, the transformer and the decoder; the (pretrained) encoder stays frozen
    lora_targets = (r"bottleneck_in", r"transformer\.(self_attn|cross_attn)\.to_(q|k|v|out)", r"transformer\.ff\.(0|2)",
                    r"decoder\.\d+\.0", r"final\.0", r"head")
    feature_module = "bottleneck_in"

    def __init__(self, **config):
        super().__init__()
        import timm

        self.config = cfg = TimmUnetConfig(**config)
        if cfg.pretrained:
            raise ValueError("timm-unet: pretrained=True would let timm download and unpickle .pth/.bin weights; download the encoder's "
                             "model.safetensors and pass --set encoder_weights=PATH.safetensors")
        if ":" in cfg.encoder:
            raise ValueError(f"timm-unet: encoder {cfg.encoder!r} names a download source; name a timm architecture and pass its "
                             "weights as --set encoder_weights=PATH.safetensors")
        self.encoder = timm.create_model(cfg.encoder, features_only=True, pretrained=False)
        if cfg.encoder_weights:
            from safetensors.torch import load_file

            path = str(cfg.encoder_weights)
            if not path.endswith(".safetensors"):
                raise ValueError(f"timm-unet: encoder_weights must be a .safetensors file, got {path!r}")
            state = load_file(path)
            missing, unexpected = self.encoder.load_state_dict(state, strict=False)
            if len(missing) == len(self.encoder.state_dict()):
                raise ValueError(f"timm-unet: {path} holds no weight of encoder {cfg.encoder!r} (keys like {list(state)[:2]})")
        chans = self.encoder.feature_info.channels()
        self.reduction = self.encoder.feature_info.reduction()[-1]
        self.size_multiple = self.reduction  # height and width must be multiples of this
        self.bottleneck_in = nn.Conv2d(chans[-1], cfg.bottleneck_dim, 1)
        self.transformer = TransformerBlock(cfg.bottleneck_dim, cfg.text_dim, cfg.heads)
        dec = cfg.decoder_channels
        self.decoder = nn.ModuleList()
        cin = cfg.bottleneck_dim
        for skip in reversed(chans[:-1]):
            self.decoder.append(ConvNormAct(cin + skip, dec, 3, 1, cfg.norm))
            cin = dec
        self.final = ConvNormAct(cin + 3, dec, 3, 1, cfg.norm)
        self.head = nn.Conv2d(dec, 3, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, image, text_embeds=None, text_mask=None):
        h, w = image.shape[-2:]
        if not torch.jit.is_tracing() and (h % self.reduction or w % self.reduction):
            raise ValueError(f"timm-unet on {self.config.encoder} needs sides divisible by {self.reduction}, got {h}x{w}")
        feats = self.encoder(image)
        x = self.transformer(self.bottleneck_in(feats[-1]), text_embeds, text_mask)
        for block, skip in zip(self.decoder, reversed(feats[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], 1))
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        x = self.final(torch.cat([x, image], 1))
        return image + self.head(x)
