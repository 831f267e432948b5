"""``e2gan serve``: a local web page (Gradio) to try concepts: an uploaded image or a webcam frame, a concept
from the local adapters, the zoo or the Hub, a strength slider, before and after side by side with the
latency, and a video tab that runs the same path as ``e2gan apply --input clip.mp4``.

Bounded: uploads are capped in bytes (``max_upload_mb``) and, read from the header before anything is decoded, in
pixels (``max_pixels``); a photo is edited at its own size (the concept at its base's side, carried to the photo's
size as ``apply`` does), or first downscaled to ``work_size`` on the long side when one is given; the queue holds ``queue_size`` requests and answers the next one that it is full; only the listed models
load unless ``allow_any_model``."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from e2gan.config import DEFAULT_DEVICE


def concept_choices(models=(), include_zoo: bool = True) -> list[str]:
    """The dropdown: the given model folders or ids, then the zoo's concepts as ``zoo:NAME``."""
    choices = [str(m) for m in models]
    if include_zoo:
        from e2gan.hub.zoo import catalogue

        choices += [f"zoo:{name}" for name in sorted(catalogue().get("concepts", {})) if f"zoo:{name}" not in choices]
    return choices


@dataclass
class Limits:
    """What one request may cost the server."""

    max_pixels: int = 40_000_000  # an upload's decoded size (width x height), read from its header first
    max_upload_mb: float = 25.0  # an upload's size in bytes
    work_size: int | None = None  # a larger photo is downscaled to this long side first; None: edited at its own size
    queue_size: int = 16  # requests waiting; the next one is told the queue is full
    allow_any_model: bool = False  # load any folder or Hub id a client names, not only the listed ones
    max_video_pixels: int = 2048 * 2048  # a clip's frame size, read from its header before a frame is decoded
    max_video_frames: int = 900  # a clip's frames (30 s at 30 fps), from its header, and the edit stops there


class Runners:
    """One loaded student per model reference and one runner per (model, strength): switching back is instant. Only the
    ``allowed`` references load (None: any)."""

    def __init__(self, device: str = DEFAULT_DEVICE, runtime: str = "torch", allowed=None):
        self.device, self.runtime, self.students, self.runners = device, runtime, {}, {}
        self.allowed = None if allowed is None else set(allowed)

    def get(self, ref: str, strength: float):
        from e2gan.lora import parse_weighted
        from e2gan.runtime.runner import ConceptRunner
        from e2gan.settings import shorten
        from e2gan.student import Student

        if self.allowed is not None and ref not in self.allowed:
            raise ValueError(f"{shorten(ref, 80)!r} is not one of the concepts this server offers; pick one from the list (the server was "
                             "not started with --allow-any-model)")
        if ref not in self.students:
            parts = [r.strip() for r in ref.split(",") if r.strip()]
            combined = len(parts) > 1 or parse_weighted(ref)[1] != 1.0  # "a:0.7,b:0.5": adapters of one base, combined
            self.students[ref] = Student.combine(parts, device=self.device) if combined else Student.from_pretrained(ref, device=self.device)
        student = self.students[ref]
        prompt = student.meta.get("prompt")
        if not isinstance(prompt, str):
            raise ValueError(f"{ref} is a base with several concepts; pick an adapter (one concept)")
        key = (ref, round(float(strength), 3))
        if key not in self.runners:
            self.runners[key] = ConceptRunner(student, prompt, self.runtime, self.device, float(strength))
        return self.runners[key]


def load_bounded(path, limits: Limits):
    """An uploaded image as RGB uint8, refused by its header when it has too many pixels, and downscaled to the working
    size: ``(array, note)`` where the note says what was done."""
    from PIL import Image

    from e2gan.data.images import BadImageError, check_image, load_image

    try:
        w, h = check_image(path, limit=limits.max_pixels)
        img = load_image(path)
    except BadImageError as exc:
        raise ValueError(f"this image cannot be edited here: {exc}") from None
    note = ""
    if limits.work_size and max(w, h) > limits.work_size:
        k = limits.work_size / max(w, h)
        img = img.resize((max(8, round(w * k)), max(8, round(h * k))), Image.LANCZOS)
        note = f" (downscaled from {w}x{h}: the server edits at most {limits.work_size} px on the long side)"
    return np.asarray(img), note


class ResultFiles:
    """Edited images handed to Gradio as files, each written whole under its own name before Gradio sees it.

    Gradio caches a returned array under a hash of its bytes and rewrites that file on every identical result: a client
    still downloading the first copy gets a truncated body (2 of 200 identical requests under load did). A file path is
    copied into the cache under a temporary name and renamed; this folder keeps the newest ``keep`` results."""

    def __init__(self, keep: int = 64):
        self.folder = Path(tempfile.mkdtemp(prefix="e2gan-serve-results-"))
        self.keep, self.count, self.lock = keep, 0, threading.Lock()
        weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)  # gone when the server is

    def put(self, edited: np.ndarray) -> str:
        from PIL import Image

        with self.lock:
            self.count += 1
            n = self.count
        path = self.folder / f"edited-{n:08d}.png"
        Image.fromarray(edited).save(path)
        for old in sorted(self.folder.glob("edited-*.png"))[:-self.keep]:
            old.unlink(missing_ok=True)
        return str(path)


def build_app(choices: list[str], device: str = DEFAULT_DEVICE, runtime: str = "torch", limits: Limits | None = None):
    import gradio as gr

    limits = limits or Limits()
    runners = Runners(device, runtime, None if limits.allow_any_model else choices)
    results = ResultFiles()

    def runner_for(ref, strength):
        """The concept's runner, or a message on the page (never a traceback)."""
        if not ref:
            raise gr.Error("pick a concept")
        try:
            return runners.get(ref, strength)
        except (ValueError, FileNotFoundError, OSError) as exc:
            raise gr.Error(str(exc)) from None

    def edit_image(image, ref, strength):
        if image is None:
            raise gr.Error("upload an image or take a webcam frame first")
        runner = runner_for(ref, strength)
        try:
            arr, note = load_bounded(image, limits)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        t0 = time.perf_counter()
        edited = runner(arr[None])[0]
        ms = (time.perf_counter() - t0) * 1000
        h, w = edited.shape[:2]
        return results.put(edited), f"**{ms:.1f} ms** for {w}x{h}{note} ({runner.runtime}, {device}): *{runner.prompt}* at strength {strength:g}"

    def edit_clip(video, ref, strength):
        from e2gan.runtime.video import edit_video

        if not video:
            raise gr.Error("upload a video first")
        runner = runner_for(ref, strength)
        out = Path(tempfile.mkdtemp(prefix="e2gan-serve-")) / "edited.mp4"
        try:
            stats = edit_video(runner, video, out, progress=False, max_pixels=limits.max_video_pixels, max_frames=limits.max_video_frames)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        except MemoryError:  # also av.error.MemoryError: the encoder or a frame batch did not fit
            raise gr.Error(f"this clip did not fit in the server's memory at {limits.max_video_pixels:,} pixels per frame; "
                           "send a smaller clip or edit it with `e2gan apply`") from None
        return str(out), f"{stats['frames']} frames at {stats['fps']:.3g} fps; edited at **{stats['achieved_fps']:.1f} FPS** (decode + edit + encode)"

    system = ["ui-sans-serif", "system-ui", "sans-serif"]  # no web fonts: the page works offline
    theme = gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])
    with gr.Blocks(title="e2gan", analytics_enabled=False) as app:
        gr.Markdown("# e2gan\nA distilled image-editing concept, live. Pick a concept, give an image, see before and after.")
        with gr.Row():
            concept = gr.Dropdown(choices, value=choices[0] if choices else None, label="concept", allow_custom_value=limits.allow_any_model,
                                  info="a local adapter folder, zoo:NAME, or a Hub id (org/name)" if limits.allow_any_model else
                                  "the concepts this server offers", elem_id="concept")
            strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="strength (0: the base alone, 1: the adapter as trained)",
                                 elem_id="strength")
        with gr.Tab("Image"):
            with gr.Row():
                # a file path, not pixels: the header is checked against the pixel cap before anything is decoded
                before = gr.Image(type="filepath", sources=["upload", "webcam"], label="before", elem_id="before")
                after = gr.Image(type="filepath", label="after", interactive=False, format="png", elem_id="after")
            run = gr.Button("Edit", variant="primary", elem_id="edit")
            latency = gr.Markdown(elem_id="latency")
            run.click(edit_image, [before, concept, strength], [after, latency])
        with gr.Tab("Video"):
            with gr.Row():
                vin = gr.Video(label="before", sources=["upload"], elem_id="video-before")
                vout = gr.Video(label="after", elem_id="video-after")
            vrun = gr.Button("Edit video", variant="primary", elem_id="edit-video")
            vstats = gr.Markdown(elem_id="video-stats")
            vrun.click(edit_clip, [vin, concept, strength], [vout, vstats])
    app.e2gan_theme = theme  # Gradio 6 takes the theme in launch()
    return app


def serve(models=(), port: int = 7860, device: str = DEFAULT_DEVICE, runtime: str = "torch", zoo: bool = True, block: bool = True,
          limits: Limits | None = None):
    """Start the page on 127.0.0.1:``port`` (never on other interfaces; no Gradio share link, no analytics)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    limits = limits or Limits()
    choices = concept_choices(models, zoo)
    if not choices:
        raise ValueError("no concepts to serve: pass --model ADAPTER (repeatable) or keep the zoo's concepts")
    app = build_app(choices, device, runtime, limits)
    app.queue(max_size=limits.queue_size, default_concurrency_limit=1)  # one edit at a time; the rest wait, up to queue_size
    app.launch(theme=app.e2gan_theme, server_name="127.0.0.1", server_port=port, share=False, inbrowser=False, prevent_thread_lock=not block, quiet=True,
               show_error=True, max_file_size=int(limits.max_upload_mb * 1024 * 1024))
    return app
