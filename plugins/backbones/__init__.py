"""Built-in generators (e2gan presets, pix2pix baselines, timm U-Net) and the PatchGAN discriminator."""

from e2gan.hookspecs import hookimpl, lazy

PRESETS = {
    "e2gan-small": dict(ngf=8),
    "e2gan": dict(ngf=16),
    "e2gan-large": dict(ngf=32),
}


@hookimpl
def register_backbones(register):
    for name, defaults in PRESETS.items():
        register(name, lazy(".e2gan_generator", "E2GANGenerator", __package__, **defaults), description=f"E2GAN generator, ngf={defaults['ngf']}")
    register("pix2pix-resnet9", lazy(".pix2pix", "ResnetGenerator", __package__), description="pix2pix ResNet-9 generator (baseline, no prompt)")
    register("pix2pix-unet256", lazy(".pix2pix", "UnetGenerator", __package__), description="pix2pix U-Net-256 generator (baseline, no prompt)")
    register("timm-unet", lazy(".timm_unet", "TimmUnet", __package__), description="U-Net on a timm encoder with prompt cross-attention")


@hookimpl
def register_discriminators(register):
    register("patchgan", lazy(".patchgan", "PatchGAN", __package__), description="70x70 PatchGAN conditioned on the source")
