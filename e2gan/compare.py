"""``e2gan compare``: strategies (rank searchers, scorers or selectors) on equal terms: the same
held-out concepts, data, steps and seeds, one table (Markdown + JSON) and one plot."""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import asdict
from pathlib import Path

import torch

from e2gan.adapt import adapt, lora_train_config
from e2gan.config import DEFAULT_BASE, DEFAULT_TEACHER, AdaptConfig
from e2gan.data.dataset import PairedDataset, load_pairs
from e2gan.teach import teach_shipped_crops
from e2gan.evaluate import evaluate
from e2gan.io import atomic_save_figure, atomic_write_json, atomic_write_text
from e2gan.metrics.stats import INCONCLUSIVE, MIN_UNITS, interval_text, summarise
from e2gan.teach import teach

DEFAULTS = {
    "searcher": ["uniform:rank=4", "simple", "uniform:rank=1", "random", "svd-energy", "greedy"],
    "scorer": ["weight-delta", "fisher", "taylor", "random"],
    "selector": ["all", "kmeans", "random"],
}


def ensure_data(data: Path, concepts, size: int, crops: int, test_crops: int, seed: int, teacher: str = DEFAULT_TEACHER):
    teach_shipped_crops(teacher, concepts, data, size, crops, test_crops, seed)


def variants(kind: str, names: list[str], fractions) -> list[tuple[str, float | None]]:
    """``(strategy, data fraction)`` pairs to run: selectors get one run per fraction (``all`` once)."""
    if kind != "selector":
        return [(n, None) for n in names]
    return [(n, None) if n == "all" else (n, f) for n in names for f in ([None] if n == "all" else fractions)]


def strategy_config(kind: str, name: str, fraction: float | None, trial_steps: int) -> AdaptConfig:
    """The adaptation one run of ``compare`` makes: the defaults, with the compared choice set (a scorer also switches
    the layers to its top k). Every field is part of the run's key, so two strategies never share a run."""
    if kind not in DEFAULTS:
        raise ValueError(f"compare --kind {kind!r}: use one of {', '.join(DEFAULTS)}")
    if kind == "searcher":
        return AdaptConfig(search=name, trial_steps=trial_steps)
    if kind == "scorer":
        return AdaptConfig(scorer=name, layers="top-k", trial_steps=trial_steps)
    return AdaptConfig(select=name, fraction=fraction, trial_steps=trial_steps)


def label(name: str, fraction: float | None) -> str:
    return name if fraction is None else f"{name} {100 * fraction:g}%"


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.numpy().tobytes() if isinstance(p, torch.Tensor) else json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:16]


def concepts_with_test_pairs(datasets) -> dict[str, Path]:
    """``{prompt: folder}`` for every prompt that has both train and test pairs in one of ``datasets``."""
    found: dict[str, Path] = {}
    for d in datasets:
        ds = PairedDataset(d)
        splits: dict[str, set] = {}
        for r in ds.records:
            splits.setdefault(r.prompt, set()).add(r.split)
        for prompt, have in splits.items():
            if {"train", "test"} <= have:
                found.setdefault(prompt, Path(d))
    return found


def teach_folder(teacher: str, concepts, images, data, size: int, seed: int = 0, test_every: int = 5):
    """Teach the user's photos: every ``test_every``-th image (sorted by path) becomes a test pair, the rest train."""
    from e2gan.data.images import scan_images

    good, skipped = scan_images(images, exclude=data, decode=False)
    if len(good) < 2:
        raise ValueError(f"{images} has {len(good)} usable images; compare needs at least 2 (one to train on, one to test)")
    for s in skipped:
        print(f"[compare] skipped {s.path}: {s.reason}", flush=True)
    sources = [(str(p), img) for p, img in good]
    test = sources[::test_every] if len(sources) >= test_every else sources[-1:]
    train = [s for s in sources if s not in test]
    teach(teacher, concepts, train, data, size=size, seed=seed, split="train", progress=False)
    teach(teacher, concepts, test, data, size=size, seed=seed, split="test", progress=False)


def run_compare(kind: str, names: list[str] | None, out, base: str = DEFAULT_BASE, concepts=None, steps: int = 200,
                size: int = 128, crops: int = 96, test_crops: int = 24, fraction: float = 0.2, seeds=(0,), data=None,
                trial_steps: int = 40, fractions=None, runs=None, datasets=None, teacher: str = DEFAULT_TEACHER, images=None) -> dict:
    """Every strategy on every concept and seed; a table, a JSON and a plot in ``out``.

    Where the pairs come from: ``datasets`` (folders the user taught, with train and test splits), or
    ``teacher`` + ``concepts`` taught on the user's ``images`` (every fifth one for testing), or by
    default the teacher on crops of the shipped photos (``data`` keeps them).

    Each finished run is kept in ``runs`` (default ``out/runs``) under a key of everything that decides
    its result (base weights, data, strategy, steps, size, seed), so an interrupted compare resumes and
    two compares sharing ``runs`` (the rank and data ablations share ``uniform:rank=4`` on all data) pay
    for a run once."""
    from e2gan.student import Student

    out = Path(out)
    names = names or DEFAULTS[kind]
    fractions = list(fractions or [fraction])
    runs = Path(runs) if runs else out / "runs"
    if datasets:  # the user's own taught data: nothing is taught here
        folder_of = concepts_with_test_pairs(datasets)
        concepts = concepts or sorted(folder_of)
        missing = [c for c in concepts if c not in folder_of]
        if missing:
            raise ValueError(f"no data set among {[str(d) for d in datasets]} has train and test pairs of {missing[0]!r}; "
                             f"they have {sorted(folder_of) or 'none'} (make test pairs with `e2gan teach --split test`)")
    else:
        if not concepts:
            from e2gan.data.concepts import first_held_out
            from e2gan.registry import create_teacher

            concepts = first_held_out(create_teacher(teacher))
        if not concepts:
            raise ValueError(f"pass the concepts of teacher {teacher!r} to compare on (`e2gan concepts --teacher {teacher}` lists them)")
        data = Path(data) if data else out / "data"
        if images:
            teach_folder(teacher, concepts, images, data, size, seeds[0])
        else:
            ensure_data(data, concepts, size, crops, test_crops, seeds[0], teacher)
        folder_of = {c: data for c in concepts}
    base_id = Student.from_pretrained(base).fingerprint()
    todo = variants(kind, names, fractions)
    rows = []
    for concept in concepts:
        data = folder_of[concept]
        ds = PairedDataset(data)
        pairs = load_pairs(data, concept, "train")
        if datasets:
            size = int(pairs.sources.shape[-1])  # the user's data decides the resolution
        data_id = _digest(pairs.sources, pairs.targets, [r.key for r in ds.select(concept, "test")])
        for name, frac in todo:
            for seed in seeds:
                choices = strategy_config(kind, name, frac, trial_steps)
                cfg = lora_train_config(steps=steps, seed=seed)
                key = _digest(base_id, data_id, {"adapt": asdict(choices), "cfg": asdict(cfg), "size": size, "concept": concept})
                done = runs / f"{key}.json"
                reused = done.exists()
                if reused:
                    row = {**json.loads(done.read_text()), "strategy": label(name, frac), "fraction": frac}
                else:
                    tag = f"{concept}-{label(name, frac)}-{seed}".replace(" ", "_").replace(":", "_").replace("=", "").replace("%", "pc")
                    student, _, info = adapt(base, pairs, out / "adapters" / tag, choices, cfg=cfg, seed=seed, progress=False)
                    m = evaluate(student, data, [concept], "test")[concept]
                    row = {"concept": concept, "strategy": label(name, frac), "fraction": frac, "seed": seed, "psnr": m["psnr"],
                           "ssim": m["ssim"], "trainable": info["trainable_parameters"], "data_used": info["data_used"],
                           "search_s": info["search_seconds"] + info["score_seconds"] + info["select_seconds"],
                           "search_steps": info["search_steps"], "train_s": info["train_seconds"], "budget": info.get("budget")}
                    atomic_write_json(done, row)
                rows.append(row)
                print(f"[compare] {concept} / {row['strategy']} / seed {seed}: {row['psnr']:.2f} dB, {row['trainable']} weights, "
                      f"{row['data_used']} pairs" + (" (kept from an earlier run)" if reused else ""), flush=True)
    from e2gan.evaluate import Identity

    identity = {c: evaluate(Identity(), folder_of[c], [c], "test")[c] for c in concepts}
    summary = []
    for name, frac in todo:
        rs = [r for r in rows if r["strategy"] == label(name, frac)]
        per_seed = [statistics.mean(r["psnr"] for r in rs if r["seed"] == s) for s in seeds]  # mean over concepts, per seed
        summary.append({"strategy": label(name, frac), "name": name, "fraction": frac, "psnr_min": min(per_seed), "psnr_max": max(per_seed),
                        "budget": max((r.get("budget") or 0 for r in rs), default=0) or None,
                        **{k: statistics.mean(r[k] for r in rs) for k in ("psnr", "ssim", "trainable", "data_used", "search_s", "search_steps", "train_s")}})
    result = {"kind": kind, "base": base, "concepts": concepts, "steps": steps, "size": size, "seeds": list(seeds), "rows": rows, "summary": summary,
              "identity": {"psnr": statistics.mean(v["psnr"] for v in identity.values()), "ssim": statistics.mean(v["ssim"] for v in identity.values()),
                           "per_concept": identity}}
    paired_vs_reference(result)
    atomic_write_json(out / "compare.json", result)
    atomic_write_text(out / "compare.md", markdown(result))
    plot(result, out / "compare.png")
    return result


def paired_vs_reference(result: dict) -> dict:
    """Each strategy minus the first (the reference) on the same concept and seed: mean, bootstrap 95% interval
    and verdict, stored in each summary row as ``vs_reference`` (computed from the rows, also for old results).
    With several concepts the concept is the unit resampled (its seeds averaged first: they are not independent);
    with one concept, its seeds are."""
    summary, rows = result["summary"], result["rows"]
    if not summary:
        return result
    want = reference_of(result.get("kind", ""))
    lead = next((i for i, s in enumerate(summary) if s["strategy"] == want), 0)
    summary.insert(0, summary.pop(lead))  # finetune's own default is what every other strategy must beat
    ref = result["reference"] = summary[0]["strategy"]
    by = {(r["strategy"], r["concept"], r["seed"]): r["psnr"] for r in rows}
    several = len({c for _, c, _ in by}) > 1
    for s in summary[1:]:
        keys = [(c, sd) for (st, c, sd) in by if st == s["strategy"] and (ref, c, sd) in by]
        if keys:
            diffs = [by[(s["strategy"], c, sd)] - by[(ref, c, sd)] for c, sd in keys]
            s["vs_reference"] = summarise(diffs, threshold=0.0, strict=True, clusters=[c for c, _ in keys] if several else None)
    return result


def reference_of(kind: str) -> str:
    """What ``finetune`` does by default for ``kind``: the strategy a comparison keeps unless another clearly wins."""
    d = AdaptConfig()
    return {"searcher": d.search, "scorer": d.scorer or "weight-delta", "selector": d.select}.get(kind, "")


def psnr_cell(r: dict, seeds) -> str:
    return f"{r['psnr']:.2f}" + (f" ({r['psnr_min']:.2f}-{r['psnr_max']:.2f})" if len(seeds) > 1 else "")


def markdown(result: dict) -> str:
    paired_vs_reference(result)
    seeds = result["seeds"]
    spread = " (min-max over seeds of the mean over concepts)" if len(seeds) > 1 else ""
    lines = [f"# e2gan compare: {result['kind']}s", "",
             f"Base `{result['base']}`; concepts {', '.join(result['concepts'])}; {result['steps']} LoRA steps at {result['size']} px; "
             f"seeds {seeds}. Quality: PSNR{spread} / SSIM to the teacher on held-out photos, mean over concepts and seeds.", "",
             f"Paired differences: each strategy minus `{result.get('reference')}` on the same concept and seed, mean and bootstrap 95% "
             "interval; 'holds' / 'fails' / 'inconclusive at this power' by the rule of e2gan.metrics.stats (the claim: better than the "
             "reference, finetune's default; fewer than 5 units get no interval).", "",
             "| strategy | PSNR dB | Δ vs reference dB [95% CI] | verdict | SSIM | trainable weights (budget) | pairs used | search/score/select s | search steps | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    if result.get("identity"):
        lines.append(f"| identity (source unchanged, no training) | {result['identity']['psnr']:.2f} | | | {result['identity']['ssim']:.3f} | 0 | 0 | 0 | 0 | 0 |")
    for r in result["summary"]:
        budget = r.get("budget")
        weights = f"{r['trainable']:.0f}" + (f" ({budget:,}{', over' if r['trainable'] > budget else ''})" if budget else "")
        v = r.get("vs_reference")
        delta = interval_text(v, "") if v else "reference (finetune's default)"
        lines.append(f"| {r['strategy']} | {psnr_cell(r, seeds)} | {delta} | {v['verdict'] if v else ''} | {r['ssim']:.3f} | {weights} | {r['data_used']:.0f} | "
                     f"{r['search_s']:.1f} | {r['search_steps']:.0f} | {r['train_s']:.1f} |")
    return "\n".join(lines + ["", "\n\n".join(advice(result))]) + "\n"


def advice(result: dict) -> list[str]:
    """What the table allows one to say: rows that do not beat returning the input unchanged, whether the sample can
    decide and how many more units would help, and a one-line recommendation (which may be that none is better)."""
    from e2gan.metrics.stats import units_needed

    lines = []
    ident = (result.get("identity") or {}).get("psnr")
    if ident is not None:
        weak = [r["strategy"] for r in result["summary"] if r["psnr"] <= ident]
        if weak:
            lines.append(f"**Not better than returning the input unchanged** ({ident:.2f} dB): {', '.join(weak)}: these adapters do not learn the "
                         "edit yet (more pairs or steps, or another base, before comparing strategies).")
    ref = result.get("reference")
    rows = [r for r in result["summary"][1:] if r.get("vs_reference")]
    undecided = [r for r in rows if r["vs_reference"]["verdict"] == INCONCLUSIVE]
    several = len(result["concepts"]) > 1
    unit = "concepts" if several else "seeds"
    if undecided:
        by = {(r["strategy"], r["concept"], r["seed"]): r["psnr"] for r in result["rows"]}
        need = []
        for r in undecided:
            keys = [(c, sd) for (st, c, sd) in by if st == r["strategy"] and (ref, c, sd) in by]
            n = units_needed([by[(r["strategy"], c, sd)] - by[(ref, c, sd)] for c, sd in keys], [c for c, _ in keys] if several else None)
            if n:
                need.append(n)
        have = rows[0]["vs_reference"]["n"]
        top = max(rows, key=lambda r: r["vs_reference"]["mean"])
        if top["vs_reference"]["mean"] > 0 and top["vs_reference"]["verdict"] != "holds":
            lines.append(f"Best mean: `{top['strategy']}`, {top['vs_reference']['mean']:+.2f} dB over `{ref}`, **not decided** "
                         f"({interval_text(top['vs_reference'])}).")
        if have < MIN_UNITS:
            lines.append(f"**Too small to decide**: n={have} {unit} gives no interval (at least {MIN_UNITS}); run more {unit} "
                         f"({'more --concepts' if several else '`--seeds 0,1,2,3,4`'})" + (f": the observed spread says about {min(need)}-{max(need)}" if need else "") + ".")
        elif need:
            lines.append(f"**Too small to decide** for {len(undecided)} of {len(rows)} strategies (n={have} {unit}): their gaps to `{ref}` would "
                         f"need about {min(need)}-{max(need)} {unit} to be told from the noise.")
    better = [r for r in rows if r["vs_reference"]["verdict"] == "holds"]
    if better:
        best = max(better, key=lambda r: r["vs_reference"]["mean"])
        lines.append(f"**Recommendation:** `{best['strategy']}`: better than `{ref}` (finetune's default) by {interval_text(best['vs_reference'])}.")
    else:
        lines.append(f"**Recommendation:** keep `{ref}` (finetune's default): no strategy is clearly better than it.")
    return lines


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
    atomic_save_figure(fig, path)
