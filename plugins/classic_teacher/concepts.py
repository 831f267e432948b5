"""Each concept is a real image operation (mostly OpenCV) on an RGB uint8 array. Spatial sizes are
given for 256 px and scaled with the image, so an edit looks the same at any resolution."""

from __future__ import annotations

import cv2
import numpy as np


def _s(img: np.ndarray) -> float:
    return min(img.shape[:2]) / 256.0


def _bgr(img):
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)


def _rgb(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _gray3(gray):
    return np.repeat(gray[..., None], 3, axis=2)


def watercolor(img):
    return _rgb(cv2.stylization(_bgr(img), sigma_s=min(200.0, 60 * _s(img)), sigma_r=0.45))


def pencil_sketch(img):
    gray, _ = cv2.pencilSketch(_bgr(img), sigma_s=min(200.0, 60 * _s(img)), sigma_r=0.07, shade_factor=0.05)
    return _gray3(gray)


def colored_pencil(img):
    _, color = cv2.pencilSketch(_bgr(img), sigma_s=min(200.0, 60 * _s(img)), sigma_r=0.07, shade_factor=0.05)
    return _rgb(color)


def enhance_details(img):
    return _rgb(cv2.detailEnhance(_bgr(img), sigma_s=min(200.0, 10 * _s(img)), sigma_r=0.15))


def oil_painting(img):
    return _rgb(cv2.edgePreservingFilter(_bgr(img), flags=cv2.RECURS_FILTER, sigma_s=min(200.0, 60 * _s(img)), sigma_r=0.4))


def cartoon(img):
    s = _s(img)
    color = img
    for _ in range(2):
        color = cv2.bilateralFilter(color, d=max(3, int(round(9 * s)) | 1), sigmaColor=60, sigmaSpace=7 * s)
    gray = cv2.medianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 5 if s >= 0.5 else 3)
    block = max(3, int(round(9 * s)) | 1)
    edges = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 4)
    quant = (color // 32) * 32 + 16
    return cv2.bitwise_and(quant, quant, mask=edges)


def emboss(img):
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    kernel = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)
    out = cv2.filter2D(gray, -1, kernel, borderType=cv2.BORDER_REFLECT) * 0.5 + 128 - gray * 0.5
    return _gray3(np.clip(out, 0, 255).astype(np.uint8))


_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def sepia(img):
    return np.clip(img.astype(np.float32) @ _SEPIA.T, 0, 255).astype(np.uint8)


def night(img):
    x = img.astype(np.float32) / 255.0
    gray = x.mean(axis=2, keepdims=True)
    x = 0.35 * x + 0.65 * gray
    x = np.power(x, 1.8) * np.array([0.55, 0.7, 1.15], np.float32)
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def winter(img):
    x = img.astype(np.float32) / 255.0
    gray = x.mean(axis=2, keepdims=True)
    x = 0.45 * x + 0.55 * gray
    x = np.power(x, 0.8) * np.array([0.92, 1.0, 1.12], np.float32) + 0.05
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def thermal(img):
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return _rgb(cv2.applyColorMap(gray, cv2.COLORMAP_JET))


def black_and_white(img):
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return _gray3(cv2.equalizeHist(gray))


def pop_art(img):
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.8, 0, 255)
    sat = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return ((sat // 64) * 64 + 32).astype(np.uint8)


def vintage(img):
    h, w = img.shape[:2]
    faded = 0.6 * sepia(img).astype(np.float32) + 0.4 * img.astype(np.float32)
    faded = faded * 0.85 + 30
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    vignette = np.clip(1.0 - 0.45 * r**2, 0.35, 1.0)[..., None]
    return np.clip(faded * vignette, 0, 255).astype(np.uint8)


#: prompt -> (operation, spatial?)
CONCEPTS = {
    "watercolor painting": (watercolor, True),
    "pencil sketch": (pencil_sketch, True),
    "colored pencil drawing": (colored_pencil, True),
    "enhance details": (enhance_details, True),
    "oil painting": (oil_painting, True),
    "cartoon": (cartoon, True),
    "emboss": (emboss, True),
    "vintage photo": (vintage, True),
    "sepia": (sepia, False),
    "night": (night, False),
    "winter": (winter, False),
    "thermal camera": (thermal, False),
    "black and white": (black_and_white, False),
    "pop art": (pop_art, False),
}
