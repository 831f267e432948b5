"""One table, one run: `e2gan` against pix2pix-resnet9 in every runtime and precision e2gan exports to (PyTorch, ONNX
Runtime, OpenVINO, ExecuTorch with XNNPACK), at 256x256, batch 1, 2 threads, side by side; PSNR to the teacher for the
e2gan concept; and video end to end (decode + edit + encode) at 256 and 512 px through the fastest runtime and through
PyTorch. It also writes ``e2gan/runtime/measured.json``: the order `--runtime auto` follows.

    python -m benchmarks.runtimes            # benchmarks/runtimes.{json,md}, e2gan/runtime/measured.json

The e2gan model is a shipped concept (adapter merged). pix2pix-resnet9 has no trained weights here: it is timed with
random weights (its speed does not depend on them) and calibrated on the same images. Timing: interleaved rounds (every
model once per round: a warm-up call, then a block of calls), the median over rounds of each block's median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from e2gan.io import atomic_write_json, atomic_write_text

OUT = Path(__file__).parent
COMBOS = [("torch", "fp32"), ("onnx", "fp32"), ("onnx", "fp16"), ("onnx", "int8"), ("openvino", "fp32"), ("openvino", "int8"),
          ("executorch", "fp32"), ("executorch", "int8")]


def build(student, prompt: str, runtime: str, precision: str, folder: Path, size: int, calibration, threads: int):
    """A callable on [-1, 1] (1, 3, size, size) tensors."""
    from e2gan.inference import concept_module
    from e2gan.runtime import formats

    if runtime == "torch":
        module = concept_module(student, prompt).eval()
        return lambda x: module(x)
    path = folder / f"{student.backbone}-{runtime}-{precision}{formats.FORMATS[runtime].suffix}"
    formats.export(runtime, student, prompt, path, size, precision, calibration)
    return formats.load(runtime, path, threads)


@torch.no_grad()
def time_all(models: dict, x: torch.Tensor, rounds: int, calls: int) -> dict:
    per = {k: [] for k in models}
    for _ in range(rounds):
        for k, run in models.items():
            run(x)
            samples = []
            for _ in range(calls):
                t0 = time.perf_counter()
                run(x)
                samples.append(time.perf_counter() - t0)
            per[k].append(statistics.median(samples))
    return {k: {"ms": statistics.median(v) * 1000, "rounds_ms": [round(t * 1000, 2) for t in v]} for k, v in per.items()}


def video(student, prompt: str, runtime: str, size: int, frames: int, tmp: Path) -> float:
    """Decode + edit + encode FPS of a made-up clip of ``frames`` frames at ``size``x``size``."""
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.runtime.video import edit_video
    from e2gan.testing.media import make_clip

    clip = make_clip(tmp / f"clip-{size}.mp4", frames=frames, width=size, height=size, fps=24, audio=False)
    runner = ConceptRunner(student, prompt, runtime, "cpu", batch=1 if runtime == "executorch" else 4)
    runner(torch.zeros(1, size, size, 3, dtype=torch.uint8).numpy())  # export and warm up outside the clock
    return edit_video(runner, clip, tmp / f"out-{runtime}-{size}.mp4", progress=False)["achieved_fps"]


def timing_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every timing benchmark shares: which concept, how many threads, how many rounds of how many calls."""
    from benchmarks.runtime import CONCEPT_MODEL

    ap.add_argument("--model", default=CONCEPT_MODEL, help="the concept adapter (or merged model) to time")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="rounds over every runtime (the median is kept)")
    ap.add_argument("--calls", type=int, default=8, help="calls per round")
    return ap


def main(argv=None):
    from benchmarks.run import machine
    from benchmarks.runtime import held_out
    from e2gan.data.images import u8_to_unit, unit_to_u8
    from e2gan.metrics.quality import psnr
    from e2gan.runtime.runner import MEASURED, installed
    from e2gan.student import Student

    ap = timing_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--measured", default=str(MEASURED), help="where the order for --runtime auto goes ('' : nowhere)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-runtimes-"))
    student = Student.from_pretrained(a.model, device="cpu")
    prompt = student.meta["prompt"]
    calib, test = held_out(tmp, prompt)
    if test[0].shape[-1] != a.size:  # the fixed-size exports take exactly --size
        resize = lambda t: unit_to_u8(torch.nn.functional.interpolate(u8_to_unit(t), size=(a.size, a.size), mode="bilinear"))  # noqa: E731
        calib, test = (resize(calib[0]), calib[1]), (resize(test[0]), resize(test[1]))
    p2p = Student.create("pix2pix-resnet9")
    combos = [(r, p) for r, p in COMBOS if installed(r)]
    models, quality = {}, {}
    for r, p in combos:
        models[("e2gan", r, p)] = build(student, prompt, r, p, tmp, a.size, calib[0], a.threads)
        models[("pix2pix-resnet9", r, p)] = build(p2p, "", r, p, tmp, a.size, calib[0], a.threads)
        with torch.no_grad():
            out = torch.cat([models[("e2gan", r, p)](u8_to_unit(test[0][i:i + 1])) for i in range(len(test[0]))])
        quality[(r, p)] = float(psnr(unit_to_u8(out), test[1]).mean())
        print(f"[runtimes] built {r} {p}: e2gan PSNR to the teacher {quality[(r, p)]:.2f} dB", flush=True)
    x = torch.rand(1, 3, a.size, a.size) * 2 - 1
    times = time_all(models, x, a.rounds, a.calls)
    rows = []
    for r, p in combos:
        e, b = times[("e2gan", r, p)]["ms"], times[("pix2pix-resnet9", r, p)]["ms"]
        rows.append({"runtime": r, "precision": p, "e2gan_ms": round(e, 2), "e2gan_fps": round(1000 / e, 1), "pix2pix_ms": round(b, 2),
                     "ratio": round(b / e, 2), "psnr_to_teacher": round(quality[(r, p)], 2),
                     "psnr_drop_vs_fp32": round(quality[(r, p)] - quality[("torch", "fp32")], 2)})
    fp32 = sorted((row for row in rows if row["precision"] == "fp32"), key=lambda row: row["e2gan_ms"])
    order = [row["runtime"] for row in fp32]
    fastest = order[0]
    vid = [{"size": s, "runtime": rt, "fps": round(video(student, prompt, rt, s, a.frames, tmp), 2)} for s in (256, 512)
           for rt in dict.fromkeys([fastest, "torch"])]
    res = {"machine": machine(), "model": a.model, "size": a.size, "threads": a.threads, "rows": rows, "video": vid, "order": order,
           "times": {f"{m}|{r}|{p}": v for (m, r, p), v in times.items()}}
    out = Path(a.out)
    atomic_write_json(out / "runtimes.json", res)
    atomic_write_text(out / "runtimes.md", markdown(res))
    if a.measured:
        atomic_write_json(a.measured, {"order": order, "machine": res["machine"], "what": "benchmarks/runtimes.md: fp32, 256 px, batch 1, "
                                       f"{a.threads} threads", "ms": {row["runtime"]: row["e2gan_ms"] for row in fp32}})
    print(markdown(res))


def markdown(res: dict) -> str:
    best = max(res["rows"], key=lambda r: r["e2gan_fps"])
    lines = ["## Every runtime and precision, e2gan against pix2pix-resnet9 (`python -m benchmarks.runtimes`)", "",
             f"Machine: {res['machine']}. {res['size']}x{res['size']}, batch 1, {res['threads']} threads, one run, side by side. e2gan: "
             f"`{res['model']}` (adapter merged); PSNR to the teacher on its held-out pairs. pix2pix-resnet9 with random weights.", "",
             "| runtime | precision | e2gan ms | e2gan FPS | pix2pix ms | pix2pix / e2gan | e2gan PSNR to the teacher dB | minus PyTorch fp32 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['runtime']} | {r['precision']} | {r['e2gan_ms']:.2f} | {r['e2gan_fps']:.1f} | {r['pix2pix_ms']:.1f} | "
                     f"**{r['ratio']:.1f}x** | {r['psnr_to_teacher']:.2f} | {r['psnr_drop_vs_fp32']:+.2f} |")
    lines += ["", "| video (decode + edit + encode) | runtime | FPS |", "|---|---|---|"]
    lines += [f"| {v['size']}x{v['size']} | {v['runtime']} | {v['fps']:.1f} |" for v in res["video"]]
    lines += ["", f"Fastest: {best['runtime']} {best['precision']} at {best['e2gan_fps']:.0f} FPS ({best['ratio']:.1f}x pix2pix-resnet9 in the same "
              f"runtime and precision). `--runtime auto` follows the fp32 order: {', '.join(res['order'])}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
