"""The transfer gate: does a base trained on some concepts make new concepts cheap? (issue 10, part 4)

On the ``procedural`` teacher's held-out concepts and held-out photos:

(a) new combinations of seen primitives: the base alone (no adapter) against returning the input
    unchanged, per concept; the claim is a mean gain of at least 3 dB.
(b) concepts with a primitive the base never saw: steps and wall time LoRA-from-the-base needs to
    reach the PSNR from-scratch training of the same generator ends at; the claim is at most 1/3 of
    from-scratch's steps and time.
(c) at equal wall time, at the demo's budget (LoRA's time for its default 300 steps), LoRA from the
    base is at least as good as from-scratch training (paired difference >= 0).

Every run records held-out PSNR every ``every`` steps against training seconds (the probes' own
time excluded). Runs are kept under ``OUT/runs`` keyed by their settings: rerun to resume, or split
the runs over processes with ``--shard 0/2`` and ``--shard 1/2``, then ``--report``.

    python -m benchmarks.transfer --base zoo:procedural-base            # all runs, then the report
    python -m benchmarks.transfer --shard 0/2 & python -m benchmarks.transfer --shard 1/2; python -m benchmarks.transfer --report
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmarks.training_cost import QualityProbe
from e2gan.io import atomic_save_figure, atomic_write_json, atomic_write_text
from e2gan.metrics.stats import RULE, bracket, summarise


@dataclass
class TransferConfig:
    base: str = field(default="zoo:procedural-base", metadata={"help": "the base to transfer from"})
    size: int = field(default=64, metadata={"help": "resolution of pairs and training (the base's)"})
    crops: int = field(default=96, metadata={"help": "training pairs per held-out concept (crops of the training photos)"})
    test_crops: int = field(default=24, metadata={"help": "test pairs per concept (crops of the held-out photos)"})
    steps: int = field(default=1200, metadata={"help": "training steps of every run (both arms)"})
    every: int = field(default=100, metadata={"help": "held-out PSNR is measured every this many steps"})
    demo_steps: int = field(default=300, metadata={"help": "(c) compares at LoRA's wall time for this many steps (the demo's budget)"})
    lr: float = field(default=2e-3, metadata={"help": "learning rate of both arms (L1 only, batch below)"})
    batch: int = field(default=8, metadata={"help": "batch size of both arms"})
    rank: int = field(default=4, metadata={"help": "LoRA rank on the backbone's declared layers"})
    seen: int = field(default=4, metadata={"help": "held-out concepts of seen primitives trained in (b)/(c)"})
    unseen: int = field(default=6, metadata={"help": "held-out concepts with an unseen primitive trained in (b)/(c)"})
    seeds: tuple = field(default=(0,), metadata={"help": "training seeds (LoRA initialisation included)"})
    threads: int = field(default=1, metadata={"help": "torch threads per process"})
    wider: int = field(default=1000, metadata={"help": "(a) also on up to this many more new combinations of seen primitives: base-pool "
                                                        "concepts this base never trained on, all of whose primitives it saw (458 for the "
                                                        "zoo base; 0: none)"})
    arms: tuple = field(default=("lora", "scratch"), metadata={"help": "lora, scratch, and the attempted fixes: full (full fine-tune "
                                                                        "from the base), lora-all (rank 16 on every LoRA-able layer)"})


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s).strip("-")


def prepare(cfg: TransferConfig, out: Path) -> dict:
    """Teach every held-out concept on the held-out photos (test) and the chosen ones on training photos."""
    from e2gan.teach import teach_shipped_crops
    from e2gan.registry import create_teacher

    teacher = create_teacher("procedural")
    held = teacher.held_out()
    chosen = {"seen-primitives": held["seen-primitives"][: cfg.seen], "unseen-primitive": held["unseen-primitive"][: cfg.unseen]}
    data = out / "data"
    teach_shipped_crops("procedural", [c for g in held.values() for c in g], data, cfg.size, 0, cfg.test_crops, colour_only=True, teacher_obj=teacher)
    teach_shipped_crops("procedural", [c for g in chosen.values() for c in g], data, cfg.size, cfg.crops, 0, colour_only=True, teacher_obj=teacher)
    return {"held_out": held, "chosen": chosen, "data": data}


def wider_seen(base, count: int, seed: int = 0) -> list[str]:
    """More concepts for (a): the teacher's base pool minus the base's own concepts, keeping those whose every
    primitive (prompt word group) appears in a concept the base trained on: new combinations of seen primitives
    for this base, as the held-out ones are. A fixed random sample of ``count`` of them."""
    import random

    from e2gan.data.concepts import base_pool
    from e2gan.registry import create_teacher

    trained = list(base.meta["prompts"])
    seen = {w.strip() for c in trained for w in c.split(",")}
    pool = [c for c in base_pool(create_teacher("procedural")) if c not in trained and all(w.strip() in seen for w in c.split(","))]
    return sorted(random.Random(seed).sample(pool, min(count, len(pool))))


def runs_todo(cfg: TransferConfig, chosen: dict) -> list[tuple[str, str, str, int]]:
    return [(kind, c, arm, s) for kind, cs in chosen.items() for c in cs for arm in cfg.arms for s in cfg.seeds]


def run_key(cfg: TransferConfig, base_fp: str, concept: str, arm: str, seed: int) -> str:
    keep = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("seen", "unseen", "seeds", "threads", "demo_steps", "arms", "wider")}
    blob = json.dumps([base_fp, keep, concept, arm, seed], sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_run(cfg: TransferConfig, base, data: Path, concept: str, arm: str, seed: int) -> dict:
    """One arm on one concept: the curve of held-out PSNR against steps and seconds, from step 0."""
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs
    from e2gan.engine import train
    from e2gan.lora import lora_candidates
    from e2gan.metrics.quality import psnr
    from e2gan.student import Student
    from e2gan.train import train_scratch

    pairs, test = load_pairs(data, concept, "train"), load_pairs(data, concept, "test")
    tcfg = lora_train_config(steps=cfg.steps, lr=cfg.lr, batch_size=cfg.batch, seed=seed, log_every=cfg.every)
    probe = QualityProbe(test, concept, cfg.every, cfg.steps)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-transfer-"))
    if arm in ("lora", "lora-all"):
        start = base
        student = Student.from_pretrained(cfg.base)
        targets, ranks = (None, cfg.rank) if arm == "lora" else (lora_candidates(student.generator), 16)
        t0 = time.perf_counter()
        finetune(cfg.base, pairs, tmp / "ad", tcfg, targets=targets, ranks=ranks, progress=False, student=student, callback=probe)
    elif arm == "full":  # the same starting point, every weight trained: does the base's prior help at all?
        start = base
        student = Student.from_pretrained(cfg.base)
        student.generator.requires_grad_(True)
        t0 = time.perf_counter()
        train(student, pairs, tcfg, progress=False, callback=probe)
    else:
        gen = base.generator
        start = Student.create(base.backbone, base.text_encoder_name, text_settings=base.text_encoder.settings, **dataclasses.asdict(gen.config))
        t0 = time.perf_counter()
        train_scratch(pairs, tmp / "scratch", base.backbone, tcfg, dataclasses.asdict(gen.config), progress=False, callback=probe,
                      text_encoder=base.text_encoder_name)
    wall = time.perf_counter() - t0 - probe.spent
    first = float(psnr(start.predict(test.sources, concept), test.targets).mean())
    return {"concept": concept, "arm": arm, "seed": seed, "curve": [{"step": 0, "seconds": 0.0, "psnr": first}, *probe.curve],
            "seconds": round(wall, 2)}


def base_alone(base, data: Path, held: dict) -> list[dict]:
    """(a): the base without an adapter and the identity, per held-out concept, on the held-out photos."""
    from e2gan.data.dataset import load_pairs
    from e2gan.metrics.quality import psnr

    rows = []
    for kind, concepts in held.items():
        for c in concepts:
            test = load_pairs(data, c, "test")
            rows.append({"kind": kind, "concept": c, "identity": float(psnr(test.sources, test.targets).mean()),
                         "base": float(psnr(base.predict(test.sources, c), test.targets).mean())})
    return rows


def _first_reaching(curve, target):
    return next((p for p in curve if p["psnr"] >= target), None)


def _at_time(curve, seconds):
    return [p for p in curve if p["seconds"] <= seconds + 1e-9][-1]


def analyse(cfg: TransferConfig, alone: list[dict], runs: list[dict]) -> dict:
    """The three gate figures (for LoRA), each with its paired differences, interval and verdict; the same
    figures for every other arm tried (the attempted fixes) under ``attempts``."""
    seen = [r for r in alone if r["kind"] == "seen-primitives"]
    gate_a = summarise([r["base"] - r["identity"] for r in seen], threshold=3.0)
    res = {"a": gate_a, "alone": alone, "attempts": {}}
    wider = [r for r in alone if r["kind"] in ("seen-primitives", "untrained-pool")]
    if len(wider) > len(seen):
        res["a_wider"] = summarise([r["base"] - r["identity"] for r in wider], threshold=3.0)
    for arm in [a for a in cfg.arms if a != "scratch"]:
        part = _against_scratch(cfg, alone, runs, arm)
        if arm == "lora":
            res.update(part)
        else:
            res["attempts"][arm] = part
    return res


def _against_scratch(cfg: TransferConfig, alone: list[dict], runs: list[dict], arm: str) -> dict:
    by = {(r["concept"], r["seed"], r["arm"]): r for r in runs}
    pairs = sorted({(c, s) for c, s, _ in by if (c, s, arm) in by and (c, s, "scratch") in by})
    unseen_concepts = {r["concept"] for r in alone if r["kind"] == "unseen-primitive"}
    b_rows, c_rows = [], []
    for c, s in pairs:
        lora, scratch = by[(c, s, arm)], by[(c, s, "scratch")]
        # from scratch's converged quality: its best held-out PSNR (some runs peak, then decline), reached at best_at
        best_at = max(scratch["curve"], key=lambda p: p["psnr"])
        target = best_at["psnr"]
        tail = [p["psnr"] for p in scratch["curve"][-3:]]
        hit = _first_reaching(lora["curve"], target)
        s_time, s_steps = max(best_at["seconds"], 1e-9), max(best_at["step"], 1)
        row = {"concept": c, "seed": s, "kind": "unseen-primitive" if c in unseen_concepts else "seen-primitives",
               "scratch_final": scratch["curve"][-1]["psnr"], "scratch_best": target, "scratch_best_step": best_at["step"],
               "scratch_plateau_db": max(tail) - min(tail), "lora_final": lora["curve"][-1]["psnr"],
               "lora_steps_to_target": hit["step"] if hit else None, "lora_seconds_to_target": hit["seconds"] if hit else None,
               "step_ratio": hit["step"] / s_steps if hit else math.inf, "time_ratio": hit["seconds"] / s_time if hit else math.inf}
        b_rows.append(row)
        demo = next(p for p in lora["curve"] if p["step"] >= cfg.demo_steps)
        sc = _at_time(scratch["curve"], demo["seconds"])
        c_rows.append({"concept": c, "seed": s, "kind": row["kind"], "seconds": demo["seconds"], "lora": demo["psnr"], "scratch": sc["psnr"],
                       "scratch_step": sc["step"], "diff": demo["psnr"] - sc["psnr"]})
    unseen_b = [r for r in b_rows if r["kind"] == "unseen-primitive"]
    met = [r for r in unseen_b if max(r["step_ratio"], r["time_ratio"]) <= 1 / 3]
    worst = sorted(max(r["step_ratio"], r["time_ratio"]) for r in unseen_b)
    median = worst[len(worst) // 2] if worst else math.inf
    gate_b = {"n": len(unseen_b), "met": len(met), "median_ratio": median, "threshold": 1 / 3,
              "verdict": "holds" if unseen_b and median <= 1 / 3 else ("fails" if unseen_b else "not run")}
    # the concept is the unit resampled: a seed only changes batch order and LoRA's initialisation
    c_units, b_units = [r["concept"] for r in c_rows], [r["concept"] for r in b_rows]
    gate_c = summarise([r["diff"] for r in c_rows], threshold=0.0, clusters=c_units) if c_rows else {"verdict": "not run"}
    equal_steps = summarise([r["lora_final"] - r["scratch_final"] for r in b_rows], clusters=b_units) if b_rows else {"verdict": "not run"}
    best = summarise([max(p["psnr"] for p in by[(r["concept"], r["seed"], arm)]["curve"]) - r["scratch_best"] for r in b_rows],
                     clusters=b_units) if b_rows else {}
    return {"b": gate_b, "c": gate_c, "equal_steps": equal_steps, "best": best, "b_rows": b_rows, "c_rows": c_rows}


def _fmt_ci(s: dict, unit: str = " dB") -> str:
    return f"{s['mean']:+.2f}{unit} {bracket(s)} (n={s['n']})"


def markdown(cfg: TransferConfig, res: dict, plot: str | None) -> str:
    a, b, c, eq = res["a"], res["b"], res["c"], res["equal_steps"]
    lines = ["## The transfer gate (procedural teacher, held-out concepts and photos)", "",
             f"Base `{cfg.base}`; {cfg.size} px; both arms train the same generator with L1 only, lr {cfg.lr}, batch {cfg.batch}, "
             f"{cfg.steps} steps, seeds {list(cfg.seeds)}; LoRA rank {cfg.rank} on the backbone's declared layers. "
             f"Test pairs: {cfg.test_crops} crops of the held-out photos per concept. Rule, fixed before the run: {RULE}.", "",
             "| gate | claim | measured (mean [95% CI]) | verdict |", "|---|---|---|---|",
             f"| (a) | base alone beats the identity by >= 3 dB on new combinations of seen primitives | {_fmt_ci(a)} | **{a['verdict']}** |",
             f"| (b) | LoRA reaches from-scratch's converged (best) PSNR in <= 1/3 of the steps and time scratch needed for it (unseen primitive) | median of max(step, time) ratio "
             f"{b['median_ratio']:.2f}; {b['met']} of {b['n']} concepts meet 1/3 | **{b['verdict']}** |",
             f"| (c) | at the demo's budget ({cfg.demo_steps} LoRA steps' wall time), LoRA >= from scratch | "
             + (f"{_fmt_ci(c)} | **{c['verdict']}** |" if "mean" in c else "not run | |"),
             *(["", f"Not a headline: on the held-out concepts and {res['a_wider']['n'] - a['n']} more (base-pool concepts this base never "
                 f"trained on, all of whose primitives it saw), the base alone minus the identity is {_fmt_ci(res['a_wider'])}. That sample is "
                 "biased in the base's favour: the base's concepts were picked as medoids of that same pool, to cover it."]
               if res.get("a_wider") else []),
             "", f"At equal steps ({cfg.steps}), LoRA minus from scratch: " + (_fmt_ci(eq) if "mean" in eq else "not run")
             + (f"; best held-out PSNR along each run, LoRA minus from scratch: {_fmt_ci(res['best'])}" if res.get("best") else "") + ".", "",
             "### (a) The base alone on held-out concepts", "", "| kind | concept | identity dB | base dB | gain dB |", "|---|---|---|---|---|"]
    for r in [r for r in res["alone"] if r["kind"] != "untrained-pool"]:
        lines.append(f"| {r['kind']} | {r['concept']} | {r['identity']:.2f} | {r['base']:.2f} | {r['base'] - r['identity']:+.2f} |")
    extra = [r for r in res["alone"] if r["kind"] == "untrained-pool"]
    if extra:
        gains = sorted(r["base"] - r["identity"] for r in extra)
        lines += ["", f"The {len(extra)} more concepts of the wider (a) (base pool, untrained by this base; listed in transfer.json): gain over the "
                  f"identity from {gains[0]:+.2f} to {gains[-1]:+.2f} dB, median {gains[len(gains) // 2]:+.2f}; "
                  f"{sum(g >= 3 for g in gains)} of {len(gains)} at least +3 dB."]
    lines += ["", "### (b), (c) Per concept", "",
              "| kind | concept | seed | scratch final dB (last-3 spread) | scratch best dB (at step) | LoRA final dB | LoRA steps / s to scratch's best | at demo budget: LoRA / scratch dB |",
              "|---|---|---|---|---|---|---|---|"]
    for rb, rc in zip(res["b_rows"], res["c_rows"]):
        hit = f"{rb['lora_steps_to_target']} / {rb['lora_seconds_to_target']:.0f}" if rb["lora_steps_to_target"] is not None else "never"
        lines.append(f"| {rb['kind']} | {rb['concept']} | {rb['seed']} | {rb['scratch_final']:.2f} ({rb['scratch_plateau_db']:.2f}) | "
                     f"{rb['scratch_best']:.2f} ({rb['scratch_best_step']}) | {rb['lora_final']:.2f} | {hit} | {rc['lora']:.2f} / {rc['scratch']:.2f} (step {rc['scratch_step']}) |")
    if res.get("attempts"):
        names = {"full": "full fine-tune from the base (every weight, same lr)", "lora-all": "LoRA rank 16 on every LoRA-able layer (ResNet blocks too)"}
        lines += ["", "### Attempted fixes, against the same from-scratch runs", "",
                  "| arm | (b) median ratio; concepts meeting 1/3 | (c) at the demo budget, arm - scratch dB [95% CI] | verdict (c) | equal steps, arm - scratch dB [95% CI] | best along the run, arm - scratch dB [95% CI] |",
                  "|---|---|---|---|---|---|"]
        for arm, part in res["attempts"].items():
            b2, c2, e2 = part["b"], part["c"], part["equal_steps"]
            lines.append(f"| {names.get(arm, arm)} | {b2['median_ratio']:.2f}; {b2['met']} of {b2['n']} | "
                         + (f"{_fmt_ci(c2)} | **{c2['verdict']}** | {_fmt_ci(e2)} | {_fmt_ci(part['best'])} |" if "mean" in c2 else "not run | | | |"))
    if plot:
        lines += ["", f"![transfer curves]({plot})"]
    return "\n".join(lines) + "\n"


def draw(runs: list[dict], alone: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = {r["concept"]: r["kind"] for r in alone}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=True)
    colours = {"lora": "tab:blue", "scratch": "tab:orange", "full": "tab:green", "lora-all": "tab:purple"}
    labels = {"lora": "LoRA from the base", "scratch": "same generator from scratch", "full": "full fine-tune from the base",
              "lora-all": "LoRA r16, every layer"}
    for ax, kind in zip(axes, ("seen-primitives", "unseen-primitive")):
        for r in runs:
            if kinds.get(r["concept"]) != kind:
                continue
            ax.plot([p["seconds"] for p in r["curve"]], [p["psnr"] for p in r["curve"]], color=colours.get(r["arm"], "grey"), alpha=0.6, lw=1)
        for arm in dict.fromkeys(r["arm"] for r in runs):
            ax.plot([], [], color=colours.get(arm, "grey"), label=labels.get(arm, arm))
        ax.set_title(f"held-out: {kind}", fontsize=9)
        ax.set_xlabel("training seconds (this CPU, probes excluded)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR to the teacher, held-out photos (dB)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    atomic_save_figure(fig, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(TransferConfig):
        kw = ({"nargs": "+", "type": int} if f.name == "seeds" else {"nargs": "+", "type": str} if f.name == "arms"
              else {"type": type(f.default)})
        ap.add_argument(f"--{f.name.replace('_', '-')}", default=f.default, help=f.metadata.get("help"), **kw)
    ap.add_argument("--out", default="benchmarks/transfer", help="folder for data, runs, transfer.json, transfer.md and the plot")
    ap.add_argument("--shard", default="0/1", help="i/n: run every n-th run starting at i (parallel processes)")
    ap.add_argument("--report", action="store_true", help="only collect finished runs and write the report")
    args = ap.parse_args(argv)
    cfg = TransferConfig(**{f.name: (tuple(v) if f.name in ("seeds", "arms") else v) for f in dataclasses.fields(TransferConfig)
                            for v in [getattr(args, f.name)]})
    torch.set_num_threads(cfg.threads)
    from e2gan.student import Student

    out = Path(args.out)
    base = Student.from_pretrained(cfg.base)
    fp = base.fingerprint()
    from e2gan.outputs import LockedError

    for _ in range(600):  # shards start together: one teaches the data, the others wait for its lock
        try:
            setup = prepare(cfg, out)
            break
        except LockedError:
            time.sleep(1)
    todo = runs_todo(cfg, setup["chosen"])
    i, n = (int(x) for x in args.shard.split("/"))
    if not args.report:
        for kind, concept, arm, seed in todo[i::n]:
            path = out / "runs" / f"{run_key(cfg, fp, concept, arm, seed)}.json"
            if path.exists():
                continue
            t = time.perf_counter()
            row = train_run(cfg, base, setup["data"], concept, arm, seed)
            atomic_write_json(path, row)
            print(f"[transfer] {arm:7s} {concept:40s} seed {seed}: {row['curve'][0]['psnr']:.2f} -> {row['curve'][-1]['psnr']:.2f} dB "
                  f"in {row['seconds']:.0f} s ({time.perf_counter() - t:.0f} s with probes)", flush=True)
        if n > 1:
            return
    runs = []
    for kind, concept, arm, seed in todo:
        path = out / "runs" / f"{run_key(cfg, fp, concept, arm, seed)}.json"
        if path.exists():
            runs.append(json.loads(path.read_text()))
    groups = dict(setup["held_out"])
    if cfg.wider:
        from e2gan.teach import teach_shipped_crops

        groups["untrained-pool"] = wider_seen(base, cfg.wider)
        teach_shipped_crops("procedural", groups["untrained-pool"], setup["data"], cfg.size, 0, cfg.test_crops, colour_only=True)
    alone = base_alone(base, setup["data"], groups)
    res = analyse(cfg, alone, runs)
    draw(runs, alone, out / "transfer.png")
    atomic_write_json(out / "transfer.json", {"config": dataclasses.asdict(cfg), "runs": runs, **res})
    atomic_write_text(out / "transfer.md", markdown(cfg, res, "transfer.png"))
    print((out / "transfer.md").read_text())


if __name__ == "__main__":
    main()
