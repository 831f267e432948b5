"""The offline teacher ``procedural``: concepts composed of 2-3 primitive edits, prompted by their words.

Real diffusion edits share structure (colour, texture, light, geometry, semantics); the ``classic``
teacher's unrelated OpenCV filters do not, so a base has nothing to transfer. Here a concept such as
``"halftone, warm, vignette"`` is its primitives applied in a fixed family order, and the prompt is
their words: a base that has seen ``halftone`` and ``warm`` in other concepts can compose them.

Held-out concepts (``held_out()``) come in two kinds: new combinations of primitives every base sees,
and combinations containing one of the ``UNSEEN`` primitives that ``concepts()`` (the base pool) never
uses. The output depends only on the image and the prompt (no randomness), so it is deterministic
for every seed.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
from PIL import Image

from e2gan.hookspecs import hookimpl
from e2gan.settings import shorten

from .primitives import FAMILIES, FAMILY_OF, ORDER, UNSEEN

VERSION = 1  # bump when a primitive changes: it is part of the cache key
SEPARATOR = ", "


def parse(prompt: str) -> list[str]:
    """``"vignette, warm"`` -> ``["warm", "vignette"]`` (application order); a clear error otherwise."""
    words = [w.strip().lower() for w in prompt.split(",") if w.strip()]
    unknown = [w for w in words if w not in FAMILY_OF]
    if unknown or not words:
        raise ValueError(f"the procedural teacher has no primitive {shorten(unknown[0] if unknown else prompt, 80)!r}; a prompt is 1-3 of "
                         f"these, comma-separated: {', '.join(ORDER)}")
    families = [FAMILY_OF[w] for w in words]
    if len(set(families)) != len(families):
        raise ValueError(f"{shorten(prompt, 80)!r} uses two primitives of one family; use at most one of each family ({', '.join(FAMILIES)})")
    return sorted(words, key=ORDER.index)


def prompt_of(words) -> str:
    """The canonical prompt of a set of primitives."""
    return SEPARATOR.join(sorted(words, key=ORDER.index))


def _combos(words: list[str], k: int):
    for combo in itertools.combinations(words, k):
        if len({FAMILY_OF[w] for w in combo}) == k:
            yield prompt_of(combo)


def all_concepts() -> list[str]:
    """Every 2-primitive combination and a fixed sample of 3-primitive ones."""
    words = ORDER
    pairs = list(_combos(words, 2))
    triples = list(_combos(words, 3))
    return pairs + sorted(random.Random(0).sample(triples, min(len(triples), 300)), key=triples.index)


def held_out() -> dict[str, list[str]]:
    """Concepts no base trains on: ``seen-primitives`` (new combinations of seen primitives) and
    ``unseen-primitive`` (each contains exactly one primitive of ``UNSEEN``)."""
    rng = random.Random(1)
    seen_pool = [c for c in all_concepts() if not any(w in UNSEEN for w in parse(c))]
    seen = rng.sample(seen_pool, 12)
    unseen = [c for c in all_concepts() if sum(w in UNSEEN for w in parse(c)) == 1]
    return {"seen-primitives": sorted(seen, key=seen_pool.index), "unseen-primitive": sorted(rng.sample(unseen, 12))}


class ProceduralTeacher:
    batch_size = 32
    #: its edits act on colour photos (grey textures teach them nothing); fetched photos (`e2gan photos`) may join
    colour_only = True
    #: `e2gan demo --teacher procedural`: from scratch gets LoRA's wall time (the transfer gate's claim (c))
    demo = {"equal_time": True}

    def __init__(self):
        self.settings = {"version": VERSION}

    @staticmethod
    def concepts() -> list[str]:
        """Every enumerated concept (2-primitive combinations and a fixed sample of 3-primitive ones)."""
        return all_concepts()

    @staticmethod
    def base_concepts() -> list[str]:
        """The pool a base may train on: combinations of seen primitives, minus the held-out ones."""
        reserved = {c for group in held_out().values() for c in group}
        return [c for c in all_concepts() if c not in reserved and not any(w in UNSEEN for w in parse(c))]

    @staticmethod
    def held_out() -> dict[str, list[str]]:
        return held_out()

    @staticmethod
    def primitives() -> dict[str, list[str]]:
        return {fam: list(prims) for fam, prims in FAMILIES.items()}

    def edit(self, images: list[Image.Image], prompt: str, seeds: list[int]) -> list[Image.Image]:
        ops = [FAMILIES[FAMILY_OF[w]][w] for w in parse(prompt)]
        out = []
        for img in images:
            x = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
            for op in ops:
                x = np.clip(op(x), 0.0, 1.0).astype(np.float32)
            out.append(Image.fromarray((x * 255.0 + 0.5).astype(np.uint8)))
        return out


@hookimpl
def register_teachers(register):
    register("procedural", ProceduralTeacher,
             description=f"{len(ORDER)} primitive edits in {len(FAMILIES)} families, composed 2-3 at a time; offline")
