"""Training at scale on this machine: memory while streaming a data set larger than the process, and
throughput (images per second) of `train-base` by resolution, batch and number of processes.

    python -m benchmarks.scale                    # both parts: benchmarks/scale.{json,md}, scale_memory.png
    python -m benchmarks.scale --part memory      # or throughput

Memory: `e2gan train-base` streams N pairs of 512x512 from a data folder (decoded size several times the
process's peak) through one DataLoader worker; the memory of the whole process tree (trainer + workers, as PSS:
pages the worker shares with the trainer count once) is sampled every 0.5 s. For contrast, the peak RSS of reading the
same pairs into memory at once (`load_pairs`, what the engine did before streaming).
Throughput: steps 2.. of short `train-base` runs from their own training log (the first step, with its
start-up, is left out), at 128 and 256 px, batch 8 and 64, with 1 process and with 2 under `accelerate launch`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from e2gan.io import atomic_save_figure, atomic_write_json, atomic_write_text
from e2gan.testing.net import free_port

OUT = Path(__file__).parent
ENV = {**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
#: the in-memory contrast reads at most this many pairs (all 4000 would need about 17 GB on a 24 GB machine)
IN_MEMORY_PAIRS = 2000


def make_pairs(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """``count`` distinct textured sources of ``size`` px, taught with the classic teacher's sepia (resumable)."""
    from e2gan.teach import teach

    rng = np.random.default_rng(seed)

    def sources():
        for i in range(count):
            coarse = rng.random((8, 8, 3)).astype(np.float32)
            img = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
            noise = rng.normal(0, 12, (size, size, 3))
            yield f"s{i:05d}", Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))

    teach("classic", ["sepia"], list(sources()), folder, size=size, progress=True)
    return folder


def _pss_kb(pid: int) -> int:
    """PSS from /proc/PID/smaps_rollup: cheap to read (the full smaps, which psutil parses, slowed the trainer down)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


def _tree_rss_mb(proc) -> float:
    import psutil

    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(_pss_kb(p.pid) for p in procs) / 1024
    except (psutil.Error, OSError, StopIteration):
        return float("nan")


def run_sampled(cmd: list[str], every: float = 0.5) -> tuple[list[tuple[float, float]], subprocess.CompletedProcess]:
    import psutil

    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: an unread pipe fills up and blocks the trainer
        p = subprocess.Popen(cmd, env=ENV, stdout=log, stderr=subprocess.STDOUT, text=True)
        ps, samples = psutil.Process(p.pid), []
        while p.poll() is None:
            rss = _tree_rss_mb(ps)
            if rss == rss:
                samples.append((time.perf_counter() - t0, rss))
            time.sleep(every)
        log.seek(0)
        out = log.read()
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    return samples, subprocess.CompletedProcess(cmd, p.returncode, out, "")


def memory(tmp: Path, count: int, steps: int) -> dict:
    size = 512
    data = make_pairs(tmp / "mem-data", count, size)
    decoded_mb = count * 2 * 3 * size * size / 2**20
    on_disk_mb = sum(f.stat().st_size for f in data.rglob("*.png")) / 2**20
    cmd = [sys.executable, "-m", "e2gan.cli", "train-base", "--data", str(data), "--backbone", "e2gan", "--steps", str(steps),
           "--batch-size", "8", "--crop", "64", "--workers", "1", "--threads", "1", "--device", "cpu", "--out", str(tmp / "mem-out"),
           "--overwrite", "--no-resume"]
    samples, _ = run_sampled(cmd)
    rows = [json.loads(line) for line in (tmp / "mem-out" / "training_log.jsonl").read_text().splitlines()]
    t_train0 = samples[-1][0] - rows[-1]["seconds"]  # when training began, on the sampler's clock (approximately)
    during = [(t, m) for t, m in samples if t >= t_train0]
    quarter = max(1, len(during) // 4)
    early, late = float(np.median([m for _, m in during[:quarter]])), float(np.median([m for _, m in during[-quarter:]]))
    code = ("import resource, sys; from e2gan.data.dataset import load_pairs; p = load_pairs(sys.argv[1], None, 'train', limit=int(sys.argv[2])); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    contrast = min(count, IN_MEMORY_PAIRS)
    in_memory = subprocess.run([sys.executable, "-c", code, str(data), str(contrast)], env=ENV, capture_output=True, text=True, check=True)
    seen = steps * 8
    return {"pairs": count, "side": size, "decoded_mb": decoded_mb, "on_disk_mb": on_disk_mb, "steps": steps, "pairs_drawn": seen,
            "peak_rss_mb": max(m for _, m in samples), "early_rss_mb": early, "late_rss_mb": late,
            "in_memory_peak_mb": float(in_memory.stdout.strip().splitlines()[-1]), "in_memory_pairs": contrast, "train_seconds": rows[-1]["seconds"],
            "samples": [(round(t - t_train0, 2), round(m, 1)) for t, m in samples]}



def throughput_one(data: Path, out: Path, size: int, batch: int, procs: int, steps: int, device: str = "cpu", precision: str = "no") -> dict:
    cores = os.cpu_count() or 1
    common = ["train-base", "--data", str(data), "--backbone", "e2gan", "--steps", str(steps), "--size", str(size), "--log-every", "1",
              "--device", device, "--mixed-precision", precision, "--workers", "0", "--threads", str(max(1, cores // procs)), "--out", str(out), "--overwrite", "--no-resume",
              "--batch-size", str(batch // procs)]
    if procs == 1:
        cmd = [sys.executable, "-m", "e2gan.cli", *common]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(procs), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()), "-m", "e2gan.cli", *common]
    subprocess.run(cmd, env={**ENV, "OMP_NUM_THREADS": str(max(1, cores // procs))}, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    first, last = rows[0], rows[-1]
    seconds = last["seconds"] - first["seconds"]
    return {"size": size, "batch": batch, "processes": procs, "device": device, "precision": precision, "steps_timed": last["step"] - first["step"],
            "images_per_s": (last["step"] - first["step"]) * last["global_batch"] / seconds, "seconds_per_step": seconds / (last["step"] - first["step"])}


def throughput(tmp: Path, steps: int, device: str = "cpu") -> list[dict]:
    """On a GPU (``device="cuda"``), 1 process only, fp32 against bf16 (more GPUs: rerun under accelerate)."""
    data = make_pairs(tmp / "tp-data", 128, 256, seed=1)
    rows = []
    arms = [(1, "no"), (2, "no")] if device == "cpu" else [(1, "no"), (1, "bf16")]
    for size in (128, 256):
        for batch in (8, 64):
            for procs, precision in arms:
                r = throughput_one(data, tmp / "tp-out", size, batch, procs, steps, device, precision)
                print(f"[scale] {size}px batch {batch}, {procs} process(es), {precision}: {r['images_per_s']:.1f} img/s", flush=True)
                rows.append(r)
    return rows


def plot(mem: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    t, m = zip(*mem["samples"])
    ax.plot(t, m, label="train-base, streaming (trainer + worker, PSS)")
    ax.axhline(mem["decoded_mb"], color="tab:red", ls="--", label=f"the data set decoded ({mem['decoded_mb']:.0f} MB)")
    ax.axhline(mem["in_memory_peak_mb"], color="tab:orange", ls=":",
               label=f"peak of load_pairs on {mem.get('in_memory_pairs', mem['pairs'])} of the pairs ({mem['in_memory_peak_mb']:.0f} MB)")
    ax.set_xlabel("seconds since training began")
    ax.set_ylabel("MB")
    ax.set_ylim(0, max(mem["decoded_mb"], mem["in_memory_peak_mb"]) * 1.1)
    ax.legend(fontsize=8, loc="center right")
    ax.set_title(f"{mem['pairs']} pairs of {mem['side']}px, {mem['steps']} steps of batch 8")
    fig.tight_layout()
    atomic_save_figure(fig, path)


def render(res: dict) -> str:
    md = ["## Training at scale: streaming memory and throughput", "",
          f"Machine: {res['machine']}. `python -m benchmarks.scale`.", ""]
    mem = res.get("memory")
    if mem:
        ratio = mem["decoded_mb"] / mem["peak_rss_mb"]
        md += ["### Memory while training on a data set larger than the process", "",
               f"`train-base` streamed {mem['pairs']} pairs of {mem['side']}x{mem['side']} ({mem['decoded_mb']:.0f} MB decoded, "
               f"{mem['on_disk_mb']:.0f} MB of PNG) for {mem['steps']} steps of batch 8 ({mem['pairs_drawn']} pairs drawn), "
               f"random 64 px crops, one DataLoader worker.", "",
               "| | MB |", "|---|---|",
               f"| the data set, decoded | {mem['decoded_mb']:.0f} |",
               f"| peak memory (PSS), trainer + worker | {mem['peak_rss_mb']:.0f} |",
               f"| median memory, first quarter of training | {mem['early_rss_mb']:.0f} |",
               f"| median memory, last quarter of training | {mem['late_rss_mb']:.0f} |",
               f"| peak RSS of reading {mem.get('in_memory_pairs', mem['pairs'])} of the pairs into memory (`load_pairs`, the engine before "
               f"streaming) | {mem['in_memory_peak_mb']:.0f} |", "",
               f"The data set is {ratio:.1f}x the training processes' peak memory; memory moved by {mem['late_rss_mb'] - mem['early_rss_mb']:+.0f} MB "
               "from the first to the last quarter of training.", "", "![memory while streaming](scale_memory.png)", ""]
    tp = res.get("throughput")
    if tp:
        md += ["### Throughput of `train-base` (e2gan backbone with its PatchGAN, CPU)", "",
               "Images per second over steps 2..N of each run (start-up and the first step left out). 2 processes: "
               "`accelerate launch --multi_gpu --num_processes 2` (gloo on CPU), each with half the cores and half the batch "
               "(the same global batch).", "",
               "| px | global batch | 1 process | 2 processes | 2 vs 1 |", "|---|---|---|---|---|"]
        for size in (128, 256):
            for batch in (8, 64):
                one = next((r for r in tp if (r["size"], r["batch"], r["processes"]) == (size, batch, 1)), None)
                two = next((r for r in tp if (r["size"], r["batch"], r["processes"]) == (size, batch, 2)), None)
                if not (one and two):
                    continue
                md.append(f"| {size} | {batch} | {one['images_per_s']:.1f} img/s | {two['images_per_s']:.1f} img/s | "
                          f"{two['images_per_s'] / one['images_per_s']:.2f}x |")
        gpu = [r for r in tp if r.get("device", "cpu") != "cpu"]
        if gpu:
            md += ["", "| px | batch | fp32 | bf16 |", "|---|---|---|---|"]
            for size in (128, 256):
                for batch in (8, 64):
                    got = {r["precision"]: r for r in gpu if (r["size"], r["batch"]) == (size, batch)}
                    if len(got) == 2:
                        md.append(f"| {size} | {batch} | {got['no']['images_per_s']:.1f} img/s | {got['bf16']['images_per_s']:.1f} img/s |")
        else:
            md += ["", "GPU: not measured (no GPU was lent to this task). On one, `python -m benchmarks.scale --part throughput "
                   "--device cuda` measures fp32 against bf16; the GPU's utilisation is still to be recorded there (`nvidia-smi`).", ""]
    return "\n".join(md)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["all", "memory", "throughput"], default="all")
    ap.add_argument("--pairs", type=int, default=4000, help="memory: pairs of 512x512 in the streamed data set")
    ap.add_argument("--steps", type=int, default=1000, help="memory: training steps")
    ap.add_argument("--tp-steps", type=int, default=4, help="throughput: steps per run (the first is not timed)")
    ap.add_argument("--device", default="cpu", help="throughput: cpu (1 and 2 processes) or cuda (fp32 and bf16)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--tmp", default=None, help="scratch folder (kept, so a rerun reuses its data)")
    args = ap.parse_args(argv)
    tmp = Path(args.tmp or tempfile.mkdtemp(prefix="e2gan-scale-"))
    out = Path(args.out)
    path = out / "scale.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU" if not _cuda() else _cuda()
    if args.part in ("all", "memory"):
        res["memory"] = memory(tmp, args.pairs, args.steps)
        plot(res["memory"], out / "scale_memory.png")
    if args.part in ("all", "throughput"):
        res["throughput"] = throughput(tmp, args.tp_steps, args.device)
    atomic_write_json(path, res)
    atomic_write_text(out / "scale.md", render(res) + "\n")
    return res


def _cuda():
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


if __name__ == "__main__":
    r = main()
    print(json.dumps({k: v for k, v in r.items() if k != "memory"} | {"memory": {k: v for k, v in r.get("memory", {}).items() if k != "samples"}}, indent=1))
