"""The offline teacher ``classic``: 14 concepts made of real image operations, no download needed.

It stands in for a diffusion editor wherever none can run (the demo, tests, CI): the pipeline
distils it exactly as it distils InstructPix2Pix.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from e2gan.hookspecs import hookimpl
from e2gan.settings import shorten

from .concepts import CONCEPTS

VERSION = 1  # bump when an operation changes: it is part of the cache key

#: what zoo:classic-base trains on: spatial and colour concepts of each kind
BASE = ["watercolor painting", "pencil sketch", "cartoon", "enhance details", "sepia", "night", "thermal camera", "pop art"]
#: the rest, reserved for adaptation; the first of each kind is what `e2gan demo` and `e2gan compare` adapt to
HELD_OUT = {"spatial": ["oil painting", "colored pencil drawing", "emboss", "vintage photo"], "colour": ["winter", "black and white"]}


class ClassicTeacher:
    #: grey textures (brick, gravel, ...) are among its training photos: its edits are not only about colour
    colour_only = False

    def __init__(self, batch_size: int = 16):
        self.batch_size = batch_size
        self.settings = {"version": VERSION}

    @staticmethod
    def concepts() -> list[str]:
        return list(CONCEPTS)

    @staticmethod
    def base_concepts() -> list[str]:
        """The concepts a base trains on (zoo:classic-base's 8)."""
        return list(BASE)

    @staticmethod
    def held_out() -> dict[str, list[str]]:
        """Concepts no base trains on, by kind (spatial filters and per-pixel colour maps)."""
        return {kind: list(names) for kind, names in HELD_OUT.items()}

    def edit(self, images: list[Image.Image], prompt: str, seeds: list[int]) -> list[Image.Image]:
        key = prompt.strip().lower()
        if key not in CONCEPTS:
            raise ValueError(f"the classic teacher has no concept {shorten(prompt, 80)!r}; choose one of: {', '.join(CONCEPTS)}")
        op = CONCEPTS[key][0]
        return [Image.fromarray(op(np.asarray(img.convert("RGB")))) for img in images]


@hookimpl
def register_teachers(register):
    register("classic", ClassicTeacher, description=f"{len(CONCEPTS)} OpenCV edits, offline (demo/test default)")
