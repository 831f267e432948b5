"""Any photo at its own resolution (issue 30): cost against size, a 12-megapixel photo, video at 1080p, and quality at
size against the teacher run at that size, side by side in one run on this machine.

- ``cost``: every backbone run on the whole image (``direct``) at 256, 512, 1024 and 2048 px (and 4000x3000 for the
  e2gan generators in PyTorch): ms, FPS and peak memory, in PyTorch and the exported runtimes, with the growth per
  doubling of the side; beside it the e2gan generator with attention over every token (the budget off), as before.
  Each (backbone, runtime) runs in its own process, sizes in ascending order, so its peak resident memory after a
  size is that size's peak.
- ``photo``: a zoo concept on a 4000x3000 photo in the full-resolution mode it uses (decoded array in, edited array
  out), in each runtime; JPEG decoding and PNG/JPEG encoding of the photo timed beside it.
- ``video``: decode + edit + encode FPS of a 1920x1080 and a 512x512 clip through the fastest runtime.
- ``quality``: the zoo's concepts on their held-out photos resized to a long side of 256, 512 and 1024 px, each mode
  against the teacher run at that size (PSNR), concept-level intervals; each concept's pick at 1024 px is written to
  the zoo's catalogue (``full_res``), which ``e2gan apply`` follows by default.

    python -m benchmarks.fullres all --photos benchmarks/few_pairs/photos      # benchmarks/fullres/{fullres.json,md,png}
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from e2gan.io import atomic_write_json, atomic_write_text

OUT = Path(__file__).parent / "fullres"
SIDES = (256, 512, 1024, 2048)
PHOTO = (3000, 4000)  # height, width: a 12-megapixel phone photo
BACKBONES = {  # name -> settings (random weights: speed does not depend on them), largest side measured
    "e2gan-small": ({}, 2048), "e2gan": ({}, 2048), "e2gan-large": ({}, 2048),
    "pix2pix-resnet9": ({}, 1024), "pix2pix-unet256": ({}, 1024), "timm-unet": ({"encoder": "mobilenetv3_small_100"}, 1024),
    "comodgan": ({}, 1024),
}
CONCEPT = "zoo:procedural-faded-red-accents"
MODES = ("guided", "delta", "bicubic", "direct")
QUALITY_SIDES = (256, 512, 1024)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _student(backbone: str, settings: dict):
    from e2gan.student import Student

    if backbone.startswith("zoo:"):
        return Student.from_pretrained(backbone)
    torch.manual_seed(0)
    return Student.create(backbone, **settings)


def _runnable(student, runtime: str, folder: Path, threads: int):
    """A callable on [-1, 1] (1, 3, H, W) tensors of any size: the concept in ``runtime`` (exported once, sizes dynamic)."""
    from e2gan.inference import concept_module
    from e2gan.runtime import formats

    prompt = student.meta.get("prompt") or "sepia"
    if runtime == "torch":
        module = concept_module(student, prompt).eval()
        return module
    path = folder / f"m{formats.FORMATS[runtime].suffix}"
    formats.export(runtime, student, prompt, path, 64)
    return formats.load(runtime, path, threads)


@torch.no_grad()
def measure_one(backbone: str, runtime: str, sides: list, threads: int, unbounded: bool = False) -> dict:
    """In this process: ms per image (best of a few calls after a warm-up) and peak memory after each size."""
    torch.set_num_threads(threads)
    if unbounded:
        import e2gan_plugins.backbones.layers as layers

        layers.KV_GRID = 10**9
    settings, _ = BACKBONES.get(backbone, ({}, 0))
    student = _student(backbone, settings)
    folder = Path(tempfile.mkdtemp(prefix="e2gan-fullres-"))
    run = _runnable(student, runtime, folder, threads)
    start = _peak_mb()
    rows = []
    for side in sides:
        h, w = (side, side) if isinstance(side, int) else side
        x = torch.rand(1, 3, h, w) * 2 - 1
        run(x)
        calls = 3 if h * w <= 1024 * 1024 else 1
        best = min(_timed(run, x) for _ in range(calls))
        rows.append({"side": f"{w}x{h}", "pixels": h * w, "ms": best * 1000, "fps": 1 / best, "peak_mb": _peak_mb()})
    return {"backbone": backbone, "runtime": runtime, "unbounded": unbounded, "loaded_mb": start, "rows": rows}


def _timed(run, x) -> float:
    t0 = time.perf_counter()
    run(x)
    return time.perf_counter() - t0


def _child(**kw) -> dict:
    """``measure_one`` in a fresh process (its own peak memory); a failure (out of memory) is recorded, not raised."""
    res = subprocess.run([sys.executable, "-m", "benchmarks.fullres", "one", "--spec", json.dumps(kw)], capture_output=True, text=True)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode or not lines:
        return {**kw, "error": (res.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def cost(threads: int) -> list[dict]:
    out = []
    for backbone, (_, largest) in BACKBONES.items():
        sides = [s for s in SIDES if s <= largest] + ([list(PHOTO)] if backbone.startswith("e2gan") else [])
        runtimes = ["torch", "onnx", "openvino"] if backbone.startswith("e2gan") else ["torch", "onnx"]
        for runtime in runtimes:
            run_sides = sides if runtime == "torch" else [s for s in sides if isinstance(s, int)]
            out.append(_child(backbone=backbone, runtime=runtime, sides=run_sides, threads=threads))
            print(f"[fullres] cost {backbone} {runtime}: " + ", ".join(f"{r['side']} {r['ms']:.0f} ms" for r in out[-1].get("rows", [])), flush=True)
    out.append(_child(backbone="e2gan", runtime="torch", sides=[256, 512, 1024], threads=threads, unbounded=True))
    print("[fullres] cost e2gan torch, attention over every token: " + ", ".join(f"{r['side']} {r['ms']:.0f} ms" for r in out[-1].get("rows", [])))
    return out


def _before_the_budget(block, x, text=None, mask=None):
    """TransformerBlock.forward as it was before the token budget (self-attention over every token, no pooling ops)."""
    b, c, hh, ww = x.shape
    t = x.flatten(2).transpose(1, 2)
    t = t + block.self_attn(block.norm1(t))
    if text is not None:
        t = t + block.cross_attn(block.norm2(t), text, mask)
    t = t + block.ff(block.norm3(t))
    return t.transpose(1, 2).reshape(b, c, hh, ww)


@torch.no_grad()
def speed256(threads: int, rounds: int = 7, calls: int = 20) -> list[dict]:
    """256 px, batch 1, the zoo concept: the graph with the token budget against the graph before it (no pooling ops),
    in PyTorch, ONNX Runtime and OpenVINO, interleaved rounds (the median of each block's median)."""
    import types

    from benchmarks.runtimes import time_all
    from e2gan.inference import concept_module
    from e2gan.runtime import formats
    from e2gan.student import Student
    from e2gan_plugins.backbones.layers import TransformerBlock

    torch.set_num_threads(threads)
    student = Student.from_pretrained(CONCEPT)
    prompt = student.meta["prompt"]
    folder = Path(tempfile.mkdtemp(prefix="e2gan-256-"))
    models = {}
    for arm in ("budget", "before"):
        module = concept_module(student, prompt).eval()
        if arm == "before":
            for m in module.modules():
                if isinstance(m, TransformerBlock):
                    m.forward = types.MethodType(_before_the_budget, m)
        models[f"torch {arm}"] = module
        for runtime in ("onnx", "openvino"):
            path = folder / f"{arm}{formats.FORMATS[runtime].suffix}"
            if runtime == "onnx":
                from e2gan.runtime.export import trace_onnx

                trace_onnx(module, path, 64)
            else:
                from e2gan.runtime.openvino import convert_module

                import openvino as ov

                ov.save_model(convert_module(module, 64), str(path))
            models[f"{runtime} {arm}"] = formats.load(runtime, path, threads)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    res = time_all(models, x, rounds, calls)
    return [{"runtime": k.split()[0], "arm": k.split()[1], **v} for k, v in res.items()]


def growth(rows: list[dict]) -> list[float | None]:
    """The time ratio of each square size to the one before (None for the first and for non-square rows)."""
    sq = [r for r in rows if r["side"].split("x")[0] == r["side"].split("x")[1]]
    return [None] + [b["ms"] / a["ms"] for a, b in zip(sq, sq[1:])]


@torch.no_grad()
def photo_one(runtime: str, threads: int) -> dict:
    """The zoo concept on a 4000x3000 photo in its full-resolution mode through ``runtime``: arrays in and out."""
    from PIL import Image
    from skimage import data

    from e2gan.runtime.runner import ConceptRunner
    from e2gan.student import Student

    torch.set_num_threads(threads)
    student = Student.from_pretrained(CONCEPT)
    runner = ConceptRunner(student, student.meta["prompt"], runtime, "cpu", batch=1)
    img = Image.fromarray(data.astronaut()).resize((PHOTO[1], PHOTO[0]), Image.BICUBIC)
    folder = Path(tempfile.mkdtemp(prefix="e2gan-photo-"))
    img.save(folder / "photo.jpg", quality=92)
    frame = np.asarray(img)[None]
    runner(frame)  # export and warm up outside the clock
    before = _peak_mb()
    edit = min(_timed(runner, frame) for _ in range(3))
    edited = runner(frame)[0]
    t0 = time.perf_counter()
    Image.open(folder / "photo.jpg").convert("RGB").load()
    decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    Image.fromarray(edited).save(folder / "out.png")
    png = time.perf_counter() - t0
    t0 = time.perf_counter()
    Image.fromarray(edited).save(folder / "out.jpg", quality=92)
    jpg = time.perf_counter() - t0
    return {"runtime": runner.runtime, "mode": runner.full_res, "edit_ms": edit * 1000, "decode_jpeg_ms": decode * 1000, "encode_png_ms": png * 1000,
            "encode_jpeg_ms": jpg * 1000, "peak_mb": _peak_mb(), "peak_before_edit_mb": before}


def photo(threads: int) -> list[dict]:
    out = []
    for runtime in ("torch", "onnx", "openvino"):
        out.append(_child(kind="photo", runtime=runtime, threads=threads))
        print(f"[fullres] photo {runtime}: {out[-1].get('edit_ms', float('nan')):.0f} ms, peak {out[-1].get('peak_mb', float('nan')):.0f} MB", flush=True)
    return out


def video(threads: int, frames: int = 48) -> list[dict]:
    """Decode + edit + encode FPS of made-up clips through the fastest runtime, in the concept's full-resolution mode."""
    from e2gan.runtime.runner import ConceptRunner, fastest_installed
    from e2gan.runtime.video import edit_video
    from e2gan.student import Student
    from e2gan.testing.media import make_clip

    torch.set_num_threads(threads)
    student = Student.from_pretrained(CONCEPT)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-video-"))
    rows = []
    for runtime in (fastest_installed()[0], "torch"):
        runner = ConceptRunner(student, student.meta["prompt"], runtime, "cpu", batch=4)
        for w, h in ((1920, 1080), (512, 512)):
            clip = make_clip(tmp / f"clip-{w}x{h}.mp4", frames=frames, width=w, height=h, fps=30, audio=False)
            runner(np.zeros((1, h, w, 3), np.uint8))  # export and warm up outside the clock
            stats = edit_video(runner, clip, tmp / f"out-{runtime}-{w}x{h}.mp4", progress=False)
            rows.append({"size": f"{w}x{h}", "runtime": runtime, "mode": runner.full_res, "frames": stats["frames"], "fps": stats["achieved_fps"]})
            print(f"[fullres] video {w}x{h} {runtime} ({runner.full_res}): {stats['achieved_fps']:.1f} FPS", flush=True)
    return rows


def _resized(img, side: int):
    from PIL import Image

    w, h = img.size
    k = side / max(w, h)
    return img.resize((max(8, round(w * k)), max(8, round(h * k))), Image.LANCZOS)


def kind(entry: dict) -> str:
    """``colour`` for a per-pixel colour or tone edit (a classic colour concept, or procedural primitives that are all
    per-pixel maps), ``spatial`` otherwise."""
    if entry.get("teacher") == "classic":
        return "colour" if entry.get("kind") == "colour" else "spatial"
    from e2gan_plugins.procedural_teacher.primitives import PER_PIXEL

    return "colour" if all(w.strip() in PER_PIXEL for w in entry["prompt"].split(",")) else "spatial"


@torch.no_grad()
def quality(photos: str | None, threads: int, limit: int | None = None) -> dict:
    """Each zoo concept, each mode, at each long side, against the teacher at that size: PSNR per photo."""
    from e2gan.data.samples import colour_photos, held_out_names, shipped_photos, split_photos
    from e2gan.hub.zoo import catalogue
    from e2gan.metrics.quality import psnr
    from e2gan.registry import create_teacher
    from e2gan.student import Student

    torch.set_num_threads(threads)
    cat = catalogue()["concepts"]
    rows = []
    for name, entry in list(sorted(cat.items()))[:limit]:
        teacher = create_teacher(entry["teacher"])
        pool = colour_photos(photos) if getattr(teacher, "colour_only", False) else shipped_photos()
        _, test = split_photos(pool, held_out_names(photos if getattr(teacher, "colour_only", False) else None))
        student = Student.from_pretrained(f"zoo:{name}")
        prompt = entry["prompt"]
        for side in QUALITY_SIDES:
            imgs = [_resized(im.convert("RGB"), side) for im in test.values()]
            targets = teacher.edit(imgs, prompt, list(range(len(imgs))))
            scores = {}
            for mode in MODES:
                outs = student.edit(imgs, prompt, full_res=mode)
                scores[mode] = [float(psnr(_t(o), _t(t))) for o, t in zip(outs, targets)]
            scores["input"] = [float(psnr(_t(i), _t(t))) for i, t in zip(imgs, targets)]
            rows.append({"concept": name, "kind": kind(entry), "side": side, "photos": len(imgs), **scores})
        print(f"[fullres] quality {name}: " + "; ".join(f"{r['side']}: " + ", ".join(f"{m} {statistics.mean(r[m]):.1f}" for m in MODES)
                                                       for r in rows if r["concept"] == name), flush=True)
    return {"rows": rows}


def _t(img) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"))).permute(2, 0, 1)[None]


def decide(q: dict) -> dict:
    """The targets on the concepts' means at 1024 px: each concept's pick (the mode with the best mean PSNR); the pick
    beats bicubic on >= 80% of the concepts; on colour concepts, the pick minus direct >= -1 dB (concepts resampled)."""
    from e2gan.metrics.stats import summarise

    at = [r for r in q["rows"] if r["side"] == max(QUALITY_SIDES)]
    picks = {}
    for r in at:
        means = {m: statistics.mean(r[m]) for m in MODES}
        best = max(means, key=means.get)
        picks[r["concept"]] = {"mode": best, "size": r["side"], "psnr": {m: round(v, 2) for m, v in means.items()},
                               "input_psnr": round(statistics.mean(r["input"]), 2),
                               "why": f"best of {', '.join(MODES)} at {r['side']} px against the teacher: {means[best]:.2f} dB"}
    beats = [p["psnr"][p["mode"]] > p["psnr"]["bicubic"] for p in picks.values()]
    colour = [r["concept"] for r in at if r["kind"] == "colour"]
    diffs = [picks[c]["psnr"][picks[c]["mode"]] - picks[c]["psnr"]["direct"] for c in colour]
    guided_diffs = [picks[c]["psnr"]["guided"] - picks[c]["psnr"]["direct"] for c in colour]
    return {"picks": picks, "beats_bicubic": {"share": sum(beats) / len(beats), "of": len(beats), "verdict": "holds" if sum(beats) >= 0.8 * len(beats) else "fails"},
            "colour_pick_minus_direct": summarise(diffs, threshold=-1.0, clusters=colour) if len(colour) > 1 else None,
            "colour_guided_minus_direct": summarise(guided_diffs, threshold=-1.0, clusters=colour) if len(colour) > 1 else None,
            "colour_concepts": colour}


def write_catalogue(decision: dict) -> None:
    """Each measured concept's pick into the zoo: its catalogue entry and its adapter record (``full_res``: what
    ``e2gan apply`` follows by default), and its card re-written to say so."""
    from e2gan.files import ADAPTER_META
    from e2gan.hub.card import write_local_card
    from e2gan.hub.sources import zoo_dir

    path = zoo_dir() / "catalogue.json"
    cat = json.loads(path.read_text())
    for name, pick in decision["picks"].items():
        record = {k: pick[k] for k in ("mode", "size", "psnr", "why")}
        cat["concepts"][name]["full_res"] = record
        folder = zoo_dir() / cat["concepts"][name]["path"]
        meta = json.loads((folder / ADAPTER_META).read_text())
        meta["full_res"] = record
        atomic_write_json(folder / ADAPTER_META, meta)
        write_local_card(folder)
    atomic_write_json(path, cat)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=["all", "cost", "speed256", "photo", "video", "quality", "report", "figure", "one"])
    ap.add_argument("--spec", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--photos", default=None, help="a folder from `e2gan photos` (the procedural concepts' held-out photos)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="quality: only the first N concepts (a quick check)")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    if a.part == "one":
        spec = json.loads(a.spec)
        res = photo_one(spec["runtime"], spec["threads"]) if spec.get("kind") == "photo" else measure_one(**spec)
        print(json.dumps(res))
        return
    from benchmarks.run import machine

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "fullres.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    res["machine"] = machine()
    parts = ["cost", "speed256", "photo", "video", "quality"] if a.part == "all" else [] if a.part in ("report", "figure") else [a.part]
    for part in parts:
        res[part] = {"cost": lambda: cost(a.threads), "speed256": lambda: speed256(a.threads), "photo": lambda: photo(a.threads), "video": lambda: video(a.threads),
                     "quality": lambda: quality(a.photos, a.threads, a.limit)}[part]()
        atomic_write_json(path, res)
    if "quality" in res and a.limit is None:
        res["decision"] = decide(res["quality"])
        write_catalogue(res["decision"])
        atomic_write_json(path, res)
    if "quality" in res and a.limit is None and not (out / "fullres.png").exists() or a.part == "figure":
        figure(out / "fullres.png", a.photos)
    from benchmarks.fullres_report import render

    atomic_write_text(out / "fullres.md", render(res))
    print((out / "fullres.md").read_text())



@torch.no_grad()
def figure(path: Path, photos: str | None, concepts=("procedural-faded-red-accents", "procedural-pencil-sepia-sunset-glow", "classic-emboss"),
           side: int = 1024, crop: int = 256) -> None:
    """A picture to look at: for a colour, a texture and a relief concept, a 256-px crop of a held-out photo edited at
    1024 px: the photo, the teacher at 1024, then each mode."""
    from PIL import Image, ImageDraw

    from e2gan.data.samples import colour_photos, held_out_names, shipped_photos, split_photos
    from e2gan.hub.zoo import catalogue
    from e2gan.registry import create_teacher
    from e2gan.student import Student

    cat = catalogue()["concepts"]
    tiles = []
    for name in concepts:
        entry = cat[name]
        teacher = create_teacher(entry["teacher"])
        colour = getattr(teacher, "colour_only", False)
        _, test = split_photos(colour_photos(photos) if colour else shipped_photos(), held_out_names(photos if colour else None))
        img = _resized(next(iter(test.values())).convert("RGB"), side)
        student = Student.from_pretrained(f"zoo:{name}")
        row = [img, teacher.edit([img], entry["prompt"], [0])[0]] + [student.edit([img], entry["prompt"], full_res=m)[0] for m in MODES]
        w, h = img.size
        box = ((w - crop) // 2, (h - crop) // 2, (w + crop) // 2, (h + crop) // 2)
        tiles.append([t.convert("RGB").crop(box) for t in row])
    labels = ["photo (1024 px)", "teacher at 1024", *MODES]
    sheet = Image.new("RGB", (crop * len(labels), (crop + 18) * len(tiles)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(tiles):
        for c, t in enumerate(row):
            sheet.paste(t, (c * crop, r * (crop + 18) + 18))
            draw.text((c * crop + 4, r * (crop + 18) + 3), f"{labels[c]}" + (f" - {concepts[r]}" if c == 0 else ""), fill="black")
    sheet.save(path)


if __name__ == "__main__":
    main()
