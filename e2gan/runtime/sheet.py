"""A picture of what a zoo entry does: its model on the shipped held-out photos (``e2gan zoo show --sheet``)."""

from __future__ import annotations

import torch

from e2gan.data.images import center_crop_resize, to_tensor
from e2gan.data.samples import HELD_OUT, shipped_photos
from e2gan.grids import grid
from e2gan.hub.zoo import catalogue, show
from e2gan.student import Student


def contact_sheet(name: str, size: int = 128, photos: int = 3):
    """A picture of what a zoo entry does: the shipped held-out photos (never trained on), each beside its edit; for a
    base, beside its first concepts."""
    entry = show(name)
    student = Student.from_pretrained(f"zoo:{name}")
    shots = shipped_photos()
    imgs = [center_crop_resize(shots[n], size) for n in HELD_OUT if n in shots][:photos]
    src = ((to_tensor(imgs) + 1) * 127.5).round().to(torch.uint8)
    prompts = [entry["prompt"]] if name in catalogue()["concepts"] else list(entry.get("concepts", []))[:5]
    cols = {"photo": src, **{p: student.predict(src, p) for p in prompts}}
    return grid(cols)
