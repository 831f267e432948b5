"""Base-model ablation (the paper's table: representative concepts vs random concepts vs a single
concept), each base fine-tuned with LoRA to the same held-out concepts.

Two parts:
* ``python -m benchmarks.base_ablation make OUT [MINUTES]`` trains the three bases with the same
  budget, side by side (meant for a GPU; three processes share it). The bases used for the table
  were made so on one H200 and live in ``benchmarks/bases/``.
* ``run()`` (called by ``make bench``) LoRA-finetunes each base on the held-out concepts, same steps
  and seeds, and reports PSNR/SSIM to the teacher on held-out photos.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

HELD_OUT = ["oil painting", "winter", "vintage photo"]
POOL = ["watercolor painting", "pencil sketch", "colored pencil drawing", "enhance details", "cartoon", "emboss", "sepia", "night",
        "thermal camera", "black and white", "pop art"]
BASES = {
    "representative": ["watercolor painting", "pencil sketch", "cartoon", "enhance details", "sepia", "night", "thermal camera", "pop art"],
    "random": sorted(random.Random(0).sample(POOL, 8)),
    "single": ["watercolor painting"],
}
HERE = Path(__file__).parent / "bases"


def make(out: str, minutes: float = 1.6, crops: int = 1024, batch: int = 64) -> None:
    e2gan = [sys.executable, "-m", "e2gan.cli"]
    data = Path(tempfile.mkdtemp(prefix="e2gan-ablation-"))
    concepts = sorted({c for cs in BASES.values() for c in cs})
    procs = [subprocess.Popen(e2gan + ["teach", "--prompt", c, "--crops", str(crops), "--size", "128", "--out", str(data / c.replace(" ", "_"))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in concepts]
    if any(p.wait() for p in procs):
        raise RuntimeError("teaching failed")
    procs = []
    for name, cs in BASES.items():
        args = [a for c in cs for a in ("--data", str(data / c.replace(" ", "_")))]
        procs.append(subprocess.Popen(e2gan + ["train-base", *args, "--steps", "200000", "--batch-size", str(batch), "--max-minutes", str(minutes),
                                               "--out", str(Path(out) / name)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    if any(p.wait() for p in procs):
        raise RuntimeError("training failed")


def run(steps: int = 150, size: int = 64, seeds=(0, 1), crops: int = 96, test_crops: int = 24, bases_dir: Path = HERE) -> dict:
    import statistics

    from e2gan.adapt import finetune, lora_train_config
    from e2gan.compare import ensure_data
    from e2gan.data.dataset import load_pairs
    from e2gan.evaluate import evaluate

    tmp = Path(tempfile.mkdtemp(prefix="e2gan-base-ablation-"))
    ensure_data(tmp / "data", HELD_OUT, size, crops, test_crops, 0)
    rows = []
    for name in BASES:
        runs = {}
        for concept in HELD_OUT:
            pairs = load_pairs(tmp / "data", concept)
            for seed in seeds:
                student, _ = finetune(str(bases_dir / name), pairs, tmp / name / f"{concept}-{seed}",
                                      lora_train_config(steps=steps, seed=seed), progress=False)
                runs[concept, seed] = evaluate(student, tmp / "data", [concept], "test")[concept]
                print(f"[bases] {name} / {concept} / seed {seed}: {runs[concept, seed]['psnr']:.2f} dB", flush=True)
        per = {c: {k: statistics.mean(runs[c, s][k] for s in seeds) for k in ("psnr", "ssim")} for c in HELD_OUT}
        per_seed = [statistics.mean(runs[c, s]["psnr"] for c in HELD_OUT) for s in seeds]
        rows.append({"base": name, "concepts": BASES[name], "per": per, "psnr": statistics.mean(per_seed),
                     "psnr_min": min(per_seed), "psnr_max": max(per_seed),
                     "per_seed": {c: [runs[c, s]["psnr"] for s in seeds] for c in HELD_OUT}})
    return {"rows": rows, "steps": steps, "size": size, "seeds": list(seeds), "concepts": HELD_OUT}


def markdown(r: dict, plot: str | None = None) -> str:
    out = ["## Base-model ablation", "",
           f"Three bases trained side by side with the same budget (`python -m benchmarks.base_ablation make`, 1.6 min each on one H200), "
           f"then LoRA (paper preset, rank 4, {r['steps']} steps at {r['size']} px, seeds {r['seeds']}) on held-out concepts. "
           "PSNR dB / SSIM to the teacher on held-out photos, mean over seeds; the last column's range is min-max over seeds.", "",
           "| base (its concepts) | " + " | ".join(HELD_OUT) + " | mean PSNR |", "|---|" + "---|" * (len(HELD_OUT) + 1)]
    for row in r["rows"]:
        cells = [f"{row['per'][c]['psnr']:.2f} / {row['per'][c]['ssim']:.3f}" for c in HELD_OUT]
        out.append(f"| {row['base']} ({', '.join(row['concepts'])}) | " + " | ".join(cells) +
                   f" | {row['psnr']:.2f} ({row['psnr_min']:.2f}-{row['psnr_max']:.2f}) |")
    if plot:
        out += ["", f"![base ablation]({plot})"]
    return "\n".join(out) + "\n"


