"""Inference cost of every generator at 256x256, batch 1: params, MACs, eager PyTorch and ONNX
Runtime latency (2 threads), FPS, and the floor that MACs imply at this CPU's measured matmul rate.

Models are timed in interleaved rounds (A B C A B C ...) so this machine's drift hits all of them alike;
within a round each model gets a warm-up call and a short block of back-to-back calls. Single cold calls
right after another model (plain A B A B) measured the small models up to 2.5x slower than in steady
use, because the caches then hold the other model's weights. Figures are medians with the min-max spread."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

BACKBONES = {"e2gan-small": {}, "e2gan": {}, "e2gan-large": {}, "pix2pix-resnet9": {}, "pix2pix-unet256": {},
             "comodgan": {}}  # Co-Mod-GAN at the original's 256 px channel schedule: the paper's pix2pix-zero-distilled


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def build(name: str, x: torch.Tensor, threads: int, folder: Path) -> dict:
    """One backbone, ready to time on ``x``: the eager concept module, its ONNX Runtime session, params, MACs."""
    from e2gan.inference import concept_module
    from e2gan.metrics.macs import count_macs
    from e2gan.runtime.export import export_onnx, onnx_session
    from e2gan.student import Student

    s = Student.create(name, **BACKBONES[name])
    module = concept_module(s, "sepia")
    args = (x, *((module.embeds, module.mask) if module.conditioned else ()))
    path = export_onnx(s, "sepia", folder / f"{name}.onnx", x.shape[-1])
    return {"module": module, "session": onnx_session(path, threads), "params": s.num_parameters(), "macs": count_macs(s.generator, *args)}


def run(rounds: int = 7, size: int = 256, threads: int = 2, block: int = 5, backbones=tuple(BACKBONES)) -> dict:
    torch.set_num_threads(threads)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-infer-"))
    x = torch.rand(1, 3, size, size) * 2 - 1
    if "pix2pix-resnet9" not in backbones:
        raise ValueError("the inference table is relative to pix2pix-resnet9: keep it in --infer-backbones")
    models = {name: {**build(name, x, threads, tmp), "eager": [], "ort": []} for name in backbones}
    feed = {"image": x.numpy()}

    def timed(fn, arg):
        """One untimed call, then the median of ``block`` back-to-back calls: warm caches, as on a video."""
        fn(*arg)
        times = []
        for _ in range(block):
            t = time.perf_counter()
            fn(*arg)
            times.append(1000 * (time.perf_counter() - t))
        return statistics.median(times)

    with torch.no_grad():
        for _ in range(rounds):  # rounds interleave the models, so drift in this machine's speed hits all alike
            for m in models.values():
                m["eager"].append(timed(m["module"], (x,)))
                m["ort"].append(timed(m["session"].run, (None, feed)))
    rate = matmul_gflops()
    rows = []
    for name, m in models.items():
        rows.append({"name": name, "params": m["params"], "gmacs": m["macs"] / 1e9, "eager_ms": statistics.median(m["eager"]),
                     "eager_range": (min(m["eager"]), max(m["eager"])), "ort_ms": statistics.median(m["ort"]),
                     "ort_range": (min(m["ort"]), max(m["ort"])), "eager_all": m["eager"], "ort_all": m["ort"], "floor_ms": 2 * m["macs"] / (rate * 1e9) * 1000})
    return {"rows": rows, "gflops": rate, "size": size, "threads": threads, "rounds": rounds, "block": block}


def ratio_spread(ref: list[float], times: list[float]) -> tuple[float, float, float]:
    """Median, min and max of per-round ratios: rounds are interleaved, so a round's ratio cancels drift."""
    ratios = [a / b for a, b in zip(ref, times)]
    return statistics.median(ratios), min(ratios), max(ratios)


def speedup(ref: list[float], times: list[float]) -> str:
    med, lo, hi = ratio_spread(ref, times)
    return f"{med:.1f}x ({lo:.1f}-{hi:.1f})"


def markdown(r: dict, plot: str | None = None) -> str:
    ref = next(x for x in r["rows"] if x["name"] == "pix2pix-resnet9")
    out = [f"## Inference at {r['size']}x{r['size']}, batch 1, {r['threads']} threads",
           "", f"Medians of {r['rounds']} interleaved rounds (min-max over rounds). In each round, each model runs once untimed "
           f"and then {r.get('block', 1)} times back to back, and the round keeps the median of those: this is the latency with warm caches, "
           "as when a stream of images or a video goes through one model. MACs count attention and transposed convs per output pixel. "
           f"Floor = 2 x MACs / {r['gflops']:.0f} GFLOP/s (this CPU's fp32 2048^3 matmul). A time under its floor means the "
           "backend did fewer multiplications than direct convolution (oneDNN's Winograd 3x3 convolutions), not a timing error.", "",
           "Speed-ups are medians of per-round ratios (each round times every model), min-max over rounds.", "",
           "| model | params | G MACs | eager ms | ONNX Runtime ms | ORT FPS | floor ms | eager speed-up vs pix2pix-resnet9 | ORT speed-up vs pix2pix-resnet9 |",
           "|---|---|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        out.append(f"| {x['name']} | {x['params'] / 1e6:.3f} M | {x['gmacs']:.2f} | {x['eager_ms']:.1f} ({x['eager_range'][0]:.0f}-{x['eager_range'][1]:.0f}) | "
                   f"{x['ort_ms']:.1f} ({x['ort_range'][0]:.0f}-{x['ort_range'][1]:.0f}) | {1000 / x['ort_ms']:.1f} | {x['floor_ms']:.1f} | "
                   f"{speedup(ref['eager_all'], x['eager_all'])} | {speedup(ref['ort_all'], x['ort_all'])} |")
    if plot:
        out += ["", f"![inference latency]({plot})"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(run()))
