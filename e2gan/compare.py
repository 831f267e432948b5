"""``e2gan compare``: strategies (rank searchers, scorers or selectors) on equal terms: the same
held-out concepts, data, steps and seeds, one table (Markdown + JSON) and one plot."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from e2gan.adapt import adapt
from e2gan.dataset import PairedDataset
from e2gan.engine import TrainConfig
from e2gan.evaluate import evaluate
from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.samples import random_crops, shipped_photos, split_photos
from e2gan.stages import load_pairs
from e2gan.teach import teach

DEFAULTS = {
    "searcher": ["simple", "uniform:rank=1", "uniform:rank=4", "random", "svd-energy", "greedy"],
    "scorer": ["weight-delta", "fisher", "taylor", "random"],
    "selector": ["kmeans", "random", "all"],
}
CONCEPTS = ["oil painting", "winter", "vintage photo"]


def ensure_data(data: Path, concepts, size: int, crops: int, test_crops: int, seed: int):
    train_ph, test_ph = split_photos(shipped_photos())
    teach("classic", concepts, random_crops(train_ph, crops, size, seed), data, size=size, seed=seed, split="train", progress=False)
    teach("classic", concepts, random_crops(test_ph, test_crops, size, seed + 1000), data, size=size, seed=seed, split="test", progress=False)


def run_compare(kind: str, names: list[str] | None, out, base: str = "zoo:classic-base", concepts=None, steps: int = 200,
                size: int = 128, crops: int = 96, test_crops: int = 24, fraction: float = 0.2, seeds=(0,), data=None,
                trial_steps: int = 40) -> dict:
    out = Path(out)
    names = names or DEFAULTS[kind]
    concepts = concepts or CONCEPTS
    data = Path(data) if data else out / "data"
    ensure_data(data, concepts, size, crops, test_crops, seeds[0])
    rows = []
    for concept in concepts:
        pairs = load_pairs(data, concept, "train")
        for name in names:
            for seed in seeds:
                kw = {"search": "uniform:rank=4"}
                if kind == "searcher":
                    kw["search"] = name
                elif kind == "scorer":
                    kw.update(scorer=name, layers="top-k", k=8)
                else:
                    kw.update(select=name, fraction=None if name == "all" else fraction)
                cfg = TrainConfig(steps=steps, batch_size=8, lr=2e-3, gan_weight=0.0, seed=seed)
                tag = f"{concept}-{name}-{seed}".replace(" ", "_").replace(":", "_").replace("=", "")
                student, _, info = adapt(base, pairs, out / "adapters" / tag, cfg=cfg, seed=seed, progress=False, trial_steps=trial_steps, **kw)
                m = evaluate(student, data, [concept], "test")[concept]
                rows.append({"concept": concept, "strategy": name, "seed": seed, "psnr": m["psnr"], "ssim": m["ssim"],
                             "trainable": info["trainable_parameters"], "data_used": info["data_used"],
                             "search_s": info["search_seconds"] + info["score_seconds"] + info["select_seconds"],
                             "search_steps": info["search_steps"], "train_s": info["train_seconds"]})
                print(f"[compare] {concept} / {name} / seed {seed}: {m['psnr']:.2f} dB, {info['trainable_parameters']} weights", flush=True)
    summary = []
    for name in names:
        rs = [r for r in rows if r["strategy"] == name]
        summary.append({"strategy": name, **{k: statistics.mean(r[k] for r in rs) for k in ("psnr", "ssim", "trainable", "data_used", "search_s", "search_steps", "train_s")}})
    result = {"kind": kind, "base": base, "concepts": concepts, "steps": steps, "size": size, "seeds": list(seeds), "rows": rows, "summary": summary}
    atomic_write_json(out / "compare.json", result)
    atomic_write_text(out / "compare.md", markdown(result))
    plot(result, out / "compare.png")
    return result


def markdown(result: dict) -> str:
    lines = [f"# e2gan compare: {result['kind']}s", "",
             f"Base `{result['base']}`; concepts {', '.join(result['concepts'])}; {result['steps']} LoRA steps at {result['size']} px; "
             f"seeds {result['seeds']}. Quality: PSNR / SSIM to the teacher on held-out photos, mean over concepts and seeds.", "",
             "| strategy | PSNR dB | SSIM | trainable weights | pairs used | search/score/select s | search steps | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["summary"]:
        lines.append(f"| {r['strategy']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['trainable']:.0f} | {r['data_used']:.0f} | "
                     f"{r['search_s']:.1f} | {r['search_steps']:.0f} | {r['train_s']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for r in result["summary"]:
        t = r["search_s"] + r["train_s"]
        ax.scatter(r["trainable"], r["psnr"], s=30 + 3 * t, alpha=0.7)
        ax.annotate(f"{r['strategy']} ({t:.0f} s)", (r["trainable"], r["psnr"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("trainable LoRA weights")
    ax.set_ylabel("PSNR to the teacher (dB)")
    ax.set_title(f"{result['kind']}s: quality vs size (marker area ~ search + train time)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
