"""Diffusion teachers (InstructPix2Pix, pix2pix-zero), packaged like a third-party plugin.

diffusers and transformers are imported only when a teacher is created, so the core works without
them and says what to install. Copy this package to add the next editor (LEDITS++, Flux Kontext, ...).
"""

from e2gan.hookspecs import hookimpl, lazy


@hookimpl
def register_teachers(register):
    register("instruct-pix2pix", lazy(".instruct_pix2pix", "InstructPix2PixTeacher", __package__), description="InstructPix2Pix (diffusers); prompts are instructions")
    register("pix2pix-zero", lazy(".pix2pix_zero", "Pix2PixZeroTeacher", __package__), description="pix2pix-zero (diffusers); prompts are 'source -> target'")
