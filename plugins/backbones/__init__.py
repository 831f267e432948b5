"""Built-in generators (e2gan presets, pix2pix baselines, timm U-Net, Co-Mod-GAN) and their discriminators."""

from e2gan.hookspecs import hookimpl, lazy

PRESETS = {
    "e2gan-small": dict(ngf=8),
    "e2gan": dict(ngf=16),
    "e2gan-large": dict(ngf=32),
}


#: Co-Mod-GAN, the paper's "pix2pix-zero-distilled" baseline: the original's channel schedule at 256 px, and a small one
COMODGAN = {
    "comodgan": (dict(levels=6, channel_base=32768, channel_max=512, z_dim=512, w_dim=512, mapping_layers=8),
                 "Co-Mod-GAN (paper's pix2pix-zero-distilled baseline), 62.9 M params, 128.9 G MACs at 256 px; no prompt"),
    "comodgan-small": (dict(levels=3, channel_base=4096, channel_max=64, z_dim=64, w_dim=64, mapping_layers=2),
                       "Co-Mod-GAN, small preset for tests and CPU runs (0.41 M params); no prompt"),
}


@hookimpl
def register_backbones(register):
    for name, defaults in PRESETS.items():
        register(name, lazy(".e2gan_generator", "E2GANGenerator", __package__, **defaults), description=f"E2GAN generator, ngf={defaults['ngf']}")
    register("pix2pix-resnet9", lazy(".pix2pix", "ResnetGenerator", __package__), description="pix2pix ResNet-9 generator (baseline, no prompt)")
    register("pix2pix-unet256", lazy(".pix2pix", "UnetGenerator", __package__), description="pix2pix U-Net-256 generator (baseline, no prompt)")
    register("timm-unet", lazy(".timm_unet", "TimmUnet", __package__), description="U-Net on a timm encoder with prompt cross-attention")
    for name, (defaults, what) in COMODGAN.items():
        register(name, lazy(".comodgan", "CoModGAN", __package__, **defaults), description=what)


@hookimpl
def register_discriminators(register):
    register("patchgan", lazy(".patchgan", "PatchGAN", __package__), description="70x70 PatchGAN conditioned on the source")
    register("comodgan", lazy(".comodgan", "CoModDiscriminator", __package__),
             description="StyleGAN2 residual discriminator on (source, image): non-saturating loss, lazy R1")
