"""Diffusion teachers (InstructPix2Pix, pix2pix-zero), packaged like a third-party plugin.

diffusers and transformers are imported only when a teacher is created, so the core works without
them and says what to install. Copy this package to add the next editor (LEDITS++, Flux Kontext, ...).
"""

from e2gan.hookspecs import hookimpl


def _instruct_pix2pix(**settings):
    from .instruct_pix2pix import InstructPix2PixTeacher

    return InstructPix2PixTeacher(**settings)


def _pix2pix_zero(**settings):
    from .pix2pix_zero import Pix2PixZeroTeacher

    return Pix2PixZeroTeacher(**settings)


@hookimpl
def register_teachers(register):
    register("instruct-pix2pix", _instruct_pix2pix, description="InstructPix2Pix (diffusers); prompts are instructions")
    register("pix2pix-zero", _pix2pix_zero, description="pix2pix-zero (diffusers); prompts are 'source -> target'")
