"""``make bench``: run every benchmark and write benchmarks/RESULTS.md (tables, plots, the machine).

    python -m benchmarks.run                       # the quick CPU default (about 20 minutes on 2 cores)
    python -m benchmarks.run inference ablations   # some sections only
    python -m benchmarks.run --full                # the paper's protocol (256 px, long runs, 3 seeds): for a GPU
    python -m benchmarks.run --size 128 --seeds 0 1 2 --steps 300 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.config import BenchConfig, full
from e2gan.io import atomic_write_json, atomic_write_text

SECTIONS = ("inference", "training", "bases", "ablations", "teacher")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)} (training runs on it)" if torch.cuda.is_available() else ", no GPU"
    return (f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def ablations(cfg: BenchConfig, img: Path) -> tuple[str, dict]:
    """Tables 4 and 5 through `e2gan compare`: LoRA ranks, then quality vs number of samples per selector.

    Both share one data set and one store of finished runs, so "all data, uniform rank 4" runs once."""
    from e2gan.compare import markdown, run_compare

    tmp = Path(tempfile.mkdtemp(prefix="e2gan-bench-compare-"))
    common = dict(steps=cfg.steps, size=cfg.size, crops=cfg.crops, test_crops=cfg.test_crops, seeds=cfg.seeds, data=tmp / "data",
                  runs=tmp / "runs", trial_steps=cfg.trial_steps)
    ranks = run_compare("searcher", ["simple", "uniform:rank=1", "uniform:rank=4", "random"], tmp / "ranks", **common)
    data = run_compare("selector", ["kmeans", "random", "all"], tmp / "data-sel", fractions=cfg.fractions, **common)
    shutil.copyfile(tmp / "ranks" / "compare.png", img / "ranks.png")
    shutil.copyfile(tmp / "data-sel" / "compare.png", img / "data.png")
    text = ("## LoRA-rank ablation\n\n" + markdown(ranks).split("\n", 2)[2] + "\n![rank ablation](img/ranks.png)\n\n"
            "## Data ablation: quality vs number of fine-tuning samples\n\n" + markdown(data).split("\n", 2)[2]
            + "\n![data ablation](img/data.png)\n")
    return text, {"ranks": ranks, "data": data}


def replot(out: Path) -> None:
    """Draw img/ again from results.json (after a change to a plot, without rerunning the benchmarks)."""
    from benchmarks import plots
    from e2gan.compare import plot

    r = json.loads((out / "results.json").read_text())
    img = out / "img"
    drawn = {"inference": lambda x: plots.inference(x, img / "inference.png"),
             "training": lambda x: plots.training_cost(x, img / "training_cost.png"),
             "bases": lambda x: plots.base_ablation(x, img / "bases.png"),
             "ablations": lambda x: (plot(x["ranks"], img / "ranks.png"), plot(x["data"], img / "data.png"))}
    for name, draw in drawn.items():
        if name in r:
            draw(r[name])
            print(f"redrew {name}")


def parse(argv) -> tuple[BenchConfig, Path]:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sections", nargs="*", choices=[[], *SECTIONS], metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--replot", action="store_true", help="only redraw img/ from OUT/results.json")
    ap.add_argument("--full", action="store_true", help="the paper's protocol: 256x256, long training, 3 seeds (meant for a GPU)")
    for f in dataclasses.fields(BenchConfig):
        if f.name == "sections":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("seeds", "fractions"):
            ap.add_argument(flag, nargs="+", type=int if f.name == "seeds" else float, default=None, help=f.metadata["help"])
        else:
            ap.add_argument(flag, type=type(f.default), default=None, help=f"{f.metadata['help']} (default {f.default})")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder for RESULTS.md, results.json and img/")
    a = ap.parse_args(argv)
    if a.replot:
        replot(a.out)
        sys.exit(0)
    given = {f.name: getattr(a, f.name) for f in dataclasses.fields(BenchConfig) if f.name != "sections" and getattr(a, f.name) is not None}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    cfg = full(**given) if a.full else dataclasses.replace(BenchConfig(), **given)
    if a.sections:
        cfg = dataclasses.replace(cfg, sections=tuple(a.sections))
    return cfg, a.out


def main(argv=None):
    from benchmarks import base_ablation, inference, plots, teacher_overhead, training_cost

    cfg, out = parse(sys.argv[1:] if argv is None else argv)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    parts = [f"# e2gan benchmarks\n\nMachine: {machine()}. Regenerate with `make bench` "
             f"(`python -m benchmarks.run --help` for the flags, `--full` for the paper's 256 px protocol).\n\nSettings: {cfg.describe()}.\n"]
    results: dict = {"config": dataclasses.asdict(cfg), "machine": machine(), "seconds": {}}
    t_all = time.perf_counter()

    def section(name, fn):
        if name not in cfg.sections:
            return
        print(f"[bench] {name} ...", flush=True)
        t = time.perf_counter()
        text, raw = fn()
        results["seconds"][name] = round(time.perf_counter() - t, 1)
        results[name] = raw
        parts.append(text)
        print(f"[bench] {name}: {results['seconds'][name]:.0f} s", flush=True)

    def infer():
        r = inference.run(rounds=cfg.rounds, size=cfg.infer_size, threads=cfg.threads)
        plots.inference(r, img / "inference.png")
        return inference.markdown(r, "img/inference.png"), r

    def training():
        r = training_cost.run(steps=cfg.cost_steps, p2p_steps=cfg.p2p_steps, size=cfg.cost_size, crops=cfg.crops, test_crops=cfg.test_crops)
        plots.training_cost(r, img / "training_cost.png")
        return training_cost.markdown(r, "img/training_cost.png"), r

    def bases():
        r = base_ablation.run(steps=cfg.steps, size=cfg.size, seeds=cfg.seeds, crops=cfg.crops, test_crops=cfg.test_crops)
        plots.base_ablation(r, img / "bases.png")
        return base_ablation.markdown(r, "img/bases.png"), r

    def teacher():
        r = teacher_overhead.run()
        return teacher_overhead.markdown(r), r

    section("inference", infer)
    section("training", training)
    section("bases", bases)
    section("ablations", lambda: ablations(cfg, img))
    section("teacher", teacher)
    total = time.perf_counter() - t_all
    parts.insert(1, "Wall time per section: " + ", ".join(f"{k} {v:.0f} s" for k, v in results["seconds"].items())
                 + f"; {total / 60:.1f} min in all.\n")
    atomic_write_text(out / "RESULTS.md", "\n".join(parts))
    atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=str)))
    print(f"results: {(out / 'RESULTS.md').resolve()} ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
