"""Reading user photos robustly: every bad file gets a reason, every good one becomes RGB uint8."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
MIN_SIDE = 16
DEFAULT_MAX_PIXELS = 150_000_000


class BadImageError(ValueError):
    """An input that cannot be used; the message says why and what to do."""


@dataclass
class Skipped:
    path: str
    reason: str


def to_rgb(img: Image.Image) -> Image.Image:
    """Normalise any PIL mode to RGB: EXIF orientation applied, 16-bit scaled, alpha on white."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img).astype(np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img)
        img = Image.fromarray(np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(canvas, rgba)
    return img.convert("RGB")


def max_pixels() -> int:
    """The decoded-size limit (width x height): ``E2GAN_MAX_PIXELS``, default 150 million (a 12000x12500 photo)."""
    raw = os.environ.get("E2GAN_MAX_PIXELS", "")
    try:
        return int(float(raw)) if raw else DEFAULT_MAX_PIXELS
    except ValueError:
        raise ValueError(f"E2GAN_MAX_PIXELS={raw!r} is not a number of pixels (e.g. 150000000)") from None


def check_image(path: str | Path, min_side: int = MIN_SIDE, limit: int | None = None) -> tuple[int, int]:
    """Read only the header of ``path``: its (width, height), or :class:`BadImageError` with the reason.
    Nothing is decoded, so a 69-byte file that claims 100000x100000 pixels costs nothing."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise BadImageError(f"not an image extension ({ext or 'none'}); use one of {', '.join(sorted(IMAGE_EXTENSIONS))}")
    if path.stat().st_size == 0:
        raise BadImageError("empty file (0 bytes)")
    limit = limit or max_pixels()
    try:
        with _quiet_bombs(), Image.open(path) as img:
            fmt, size = img.format, img.size
    except UnidentifiedImageError:
        raise BadImageError("not an image: the content is not a format PIL can read") from None
    except Image.DecompressionBombError:
        raise BadImageError(f"claims more pixels than PIL will decode (over {2 * Image.MAX_IMAGE_PIXELS:,})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImageError(f"unreadable or truncated image ({exc})") from None
    if fmt and fmt != IMAGE_EXTENSIONS[ext] and not (fmt == "MPO" and ext in (".jpg", ".jpeg")):
        raise BadImageError(f"wrong extension: the content is {fmt} but the name ends in {ext}; rename the file")
    if size[0] * size[1] > limit:
        raise BadImageError(f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, over the limit of {limit:,} (E2GAN_MAX_PIXELS); "
                            "downscale it, or raise the limit if the memory is there")
    if min(size) < min_side:
        raise BadImageError(f"too small ({size[0]}x{size[1]}); need at least {min_side}x{min_side}")
    return size


@contextlib.contextmanager
def _quiet_bombs():
    """PIL warns of any image over its own 89-megapixel guess; e2gan applies its own limit (E2GAN_MAX_PIXELS) and says
    why it skips an image, so PIL's warning would only repeat it (or warn of one the limit allows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def load_image(path: str | Path, min_side: int = MIN_SIDE) -> Image.Image:
    """Open ``path`` as RGB (after :func:`check_image`) or raise :class:`BadImageError` with the reason."""
    check_image(path, min_side)
    try:
        with _quiet_bombs(), Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except Image.DecompressionBombError:
        raise BadImageError("claims more pixels than PIL will decode") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImageError(f"unreadable or truncated image ({exc})") from None


def _special(path: Path) -> str | None:
    """Why ``path`` is no regular file to read (a symlink loop, a FIFO, a device, a socket), or None."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if path.is_symlink():
            return "a broken symbolic link"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return None


def scan_images(folder: str | Path, min_side: int = MIN_SIDE, exclude=None, decode: bool = True):
    """Every file under ``folder`` (sorted): ``(good [(path, image)], skipped [Skipped])``.

    Special files (symlink loops, FIFOs, devices) and files under ``exclude`` (a command's own output
    folder) are skipped with the reason. ``decode=False`` checks headers only and gives ``(path, path)``:
    callers then decode one image at a time (:func:`open_source`), so memory does not grow with the folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist or is not a folder")
    skip_under = Path(exclude).resolve() if exclude else None
    good, skipped = [], []
    for path in sorted(p for p in folder.rglob("*") if not p.name.startswith(".")):
        why = _special(path)
        if why is not None:
            skipped.append(Skipped(str(path), why))
            continue
        if path.is_dir():
            continue
        if skip_under is not None and path.resolve().is_relative_to(skip_under):
            skipped.append(Skipped(str(path), f"inside the output folder {exclude}: an earlier output, not a source"))
            continue
        try:
            good.append((path, load_image(path, min_side) if decode else (check_image(path, min_side) and path)))
        except BadImageError as exc:
            skipped.append(Skipped(str(path), str(exc)))
    return good, skipped


@dataclass(frozen=True)
class Crop:
    """A square crop of a photo on disk, decoded only when it is taught (a folder of any size costs one photo at a
    time): the side is ``side`` of the photo's short side (at least ``size`` pixels when the photo has them), placed
    at ``(x, y)`` in [0, 1] of the room left, flipped left-right or not, resized to ``size``."""

    path: str
    side: float
    x: float
    y: float
    flip: bool
    size: int

    def open(self) -> Image.Image:
        img = _decoded(self.path, *_stamp(self.path))  # the crops of one photo come together: decoded once, not once per crop
        w, h = img.size
        side = max(int(min(w, h) * self.side), min(self.size, w, h))
        left, top = int(self.x * (w - side + 1)), int(self.y * (h - side + 1))
        left, top = min(left, w - side), min(top, h - side)
        crop = img.crop((left, top, left + side, top + side)).resize((self.size, self.size), Image.LANCZOS)
        return crop.transpose(Image.FLIP_LEFT_RIGHT) if self.flip else crop


def _stamp(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=1)  # one decoded photo held at a time: memory does not grow with the folder
def _decoded(path, mtime_ns: int, size: int) -> Image.Image:
    return load_image(path)


def open_source(item):
    """A source given as an image, as a path that :func:`scan_images` checked, or as a :class:`Crop`: the RGB image."""
    if isinstance(item, Image.Image):
        return item
    return item.open() if isinstance(item, Crop) else load_image(item)


def center_crop_resize(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)


def sha256_of_image(img: Image.Image) -> str:
    h = hashlib.sha256()
    h.update(f"{img.size[0]}x{img.size[1]}:".encode())
    h.update(np.asarray(img.convert("RGB")).tobytes())
    return h.hexdigest()


def u8_to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generators' range (the one place this conversion lives)."""
    return x.to(torch.float32).div_(127.5).sub_(1.0)  # in place after the one copy: the same values, two passes fewer


def unit_to_u8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], clamped and rounded."""
    return x.detach().float().clamp(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)  # one new tensor, then in place


def to_tensor(images) -> torch.Tensor:
    """PIL images (same size) -> float tensor (B, 3, H, W) in [-1, 1]."""
    arr = np.stack([np.asarray(im.convert("RGB")) for im in images])
    return u8_to_unit(torch.from_numpy(arr).permute(0, 3, 1, 2))


def to_pil(tensor: torch.Tensor) -> list[Image.Image]:
    """Float tensor (B, 3, H, W) in [-1, 1] -> PIL images."""
    return [Image.fromarray(a) for a in unit_to_u8(tensor).permute(0, 2, 3, 1).cpu().numpy()]
