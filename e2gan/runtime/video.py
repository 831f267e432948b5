"""Video in, video out (PyAV): frames decoded, edited in batches, encoded as H.264 (yuv420p, which browsers
play) at the input's frame rate and size; an audio track is copied without re-encoding. Also the temporal
flicker figure of ``e2gan eval --video`` and the live webcam loop."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _open(path):
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ValueError(f"{path}: not a readable video ({exc}); give an .mp4, .mov, .mkv or .webm file") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream")
    return container


def read_frames(path, limit: int | None = None) -> tuple[np.ndarray, Fraction]:
    """All frames (N, H, W, 3) uint8 and the frame rate (for tests, eval and benchmarks: short clips)."""
    container = _open(path)
    stream = container.streams.video[0]
    frames = []
    for frame in container.decode(stream):
        frames.append(frame.to_ndarray(format="rgb24"))
        if limit and len(frames) >= limit:
            break
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    container.close()
    return np.stack(frames), Fraction(rate)


def check_video(container, src, max_pixels: int | None = None, max_frames: int | None = None) -> None:
    """Refuse a clip by its header (frame size, frame count) before a frame is decoded: one line naming the clip,
    its size and the cap (serve's caps; ``apply`` passes none)."""
    vin = container.streams.video[0]
    w, h = vin.codec_context.width, vin.codec_context.height
    if max_pixels and w * h > max_pixels:
        raise ValueError(f"{Path(src).name}: {w}x{h} frames ({w * h:,} pixels) are over this server's cap of {max_pixels:,} per frame; "
                         "downscale the clip (ffmpeg -vf scale=-2:1080) or edit it with `e2gan apply --input CLIP --out OUT.mp4`")
    frames = vin.frames or int((vin.duration or 0) * float(vin.time_base or 0) * float(vin.average_rate or 0))
    if max_frames and frames > max_frames:
        raise ValueError(f"{Path(src).name}: {frames} frames are over this server's cap of {max_frames}; "
                         "trim the clip or edit it with `e2gan apply --input CLIP --out OUT.mp4`")


def edit_video(runner, src, dst, batch: int = 8, progress: bool = True, limit: int | None = None,
               max_pixels: int | None = None, max_frames: int | None = None, size: int | None = None) -> dict:
    """Edit every frame of ``src`` with ``runner`` into ``dst`` (written atomically: the whole file or nothing).
    ``max_pixels`` and ``max_frames`` refuse a clip by its header before decoding; ``size`` resizes each frame's short
    side first (Lanczos, as ``apply --size`` does for photos) and the video is written at that size. Returns counts
    and speed."""
    import av
    from tqdm.auto import tqdm

    from e2gan.io import atomic_save_file

    container = _open(src)
    try:
        check_video(container, src, max_pixels, max_frames)
    except ValueError:
        container.close()
        raise
    vin = container.streams.video[0]
    ain = container.streams.audio[0] if container.streams.audio else None
    rate = Fraction(vin.average_rate or vin.guessed_rate or 25)
    w, h = vin.codec_context.width, vin.codec_context.height
    if size:
        k = size / min(w, h)
        w, h = max(2, round(w * k)), max(2, round(h * k))
    ew, eh = w - w % 2, h - h % 2  # yuv420p needs even sides: an odd last row or column is dropped
    stats = {"frames": 0, "fps": float(rate), "width": w, "height": h, "audio": ain is not None}
    stop = min((n for n in (limit, max_frames) if n), default=None)

    def write(tmp):
        out = av.open(tmp, "w", format="mp4")
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = ew, eh, "yuv420p"
        vout.options = {"crf": "18", "preset": "veryfast"}
        aout = out.add_stream_from_template(ain) if ain is not None else None
        bar = tqdm(total=vin.frames or None, desc="apply[video]", unit="frame", disable=not progress, dynamic_ncols=True)
        pending, t0 = [], time.perf_counter()

        def flush():
            for arr in runner(np.stack(pending)):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr[:eh, :ew]), format="rgb24")
                frame.pts = stats["frames"]
                frame.time_base = 1 / rate
                for packet in vout.encode(frame):
                    out.mux(packet)
                stats["frames"] += 1
            bar.update(len(pending))
            pending.clear()

        streams = [vin] + ([ain] if ain is not None else [])
        for packet in container.demux(*streams):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    packet.stream = aout
                    out.mux(packet)
                continue
            for frame in packet.decode():
                if stop and stats["frames"] + len(pending) >= stop:
                    break  # max_frames too: a header that under-counts its frames still stops at the cap
                pending.append((frame.reformat(width=w, height=h, interpolation="LANCZOS") if size else frame).to_ndarray(format="rgb24"))
                if len(pending) >= batch:
                    flush()
        if pending:
            flush()
        for packet in vout.encode():
            out.mux(packet)
        out.close()
        bar.close()
        stats["seconds"] = time.perf_counter() - t0

    try:
        atomic_save_file(dst, write)
    finally:
        container.close()
    stats["achieved_fps"] = stats["frames"] / max(stats["seconds"], 1e-9)
    stats["size_kept"] = (ew, eh) == (w, h)
    return stats


def temporal_flicker(inputs: np.ndarray, outputs: np.ndarray) -> dict:
    """Mean |frame_t - frame_t-1| of the outputs, of the inputs, and their ratio (1: the edit adds no flicker)."""
    if len(inputs) < 2:
        raise ValueError("temporal flicker needs at least 2 frames")

    def change(x):
        x = x.astype(np.float32)
        return float(np.abs(x[1:] - x[:-1]).mean())

    i, o = change(inputs), change(outputs)
    return {"frames": int(len(inputs)), "input_change": i, "output_change": o, "flicker_ratio": o / max(i, 1e-9)}


def no_display() -> str | None:
    """Why a window cannot open here (no X11 or Wayland display), in one line, or None: checked before a model loads."""
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display here (DISPLAY is not set): --webcam needs a desktop session; use --input VIDEO --out OUT.mp4 instead"
    return None


def webcam(runner, index: int = 0) -> str | None:
    """A live window of the edited camera feed with an FPS overlay (q or Esc quits). Returns a one-line reason
    when there is no camera or no display, instead of opening anything."""
    if why := no_display():
        return why
    import cv2

    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        return f"no camera {index} could be opened; try another index (--webcam 1) or --input VIDEO"
    fps, t_last = 0.0, time.perf_counter()
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return f"camera {index} stopped sending frames"
            edited = runner(bgr[None, :, :, ::-1])[0][:, :, ::-1].copy()
            now = time.perf_counter()
            fps = 0.9 * fps + 0.1 / max(now - t_last, 1e-6) if fps else 1 / max(now - t_last, 1e-6)
            t_last = now
            cv2.putText(edited, f"{fps:.1f} FPS", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
            cv2.imshow(f"e2gan: {runner.prompt}", edited)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                return None
    except cv2.error as exc:
        return f"cannot open a window ({str(exc).splitlines()[0][:120]}); this OpenCV has no GUI support"
    finally:
        cap.release()
        cv2.destroyAllWindows()
