"""What an inference-friendly e2gan generator gains (issue: "find the int8 that pays" / "an inference-friendly
variant"), measured side by side in one run on a shipped concept (adapter merged), 256x256, batch 1, 2 threads:

- the exact rewrites of ``plugins/backbones/inference_graph.py`` (CoordConv's and the head's concatenations as sums of
  convolutions; nearest up-sampling + 3x3 conv as a low-resolution conv + pixel shuffle), alone and together, with
  their PSNR to the model as trained (they are algebra: only float rounding may differ) and to the teacher;
- a speed ceiling for folding the norms: the same graph with every InstanceNorm removed. That is not a model (the
  weights were trained with the norms), so it has no quality: it bounds what a retrained norm-free or folded-norm
  variant could gain, and so whether one is worth training;
- at 512x512: every runtime on the model alone, and ONNX Runtime's profile at both sizes, to explain why ONNX Runtime
  fell behind PyTorch at 512 px in the runtime benchmark.

    python -m benchmarks.inference_variants        # benchmarks/inference_variants.{json,md}

Timing as in ``benchmarks.runtimes``: interleaved rounds (every model once per round: a warm-up call, then a block of
calls), the median over rounds of each block's median.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch import nn

from e2gan.io import atomic_write_json, atomic_write_text

OUT = Path(__file__).parent
REWRITE_SETS = [("as trained", ()), ("coords", ("coords",)), ("head", ("head",)), ("subpixel", ("subpixel",)),
                ("subpixel-2x2", ("subpixel-2x2",)), ("coords, head", ("coords", "head")), ("all three", ("coords", "head", "subpixel")),
                ("coords, head, subpixel-2x2", ("coords", "head", "subpixel-2x2"))]
CEILING = "coords, head, no instance norms (speed ceiling, not a model)"


def strip_norms(module: nn.Module) -> nn.Module:
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, nn.Identity())
        else:
            strip_norms(child)
    return module


def variants(student, prompt: str) -> dict[str, nn.Module]:
    from e2gan.inference import concept_module

    base = concept_module(student, prompt, rewrite=False)
    out = {}
    for label, rewrites in REWRITE_SETS:
        m = concept_module(student, prompt, rewrite=False)
        if rewrites:
            m.generator = base.generator.for_inference(rewrites)
        out[label] = m.eval()
    m = concept_module(student, prompt, rewrite=False)
    m.generator = strip_norms(base.generator.for_inference(dict(REWRITE_SETS)["coords, head"]))
    out[CEILING] = m.eval()
    return out


def onnx_runner(module: nn.Module, path: Path, threads: int):
    from e2gan.runtime.export import onnx_session, trace_onnx

    trace_onnx(module, path, size=64)
    session = onnx_session(path, threads)
    return (lambda x: torch.from_numpy(session.run(None, {"image": x.numpy()})[0])), path


def openvino_runner(module: nn.Module, threads: int):
    from e2gan.runtime.openvino import OpenVINOModule, convert_module

    return OpenVINOModule(convert_module(module, size=64), threads)


def main(argv=None):
    from benchmarks.run import machine
    from benchmarks.runtime import held_out, op_profile
    from benchmarks.runtimes import time_all, timing_arguments
    from e2gan.data.images import u8_to_unit, unit_to_u8
    from e2gan.metrics.quality import psnr
    from e2gan.runtime.runner import installed
    from e2gan.student import Student

    ap = timing_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-variants-"))
    student = Student.from_pretrained(a.model, device="cpu")
    prompt = student.meta["prompt"]
    _, test = held_out(tmp, prompt)
    mods = variants(student, prompt)
    runtimes = ["torch", "onnx"] + (["openvino"] if installed("openvino") else [])
    runners, onnx_paths = {}, {}
    for label, m in mods.items():
        slug = f"v{list(mods).index(label)}"
        for r in runtimes:
            if r == "torch":
                runners[(label, r)] = m
            elif r == "onnx":
                runners[(label, r)], onnx_paths[label] = onnx_runner(m, tmp / f"{slug}.onnx", a.threads)
            else:
                runners[(label, r)] = openvino_runner(m, a.threads)
    quality = {}
    with torch.no_grad():
        x_test = u8_to_unit(test[0])
        ref = unit_to_u8(mods["as trained"](x_test))
        for label in mods:
            if label == CEILING:
                continue
            for r in runtimes:
                got = unit_to_u8(torch.cat([runners[(label, r)](x_test[i:i + 1]) for i in range(len(x_test))]))
                quality[(label, r)] = {"to_as_trained_torch": float(psnr(got, ref).mean()),
                                       "to_teacher": float(psnr(got, test[1]).mean())}
            print(f"[variants] {label}: " + ", ".join(f"{r} {quality[(label, r)]['to_teacher']:.2f} dB" for r in runtimes), flush=True)
    res = {"machine": machine(), "model": a.model, "threads": a.threads, "runtimes": runtimes, "sizes": {}}
    for size in a.sizes:
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        times = time_all(runners, x, a.rounds, a.calls)
        rows = []
        for label in mods:
            for r in runtimes:
                t = times[(label, r)]["ms"]
                base = times[("as trained", r)]["ms"]
                q = quality.get((label, r), {})
                rows.append({"variant": label, "runtime": r, "ms": t, "fps": 1000 / t, "speedup": base / t,
                             "psnr_to_as_trained": q.get("to_as_trained_torch"), "psnr_to_teacher": q.get("to_teacher")})
                print(f"[variants] {size}px {label:60s} {r:9s} {t:7.2f} ms  {base / t:.2f}x", flush=True)
        x_np = x.numpy()
        profile = {label: op_profile(onnx_paths[label], x_np, runs=10, threads=a.threads) for label in ("as trained", "coords, head")}
        res["sizes"][str(size)] = {"rows": rows, "onnx_profile": profile}
    atomic_write_json(Path(a.out) / "inference_variants.json", res)
    atomic_write_text(Path(a.out) / "inference_variants.md", markdown(res))
    print(markdown(res))
    return res


def markdown(res: dict) -> str:
    md = ["## An inference-friendly generator: exact rewrites and a norm-free ceiling (`python -m benchmarks.inference_variants`)", "",
          f"Machine: {res['machine']}. Batch 1, {res['threads']} threads, one run, side by side. Model: `{res['model']}` (adapter "
          "merged). PSNR on its held-out pairs; speed-up against the model as trained in the same runtime.", ""]
    for size, block in res["sizes"].items():
        md += [f"### {size}x{size}", "", "| variant | runtime | ms | FPS | speed-up | PSNR to the model as trained dB | PSNR to the teacher dB |",
               "|---|---|---|---|---|---|---|"]
        for r in block["rows"]:
            q1 = "—" if r["psnr_to_as_trained"] is None else f"{r['psnr_to_as_trained']:.1f}"
            q2 = "—" if r["psnr_to_teacher"] is None else f"{r['psnr_to_teacher']:.2f}"
            md.append(f"| {r['variant']} | {r['runtime']} | {r['ms']:.2f} | {r['fps']:.1f} | {r['speedup']:.2f}x | {q1} | {q2} |")
        md += ["", "ONNX Runtime's profile (share of kernel time, the six largest op types):", ""]
        md += [f"- {label}: " + ", ".join(f"{op} {share:.0f}%" for op, share in ops.items()) for label, ops in block["onnx_profile"].items()]
        md.append("")
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
