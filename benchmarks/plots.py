"""The pictures of RESULTS.md: what readers would rather see than read (latency, cost, ablations)."""

from __future__ import annotations

from pathlib import Path

from e2gan.io import atomic_save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def inference(r: dict, path: Path) -> None:
    """Latency per backbone, eager and ONNX Runtime, min-max bars, the MACs floor and the 30 FPS line."""
    plt = _plt()
    rows = r["rows"]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    ys = range(len(rows))
    for off, key, colour in ((-0.2, "eager", "tab:blue"), (0.2, "ort", "tab:orange")):
        med = [x[f"{key}_ms"] for x in rows]
        lo = [x[f"{key}_ms"] - x[f"{key}_range"][0] for x in rows]
        hi = [x[f"{key}_range"][1] - x[f"{key}_ms"] for x in rows]
        ax.barh([y + off for y in ys], med, height=0.38, xerr=[lo, hi], capsize=2, color=colour,
                label="eager PyTorch" if key == "eager" else "ONNX Runtime")
    ax.scatter([x["floor_ms"] for x in rows], list(ys), marker="|", s=300, color="black", label="MACs floor", zorder=3)
    ax.axvline(1000 / 30, color="green", ls="--", lw=1, label="30 FPS")
    ax.set_yticks(list(ys), [x["name"] for x in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"ms per {r['size']}x{r['size']} image, batch 1, {r['threads']} threads (log scale)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    atomic_save_figure(fig, path)


def training_cost(r: dict, path: Path) -> None:
    """Two panels sharing the methods: wall time to train one concept, and the quality it reached."""
    plt = _plt()
    rows = r["rows"]
    names = [f"{x['name']}\n({x['trainable']:,} trainable)" for x in rows]
    colours = [f"C{i}" for i in range(len(rows))]
    fig, (t_ax, q_ax) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=110, sharey=True)
    t_ax.barh(names, [x["seconds"] for x in rows], color=colours)
    for i, x in enumerate(rows):
        t_ax.annotate(f"{x['seconds']:.0f} s ({x['seconds'] / rows[0]['seconds']:.2f}x)", (x["seconds"], i), fontsize=7,
                      xytext=(3, 0), textcoords="offset points", va="center")
    t_ax.set_xlabel("wall seconds to train one concept")
    t_ax.margins(x=0.3)
    t_ax.invert_yaxis()
    q_ax.barh(names, [x["psnr"] for x in rows], color=colours)
    for i, x in enumerate(rows):
        q_ax.annotate(f"{x['psnr']:.1f} dB", (x["psnr"], i), fontsize=7, xytext=(3, 0), textcoords="offset points", va="center")
    q_ax.set_xlabel("PSNR to the teacher (dB)")
    q_ax.margins(x=0.2)
    fig.suptitle(f"training cost per concept ({r['concept']}, {r['size']} px)", fontsize=9)
    for ax in (t_ax, q_ax):
        ax.grid(alpha=0.3, axis="x")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    atomic_save_figure(fig, path)


def training_curves(r: dict, path: Path) -> None:
    """Held-out PSNR against training seconds, one line per method: when each reaches what."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=110)
    for x in r["rows"]:
        ax.plot([c["seconds"] for c in x["curve"]], [c["psnr"] for c in x["curve"]], marker="o", ms=3, label=x["name"])
    ref = r["rows"][0]
    ax.axhline(0.9 * ref["psnr"], color="grey", ls=":", lw=1, label=f"90% of {ref['name']}'s final PSNR")
    ax.set_xlabel("training seconds on this machine")
    ax.set_ylabel("held-out PSNR to the teacher (dB)")
    ax.set_title(f"quality during training ({r['concept']}, {r['size']} px)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_save_figure(fig, path)


def base_ablation(r: dict, path: Path) -> None:
    """Grouped bars: each base's LoRA quality per held-out concept, bars spanning the seeds."""
    plt = _plt()
    concepts = r.get("concepts") or list(r["rows"][0]["per"])
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=110)
    width = 0.8 / len(r["rows"])
    for i, row in enumerate(r["rows"]):
        xs = [j + (i - (len(r["rows"]) - 1) / 2) * width for j in range(len(concepts) + 1)]
        means = [row["per"][c]["psnr"] for c in concepts] + [row["psnr"]]
        spans = [row["per_seed"][c] for c in concepts] + [[row["psnr_min"], row["psnr_max"]]]
        err = [[m - min(s) for m, s in zip(means, spans)], [max(s) - m for m, s in zip(means, spans)]]
        ax.bar(xs, means, width=width, yerr=err, capsize=2, label=row["base"])
    ax.set_xticks(range(len(concepts) + 1), concepts + ["mean"])
    lo = min(min(row["per_seed"][c]) for row in r["rows"] for c in concepts)
    ax.set_ylim(lo - 2, None)
    ax.set_ylabel("PSNR to the teacher (dB)")
    ax.set_title(f"base ablation: LoRA on held-out concepts ({r['steps']} steps, {r['size']} px, seeds {r['seeds']})", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    atomic_save_figure(fig, path)


def claims(rows: list[dict], path: Path, title: str) -> None:
    """A forest plot: each claim's mean paired difference (ours - other) with its bootstrap 95% interval,
    coloured by verdict, against the zero line (the rule's threshold)."""
    plt = _plt()
    colour = {"holds": "tab:green", "fails": "tab:red", "inconclusive": "tab:grey", "inconclusive at this power": "tab:grey"}
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2), dpi=110)
    for i, c in enumerate(rows):
        ax.errorbar([c["mean"]], [i], xerr=[[c["mean"] - c["low"]], [c["high"] - c["mean"]]], fmt="o", capsize=4,
                    color=colour.get(c["verdict"], "black"))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [c["label"] for c in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ours - other, dB: mean and 95% bootstrap interval", fontsize=8)
    ax.set_title(f"{title}\ngreen: holds, red: fails, grey: inconclusive", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    atomic_save_figure(fig, path)
