"""The main job (``e2gan demo`` / ``make demo``): the whole pipeline, offline, on an offline teacher (the default's).

teach base + held-out concepts -> base from the zoo (or retrained) -> LoRA on each held-out concept ->
baselines from scratch (pix2pix ResNet-9, and the same e2gan generator) -> metrics -> report.html.
"""

from __future__ import annotations

import dataclasses
import html
import time
from dataclasses import asdict
from pathlib import Path

from e2gan.adapt import finetune, lora_train_config
from e2gan.config import (
    DemoConfig,  # noqa: F401  (re-exported: e2gan.demo.DemoConfig)
    TrainConfig,
)
from e2gan.data.dataset import PairedDataset, PairTensors, load_pairs
from e2gan.teach import teach_shipped_crops
from e2gan.evaluate import IDENTITY, Identity, evaluate, mean_metrics, skipped_metrics
from e2gan.files import WEIGHTS
from e2gan.grids import concept_grid, grid
from e2gan.io import atomic_save_image, atomic_write_json
from e2gan.lora import adapter_bytes
from e2gan.metrics.lpips import lpips_model
from e2gan.report import loss_curves, table, write_report
from e2gan.student import Student
from e2gan.train import train_base, train_scratch


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")


def _timed(timings, name):
    class T:
        def __enter__(self):
            self.t = time.perf_counter()

        def __exit__(self, *a):
            timings[name] = round(time.perf_counter() - self.t, 2)
            print(f"[demo] {name}: {timings[name]:.1f} s", flush=True)

    return T()


def demo_preset(teacher_name: str) -> dict:
    """What the demo runs for a teacher, unless DemoConfig says otherwise: the zoo base the catalogue lists for that
    teacher (and its resolution), and the first held-out concept of each kind the teacher reserves."""
    from e2gan.data.concepts import first_held_out
    from e2gan.hub.zoo import catalogue
    from e2gan.registry import create_teacher

    teacher = create_teacher(teacher_name)
    held = first_held_out(teacher)
    if not held:
        raise ValueError(f"teacher {teacher_name!r} reserves no held-out concepts (held_out()): pass --held-out with the concepts to adapt to")
    preset = {"held_out": held, "equal_time": False, **dict(getattr(teacher, "demo", None) or {})}
    bases = [(name, entry) for name, entry in catalogue()["bases"].items() if entry["teacher"] == teacher_name]
    if bases:  # else --base and --size come from the user (or --retrain-base)
        name, entry = bases[0]
        preset = {"base": f"zoo:{name}", "size": entry["resolution"], **preset}
    return preset


def run_demo(cfg: DemoConfig) -> Path:
    from dataclasses import replace

    preset = demo_preset(cfg.teacher)
    cfg = replace(cfg, **{k: v for k, v in preset.items() if getattr(cfg, k) is None})
    if cfg.base is None and not cfg.retrain_base:
        raise ValueError(f"the zoo has no base for teacher {cfg.teacher!r}: pass --base, or --retrain-base")
    if cfg.size is None:
        cfg = replace(cfg, size=128)
    if cfg.base_concepts is None and cfg.base:  # the base knows what it was trained on
        cfg = replace(cfg, base_concepts=list(Student.from_pretrained(cfg.base).meta.get("prompts", [])))
    if cfg.base_concepts is None:  # a base retrained from nothing: the teacher's own pool (its first 8)
        from e2gan.data.concepts import base_pool
        from e2gan.registry import create_teacher

        cfg = replace(cfg, base_concepts=base_pool(create_teacher(cfg.teacher))[:8])
    out = Path(cfg.out)
    data = out / "data"
    timings: dict[str, float] = {}
    print(f"[demo] writing to {out.resolve()}", flush=True)

    with _timed(timings, "teach"):
        train_concepts = cfg.held_out + (cfg.base_concepts if cfg.retrain_base else [])
        s1, = teach_shipped_crops(cfg.teacher, train_concepts, data, cfg.size, cfg.crops, 0, cfg.seed, progress=True)
        s2, = teach_shipped_crops(cfg.teacher, cfg.base_concepts + cfg.held_out, data, cfg.size, 0, cfg.test_crops, cfg.seed, progress=True)
        teach_lines = s1.lines() + s2.lines()

    base_log = None
    if cfg.retrain_base:
        with _timed(timings, "train base"):
            pairs = load_pairs(data, cfg.base_concepts, "train")
            base_ref = str(out / "base")
            base_cfg = TrainConfig(steps=cfg.base_steps, batch_size=8, seed=cfg.seed)
            _, base_log = train_base(pairs, base_ref, "e2gan", "hashed-words", base_cfg)
    else:
        base_ref = cfg.base
    base = Student.from_pretrained(base_ref)
    base_params = base.num_parameters()

    with _timed(timings, "evaluate base on its concepts"):
        base_eval = evaluate(base, data, cfg.base_concepts, "test")

    ds = PairedDataset(data)
    results, grids, curves = [], [], {}
    lp = lpips_model()  # None unless torchvision's AlexNet weights are cached
    for concept in cfg.held_out:
        slug = _slug(concept)
        pairs = load_pairs(data, concept, "train")
        test = PairTensors.from_dataset(ds, ds.select(concept, "test"))
        lora_cfg = lora_train_config(steps=cfg.lora_steps, lr=cfg.lora_lr, seed=cfg.seed, log_every=10)
        with _timed(timings, f"{concept}: LoRA finetune"):
            lora, lora_log = finetune(base_ref, pairs, out / "adapters" / slug, lora_cfg, ranks=cfg.rank, meta={"teacher": cfg.teacher})
        scratch_cfg = lora_cfg  # same lr, steps, batch and seed: only the starting point differs
        if cfg.equal_time:  # ... or the same wall time: as many steps as fit in LoRA's training time
            scratch_cfg = replace(lora_cfg, steps=100 * cfg.lora_steps, max_seconds=lora.meta["seconds"])
        base_gen = base.generator
        with _timed(timings, f"{concept}: e2gan from scratch"):
            small, small_log = train_scratch(pairs, out / "scratch" / f"e2gan-{slug}", base.backbone, scratch_cfg,
                                             dataclasses.asdict(base_gen.config), text_encoder=base.text_encoder_name)
        p2p_cfg = TrainConfig(steps=cfg.scratch_steps, batch_size=4, gan_weight=1.0, seed=cfg.seed, log_every=5)
        with _timed(timings, f"{concept}: pix2pix from scratch"):
            p2p, p2p_log = train_scratch(pairs, out / "scratch" / f"pix2pix-{slug}", "pix2pix-resnet9", p2p_cfg)
        curves[concept] = {"LoRA (from base)": lora_log, "e2gan from scratch": small_log, "pix2pix from scratch": p2p_log}

        models = {
            IDENTITY: (Identity(), 0, 0, None, 0),
            "base, no adapter": (base, base_params, 0, None, 0),
            "LoRA student": (lora, lora.meta["trainable_parameters"], adapter_bytes(out / "adapters" / slug), lora_log, timings[f"{concept}: LoRA finetune"]),
            "e2gan from scratch": (small, small.num_parameters(), (out / "scratch" / f"e2gan-{slug}" / WEIGHTS).stat().st_size, small_log, timings[f"{concept}: e2gan from scratch"]),
            "pix2pix from scratch": (p2p, p2p.num_parameters(), (out / "scratch" / f"pix2pix-{slug}" / WEIGHTS).stat().st_size, p2p_log, timings[f"{concept}: pix2pix from scratch"]),
        }
        cols = {"source": test.sources, "teacher": test.targets}
        with _timed(timings, f"{concept}: evaluate"):
            for name, (model, trainable, stored, log, secs) in models.items():
                preds: dict = {}
                m = evaluate(model, data, [concept], "test", fid=cfg.fid, outputs=preds, lpips=lp)[concept]
                cols[name] = preds[concept]
                results.append({"concept": concept, "model": name, **m, "trainable": trainable, "stored bytes": stored,
                                "train s": secs, "steps": log[-1]["step"] if log else 0})
        cols.pop(IDENTITY)  # the grid's source column already shows it
        path = out / f"grid-{slug}.png"
        atomic_save_image(path, grid(cols, rows=6))
        grids.append((concept, path.name))
        loss_curves(curves[concept], out / f"curves-{slug}.png")

    base_grid = out / "grid-base.png"
    atomic_save_image(base_grid, concept_grid({"base": base}, data, cfg.base_concepts, "test", 1))

    summary = {"config": asdict(cfg), "timings_s": timings, "base": {"ref": base_ref, "parameters": base_params, "per_concept": base_eval,
               "mean": mean_metrics(base_eval)}, "held_out": results, "teach": teach_lines,
               "skipped_metrics": skipped_metrics(cfg.fid)}
    atomic_write_json(out / "results.json", summary)
    return _write(out, cfg, summary, grids, base_grid, base_log)


def _write(out: Path, cfg: DemoConfig, summary: dict, grids, base_grid, base_log) -> Path:
    results = summary["held_out"]
    extra = [k for k in ("lpips", "fid", "kid") if any(k in r for r in results)]
    cols = ["concept", "model", "psnr", "ssim", *extra, "trainable", "stored bytes", "steps", "train s"]
    skipped = "".join(f"<li><code>{k}</code>: {why}</li>" for k, why in summary.get("skipped_metrics", {}).items())
    sections = []
    from e2gan.plugins import entries

    what = entries("teacher")[cfg.teacher].description
    shown = ", ".join(cfg.base_concepts[:10]) + (f", ... ({len(cfg.base_concepts)} in all)" if len(cfg.base_concepts) > 10 else "")
    lora_vs = []
    for concept in cfg.held_out:
        rs = {r["model"]: r for r in results if r["concept"] == concept}
        lora, small = rs["LoRA student"], rs["e2gan from scratch"]
        lora_vs.append(f"{html.escape(concept)}: LoRA {lora['psnr']:.2f} dB in {lora['train s']:.0f} s, from scratch {small['psnr']:.2f} dB in "
                       f"{small['train s']:.0f} s ({small['steps']} steps)")
    equal = "the same wall time" if cfg.equal_time else "the same steps"
    intro = (f"<p>Teacher: <code>{cfg.teacher}</code> ({html.escape(what)}). Resolution {cfg.size} px. "
             f"Base: <code>{summary['base']['ref']}</code> "
             f"({summary['base']['parameters']:,} parameters), concepts {html.escape(shown)}. Held-out concepts (never seen by the base): "
             f"{', '.join(cfg.held_out)}. Test pairs come from photos that no training crop uses. Metrics compare each model's output with "
             f"the teacher's on those pairs.</p><p><b>LoRA from the base against the same generator from scratch, given {equal}:</b> "
             f"{'; '.join(lora_vs)}.</p><p class='note'>Teach: {'; '.join(summary['teach'][:2])}</p>")
    sections.append(("What ran", intro))
    sections.append(("Held-out concepts: students against the teacher", table(results, cols, {"psnr": ".2f", "ssim": ".3f", "lpips": ".3f", "fid": ".1f", "kid": ".4f"})
                     + "<p class='note'>FID and KID on so few images are dominated by sample noise: read them as a rough ranking only.</p>"
                     + (f"<p class='note'>Not computed here:</p><ul class='note'>{skipped}</ul>" if skipped else "")))
    for concept, name in grids:
        slug = _slug(concept)
        sections.append((f"{concept}: source | teacher | base without adapter | LoRA student | e2gan from scratch | pix2pix",
                         f"<img src='{name}'><br><img src='curves-{slug}.png'>"))
    base_rows = [{"concept": k, **v} for k, v in summary["base"]["per_concept"].items()]
    sections.append(("The base model on its own concepts (held-out photos)", table(base_rows, ["concept", "psnr", "ssim", "n"], {"psnr": ".2f", "ssim": ".3f"})
                     + f"<img src='{base_grid.name}'>"))
    if base_log:
        loss_curves({"base": base_log}, out / "curves-base.png")
        sections.append(("Base training", "<img src='curves-base.png'>"))
    sections.append(("Timings (seconds, this machine)", table([{"stage": k, "seconds": v} for k, v in summary["timings_s"].items()], ["stage", "seconds"])))
    return write_report(out / "report.html", "e2gan demo report", sections)
