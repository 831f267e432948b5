"""``make bench``: run every benchmark and write benchmarks/RESULTS.md (tables + the machine)."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch

from e2gan.io import atomic_write_text


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def compare_tables(steps: int = 150) -> str:
    """Tables 4 and 5: the LoRA-rank ablation and the data ablation, through `e2gan compare`."""
    import tempfile

    from e2gan.compare import markdown, run_compare

    tmp = Path(tempfile.mkdtemp(prefix="e2gan-bench-compare-"))
    ranks = run_compare("searcher", ["simple", "uniform:rank=1", "uniform:rank=4", "random"], tmp / "ranks", steps=steps, data=tmp / "data")
    data = run_compare("selector", None, tmp / "data-sel", steps=steps, data=tmp / "data")
    return ("## LoRA-rank ablation\n\n" + markdown(ranks).split("\n", 2)[2] + "\n## Data ablation (20% of the pairs)\n\n"
            + markdown(data).split("\n", 2)[2])


def main(argv=None):
    from benchmarks import base_ablation, inference, teacher_overhead, training_cost

    which = set((argv or sys.argv[1:]) or ["inference", "teacher", "training", "bases", "ablations"])
    parts = [f"# e2gan benchmarks\n\nMachine: {machine()}. Regenerate with `make bench`.\n"]
    if "inference" in which:
        print("[bench] inference ...", flush=True)
        parts.append(inference.markdown(inference.run()))
    if "training" in which:
        print("[bench] training cost ...", flush=True)
        parts.append(training_cost.markdown(training_cost.run()))
    if "bases" in which:
        print("[bench] base-model ablation ...", flush=True)
        parts.append(base_ablation.markdown(base_ablation.run()))
    if "ablations" in which:
        print("[bench] LoRA-rank and data ablations (e2gan compare) ...", flush=True)
        parts.append(compare_tables())
    if "teacher" in which:
        print("[bench] teacher overhead ...", flush=True)
        parts.append(teacher_overhead.markdown(teacher_overhead.run()))
    path = Path(__file__).parent / "RESULTS.md"
    atomic_write_text(path, "\n".join(parts))
    print(f"results: {path.resolve()}")


if __name__ == "__main__":
    main()
