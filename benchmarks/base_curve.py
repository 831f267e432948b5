"""The base's held-out curve, and whether it has flattened (issue 20): did the base train long enough?

Reads a base's ``training_log.jsonl`` (its ``test_l1`` rows, from ``train-base --test-every``), draws the held-out
L1 on its own concepts and PSNR on the held-out concepts against the step, and applies the plateau criterion fixed
in the issue: the held-out L1 improved by less than 2% over the last fifth of the steps.

    python -m benchmarks.base_curve zoo/procedural-base     # writes training_curve.png beside the log, prints the verdict
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def curve(folder) -> list[dict]:
    rows = [json.loads(line) for line in (Path(folder) / "training_log.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if "test_l1" in r]


def plateau(rows: list[dict], share: float = 0.2, limit: float = 0.02) -> dict:
    """Relative improvement of the held-out L1 over the last ``share`` of the steps (first probe at or after the start)."""
    last = rows[-1]
    start = next(r for r in rows if r["step"] >= last["step"] * (1 - share))
    gain = (start["test_l1"] - last["test_l1"]) / start["test_l1"]
    return {"from_step": start["step"], "to_step": last["step"], "from_l1": start["test_l1"], "to_l1": last["test_l1"],
            "improvement": gain, "flat": gain < limit}


def draw(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(steps, [r["test_l1"] for r in rows], label="its own concepts, held-out photos")
    ax[0].set(xlabel="step", ylabel="held-out L1", title="the base on held-out photos")
    if "test_psnr_new" in rows[0]:
        ax[1].plot(steps, [r["test_psnr_new"] for r in rows], color="C1", label="held-out concepts")
    ax[1].plot(steps, [r["test_psnr"] for r in rows], color="C0", label="its own concepts")
    ax[1].set(xlabel="step", ylabel="PSNR dB (held-out photos)", title="own concepts vs concepts it never saw")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    a = ap.parse_args(argv)
    rows = curve(a.folder)
    if not rows:
        raise SystemExit(f"{a.folder}/training_log.jsonl has no held-out rows (train with --test-data and --test-every)")
    p = plateau(rows)
    png = draw(rows, Path(a.folder) / "training_curve.png")
    print(f"held-out L1 {p['from_l1']:.4f} at step {p['from_step']:,} -> {p['to_l1']:.4f} at step {p['to_step']:,}: "
          f"{100 * p['improvement']:.1f}% over the last fifth; {'flat (< 2%)' if p['flat'] else 'still improving (>= 2%)'}; {png}")
    return p


if __name__ == "__main__":
    main()
