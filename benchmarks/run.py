"""``make bench``: run every benchmark and write benchmarks/RESULTS.md (tables, plots, the machine).

    python -m benchmarks.run                       # the quick CPU default (about 20 minutes on 2 cores)
    python -m benchmarks.run inference ablations   # some sections only
    python -m benchmarks.run --full                # the paper's protocol (256 px, long runs, 3 seeds): for a GPU
    python -m benchmarks.run --size 128 --seeds 0 1 2 --steps 300 --out bench-out
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
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


def ablations(cfg: BenchConfig) -> dict:
    """Tables 4 and 5 through `e2gan compare`: LoRA ranks, then quality vs number of samples per selector.

    Both share one data set and one store of finished runs, so "all data, uniform rank 4" runs once."""
    from e2gan.compare import run_compare

    tmp = Path(tempfile.mkdtemp(prefix="e2gan-bench-compare-"))
    common = dict(steps=cfg.steps, size=cfg.size, crops=cfg.crops, test_crops=cfg.test_crops, seeds=cfg.seeds, data=tmp / "data",
                  runs=tmp / "runs", trial_steps=cfg.trial_steps)
    ranks = run_compare("searcher", ["simple", "uniform:rank=1", "uniform:rank=4", "random"], tmp / "ranks", **common)
    data = run_compare("selector", ["kmeans", "random", "all"], tmp / "data-sel", fractions=cfg.fractions, **common)
    return {"ranks": ranks, "data": data}


def render(out: Path) -> Path:
    """Draw img/ and write RESULTS.md from results.json: every number in them comes from that file."""
    from benchmarks import (
        base_ablation,
        inference,
        plots,
        targets,
        teacher_overhead,
        training_cost,
    )
    from e2gan.compare import markdown as compare_markdown
    from e2gan.compare import plot

    r = json.loads((out / "results.json").read_text())
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    cfg = BenchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in r["config"].items()})
    parts = [f"# e2gan benchmarks\n\nMachine: {r['machine']}. Regenerate with `make bench` "
             f"(`python -m benchmarks.run --help` for the flags, `--full` for the paper's 256 px protocol).\n\nSettings: {cfg.describe()}.\n",
             "Wall time per section: " + ", ".join(f"{k} {r['seconds'][k]:.0f} s" for k in SECTIONS if k in r["seconds"])
             + f"; {sum(r['seconds'].values()) / 60:.1f} min in all.\n", targets.markdown(r)]
    if "inference" in r:
        plots.inference(r["inference"], img / "inference.png")
        parts.append(inference.markdown(r["inference"], "img/inference.png"))
    if "training" in r:
        plots.training_cost(r["training"], img / "training_cost.png")
        curves = None
        if all(x.get("curve") for x in r["training"]["rows"]):
            plots.training_curves(r["training"], img / "training_curves.png")
            curves = "img/training_curves.png"
        parts.append(training_cost.markdown(r["training"], "img/training_cost.png", curves))
    if "bases" in r:
        plots.base_ablation(r["bases"], img / "bases.png")
        parts.append(base_ablation.markdown(r["bases"], "img/bases.png"))
    if "ablations" in r:
        plot(r["ablations"]["ranks"], img / "ranks.png")
        plot(r["ablations"]["data"], img / "data.png")
        parts.append("## LoRA-rank ablation\n\n" + compare_markdown(r["ablations"]["ranks"]).split("\n", 2)[2]
                     + "\n![rank ablation](img/ranks.png)\n")
        parts.append("## Data ablation: quality vs number of fine-tuning samples\n\n" + compare_markdown(r["ablations"]["data"]).split("\n", 2)[2]
                     + "\n![data ablation](img/data.png)\n")
    if "teacher" in r:
        parts.append(teacher_overhead.markdown(r["teacher"]))
    parts += separate_sections(out)
    atomic_write_text(out / "RESULTS.md", "\n".join(parts))
    return out / "RESULTS.md"


#: benchmarks run by their own commands (hours, or their own processes), included in RESULTS.md when present
SEPARATE = (("base_encoders/base_encoders.md", "base_encoders/", "python -m benchmarks.base_encoders ..."),
            ("few_pairs/plan.md", "few_pairs/", None),
            ("few_pairs/dev.md", "few_pairs/", "python -m benchmarks.few_pairs run --part dev && python -m benchmarks.few_pairs report --part dev"),
            ("few_pairs/gate.md", "few_pairs/", "python -m benchmarks.few_pairs run --part gate && python -m benchmarks.few_pairs report --part gate"),
            ("few_pairs/capacity.md", "few_pairs/", "python -m benchmarks.few_pairs run --part capacity && python -m benchmarks.few_pairs report --part capacity"),
            ("base_plateau.md", "", "python -m benchmarks.base_plateau --data DATA/train --test-data DATA/test --out RUN && "
                                    "python -m benchmarks.base_plateau --report RUN"),
            ("transfer/transfer.md", "transfer/", "python -m benchmarks.transfer"),
            ("procedural_ablations/ablations.md", "procedural_ablations/", "python -m benchmarks.procedural_ablations"),
            ("procedural_bases/bases.md", "procedural_bases/", "python -m benchmarks.procedural_bases make && python -m benchmarks.procedural_bases run"),
            ("text_encoders/text_encoders.md", "text_encoders/", "python -m benchmarks.text_encoders"),
            ("memory.md", "", "python -m benchmarks.memory"),
            ("scale.md", "", "python -m benchmarks.scale"),
            ("runtime.md", "", "python -m benchmarks.runtime"),
            ("serve_load.md", "", "python -m benchmarks.serve_load"),
            ("own_photos.md", "", "python -m benchmarks.own_photos --photos photos/"),
            ("runtimes.md", "", "python -m benchmarks.runtimes"),
            ("inference_variants.md", "", "python -m benchmarks.inference_variants"))


#: ``--fidelity``: issue 10's full protocol on the procedural teacher, as stages of commands; the commands of
#: one stage run side by side (one torch thread each, so two cores are used), stages one after the other.
#: Every command keeps its finished runs, so a stopped protocol resumes where it was.
FIDELITY = (
    [["benchmarks.transfer", "--seeds", "0", "1", "--arms", "lora", "scratch", "full", "--shard", f"{i}/2"] for i in range(2)],
    [["benchmarks.transfer", "--report", "--seeds", "0", "1", "--arms", "lora", "scratch", "full", "lora-all"]],
    [["benchmarks.procedural_ablations", "--parts", "ranks", "--seeds", "0", "1", "2", "--steps", "200"],
     ["benchmarks.procedural_ablations", "--parts", "data", "--seeds", "0", "1", "2", "--data-steps", "100"]],
    [["benchmarks.procedural_bases", "make", "--jobs", "2"]],
    [["benchmarks.procedural_bases", "run", "--seeds", "0", "1", "2"], ["benchmarks.text_encoders"]],
)


def fidelity(out: Path, stages=FIDELITY) -> None:
    """Run the stages (hours on 2 CPU cores; each command's output goes to OUT/fidelity-logs/), then render."""
    import subprocess

    logs = out / "fidelity-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for stage in stages:
        procs = []
        for args in stage:
            log = logs / ("-".join(a.replace("/", "of") for a in args if not a.startswith("-"))[:80].replace(".", "_") + ".log")
            print(f"[fidelity] python -m {' '.join(args)}  (log: {log})", flush=True)
            procs.append((args, subprocess.Popen([sys.executable, "-m", *args], stdout=log.open("a"), stderr=subprocess.STDOUT, env=env)))
        failed = [(a, rc) for a, p in procs if (rc := p.wait())]
        if failed:
            raise SystemExit(f"[fidelity] python -m {' '.join(failed[0][0])} failed (exit {failed[0][1]}); its log is in {logs}")
    print(f"results: {render(out).resolve()}")


def separate_sections(out: Path) -> list[str]:
    parts = []
    for rel, prefix, command in SEPARATE:
        path = out / rel
        if path.exists():
            text = re.sub(r"\]\(([\w.-]+\.png)\)", lambda m: f"]({prefix}{m.group(1)})", path.read_text())
            parts.append(text + (f"\nRegenerate with `{command}`.\n" if command else ""))
    return parts


def parse(argv) -> tuple[BenchConfig, Path]:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sections", nargs="*", choices=[[], *SECTIONS], metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--render", action="store_true", help="only redraw img/ and rewrite RESULTS.md from OUT/results.json")
    ap.add_argument("--full", action="store_true", help="the paper's protocol: 256x256, long training, 3 seeds (meant for a GPU)")
    ap.add_argument("--fidelity", action="store_true", help="issue 10's protocol on the procedural teacher: the transfer gate (2 seeds), "
                                                            "the ranks, data and bases ablations (hours on 2 CPU cores; resumable)")
    for f in dataclasses.fields(BenchConfig):
        if f.name == "sections":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("seeds", "fractions", "infer_backbones"):
            kind = {"seeds": int, "fractions": float, "infer_backbones": str}[f.name]
            ap.add_argument(flag, nargs="+", type=kind, default=None, help=f.metadata["help"])
        else:
            ap.add_argument(flag, type=type(f.default), default=None, help=f"{f.metadata['help']} (default {f.default})")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder for RESULTS.md, results.json and img/")
    a = ap.parse_args(argv)
    if a.render:
        print(f"results: {render(a.out).resolve()}")
        sys.exit(0)
    if a.fidelity:
        fidelity(a.out)
        sys.exit(0)
    given = {f.name: getattr(a, f.name) for f in dataclasses.fields(BenchConfig) if f.name != "sections" and getattr(a, f.name) is not None}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    cfg = full(**given) if a.full else dataclasses.replace(BenchConfig(), **given)
    if a.sections:
        cfg = dataclasses.replace(cfg, sections=tuple(a.sections))
    return cfg, a.out


def keep_earlier_sections(path: Path, results: dict, cfg: BenchConfig) -> None:
    """Running some sections only updates them: the others stay from the last run with the same settings."""
    if not path.exists():
        return
    earlier = json.loads(path.read_text())
    as_json = lambda c: {k: v for k, v in json.loads(json.dumps(dataclasses.asdict(c))).items() if k != "sections"}  # noqa: E731
    earlier_cfg = {**as_json(BenchConfig()), **earlier.get("config", {})}  # a setting added since then had its default
    same = {k: v for k, v in earlier_cfg.items() if k != "sections"} == as_json(cfg)
    kept = [s for s in SECTIONS if s in earlier and s not in cfg.sections]
    if not same:
        if kept:
            print(f"[bench] {path} was made with other settings: its sections {kept} are not kept", flush=True)
        return
    for s in kept:
        results[s] = earlier[s]
        results["seconds"][s] = earlier["seconds"][s]
    if kept:
        print(f"[bench] kept {kept} from {path}", flush=True)


def main(argv=None):
    from benchmarks import base_ablation, inference, teacher_overhead, training_cost

    cfg, out = parse(sys.argv[1:] if argv is None else argv)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"config": dataclasses.asdict(cfg), "machine": machine(), "seconds": {}}
    keep_earlier_sections(out / "results.json", results, cfg)
    runs = {
        "inference": lambda: inference.run(rounds=cfg.rounds, size=cfg.infer_size, threads=cfg.threads, block=cfg.block,
                                           backbones=cfg.infer_backbones),
        "training": lambda: training_cost.run(steps=cfg.cost_steps, p2p_steps=cfg.p2p_steps, size=cfg.cost_size, crops=cfg.crops,
                                              test_crops=cfg.test_crops),
        "bases": lambda: base_ablation.run(steps=cfg.steps, size=cfg.size, seeds=cfg.seeds, crops=cfg.crops, test_crops=cfg.test_crops),
        "ablations": lambda: ablations(cfg),
        "teacher": teacher_overhead.run,
    }
    for name in SECTIONS:
        if name not in cfg.sections:
            continue
        print(f"[bench] {name} ...", flush=True)
        t = time.perf_counter()
        results[name] = runs[name]()
        results["seconds"][name] = round(time.perf_counter() - t, 1)
        print(f"[bench] {name}: {results['seconds'][name]:.0f} s", flush=True)
    atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=str)))
    path = render(out)
    print(f"results: {path.resolve()} ({sum(results['seconds'].values()) / 60:.1f} min)")


if __name__ == "__main__":
    main()
