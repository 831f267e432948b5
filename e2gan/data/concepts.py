"""Choosing the concepts a base trains on: a teacher's pool, each concept's effect on a fixed probe
set of photos, and a ``register_concept_selectors`` plugin that picks from them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from e2gan.registry import create_concept_selector, create_teacher
from e2gan.settings import parse_spec


def base_pool(teacher) -> list[str]:
    """The concepts a base may train on: ``base_concepts()`` if the teacher has it, else
    ``concepts()`` minus ``held_out()``."""
    if hasattr(teacher, "base_concepts"):
        return list(teacher.base_concepts())
    if not hasattr(teacher, "concepts"):
        raise ValueError(f"teacher {type(teacher).__name__} does not list its concepts: pass --prompt for each base concept")
    reserved = {c for group in getattr(teacher, "held_out", dict)().values() for c in group}
    return [c for c in teacher.concepts() if c not in reserved]


def first_held_out(teacher) -> list[str]:
    """The first held-out concept of each kind the teacher reserves (``held_out()``): what the demo and ``compare``
    adapt to by default."""
    groups = teacher.held_out() if hasattr(teacher, "held_out") else {}
    return [names[0] for names in groups.values() if names]


def probe_photos(count: int = 12, size: int = 64, seed: int = 0) -> list[Image.Image]:
    """A fixed set of small crops of the shipped training photos."""
    from e2gan.data.samples import colour_photos, random_crops, split_photos

    train, _ = split_photos(colour_photos())
    return [img for _, img in random_crops(train, count, size, seed)]


def effect_features(teacher, prompts: list[str], probes: list[Image.Image]) -> torch.Tensor:
    """(N, D): per concept and probe, the 8x8 mean colour change (what moves where) and the 8x8 mean
    absolute change (texture and pattern edits that keep the mean colour still differ)."""
    pool = torch.nn.functional.adaptive_avg_pool2d
    srcs = torch.stack([torch.from_numpy(np.asarray(p, dtype=np.float32) / 255).permute(2, 0, 1) for p in probes])
    feats = []
    for prompt in prompts:
        outs = torch.stack([torch.from_numpy(np.asarray(o, dtype=np.float32) / 255).permute(2, 0, 1)
                            for o in teacher.edit(probes, prompt, [0] * len(probes))])
        diff = outs - srcs
        feats.append(torch.cat([pool(diff, 8).flatten(), pool(diff.abs(), 8).flatten()]))
    return torch.stack(feats)


def choose_concepts(teacher_name: str, spec: str, seed: int = 0, teacher=None) -> list[str]:
    """``spec`` like ``representative:count=8`` -> the chosen prompts of ``teacher_name``'s pool."""
    teacher = teacher or create_teacher(teacher_name)
    pool = base_pool(teacher)
    name, settings = parse_spec(spec)
    count = int(settings.pop("count", 8))
    selector = create_concept_selector(name, **settings)
    probes = probe_photos() if getattr(selector, "needs_effects", True) else []
    chosen = selector.select(pool, count, seed, lambda prompts: effect_features(teacher, prompts, probes))
    bad = [c for c in chosen if c not in pool]
    if bad:
        raise ValueError(f"concept selector {name!r} returned {bad[:3]}, which are not in teacher {teacher_name!r}'s base pool")
    return list(chosen)
