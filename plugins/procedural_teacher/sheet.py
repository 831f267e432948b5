"""The picture sheet of docs/procedural-teacher.md: every primitive on one photo, labelled.

    python -m e2gan_plugins.procedural_teacher.sheet docs/img/procedural-primitives.png
"""

from __future__ import annotations

import sys

from PIL import Image, ImageDraw

from . import ProceduralTeacher
from .primitives import FAMILIES


def sheet(photo: Image.Image, tile: int = 128, cols: int = 6) -> Image.Image:
    teacher = ProceduralTeacher()
    photo = photo.convert("RGB").resize((tile, tile), Image.LANCZOS)
    cells = [("source", photo)] + [(f"{fam}: {w}", teacher.edit([photo], w, [0])[0]) for fam, prims in FAMILIES.items() for w in prims]
    rows = -(-len(cells) // cols)
    label = 14
    canvas = Image.new("RGB", (cols * (tile + 4) + 4, rows * (tile + label + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, (name, img) in enumerate(cells):
        x, y = 4 + (i % cols) * (tile + 4), 4 + (i // cols) * (tile + label + 4)
        canvas.paste(img, (x, y + label))
        draw.text((x + 1, y + 1), name[:26], fill=(0, 0, 0))
    return canvas


def main(argv=None):
    from e2gan.data.samples import shipped_photos
    from e2gan.io import atomic_save_image

    out = (argv or sys.argv[1:] or ["docs/img/procedural-primitives.png"])[0]
    atomic_save_image(out, sheet(shipped_photos()["astronaut"]))
    print(out)


if __name__ == "__main__":
    main()
