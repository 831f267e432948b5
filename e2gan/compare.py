"""``e2gan compare``: strategies (rank searchers, scorers or selectors) on equal terms: the same
held-out concepts, data, steps and seeds, one table (Markdown + JSON) and one plot."""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import asdict
from pathlib import Path

import torch

from e2gan.adapt import adapt
from e2gan.dataset import PairedDataset, load_pairs
from e2gan.engine import TrainConfig
from e2gan.evaluate import evaluate
from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.samples import random_crops, shipped_photos, split_photos
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


def variants(kind: str, names: list[str], fractions) -> list[tuple[str, float | None]]:
    """``(strategy, data fraction)`` pairs to run: selectors get one run per fraction (``all`` once)."""
    if kind != "selector":
        return [(n, None) for n in names]
    return [(n, None) if n == "all" else (n, f) for n in names for f in ([None] if n == "all" else fractions)]


def label(name: str, fraction: float | None) -> str:
    return name if fraction is None else f"{name} {100 * fraction:g}%"


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.numpy().tobytes() if isinstance(p, torch.Tensor) else json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:16]


def run_compare(kind: str, names: list[str] | None, out, base: str = "zoo:classic-base", concepts=None, steps: int = 200,
                size: int = 128, crops: int = 96, test_crops: int = 24, fraction: float = 0.2, seeds=(0,), data=None,
                trial_steps: int = 40, fractions=None, runs=None) -> dict:
    """Every strategy on every concept and seed; a table, a JSON and a plot in ``out``.

    Each finished run is kept in ``runs`` (default ``out/runs``) under a key of everything that decides
    its result (base weights, data, strategy, steps, size, seed), so an interrupted compare resumes and
    two compares sharing ``runs`` (the rank and data ablations share ``uniform:rank=4`` on all data) pay
    for a run once."""
    from e2gan.student import Student

    out = Path(out)
    names = names or DEFAULTS[kind]
    concepts = concepts or CONCEPTS
    fractions = list(fractions or [fraction])
    data = Path(data) if data else out / "data"
    runs = Path(runs) if runs else out / "runs"
    ensure_data(data, concepts, size, crops, test_crops, seeds[0])
    base_id = Student.from_pretrained(base).fingerprint()
    ds = PairedDataset(data)
    todo = variants(kind, names, fractions)
    rows = []
    for concept in concepts:
        pairs = load_pairs(data, concept, "train")
        data_id = _digest(pairs.sources, pairs.targets, [r.key for r in ds.select(concept, "test")])
        for name, frac in todo:
            for seed in seeds:
                kw = {"search": "uniform:rank=4", "select": "all", "fraction": None}  # every setting that differs, spelt out: one key per run
                if kind == "searcher":
                    kw["search"] = name
                elif kind == "scorer":
                    kw.update(scorer=name, layers="top-k", k=8)
                else:
                    kw.update(select=name, fraction=frac)
                cfg = TrainConfig(steps=steps, batch_size=8, lr=2e-3, gan_weight=0.0, seed=seed)
                key = _digest(base_id, data_id, {"adapt": kw, "cfg": asdict(cfg), "trial_steps": trial_steps, "size": size, "concept": concept})
                done = runs / f"{key}.json"
                reused = done.exists()
                if reused:
                    row = {**json.loads(done.read_text()), "strategy": label(name, frac), "fraction": frac}
                else:
                    tag = f"{concept}-{label(name, frac)}-{seed}".replace(" ", "_").replace(":", "_").replace("=", "").replace("%", "pc")
                    student, _, info = adapt(base, pairs, out / "adapters" / tag, cfg=cfg, seed=seed, progress=False,
                                             trial_steps=trial_steps, **kw)
                    m = evaluate(student, data, [concept], "test")[concept]
                    row = {"concept": concept, "strategy": label(name, frac), "fraction": frac, "seed": seed, "psnr": m["psnr"],
                           "ssim": m["ssim"], "trainable": info["trainable_parameters"], "data_used": info["data_used"],
                           "search_s": info["search_seconds"] + info["score_seconds"] + info["select_seconds"],
                           "search_steps": info["search_steps"], "train_s": info["train_seconds"]}
                    atomic_write_json(done, row)
                rows.append(row)
                print(f"[compare] {concept} / {row['strategy']} / seed {seed}: {row['psnr']:.2f} dB, {row['trainable']} weights, "
                      f"{row['data_used']} pairs" + (" (kept from an earlier run)" if reused else ""), flush=True)
    summary = []
    for name, frac in todo:
        rs = [r for r in rows if r["strategy"] == label(name, frac)]
        per_seed = [statistics.mean(r["psnr"] for r in rs if r["seed"] == s) for s in seeds]  # mean over concepts, per seed
        summary.append({"strategy": label(name, frac), "name": name, "fraction": frac, "psnr_min": min(per_seed), "psnr_max": max(per_seed),
                        **{k: statistics.mean(r[k] for r in rs) for k in ("psnr", "ssim", "trainable", "data_used", "search_s", "search_steps", "train_s")}})
    result = {"kind": kind, "base": base, "concepts": concepts, "steps": steps, "size": size, "seeds": list(seeds), "rows": rows, "summary": summary}
    atomic_write_json(out / "compare.json", result)
    atomic_write_text(out / "compare.md", markdown(result))
    plot(result, out / "compare.png")
    return result


def psnr_cell(r: dict, seeds) -> str:
    return f"{r['psnr']:.2f}" + (f" ({r['psnr_min']:.2f}-{r['psnr_max']:.2f})" if len(seeds) > 1 else "")


def markdown(result: dict) -> str:
    seeds = result["seeds"]
    spread = " (min-max over seeds of the mean over concepts)" if len(seeds) > 1 else ""
    lines = [f"# e2gan compare: {result['kind']}s", "",
             f"Base `{result['base']}`; concepts {', '.join(result['concepts'])}; {result['steps']} LoRA steps at {result['size']} px; "
             f"seeds {seeds}. Quality: PSNR{spread} / SSIM to the teacher on held-out photos, mean over concepts and seeds.", "",
             "| strategy | PSNR dB | SSIM | trainable weights | pairs used | search/score/select s | search steps | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["summary"]:
        lines.append(f"| {r['strategy']} | {psnr_cell(r, seeds)} | {r['ssim']:.3f} | {r['trainable']:.0f} | {r['data_used']:.0f} | "
                     f"{r['search_s']:.1f} | {r['search_steps']:.0f} | {r['train_s']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path) -> None:
    """Searchers and scorers: quality vs trainable weights. Selectors: quality vs pairs used, a line per
    selector. Bars span the seeds (min-max of the mean over concepts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    summary = result["summary"]
    err = lambda rs: [[r["psnr"] - r["psnr_min"] for r in rs], [r["psnr_max"] - r["psnr"] for r in rs]]  # noqa: E731
    if result["kind"] == "selector":
        for name in dict.fromkeys(r["name"] for r in summary if r["fraction"] is not None):
            rs = sorted((r for r in summary if r["name"] == name and r["fraction"] is not None), key=lambda r: r["data_used"])
            ax.errorbar([r["data_used"] for r in rs], [r["psnr"] for r in rs], yerr=err(rs), marker="o", capsize=3, label=name)
        for r in (r for r in summary if r["fraction"] is None):
            ax.errorbar([r["data_used"]], [r["psnr"]], yerr=err([r]), marker="s", color="black", capsize=3, label=f"{r['name']} pairs")
            ax.axhline(r["psnr"], color="black", ls="--", lw=0.8)
        ax.set_xscale("log")
        used = sorted({round(r["data_used"]) for r in summary})
        ax.set_xticks(used, [str(u) for u in used])
        ax.minorticks_off()
        ax.set_xlabel("fine-tuning pairs used (log scale)")
        ax.legend(fontsize=8)
        ax.set_title(f"data selectors: quality vs number of samples ({result['steps']} steps, seeds {result['seeds']})", fontsize=9)
    else:
        for r in summary:
            t = r["search_s"] + r["train_s"]
            ax.errorbar([r["trainable"]], [r["psnr"]], yerr=err([r]), fmt="o", ms=4 + t ** 0.5 / 2, alpha=0.8, capsize=3)
            ax.annotate(f"{r['strategy']} ({t:.0f} s)", (r["trainable"], r["psnr"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("trainable LoRA weights")
        ax.set_title(f"{result['kind']}s: quality vs size (marker size ~ search + train time)", fontsize=9)
    ax.set_ylabel("PSNR to the teacher (dB)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
