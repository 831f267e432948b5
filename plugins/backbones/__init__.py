"""Built-in generators (e2gan presets, pix2pix baselines, timm U-Net) and the PatchGAN discriminator."""

from e2gan.hookspecs import hookimpl

PRESETS = {
    "e2gan-small": dict(ngf=8),
    "e2gan": dict(ngf=16),
    "e2gan-large": dict(ngf=32),
}


def _preset(cls, defaults):
    def build(**config):
        return cls(**{**defaults, **config})

    return build


@hookimpl
def register_backbones(register):
    from .e2gan_generator import E2GANGenerator
    from .pix2pix import ResnetGenerator, UnetGenerator
    from .timm_unet import TimmUnet

    for name, defaults in PRESETS.items():
        register(name, _preset(E2GANGenerator, defaults), description=f"E2GAN generator, ngf={defaults['ngf']}")
    register("pix2pix-resnet9", ResnetGenerator, description="pix2pix ResNet-9 generator (baseline, no prompt)")
    register("pix2pix-unet256", UnetGenerator, description="pix2pix U-Net-256 generator (baseline, no prompt)")
    register("timm-unet", TimmUnet, description="U-Net on a timm encoder with prompt cross-attention")


@hookimpl
def register_discriminators(register):
    from .patchgan import PatchGAN

    register("patchgan", PatchGAN, description="70x70 PatchGAN conditioned on the source")
