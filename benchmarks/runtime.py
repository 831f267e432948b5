"""The runtime table: `e2gan` against pix2pix-resnet9 at 256x256, batch 1, in ONNX Runtime on this CPU, each
model given the same treatments (fp32, fp16, static int8), side by side in one run; the quality of each
treatment against fp32 and against the teacher on held-out pairs; and video end to end (decode + edit +
encode) at 256 and 512 px.

    python -m benchmarks.runtime          # benchmarks/runtime.{json,md}

Quality uses `zoo:classic-base` on its "sepia" concept, with held-out 256 px crops taught by the classic
teacher. pix2pix-resnet9 has no trained weights here: it is timed with random weights (its speed does not
depend on them), calibrated on the same images. Timing: interleaved rounds (every session once per round,
a warm-up call, then a block of calls), median over rounds of the per-call median; 2 threads.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from e2gan.io import atomic_write_json, atomic_write_text

OUT = Path(__file__).parent
SIZE = 256
PRECISIONS = ("fp32", "fp16", "int8")


def held_out(tmp: Path, count: int = 12):
    from e2gan.dataset import PairedDataset
    from e2gan.samples import teach_shipped_crops

    teach_shipped_crops("classic", ["sepia"], tmp / "data", SIZE, crops=16, test_crops=count, seed=0)
    ds = PairedDataset(tmp / "data")
    return ds.read_images(ds.select("sepia", "train")), ds.read_images(ds.select("sepia", "test"))


def time_sessions(sessions: dict, x: np.ndarray, rounds: int = 5, calls: int = 6) -> dict:
    per = {k: [] for k in sessions}
    for _ in range(rounds):
        for k, sess in sessions.items():
            sess.run(None, {"image": x})
            block = []
            for _ in range(calls):
                t0 = time.perf_counter()
                sess.run(None, {"image": x})
                block.append(time.perf_counter() - t0)
            per[k].append(statistics.median(block) * 1000)
    return {k: {"ms": statistics.median(v), "min": min(v), "max": max(v)} for k, v in per.items()}


def main(out_dir: str = str(OUT)) -> dict:
    from e2gan.export import export_onnx, onnx_session, runtime_report
    from e2gan.student import Student
    from e2gan.testing.media import make_clip
    from e2gan.video import edit_video

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-runtime-"))
    (train_src, _), (test_src, test_tgt) = held_out(tmp)
    models = {"e2gan": Student.from_pretrained("zoo:classic-base"), "pix2pix-resnet9": Student.create("pix2pix-resnet9")}
    paths, quality = {}, {}
    for name, student in models.items():
        for prec in PRECISIONS:
            paths[(name, prec)] = export_onnx(student, "sepia", tmp / f"{name}-{prec}.onnx", SIZE, precision=prec, calibration=train_src)
            print(f"[runtime] exported {name} {prec}", flush=True)
        for prec in PRECISIONS[1:]:
            if name == "e2gan":
                quality[(name, prec)] = runtime_report(paths[(name, "fp32")], paths[(name, prec)], test_src, test_tgt, repeats=1)
    x = (test_src[:1].float() / 127.5 - 1).numpy()
    sessions = {k: onnx_session(p, 2) for k, p in paths.items()}
    timing = time_sessions(sessions, x)
    rows = []
    for (name, prec), t in timing.items():
        row = {"model": name, "precision": prec, **t, "fps": 1000 / t["ms"]}
        if (name, prec) in quality:
            q = quality[(name, prec)]
            row.update(psnr_to_fp32=q["psnr_to_fp32"], psnr_to_teacher=q["psnr_to_teacher"], fp32_psnr_to_teacher=q["fp32_psnr_to_teacher"])
        rows.append(row)
        print(f"[runtime] {name} {prec}: {t['ms']:.1f} ms", flush=True)
    p2p32 = timing[("pix2pix-resnet9", "fp32")]["ms"]
    ratios = {f"{prec}": {"same_treatment": timing[("pix2pix-resnet9", prec)]["ms"] / timing[("e2gan", prec)]["ms"],
                          "vs_pix2pix_fp32": p2p32 / timing[("e2gan", prec)]["ms"]} for prec in PRECISIONS}
    video = []
    for side, frames in ((256, 48), (512, 24)):
        clip = make_clip(tmp / f"clip{side}.mp4", frames=frames, width=side, height=side, fps=24, audio=False)
        from e2gan.runtime import ConceptRunner

        for runtime in ("torch", "onnx"):
            runner = ConceptRunner(models["e2gan"], "sepia", runtime, batch=8, threads=2)
            stats = edit_video(runner, clip, tmp / f"out{side}-{runtime}.mp4", progress=False)
            video.append({"side": side, "runtime": runtime, "frames": stats["frames"], "fps": stats["achieved_fps"]})
            print(f"[runtime] video {side}px {runtime}: {stats['achieved_fps']:.1f} FPS", flush=True)
    res = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 2 threads", "size": SIZE, "rows": rows,
           "ratios": ratios, "video": video, "held_out_pairs": len(test_src)}
    atomic_write_json(Path(out_dir) / "runtime.json", res)
    atomic_write_text(Path(out_dir) / "runtime.md", render(res) + "\n")
    return res


def render(res: dict) -> str:
    md = ["## Runtime: e2gan against pix2pix-resnet9 in ONNX Runtime", "",
          f"Machine: {res['machine']}; {res['size']}x{res['size']}, batch 1; `python -m benchmarks.runtime`. Both models get every "
          "treatment. Quality: `zoo:classic-base` on sepia, "
          f"{res['held_out_pairs']} held-out pairs (PSNR of the treated export to the fp32 export, and to the teacher).", "",
          "| model | precision | ms per image (rounds min-max) | FPS | PSNR to fp32 | PSNR to teacher (fp32's) |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        if "psnr_to_fp32" in r:
            q = f"{r['psnr_to_fp32']:.1f} dB | {r['psnr_to_teacher']:.2f} dB ({r['fp32_psnr_to_teacher']:.2f})"
        else:
            q = "reference | -" if r["model"] == "e2gan" else "(random weights) | -"
        md.append(f"| {r['model']} | {r['precision']} | {r['ms']:.1f} ({r['min']:.1f}-{r['max']:.1f}) | {r['fps']:.1f} | {q} |")
    md += ["", "| e2gan precision | pix2pix-resnet9 / e2gan, same treatment | pix2pix-resnet9 fp32 / e2gan |", "|---|---|---|"]
    for prec, r in res["ratios"].items():
        md.append(f"| {prec} | {r['same_treatment']:.1f}x | {r['vs_pix2pix_fp32']:.1f}x |")
    md += ["", "Video end to end (`e2gan apply --input clip.mp4`: decode, edit in batches of 8, H.264 encode), e2gan on sepia:", "",
           "| frame size | runtime | frames | FPS |", "|---|---|---|---|"]
    md += [f"| {v['side']}x{v['side']} | {v['runtime']} | {v['frames']} | {v['fps']:.1f} |" for v in res["video"]]
    return "\n".join(md)


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:]), indent=1, default=str))
