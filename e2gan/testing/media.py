"""Test media: a short clip made in code (PyAV: moving colour bands, optionally with a sine-tone AAC track), and a
check that a written PNG shows something."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def make_clip(path, frames: int = 16, width: int = 64, height: int = 48, fps: int = 12, audio: bool = True) -> Path:
    import av

    path = Path(path)
    out = av.open(str(path), "w", format="mp4")
    v = out.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt = width, height, "yuv420p"
    a = out.add_stream("aac", rate=16000, layout="mono") if audio else None
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(frames):
        img = np.stack([(np.sin((xx + 3 * i) / 6) + 1) * 127, (yy / height) * 255, (np.cos((xx + yy - 2 * i) / 9) + 1) * 127], -1)
        frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for packet in v.encode(frame):
            out.mux(packet)
    for packet in v.encode():
        out.mux(packet)
    if a is not None:
        seconds, sr, n = frames / fps, 16000, 1024
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)
        for k, start in enumerate(range(0, len(tone) - n + 1, n)):
            af = av.AudioFrame.from_ndarray(tone[None, start:start + n], format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = sr, start, Fraction(1, sr)
            for packet in a.encode(af):
                out.mux(packet)
        for packet in a.encode():
            out.mux(packet)
    out.close()
    return path


def probe(path) -> dict:
    """Frame count, rate, size and codecs of a video file, as a player sees them."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        count = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {"frames": count, "fps": float(v.average_rate), "width": v.codec_context.width, "height": v.codec_context.height,
                "codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
                "audio": [s.codec_context.name for s in c.streams.audio]}


def assert_picture(path, size=None, min_colours: int = 16):
    """A PNG that shows something: readable, of ``size`` (w, h) if given, not blank (many colours, >2% of pixels
    away from the background). Replaces "the file is over 1000 bytes"."""
    from PIL import Image

    img = Image.open(path)
    img.load()
    if size is not None:
        assert img.size == tuple(size), f"{path}: {img.size}, expected {tuple(size)}"
    arr = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(arr, axis=0)) >= min_colours, f"{path}: only {len(np.unique(arr, axis=0))} colours"
    background = np.median(arr, axis=0)
    assert (np.abs(arr - background).sum(1) > 30).mean() > 0.02, f"{path} is nearly blank"
    return img
