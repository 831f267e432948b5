"""The runtime table: `e2gan` against pix2pix-resnet9 at 256x256, batch 1, in ONNX Runtime on this CPU, each
model given the same treatments (fp32, fp16, static int8), side by side in one run; the quality of each
treatment against fp32 and against the teacher on held-out pairs; and video end to end (decode + edit +
encode) at 256 and 512 px.

    python -m benchmarks.runtime          # benchmarks/runtime.{json,md}

The e2gan model is a shipped concept, `zoo:procedural-faded-red-accents` (the e2gan backbone with LoRA merged,
zero padding), with held-out 256 px crops taught by the procedural teacher for quality. pix2pix-resnet9 has no
trained weights here: it is timed with random weights (its speed does not depend on them), calibrated on the
same images. "Attempts" times both fp32 models under other ONNX Runtime settings and batch sizes, each pair
side by side, to find a treatment that widens the gap. Timing: interleaved rounds (every session once per round,
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


CONCEPT_MODEL = "zoo:procedural-faded-red-accents"


def held_out(tmp: Path, prompt: str, count: int = 12):
    from e2gan.data.dataset import PairedDataset
    from e2gan.teach import teach_shipped_crops

    teach_shipped_crops("procedural", [prompt], tmp / "data", SIZE, crops=16, test_crops=count, seed=0, colour_only=True)
    ds = PairedDataset(tmp / "data")
    return ds.read_images(ds.select(prompt, "train")), ds.read_images(ds.select(prompt, "test"))


def op_profile(path, x: np.ndarray, runs: int = 20, threads: int = 2) -> dict[str, float]:
    """Share of ONNX Runtime's kernel time per op type (its own profiler), over ``runs`` calls."""
    import collections

    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads, o.enable_profiling = threads, 1, True
    o.profile_file_prefix = str(Path(path).with_suffix(""))
    sess = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        sess.run(None, {"image": x})
    events = json.loads(Path(sess.end_profiling()).read_text())
    per = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per[e["args"]["op_name"]] += e["dur"]
    total = sum(per.values())
    return {op: 100 * t / total for op, t in per.most_common(6)}


def attempts(paths: dict, threads: int = 2) -> list[dict]:
    """Both fp32 models under other settings, each setting timed side by side: threads, spinning, graph level, batch."""
    import onnxruntime as ort

    def session(p, n_threads=threads, spin=True, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        o = ort.SessionOptions()
        o.intra_op_num_threads, o.inter_op_num_threads, o.graph_optimization_level = n_threads, 1, level
        if not spin:
            o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(p), o, providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(0)
    settings = [("default (all graph optimisations, 2 threads, batch 1)", {}, 1), ("1 thread", {"n_threads": 1}, 1),
                ("no thread spinning", {"spin": False}, 1), ("basic graph optimisations only", {"level": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}, 1),
                ("batch 8 (per image)", {}, 8)]
    rows = []
    for label, kw, batch in settings:
        x = (rng.random((batch, 3, SIZE, SIZE), dtype=np.float32) * 2 - 1)
        sessions = {name: session(paths[(name, "fp32")], **kw) for name in ("e2gan", "pix2pix-resnet9")}
        t = time_sessions(sessions, x, rounds=3, calls=4)
        e, p = t["e2gan"]["ms"] / batch, t["pix2pix-resnet9"]["ms"] / batch
        rows.append({"setting": label, "e2gan_ms": e, "pix2pix_ms": p, "ratio": p / e})
        print(f"[runtime] attempt {label}: {p / e:.1f}x", flush=True)
    return rows


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
    from e2gan.runtime.export import export_onnx, onnx_session, runtime_report
    from e2gan.runtime.video import edit_video
    from e2gan.student import Student
    from e2gan.testing.media import make_clip

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-runtime-"))
    concept = Student.from_pretrained(CONCEPT_MODEL)
    prompt = concept.meta["prompt"]
    (train_src, _), (test_src, test_tgt) = held_out(tmp, prompt)
    torch.manual_seed(0)
    models = {"e2gan": concept, "pix2pix-resnet9": Student.create("pix2pix-resnet9")}
    paths, quality = {}, {}
    for name, student in models.items():
        for prec in PRECISIONS:
            paths[(name, prec)] = export_onnx(student, prompt, tmp / f"{name}-{prec}.onnx", SIZE, precision=prec, calibration=train_src)
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
        from e2gan.runtime.runner import ConceptRunner

        for runtime in ("torch", "onnx"):
            runner = ConceptRunner(models["e2gan"], prompt, runtime, batch=8, threads=2)
            stats = edit_video(runner, clip, tmp / f"out{side}-{runtime}.mp4", progress=False)
            video.append({"side": side, "runtime": runtime, "frames": stats["frames"], "fps": stats["achieved_fps"]})
            print(f"[runtime] video {side}px {runtime}: {stats['achieved_fps']:.1f} FPS", flush=True)
    tried = attempts(paths)
    profile = {name: op_profile(paths[(name, "fp32")], x) for name in models}
    res = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 2 threads", "size": SIZE, "rows": rows,
           "ratios": ratios, "video": video, "held_out_pairs": len(test_src), "model": CONCEPT_MODEL, "prompt": prompt, "attempts": tried,
           "profile": profile}
    atomic_write_json(Path(out_dir) / "runtime.json", res)
    atomic_write_text(Path(out_dir) / "runtime.md", render(res) + "\n")
    return res


def render(res: dict) -> str:
    md = ["## Runtime: e2gan against pix2pix-resnet9 in ONNX Runtime", "",
          f"Machine: {res['machine']}; {res['size']}x{res['size']}, batch 1; `python -m benchmarks.runtime`. Both models get every "
          f"treatment. e2gan is `{res.get('model', 'zoo:classic-base')}` ({res.get('prompt', 'sepia')!r}); quality on "
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
    if res.get("attempts"):
        md += ["", "Attempts to widen the gap (fp32, both models under the same setting, timed side by side):", "",
               "| setting | e2gan ms/image | pix2pix-resnet9 ms/image | pix2pix / e2gan |", "|---|---|---|---|"]
        md += [f"| {a['setting']} | {a['e2gan_ms']:.1f} | {a['pix2pix_ms']:.1f} | {a['ratio']:.1f}x |" for a in res["attempts"]]
    if res.get("profile"):
        md += ["", "Where the fp32 time goes (ONNX Runtime's profiler, share of kernel time, the six largest op types):", ""]
        md += [f"- {name}: " + ", ".join(f"{op} {share:.0f}%" for op, share in ops.items()) for name, ops in res["profile"].items()]
    md += ["", "Video end to end (`e2gan apply --input clip.mp4`: decode, edit in batches of 8, H.264 encode), the same e2gan concept:", "",
           "| frame size | runtime | frames | FPS |", "|---|---|---|---|"]
    md += [f"| {v['side']}x{v['side']} | {v['runtime']} | {v['frames']} | {v['fps']:.1f} |" for v in res["video"]]
    return "\n".join(md)


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:]), indent=1, default=str))
