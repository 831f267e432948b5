"""The paper's regime: a new concept from few pairs (issue 20). Which adapter recipe, and does it beat training the
small generator from scratch?

Every concept's training pairs are a k-means selection (16 or 32) from 128 crops of the 40 training photos of
``e2gan photos``; its test pairs are 24 crops of the 10 test photos. Every run records held-out PSNR every ``every``
steps against training seconds (the probes' own time excluded), kept under ``OUT/runs`` by its settings, so a stopped
run resumes and shards can share the work (``--shard i/n``).

Two parts, on disjoint concepts, so that the recipe is chosen on other concepts than those it is judged on:

- ``dev``: the 10 held-out concepts the transfer gate trained on (4 new combinations of seen primitives, 6 with an
  unseen primitive): every recipe arm against a full fine-tune and from-scratch training, at 32 pairs.
- ``gate``: the other 14 held-out concepts and fresh ones (concepts with an unseen primitive outside the teacher's
  held-out list), 16 and 32 pairs, 3 seeds: the chosen recipe (``default``), the paper's (``paper``), a full fine-tune
  and from scratch. Claims and the rule are written in benchmarks/RESULTS.md before the runs.
- ``capacity``: 50 more such fresh concepts, only the recipe and a full fine-tune at 32 pairs, one seed: the capacity
  claim, decided on these and the gate's 20 together (``report --part capacity``).

    python -m benchmarks.few_pairs prepare --base zoo:procedural-base --photos photos/
    python -m benchmarks.few_pairs run --part dev --shard 0/2 & python -m benchmarks.few_pairs run --part dev --shard 1/2
    python -m benchmarks.few_pairs report --part dev
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.training_cost import QualityProbe
from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.metrics.stats import RULE, bracket, summarise

HERE = Path(__file__).parent / "few_pairs"

#: the arms: what trains, how (AdaptConfig fields for LoRA), at which learning rate and for how many steps
ARMS = {
    "paper": {"kind": "lora", "adapt": {"layers": "paper", "search": "uniform:rank=4"}, "lr": 2e-3},
    "paper-lr1e-2": {"kind": "lora", "adapt": {"layers": "paper", "search": "uniform:rank=4"}, "lr": 1e-2},
    "paper-lr1e-2-rescale": {"kind": "lora", "adapt": {"layers": "paper", "search": "uniform:rank=4", "rescale": True}, "lr": 1e-2},
    "all-r2-lr1e-2": {"kind": "lora", "adapt": {"layers": "all", "search": "uniform:rank=2"}, "lr": 1e-2},
    "all-r2-lr1e-2-rescale": {"kind": "lora", "adapt": {"layers": "all", "search": "uniform:rank=2", "rescale": True}, "lr": 1e-2},
    "all-r1-lr1e-2-norms": {"kind": "lora", "adapt": {"layers": "all", "search": "uniform:rank=1", "train_norms": True}, "lr": 1e-2},
    "all-r1-lr1e-2-prompt": {"kind": "lora", "adapt": {"layers": "all", "search": "uniform:rank=1", "learn_prompt": True}, "lr": 1e-2},
    "all-r1-lr1e-2-norms-rescale-prompt": {"kind": "lora", "adapt": {"layers": "all", "search": "uniform:rank=1", "train_norms": True,
                                                                     "rescale": True, "learn_prompt": True}, "lr": 1e-2},
    "all-r16-lr1e-2": {"kind": "lora", "adapt": {"layers": "all", "search": "uniform:rank=16"}, "lr": 1e-2},  # over the 5% cap: capacity's reference
    "full": {"kind": "full", "lr": 2e-3},
    "scratch": {"kind": "scratch", "lr": 2e-3},
}
DEV_ARMS = list(ARMS)


def _default_arm() -> dict:
    """The library's default recipe as it stands (AdaptConfig's defaults, LORA_TRAIN's lr): the gate's ``default``."""
    from e2gan.config import preset

    d = preset("default")
    return {"kind": "lora", "adapt": {k: d[k] for k in ("layers", "search", "train_norms", "rescale", "learn_prompt")}, "lr": d["lr"]}


ARMS["default"] = _default_arm()
#: the recipe switches an arm turns on beyond rank-4 LoRA on the paper's layers: the tie-break's "simpler"
SWITCHES = ("rescale", "train_norms", "learn_prompt")
CAP = 0.05  # at most this share of the base's weights trainable


def pick_default(table: list[dict], base_parameters: int, tie: float = 0.1) -> dict:
    """The plan's rule: the best mean PSNR at the budget among LoRA arms with <= 5% of the weights trainable;
    arms within ``tie`` dB of the best are a tie, won by the simpler one (fewer switches, then the paper's layers,
    then fewer weights)."""
    ok = [r for r in table if ARMS[r["arm"]]["kind"] == "lora" and r["arm"] != "default" and r["trainable"] <= CAP * base_parameters]
    best = max(ok, key=lambda r: r["psnr"])
    tied = [r for r in ok if r["psnr"] >= best["psnr"] - tie]

    def simplicity(r):
        a = ARMS[r["arm"]]["adapt"]
        return (sum(bool(a.get(k)) for k in SWITCHES), a.get("layers") != "paper", r["trainable"])

    pick = min(tied, key=simplicity)
    return {"arm": pick["arm"], "psnr": pick["psnr"], "best": best["arm"], "best_psnr": best["psnr"],
            "tied": [r["arm"] for r in tied], "spec": ARMS[pick["arm"]]}


@dataclasses.dataclass
class Settings:
    base: str = "zoo:procedural-base"
    photos: str = "photos"
    size: int = 64
    pool: int = 128  # crops per concept to select from
    test_crops: int = 24
    steps: int = 400  # LoRA and full fine-tune runs (the default budget, 300, is read off their curves)
    budget: int = 300  # the default finetune's steps: "equal steps" and "equal wall time" are read here
    scratch_steps: int = 800  # from scratch runs longer: its best, and its PSNR at the recipe's wall time
    every: int = 50
    batch: int = 8
    threads: int = 1


def portable_settings(s: Settings) -> dict:
    """The settings as the committed results record them: folders relative to the repository (or zoo:NAME), never this
    machine's paths."""
    from e2gan.hub.sources import portable_ref

    return {k: portable_ref(v) if k in ("base", "photos") else v for k, v in dataclasses.asdict(s).items()}


def concepts(part: str, fresh: int = 6, more: int = 50) -> list[str]:
    """``dev``: the 10 held-out concepts the transfer gate trained on; ``gate``: the other 14 and ``fresh`` concepts with an
    unseen primitive outside the held-out list (a fixed random sample); ``capacity``: ``more`` such concepts besides the
    gate's (another fixed sample), for the capacity claim alone, which 20 concepts could not decide."""
    from e2gan.registry import create_teacher

    teacher = create_teacher("procedural")
    held = teacher.held_out()
    dev = held["seen-primitives"][:4] + held["unseen-primitive"][:6]
    if part == "dev":
        return dev
    rest = held["seen-primitives"][4:] + held["unseen-primitive"][6:]
    from e2gan_plugins.procedural_teacher.primitives import (
        UNSEEN,  # the teacher's own list of primitives no base sees
    )

    reserved = {c for g in held.values() for c in g}
    pool = [c for c in teacher.concepts() if c not in reserved and any(w.strip() in UNSEEN for w in c.split(","))]
    gate_fresh = sorted(random.Random(0).sample(pool, fresh))
    if part == "capacity":
        return sorted(random.Random(1).sample([c for c in pool if c not in gate_fresh], more))
    return rest + gate_fresh


def kind_of(concept: str) -> str:
    from e2gan_plugins.procedural_teacher.primitives import UNSEEN

    return "unseen-primitive" if any(w.strip() in UNSEEN for w in concept.split(",")) else "seen-primitives"


def prepare(s: Settings, out: Path, names: list[str], counts=(16, 32)) -> None:
    """Teach each concept's pool and test pairs, then keep the k-means selections (indices into the pool)."""
    from e2gan.adapt.features import pair_features
    from e2gan.data.dataset import load_pairs
    from e2gan.teach import teach_shipped_crops
    from e2gan.registry import create_data_selector
    from e2gan.student import Student

    data = out / "data"
    teach_shipped_crops("procedural", names, data, s.size, s.pool, s.test_crops, photos=s.photos, progress=True)
    base = Student.from_pretrained(s.base)
    sel_path = out / "selections.json"
    selections = json.loads(sel_path.read_text()) if sel_path.exists() else {}
    for c in names:
        if all(f"{c}|{n}" in selections for n in counts):
            continue
        pairs = load_pairs(data, c, "train")
        feats = pair_features(base, pairs)
        for n in counts:
            selections[f"{c}|{n}"] = [int(i) for i in create_data_selector("kmeans").select(feats, n, 0)]
        atomic_write_json(sel_path, selections)
        print(f"[few-pairs] selected {counts} of {len(pairs)} pairs for {c}", flush=True)


def run_key(s: Settings, base_fp: str, concept: str, arm: str, count: int, seed: int) -> str:
    keep = {k: v for k, v in dataclasses.asdict(s).items() if k not in ("threads", "photos", "budget")}
    blob = json.dumps([base_fp, keep, ARMS[arm], concept, count, seed], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_run(s: Settings, base, out: Path, concept: str, arm: str, count: int, seed: int) -> dict:
    """One arm on one concept: the curve of held-out PSNR against steps and seconds, from step 0."""
    from e2gan.adapt import adapt
    from e2gan.config import AdaptConfig, lora_train_config
    from e2gan.data.dataset import load_pairs
    from e2gan.engine import train
    from e2gan.metrics.quality import psnr
    from e2gan.student import Student
    from e2gan.train import train_scratch

    spec = ARMS[arm]
    data = out / "data"
    pool, test = load_pairs(data, concept, "train"), load_pairs(data, concept, "test")
    pairs = pool.subset(json.loads((out / "selections.json").read_text())[f"{concept}|{count}"])
    steps = spec.get("steps") or (s.scratch_steps if spec["kind"] == "scratch" else s.steps)  # an arm may fix its own budget
    tcfg = lora_train_config(steps=steps, lr=spec["lr"], batch_size=s.batch, seed=seed, log_every=s.every)
    probe = QualityProbe(test, concept, s.every, steps)
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-few-"))
    info = {}
    if spec["kind"] == "lora":
        student = Student.from_pretrained(s.base)
        first = float(psnr(student.predict(test.sources, concept), test.targets).mean())
        t0 = time.perf_counter()
        student, _, ad = adapt(s.base, pairs, tmp / "ad", AdaptConfig(**spec["adapt"]), cfg=tcfg, seed=seed, progress=False, callback=probe,
                               student=student)
        info = {"trainable": ad["trainable_parameters"], "base_parameters": student.meta["base_parameters"]}
    elif spec["kind"] == "full":
        student = Student.from_pretrained(s.base)
        first = float(psnr(student.predict(test.sources, concept), test.targets).mean())
        student.generator.requires_grad_(True)
        t0 = time.perf_counter()
        train(student, pairs, tcfg, progress=False, callback=probe)
        info = {"trainable": student.num_parameters(), "base_parameters": student.num_parameters()}
    else:
        gen = base.generator
        torch.manual_seed(seed)
        start = Student.create(base.backbone, base.text_encoder_name, text_settings=base.text_encoder.settings, **dataclasses.asdict(gen.config))
        first = float(psnr(start.predict(test.sources, concept), test.targets).mean())
        t0 = time.perf_counter()
        student, _ = train_scratch(pairs, tmp / "scratch", base.backbone, tcfg, dataclasses.asdict(gen.config), progress=False,
                                   callback=probe, text_encoder=base.text_encoder_name)
        info = {"trainable": student.num_parameters(), "base_parameters": student.num_parameters()}
    wall = time.perf_counter() - t0 - probe.spent
    return {"concept": concept, "kind": kind_of(concept), "arm": arm, "count": count, "seed": seed, "seconds": round(wall, 2),
            "identity": float(psnr(test.sources, test.targets).mean()), **info,
            "curve": [{"step": 0, "seconds": 0.0, "psnr": first}, *probe.curve]}


LIMIT: int | None = None  # --limit: only the first concepts of a part (a quick check of the whole path)


def part_concepts(part: str) -> list[str]:
    return concepts(part)[:LIMIT]


def todo(part: str, arms, counts, seeds) -> list[tuple[str, str, int, int]]:
    """Every run of a part; in the gate a full fine-tune only at the largest count (the capacity claim's)."""
    return [(c, a, n, sd) for c in part_concepts(part) for n in counts for a in arms for sd in seeds
            if not (part == "gate" and a == "full" and n != max(counts))]


def run(s: Settings, out: Path, part: str, arms, counts, seeds, shard: str = "0/1") -> None:
    from e2gan.student import Student

    torch.set_num_threads(s.threads)
    base = Student.from_pretrained(s.base)
    fp = base.fingerprint()
    i, n = (int(x) for x in shard.split("/"))
    for concept, arm, count, seed in todo(part, arms, counts, seeds)[i::n]:
        path = out / "runs" / f"{run_key(s, fp, concept, arm, count, seed)}.json"
        if path.exists():
            continue
        t = time.perf_counter()
        row = train_run(s, base, out, concept, arm, count, seed)
        atomic_write_json(path, row)
        print(f"[few-pairs] {arm:36s} {concept:36s} n={count} seed {seed}: {row['curve'][0]['psnr']:.2f} -> {row['curve'][-1]['psnr']:.2f} dB "
              f"in {row['seconds']:.0f} s ({time.perf_counter() - t:.0f} s with probes)", flush=True)


def collect(s: Settings, out: Path, part: str, arms, counts, seeds) -> list[dict]:
    from e2gan.student import Student

    fp = Student.from_pretrained(s.base).fingerprint()
    rows = []
    for concept, arm, count, seed in todo(part, arms, counts, seeds):
        path = out / "runs" / f"{run_key(s, fp, concept, arm, count, seed)}.json"
        if path.exists():
            rows.append(json.loads(path.read_text()))
    return rows


def at_step(curve, step):
    return next((p for p in curve if p["step"] >= step), curve[-1])


def at_time(curve, seconds):
    return [p for p in curve if p["seconds"] <= seconds + 1e-9][-1]


def base_alone(s: Settings, out: Path) -> dict:
    """The last claim: the base alone minus returning the input, on the held-out new combinations of seen primitives
    (all 12, dev's and gate's: no training, so the dev concepts judge nothing here), concept resampled."""
    from e2gan.data.dataset import load_pairs
    from e2gan.metrics.quality import psnr
    from e2gan.registry import create_teacher
    from e2gan.student import Student

    torch.set_num_threads(s.threads)
    base = Student.from_pretrained(s.base)
    rows = []
    for c in create_teacher("procedural").held_out()["seen-primitives"]:
        test = load_pairs(out / "data", c, "test")
        with torch.no_grad():
            b = float(psnr(base.predict(test.sources, c), test.targets).mean())
        rows.append({"concept": c, "base": b, "identity": float(psnr(test.sources, test.targets).mean())})
    return {"rows": rows, "claim": summarise([r["base"] - r["identity"] for r in rows], threshold=3.0, clusters=[r["concept"] for r in rows])}


def analyse(s: Settings, rows: list[dict], ours: str) -> dict:
    """The claims for recipe ``ours``, each a paired difference by (concept, count, seed), the concept resampled."""
    by = {(r["concept"], r["count"], r["seed"], r["arm"]): r for r in rows}
    res: dict = {"ours": ours, "counts": {}}
    for count in sorted({r["count"] for r in rows}):
        keys = sorted({(c, sd) for c, n, sd, a in by if n == count and a == ours and (c, n, sd, "scratch") in by})
        if not keys:
            continue
        time_d, step_d, conv = [], [], []
        for c, sd in keys:
            o, sc = by[(c, count, sd, ours)], by[(c, count, sd, "scratch")]
            mine = at_step(o["curve"], s.budget)
            time_d.append(mine["psnr"] - at_time(sc["curve"], mine["seconds"])["psnr"])
            step_d.append(mine["psnr"] - at_step(sc["curve"], s.budget)["psnr"])
            best = max(sc["curve"], key=lambda p: p["psnr"])
            hit = next((p for p in o["curve"] if p["psnr"] >= best["psnr"]), None)
            conv.append({"concept": c, "seed": sd, "scratch_best": best["psnr"], "scratch_best_step": best["step"],
                         "steps_to_it": hit["step"] if hit else None, "ratio": hit["step"] / max(best["step"], 1) if hit else math.inf})
        units = [c for c, _ in keys]
        per_concept = {}
        for r in conv:
            per_concept.setdefault(r["concept"], []).append(r["ratio"])
        met = sum(statistics.median(v) <= 1 / 3 for v in per_concept.values())
        res["counts"][count] = {
            "equal_time": summarise(time_d, threshold=0.0, clusters=units),
            "equal_steps": summarise(step_d, threshold=0.0, clusters=units),
            "convergence": {"concepts": len(per_concept), "met": met, "verdict": "holds" if met >= len(per_concept) / 2 else "fails",
                            "rows": conv},
            **({"capacity": capacity(s, rows, ours, count)["claim"]} if any(n == count and a == "full" for _, n, _, a in by) else {}),
            "trainable_share": statistics.mean(by[(c, count, sd, ours)]["trainable"] / by[(c, count, sd, ours)]["base_parameters"] for c, sd in keys),
        }
    return res


def capacity(s: Settings, rows: list[dict], ours: str, count: int = 32) -> dict:
    """The capacity claim alone, on every concept that has both ``ours`` and a full fine-tune at ``count`` pairs (the
    gate's, with their seeds, and the capacity part's): recipe minus full at the budget, seeds averaged per concept."""
    by = {(r["concept"], r["count"], r["seed"], r["arm"]): r for r in rows}
    keys = sorted((c, sd) for c, n, sd, a in by if n == count and a == ours and (c, n, sd, "full") in by)
    diffs = [at_step(by[(c, count, sd, ours)]["curve"], s.budget)["psnr"] - at_step(by[(c, count, sd, "full")]["curve"], s.budget)["psnr"]
             for c, sd in keys]
    share = statistics.mean(by[(c, count, sd, ours)]["trainable"] / by[(c, count, sd, ours)]["base_parameters"] for c, sd in keys)
    per = {}
    for (c, _), d in zip(keys, diffs):
        per.setdefault(c, []).append(d)
    return {"count": count, "claim": summarise(diffs, threshold=-0.3, clusters=[c for c, _ in keys]), "trainable_share": share,
            "per_concept": {c: round(statistics.mean(v), 3) for c, v in sorted(per.items())},
            "sd_concepts": statistics.stdev(statistics.mean(v) for v in per.values()) if len(per) > 1 else 0.0}


def arm_table(s: Settings, rows: list[dict], reference: str = "full") -> list[dict]:
    """Every arm at the budget, minus ``reference`` and minus scratch (equal steps), concept resampled."""
    by = {(r["concept"], r["count"], r["seed"], r["arm"]): r for r in rows}
    out = []
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = {(c, n, sd): at_step(r["curve"], s.budget)["psnr"] for (c, n, sd, a), r in by.items() if a == arm}
        row = {"arm": arm, "psnr": statistics.mean(mine.values()), "n": len(mine),
               "trainable": statistics.mean(by[(c, n, sd, arm)]["trainable"] for c, n, sd in mine),
               "seconds": statistics.mean(at_step(by[(c, n, sd, arm)]["curve"], s.budget)["seconds"] for c, n, sd in mine)}
        for ref in (reference, "scratch"):
            keys = [k for k in mine if (*k, ref) in by]
            if keys and arm != ref:
                row[f"vs_{ref}"] = summarise([mine[k] - at_step(by[(*k, ref)]["curve"], s.budget)["psnr"] for k in keys],
                                             clusters=[k[0] for k in keys])
        out.append(row)
    return out


def _ci(x: dict) -> str:
    return f"{x['mean']:+.2f} {bracket(x)} (n={x['n']})"


def markdown(s: Settings, part: str, rows: list[dict], ours: str | None = None) -> str:
    lines = [f"## Few pairs ({part}): a new concept from 16-32 k-means-selected pairs", "",
             f"Base `{s.base}`; {s.size} px; pools of {s.pool} crops of the 40 training photos per concept, k-means selections; "
             f"{s.test_crops} test crops of the 10 test photos; batch {s.batch}; read at the default budget of {s.budget} steps "
             f"(from scratch runs {s.scratch_steps}). Paired differences resample concepts (seeds averaged first). Rule: {RULE}.", "",
             "| arm | PSNR dB at the budget | trainable | seconds | minus full fine-tune, dB | minus scratch (equal steps), dB |",
             "|---|---|---|---|---|---|"]
    table = arm_table(s, rows)
    for r in table:
        lines.append(f"| {r['arm']} | {r['psnr']:.2f} | {r['trainable']:,.0f} | {r['seconds']:.0f} | "
                     f"{_ci(r['vs_full']) if 'vs_full' in r else ''} | {_ci(r['vs_scratch']) if 'vs_scratch' in r else ''} |")
    if part == "dev":
        base_parameters = max(r["base_parameters"] for r in rows if "base_parameters" in r)
        p = pick_default(table, base_parameters)
        lines += ["", f"**The rule's pick: `{p['arm']}`** ({p['psnr']:.2f} dB). The best arm within the {CAP:.0%} cap is `{p['best']}` "
                      f"({p['best_psnr']:.2f} dB); within 0.1 dB of it: {', '.join(f'`{a}`' for a in p['tied'])}, and the simplest of those "
                      f"(fewest switches, then the paper's layers, then fewest weights) wins. e2gan's defaults (AdaptConfig, LORA_TRAIN) are "
                      f"this arm: {json.dumps(p['spec'])}."]
    if ours:
        res = analyse(s, rows, ours)
        lines += ["", f"Claims for `{ours}`:", "", "| pairs | claim | measured | verdict |", "|---|---|---|---|"]
        for count, c in res["counts"].items():
            lines.append(f"| {count} | at equal wall time, minus scratch >= 0 | {_ci(c['equal_time'])} | **{c['equal_time']['verdict']}** |")
            lines.append(f"| {count} | at equal steps, minus scratch >= 0 | {_ci(c['equal_steps'])} | {c['equal_steps']['verdict']} |")
            cv = c["convergence"]
            lines.append(f"| {count} | reaches scratch's best in <= 1/3 of its steps on at least half of the concepts | {cv['met']} of "
                         f"{cv['concepts']} concepts (median over seeds) | **{cv['verdict']}** |")
            if "capacity" in c:
                lines.append(f"| {count} | within 0.3 dB of a full fine-tune at equal steps, <= 5% trainable ({100 * c['trainable_share']:.1f}%) | "
                             f"{_ci(c['capacity'])} | **{c['capacity']['verdict'] if c['trainable_share'] <= 0.05 else 'fails'}** |")
    return "\n".join(lines) + "\n"


def capacity_markdown(s: Settings, res: dict, ours: str) -> str:
    c = res["claim"]
    worst = sorted(res["per_concept"].items(), key=lambda kv: kv[1])
    verdict = c["verdict"] if res["trainable_share"] <= CAP else "fails"
    return "\n".join([
        f"## Capacity on more concepts: `{ours}` minus a full fine-tune, {res['count']} pairs, {s.budget} steps", "",
        f"The gate's 20 concepts (seeds 0-2, averaged) and the capacity part's 50 (seed 0); base `{s.base}`, {s.size} px, "
        f"k-means selections of {res['count']} from {s.pool} crops, {s.test_crops} test crops. Rule: {RULE}.", "",
        "| claim | measured | verdict |", "|---|---|---|",
        f"| within 0.3 dB of a full fine-tune at equal steps, <= 5% trainable ({100 * res['trainable_share']:.1f}%) | {_ci(c)} | **{verdict}** |",
        "", f"Per-concept spread (SD of the concept means): {res['sd_concepts']:.2f} dB. Lowest: "
        + ", ".join(f"`{k}` {v:+.2f}" for k, v in worst[:3]) + "; highest: " + ", ".join(f"`{k}` {v:+.2f}" for k, v in worst[-3:]) + ".", ""])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["prepare", "run", "report"])
    ap.add_argument("--part", choices=["dev", "gate", "capacity"], default="dev",
                    help="capacity: 50 more concepts, the recipe and a full fine-tune at 32 pairs, one seed; its report joins the gate's")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--arms", nargs="+", default=None, help=f"default: dev {DEV_ARMS}; gate: default paper full scratch")
    ap.add_argument("--counts", type=int, nargs="+", default=None, help="pairs per concept (default: dev 32; gate 16 32)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default: dev 0; gate 0 1 2")
    ap.add_argument("--ours", default=None, help="the recipe the claims are about (default: default, else the first arm)")
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--limit", type=int, default=None, help="only the first N concepts of each part (a quick check)")
    for f in dataclasses.fields(Settings):
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    a = ap.parse_args(argv)
    s = Settings(**{f.name: getattr(a, f.name) for f in dataclasses.fields(Settings)})
    out = Path(a.out)
    gate = a.part == "gate"
    cap = a.part == "capacity"
    arms = a.arms or (["default", "full", "scratch"] if gate else ["default", "full"] if cap else DEV_ARMS)
    counts = a.counts or ([16, 32] if gate else [32])
    seeds = a.seeds or ([0, 1, 2] if gate else [0])
    global LIMIT
    LIMIT = a.limit
    if a.step == "prepare":
        names = part_concepts("capacity") if cap else part_concepts("dev") + part_concepts("gate")
        prepare(s, out, names, tuple(a.counts or ((32,) if cap else (16, 32))))
    elif a.step == "run":
        run(s, out, a.part, arms, counts, seeds, a.shard)
    elif cap:
        ours = a.ours or "default"
        own = collect(s, out, "capacity", [ours, "full"], [32], seeds)
        res = capacity(s, collect(s, out, "gate", [ours, "full"], [32], [0, 1, 2]) + own, ours)
        atomic_write_json(out / "capacity.json", {"settings": portable_settings(s), "rows": own, "capacity": res})  # gate rows: gate.json
        text = capacity_markdown(s, res, ours)
        atomic_write_text(out / "capacity.md", text)
        print(text)
    else:
        rows = collect(s, out, a.part, arms, counts, seeds)
        ours = a.ours or ("default" if "default" in arms else arms[0])
        alone = base_alone(s, out) if gate else None
        atomic_write_json(out / f"{a.part}.json", {"settings": portable_settings(s), "rows": rows, "claims": analyse(s, rows, ours),
                                                   **({"base_alone": alone} if alone else {})})
        text = markdown(s, a.part, rows, ours)
        if alone:
            c = alone["claim"]
            text += (f"\nThe base alone minus returning the input, on the {len(alone['rows'])} held-out new combinations of seen primitives "
                     f"(no training): {_ci(c)} against >= 3 dB: **{c['verdict']}** (mean {statistics.mean(r['base'] for r in alone['rows']):.2f} dB "
                     f"vs the input's {statistics.mean(r['identity'] for r in alone['rows']):.2f} dB).\n")
        atomic_write_text(out / f"{a.part}.md", text)
        print((out / f"{a.part}.md").read_text())


if __name__ == "__main__":
    main()
