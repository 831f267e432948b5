"""The demo's photos: ones that Python packages already ship (no download), and random crops of them.

Held-out photos never appear in training crops, so evaluation measures generalisation to new images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from e2gan.data.images import to_rgb

SKIMAGE_COLOUR = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle_left", "motorcycle_right"]
SKIMAGE_GREY = ["camera", "brick", "grass", "gravel", "moon", "coins", "horse", "text"]
HELD_OUT = ("chelsea", "flower", "grace_hopper")


def shipped_photos() -> dict[str, Image.Image]:
    """Every photo we can find in installed packages, by name (RGB)."""
    photos: dict[str, Image.Image] = {}
    try:
        import skimage.data as sd

        for name in SKIMAGE_COLOUR + SKIMAGE_GREY:
            if name.startswith("motorcycle"):
                left, right, _ = sd.stereo_motorcycle()
                arr = left if name.endswith("left") else right
            else:
                arr = getattr(sd, name)()
            if arr.dtype != np.uint8:
                arr = (np.clip(arr, 0, 1) * 255).astype(np.uint8) if arr.max() <= 1 else arr.astype(np.uint8)
            photos[name] = to_rgb(Image.fromarray(arr))
    except ImportError:
        pass
    try:
        from sklearn.datasets import load_sample_images

        data = load_sample_images()
        for fname, arr in zip(data.filenames, data.images):
            photos[Path(fname).stem] = Image.fromarray(arr).convert("RGB")
    except ImportError:
        pass
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        if path.exists():
            photos["grace_hopper"] = Image.open(path).convert("RGB")
    except ImportError:
        pass
    if len(photos) < 4:
        raise RuntimeError("found fewer than 4 sample photos: install scikit-image, scikit-learn and matplotlib, or pass --images DIR")
    return photos


def colour_photos(folder=None) -> dict[str, Image.Image]:
    """The shipped photos that are in colour (grey textures would teach colour concepts nothing), plus
    those of ``folder`` (written by ``e2gan photos``) when given."""
    photos = {k: v for k, v in shipped_photos().items() if k not in SKIMAGE_GREY}
    if folder:
        from e2gan.data.photos import photo_folder

        for split in photo_folder(folder).values():
            photos.update(split)
    return photos


def held_out_names(folder=None) -> tuple[str, ...]:
    """The photos kept for testing: the shipped ones' and those ``folder``'s SOURCES.json marks as test."""
    if not folder:
        return HELD_OUT
    from e2gan.data.photos import split_test_names

    return HELD_OUT + split_test_names(folder)


def random_crops(photos: dict[str, Image.Image], count: int, size: int, seed: int = 0) -> list[tuple[str, Image.Image]]:
    """``count`` square crops (random position, scale 25-100% of the short side, random flip)."""
    rng = np.random.default_rng(seed)
    names = sorted(photos)
    out = []
    for i in range(count):
        name = names[i % len(names)]
        img = photos[name]
        w, h = img.size
        side = int(min(w, h) * rng.uniform(0.25, 1.0))
        side = max(side, min(size, w, h))
        x = int(rng.integers(0, w - side + 1))
        y = int(rng.integers(0, h - side + 1))
        crop = img.crop((x, y, x + side, y + side)).resize((size, size), Image.LANCZOS)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        out.append((f"{name}-{i:04d}", crop))
    return out


def photo_crops(paths, crops: int, size: int, seed: int = 0, root=None) -> list[tuple[str, object]]:
    """``crops`` random square crops (scale 25-100% of the short side, random position, random flip) of each photo in
    ``paths``, as lazy :class:`e2gan.data.images.Crop` sources named ``PATH#cropN``. Deterministic: each photo's crops
    follow ``seed`` and the photo's name (relative to ``root``), so adding photos to a folder keeps the others' crops."""
    import hashlib
    from pathlib import Path

    from e2gan.data.images import Crop

    if crops < 1:
        raise ValueError(f"--crops {crops}: give at least 1 crop per photo")
    out = []
    for path in paths:
        rel = str(Path(path).relative_to(root)) if root and Path(path).is_relative_to(root) else Path(path).name
        rng = np.random.default_rng([seed, int.from_bytes(hashlib.sha256(rel.encode()).digest()[:8], "little")])
        for i in range(crops):
            side, x, y, flip = rng.uniform(0.25, 1.0), rng.random(), rng.random(), bool(rng.random() < 0.5)
            out.append((f"{path}#crop{i}", Crop(str(path), float(side), float(x), float(y), flip, size)))
    return out


def split_photos(photos: dict[str, Image.Image], held_out=HELD_OUT):
    """(training photos, held-out photos) by name."""
    train = {k: v for k, v in photos.items() if k not in held_out}
    test = {k: v for k, v in photos.items() if k in held_out}
    return train, test
