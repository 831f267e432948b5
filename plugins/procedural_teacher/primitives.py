"""The procedural teacher's primitives: 36 image operations in 7 families, each named by the words
that appear in a prompt. A concept applies 2-3 primitives of different families in the fixed family
order below, so ``"warm, vignette"`` and ``"vignette, warm"`` are the same edit.

Operations take and return float32 RGB arrays in [0, 1]. Spatial sizes are given for 256 px and
scaled with the image (``_s``), so an edit looks the same at every resolution. 14 of 36 are per-pixel
colour maps (``PER_PIXEL``: the ``colour`` and ``tone`` families, ``posterized``, and the region edits that
mask by brightness or hue alone); the other 22 depend on neighbourhoods, position or smoothed regions, as a
diffusion editor's edits do. (Version 2 should smooth the three per-pixel region masks; version 1 is what
``zoo/procedural-base`` was trained on.)
"""

from __future__ import annotations

import cv2
import numpy as np

# -- helpers ------------------------------------------------------------------------------------


def _s(img) -> float:
    return min(img.shape[:2]) / 256.0


def _lum(img):
    return img @ np.array([0.299, 0.587, 0.114], np.float32)


def _grid(img):
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (yy + 0.5) / h, (xx + 0.5) / w  # in (0, 1)


def _tint(img, mask, colour, amount=0.6):
    colour = np.asarray(colour, np.float32)
    m = (mask * amount)[..., None]
    return img * (1 - m) + (_lum(img)[..., None] * 0.5 + 0.5 * colour) * m * 1.6


def _remap(img, map_y, map_x):
    h, w = img.shape[:2]
    return cv2.remap(img, (map_x * w - 0.5).astype(np.float32), (map_y * h - 0.5).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def _odd(k: float) -> int:
    k = max(1, int(round(k)))
    return k if k % 2 else k + 1


# -- colour grade (per-pixel) -------------------------------------------------------------------


def warm(img):
    return img * np.array([1.12, 1.0, 0.72], np.float32) + np.array([0.06, 0.02, 0.0], np.float32)


def cool(img):
    return img * np.array([0.72, 0.95, 1.12], np.float32) + np.array([0.0, 0.02, 0.07], np.float32)


def sepia(img):
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    return img @ m.T


def teal_orange(img):
    t = _lum(img)[..., None]
    return img * 0.5 + 0.5 * ((1 - t) * np.array([0.0, 0.45, 0.5], np.float32) + t * np.array([1.0, 0.62, 0.3], np.float32))


def desaturated(img):
    return 0.85 * _lum(img)[..., None] + 0.15 * img


def vivid(img):
    g = _lum(img)[..., None]
    return g + 2.0 * (img - g)


# -- tone curve (per-pixel) ---------------------------------------------------------------------


def high_contrast(img):
    return 1 / (1 + np.exp(-9 * (img - 0.5)))


def faded(img):
    return 0.28 + 0.6 * img


def solarized(img):
    return np.where(img > 0.5, 1.0 - img, img) * 1.6


def inverted(img):
    return 1.0 - img


# -- texture, brush, stroke ---------------------------------------------------------------------


def oil_brush(img):
    u8 = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    k = _odd(7 * _s(img))
    out = cv2.medianBlur(cv2.medianBlur(u8, k), k)
    return out.astype(np.float32) / 255


def pencil(img):
    g = _lum(img)
    blur = cv2.GaussianBlur(1 - g, (0, 0), 6 * _s(img) + 0.5)
    sketch = np.clip(g / np.maximum(1 - blur, 1e-3), 0, 1)
    return np.repeat((sketch ** 2)[..., None], 3, axis=2)


def ink_outlines(img):
    g = _lum(img)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    edge = np.clip(np.sqrt(gx * gx + gy * gy) * 1.5, 0, 1)
    return img * (1 - edge[..., None])


def soft_focus(img):
    return cv2.GaussianBlur(img, (0, 0), 4 * _s(img) + 0.5)


def emboss(img):
    g = _lum(img)
    k = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)
    e = cv2.filter2D(g, -1, k) * 0.5 + 0.25
    return 0.35 * img + 0.65 * np.repeat(e[..., None], 3, axis=2)


def canvas(img):
    yy, xx = _grid(img)
    h = img.shape[0]
    period = max(3.0, 6 * _s(img))
    weave = 0.8 + 0.2 * np.sin(2 * np.pi * xx * h / period) * np.sin(2 * np.pi * yy * h / period)
    return img * weave[..., None]


# -- posterise, halftone, pixel ----------------------------------------------------------------


def posterized(img):
    return np.floor(np.clip(img, 0, 0.999) * 4) / 3


def halftone(img):
    h, w = img.shape[:2]
    cell = max(4, int(round(8 * _s(img))))
    small = cv2.resize(img, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = (yy % cell + 0.5) / cell - 0.5, (xx % cell + 0.5) / cell - 0.5
    r = np.sqrt(dx * dx + dy * dy)
    radius = 0.62 * np.sqrt(np.clip(1 - _lum(big), 0, 1))
    dot = (r < radius).astype(np.float32)[..., None]
    return (1 - dot) * 1.0 + dot * big * 0.7


def pixel_art(img):
    h, w = img.shape[:2]
    cell = max(2, int(round(8 * _s(img))))
    small = cv2.resize(img, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


_BAYER = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) / 16 + 1 / 32


def dithered(img):
    h, w = img.shape[:2]
    t = np.tile(_BAYER, (h // 4 + 1, w // 4 + 1))[:h, :w, None]
    return (img > t).astype(np.float32)


def scanlines(img):
    h = img.shape[0]
    period = max(2, int(round(4 * _s(img))))
    rows = ((np.arange(h) % period) < period / 2).astype(np.float32)
    return img * (0.45 + 0.55 * rows)[:, None, None]


# -- geometric warp -----------------------------------------------------------------------------


def swirl(img):
    yy, xx = _grid(img)
    dy, dx = yy - 0.5, xx - 0.5
    r = np.sqrt(dx * dx + dy * dy)
    a = 2.2 * np.clip(1 - r / 0.6, 0, 1) ** 2
    c, s = np.cos(a), np.sin(a)
    return _remap(img, 0.5 + s * dx + c * dy, 0.5 + c * dx - s * dy)


def ripple(img):
    yy, xx = _grid(img)
    return _remap(img, yy + 0.025 * np.sin(2 * np.pi * xx * 4), xx + 0.025 * np.sin(2 * np.pi * yy * 4))


def fisheye(img):
    yy, xx = _grid(img)
    dy, dx = yy - 0.5, xx - 0.5
    r = np.sqrt(dx * dx + dy * dy) / 0.7071
    k = 0.55 + 0.45 * r
    return _remap(img, 0.5 + dy * k, 0.5 + dx * k)


def mirrored(img):
    w = img.shape[1]
    out = img.copy()
    out[:, w - w // 2 :] = img[:, : w // 2][:, ::-1]
    return out


def tilted(img):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.15)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# -- position-dependent light -------------------------------------------------------------------


def vignette(img):
    yy, xx = _grid(img)
    r2 = ((yy - 0.5) ** 2 + (xx - 0.5) ** 2) / 0.5
    return img * np.clip(1.05 - 1.1 * r2, 0.05, 1)[..., None]


def spotlight(img):
    yy, xx = _grid(img)
    r2 = (yy - 0.4) ** 2 + (xx - 0.5) ** 2
    light = 0.25 + 1.1 * np.exp(-r2 / 0.045)
    return img * light[..., None]


def light_from_left(img):
    _, xx = _grid(img)
    return img * (1.35 - 1.0 * xx)[..., None]


def sunset_glow(img):
    yy, _ = _grid(img)
    glow = np.clip(1 - yy / 0.7, 0, 1) ** 1.5
    return img * (1 - 0.5 * glow[..., None]) + glow[..., None] * np.array([0.95, 0.45, 0.15], np.float32) * 0.75


def ground_fog(img):
    yy, _ = _grid(img)
    fog = np.clip((yy - 0.35) / 0.65, 0, 1) ** 1.2 * 0.8
    return img * (1 - fog[..., None]) + fog[..., None] * 0.92


# -- region edits -------------------------------------------------------------------------------


def golden_highlights(img):
    mask = np.clip((_lum(img) - 0.5) / 0.25, 0, 1)
    return _tint(img, mask, (1.0, 0.78, 0.25), 0.85)


def blue_shadows(img):
    mask = np.clip((0.45 - _lum(img)) / 0.25, 0, 1)
    return _tint(img, mask, (0.1, 0.25, 0.9), 0.9)


def blue_sky(img):
    yy, _ = _grid(img)
    top = np.clip((0.55 - yy) / 0.25, 0, 1)
    bright = np.clip((_lum(img) - 0.35) / 0.3, 0, 1)
    mask = cv2.GaussianBlur(top * bright, (0, 0), 2 * _s(img) + 0.5)
    sky = np.stack([0.25 + 0.2 * yy, 0.5 + 0.2 * yy, np.full_like(yy, 0.95)], -1)
    return img * (1 - mask[..., None]) + sky * mask[..., None]


def red_accents(img):
    hsv = cv2.cvtColor(np.clip(img, 0, 1), cv2.COLOR_RGB2HSV)  # float input: H in [0, 360)
    hue, sat = hsv[..., 0], hsv[..., 1]
    red = np.clip(1 - np.minimum(hue, 360 - hue) / 30, 0, 1) * np.clip(sat / 0.3, 0, 1)
    g = _lum(img)[..., None]
    return g + (img - g) * red[..., None] * 1.5


def green_foliage(img):
    hsv = cv2.cvtColor(np.clip(img, 0, 1), cv2.COLOR_RGB2HSV)
    hue, sat = hsv[..., 0], hsv[..., 1]
    leaf = np.clip(1 - np.abs(hue - 90) / 50, 0, 1) * np.clip(sat / 0.2, 0, 1)
    leaf = cv2.GaussianBlur(leaf, (0, 0), 1.5 * _s(img) + 0.5)
    return _tint(img, leaf, (0.15, 0.85, 0.2), 0.9)


# -- the catalogue ------------------------------------------------------------------------------

#: family -> {primitive words: operation}, in the order a concept applies them
FAMILIES: dict[str, dict] = {
    "warp": {"swirl": swirl, "ripple": ripple, "fisheye": fisheye, "mirrored": mirrored, "tilted": tilted},
    "texture": {"oil brush": oil_brush, "pencil": pencil, "ink outlines": ink_outlines, "soft focus": soft_focus,
                "emboss": emboss, "canvas": canvas},
    "pattern": {"posterized": posterized, "halftone": halftone, "pixel art": pixel_art, "dithered": dithered,
                "scanlines": scanlines},
    "colour": {"warm": warm, "cool": cool, "sepia": sepia, "teal orange": teal_orange, "desaturated": desaturated,
               "vivid": vivid},
    "tone": {"high contrast": high_contrast, "faded": faded, "solarized": solarized, "inverted": inverted},
    "region": {"golden highlights": golden_highlights, "blue shadows": blue_shadows, "blue sky": blue_sky,
               "red accents": red_accents, "green foliage": green_foliage},
    "light": {"vignette": vignette, "spotlight": spotlight, "light from left": light_from_left,
              "sunset glow": sunset_glow, "ground fog": ground_fog},
}
#: the primitives that are per-pixel colour maps (the output pixel depends on the input pixel alone)
PER_PIXEL = (*FAMILIES["colour"], *FAMILIES["tone"], "posterized", "golden highlights", "blue shadows", "red accents")
FAMILY_OF = {word: fam for fam, prims in FAMILIES.items() for word in prims}
ORDER = [word for prims in FAMILIES.values() for word in prims]
#: one primitive per family that no base ever sees: held-out concepts of the second kind use them
UNSEEN = ("tilted", "emboss", "dithered", "solarized", "red accents", "ground fog")
