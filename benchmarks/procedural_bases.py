"""The paper's base ablation on the procedural teacher (issue 10, part 5): is a base trained on
representative concepts a better start than a base of random concepts, or of a single concept?

Five bases, trained here with the same recipe and the same steps at the fine-tune's resolution (64 px),
differ only in their concepts, which a concept-selector plugin picks from the teacher's base pool:
``representative`` (k-medoids over effects), three independent ``random`` draws and ``single``. Each is
then LoRA-fine-tuned (the paper preset, rank 4, seeded initialisation) on the held-out concepts of the
transfer gate, on the same pairs, steps and seeds, and scored on the held-out photos. The claim
"representative is better" is decided per comparison by paired (concept, seed) differences and a
bootstrap 95% interval (e2gan.metrics.stats.RULE).

    python -m benchmarks.procedural_bases make     # the five bases (resumable; --jobs 2 on 2 cores)
    python -m benchmarks.procedural_bases run      # the fine-tunes and the table (finished runs are kept)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.metrics.stats import RULE, bracket, summarise

HERE = Path(__file__).parent / "procedural_bases"
BASES = {"representative": "representative", "random-1": "random:draw=1", "random-2": "random:draw=2", "random-3": "random:draw=3",
         "single": "single"}


def make(out: Path, concepts: int, crops: int, steps: int, batch: int, lr: float, jobs: int, data: Path) -> None:
    """Train the five bases (``jobs`` at a time, one torch thread each); a finished base is kept, a stopped one resumes."""
    cmds = []
    for name, spec in BASES.items():
        if (out / name / "model.safetensors").exists():
            print(f"[bases] {name}: kept", flush=True)
            continue
        count = "" if spec == "single" else f"{',' if ':' in spec else ':'}count={concepts}"
        cmds.append((name, [sys.executable, "-m", "e2gan.cli", "train-base", "--teacher", "procedural", "--concepts", spec + count,
                            "--crops", str(crops), "--size", "64", "--data", str(data / name), "--out", str(out / name),
                            "--set", "coords=true", "--steps", str(steps), "--batch-size", str(batch), "--lr", str(lr),
                            "--checkpoint-every", "500", "--seed", "0", "--threads", "1"]))
    out.mkdir(parents=True, exist_ok=True)
    while cmds:
        batch_now, cmds = cmds[:jobs], cmds[jobs:]
        procs = []
        for name, cmd in batch_now:
            log = open(out / f"{name}.log", "a")
            procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        for name, p, log in procs:
            rc = p.wait()
            log.close()
            if rc:
                raise RuntimeError(f"training base {name!r} failed (exit {rc}); see {out / f'{name}.log'}")
            print(f"[bases] {name}: trained", flush=True)


def run(bases: Path, data: str, out: Path, concepts: list[str], seeds, steps: int) -> dict:
    """LoRA from every base on the same concepts, pairs, steps and seeds (runs kept under ``out/runs``)."""
    from e2gan.compare import run_compare
    from e2gan.student import Student

    result = {"bases": {}, "concepts": concepts, "seeds": list(seeds), "steps": steps}
    rows = []
    for name in BASES:
        r = run_compare("searcher", ["uniform:rank=4"], out / "lora" / name, base=str(bases / name), concepts=concepts, steps=steps,
                        seeds=tuple(seeds), datasets=[data], runs=out / "runs")
        meta = Student.from_pretrained(str(bases / name)).meta
        result["bases"][name] = {"concepts": meta.get("prompts", []), "psnr": r["summary"][0]["psnr"],
                                 "psnr_min": r["summary"][0]["psnr_min"], "psnr_max": r["summary"][0]["psnr_max"]}
        rows += [{**row, "strategy": name} for row in r["rows"]]
        result["size"], result["identity"] = r["size"], r["identity"]["psnr"]
    result["rows"] = rows
    return decide(result)


def decide(result: dict) -> dict:
    """The representative base against each other base and the random bases' mean, paired by concept and seed, the
    concept resampled (``benchmarks.rerender`` re-decides committed results with it)."""
    by = {(r["strategy"], r["concept"], r["seed"]): r["psnr"] for r in result["rows"]}
    keys = {(c, s) for (_, c, s) in by}
    claims = []
    for other in [n for n in BASES if n != "representative"]:
        claims.append({"ours": "representative", "other": other,
                       **summarise([by["representative", c, s] - by[other, c, s] for c, s in sorted(keys)], threshold=0.0, strict=True,
                                   clusters=[c for c, _ in sorted(keys)])})
    randoms = [n for n in BASES if n.startswith("random")]
    claims.append({"ours": "representative", "other": f"random ({len(randoms)} bases, mean)",
                   **summarise([by["representative", c, s] - statistics.mean(by[o, c, s] for o in randoms) for c, s in sorted(keys)],
                               threshold=0.0, strict=True, clusters=[c for c, _ in sorted(keys)])})
    result["claims"] = claims
    return result


def markdown(res: dict, made: dict, plot: str | None = None) -> str:
    lines = ["## Bases ablation on the procedural teacher: representative concepts against random ones and a single one", "",
             f"Five bases trained with one recipe ({made['steps']} steps of batch {made['batch']}, lr {made['lr']}, 64 px, coordinate channels, "
             f"{made['crops']} crops per concept, `python -m benchmarks.procedural_bases make`), differing only in their concepts "
             f"({made['concepts']} picked by the concept-selector plugin from the procedural base pool; one for `single`). Then LoRA "
             f"(paper preset, rank 4) for {res['steps']} steps on {len(res['concepts'])} held-out concepts x seeds {res['seeds']}; "
             f"PSNR on the held-out photos (identity: {res['identity']:.2f} dB). Rule: {RULE}.", "",
             "| base | its concepts | PSNR dB (min-max over seeds) |", "|---|---|---|"]
    for name, b in res["bases"].items():
        cs = b["concepts"]
        shown = "; ".join(cs[:4]) + (f"; ... ({len(cs)} in all)" if len(cs) > 4 else "")
        lines.append(f"| {name} | {shown} | {b['psnr']:.2f} ({b['psnr_min']:.2f}-{b['psnr_max']:.2f}) |")
    lines += ["", "| ours | other | ours - other, dB [95% CI] | n | verdict |", "|---|---|---|---|---|"]
    for c in res["claims"]:
        lines.append(f"| {c['ours']} | {c['other']} | {c['mean']:+.2f} {bracket(c)} | {c['n']} | **{c['verdict']}** |")
    if plot:
        lines += ["", f"![base ablation]({plot})"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=["make", "run"])
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--bases", default=None, help="where the bases are (default: OUT/bases; gitignored, remade by `make`)")
    ap.add_argument("--concepts", type=int, default=16, help="concepts per base (single: 1)")
    ap.add_argument("--crops", type=int, default=64, help="training crops per concept")
    ap.add_argument("--base-steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--jobs", type=int, default=1, help="bases trained at once (one torch thread each)")
    ap.add_argument("--data", default="benchmarks/transfer/data", help="the held-out concepts' train and test pairs (the transfer gate's)")
    ap.add_argument("--steps", type=int, default=100, help="LoRA steps per fine-tune")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--per-kind", type=int, default=4, help="held-out concepts of each kind")
    a = ap.parse_args(argv)
    out = Path(a.out)
    bases = Path(a.bases) if a.bases else out / "bases"
    made = {"concepts": a.concepts, "crops": a.crops, "steps": a.base_steps, "batch": a.batch, "lr": a.lr}
    if a.part == "make":
        make(bases, a.concepts, a.crops, a.base_steps, a.batch, a.lr, a.jobs, out / "teach")
        atomic_write_json(out / "made.json", made)
        return
    import torch

    from benchmarks.procedural_ablations import held_out_concepts

    torch.set_num_threads(1)
    made = json.loads((out / "made.json").read_text()) if (out / "made.json").exists() else made
    res = run(bases, a.data, out, held_out_concepts(a.data, a.per_kind), a.seeds, a.steps)
    res["made"] = made
    atomic_write_json(out / "bases.json", res)
    from benchmarks.plots import claims

    claims([{**c, "label": f"{c['ours']} - {c['other']}"} for c in res["claims"]], out / "bases.png",
           "bases: representative - other (paired over concepts x seeds)")
    atomic_write_text(out / "bases.md", markdown(res, made, "bases.png"))
    print(markdown(res, made, "bases.png"))


if __name__ == "__main__":
    main()
