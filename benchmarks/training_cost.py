"""Training cost per concept, side by side on one held-out concept of the classic teacher:
pix2pix from scratch, Co-Mod-GAN (small preset) from scratch, full fine-tune of the base, E2GAN LoRA,
E2GAN LoRA + k-means 20% of the data.

Training FLOPs are counted as 3 x forward MACs x 2 per sample (forward + backward ~ 3 forwards),
times steps x batch: the usual estimate, the same rule for every row.

Each run also records its held-out PSNR every tenth of its steps (a quality-vs-time curve); the time
those measurements take is kept out of the training time."""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import torch


class QualityProbe:
    """A training callback: held-out PSNR every ``every`` steps, against training seconds without its own time."""

    def __init__(self, test, concept: str, every: int, last: int):
        self.test, self.concept, self.every, self.last = test, concept, max(1, every), last
        self.spent, self.curve = 0.0, []

    def __call__(self, row, student):
        from e2gan.metrics.quality import psnr
        if row["step"] % self.every and row["step"] != self.last:
            return
        t = time.perf_counter()
        quality = float(psnr(student.predict(self.test.sources, self.concept), self.test.targets).mean())
        student.generator.train()
        self.curve.append({"step": row["step"], "seconds": round(row["seconds"] - self.spent, 3), "psnr": quality})
        self.spent += time.perf_counter() - t


def run(concept: str = "oil painting", steps: int = 200, p2p_steps: int = 100, size: int = 128, crops: int = 96,
        test_crops: int = 24) -> dict:
    from e2gan.adapt import adapt, finetune, lora_train_config
    from e2gan.compare import ensure_data
    from e2gan.data.dataset import load_pairs
    from e2gan.engine import TrainConfig, train
    from e2gan.evaluate import evaluate
    from e2gan.metrics.macs import count_macs
    from e2gan.student import Student
    from e2gan.train import train_scratch

    tmp = Path(tempfile.mkdtemp(prefix="e2gan-cost-"))
    data = tmp / "data"
    ensure_data(data, [concept], size, crops, test_crops, 0)
    pairs = load_pairs(data, concept, "train")
    test = load_pairs(data, concept, "test")
    x = torch.zeros(1, 3, size, size)
    rows = []

    def probe(n_steps):
        return QualityProbe(test, concept, n_steps // 10, n_steps)

    def row(name, student, secs, n_steps, batch, stored, probe):
        gen = student.base_generator
        e, m = student.embed([concept])
        macs = count_macs(gen, x, *((e, m) if e is not None else ()))
        q = evaluate(student, data, [concept], "test", fid=True)[concept]
        rows.append({"name": name, "psnr": q["psnr"], "ssim": q["ssim"], "fid": q.get("fid"), "kid": q.get("kid"), "seconds": secs, "steps": n_steps, "batch": batch,
                     "train_flops": 6 * macs * n_steps * batch, "curve": probe.curve, "trainable": student.num_parameters(True) if "from scratch" not in name
                     else student.num_parameters(), "stored": stored})

    cfg = TrainConfig(steps=p2p_steps, batch_size=4, gan_weight=1.0)
    pr = probe(p2p_steps)
    p2p, _ = train_scratch(pairs, tmp / "p2p", "pix2pix-resnet9", cfg, progress=False, callback=pr)
    row("pix2pix from scratch", p2p, p2p.meta["seconds"] - pr.spent, p2p_steps, 4, (tmp / "p2p" / "model.safetensors").stat().st_size, pr)

    # the paper's third baseline, with its own discriminator and losses; the small preset (the 62.9 M one: ~25x the MACs)
    pr = probe(p2p_steps)
    comod, _ = train_scratch(pairs, tmp / "comod", "comodgan-small", cfg, progress=False, callback=pr)
    row("Co-Mod-GAN (small) from scratch", comod, comod.meta["seconds"] - pr.spent, p2p_steps, 4,
        (tmp / "comod" / "model.safetensors").stat().st_size, pr)

    full = Student.from_pretrained("zoo:classic-base")
    pr = probe(steps)
    t = time.perf_counter()
    train(full, pairs, TrainConfig(steps=steps, batch_size=8, lr=2e-4, gan_weight=0), progress=False, callback=pr)
    secs = time.perf_counter() - t - pr.spent
    full.save_pretrained(tmp / "full")
    row("full fine-tune of the base", full, secs, steps, 8, (tmp / "full" / "model.safetensors").stat().st_size, pr)

    lcfg = lora_train_config(steps=steps)
    pr = probe(steps)
    lora, _ = finetune("zoo:classic-base", pairs, tmp / "lora", copy.deepcopy(lcfg), progress=False, callback=pr)
    row("E2GAN LoRA", lora, lora.meta["seconds"] - pr.spent, steps, 8, (tmp / "lora" / "adapter_model.safetensors").stat().st_size, pr)

    pr = probe(steps)
    t = time.perf_counter()
    sel, _, info = adapt("zoo:classic-base", pairs, tmp / "lora-km", select="kmeans", fraction=0.2, cfg=copy.deepcopy(lcfg), progress=False,
                         callback=pr)
    secs = time.perf_counter() - t - pr.spent
    for point in pr.curve:  # the curve's clock starts with training: add the selection before it
        point["seconds"] = round(point["seconds"] + secs - (sel.meta["seconds"] - pr.spent), 3)
    row("E2GAN LoRA + k-means 20%", sel, secs, steps, 8, (tmp / "lora-km" / "adapter_model.safetensors").stat().st_size, pr)
    return {"concept": concept, "size": size, "rows": rows, "test_crops": test_crops}


def time_to(curve: list[dict], psnr: float) -> float | None:
    """Training seconds at the first probe at or above ``psnr`` (None if never reached)."""
    return next((c["seconds"] for c in curve if c["psnr"] >= psnr), None)


def markdown(r: dict, plot: str | None = None, curves: str | None = None) -> str:
    ref = r["rows"][0]
    out = [f"## Training cost per concept ({r['concept']!r}, {r['size']} px, classic teacher)", "",
           "Wall time on this machine; training FLOPs = 6 x forward MACs x steps x batch. Quality: PSNR/SSIM, and FID/KID (TF-Inception "
           f"features) to the teacher on {r.get('test_crops', 24)} held-out crops; FID on so few images ranks models, its absolute value is noise-dominated.", "",
           "| method | PSNR dB | SSIM | FID | KID | steps x batch | wall s | train TFLOPs | trainable | stored bytes | time vs pix2pix | trainable vs pix2pix |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        fid = f"{x['fid']:.1f} | {x['kid']:.3f}" if x.get("fid") is not None else "skipped | skipped"
        out.append(f"| {x['name']} | {x['psnr']:.2f} | {x['ssim']:.3f} | {fid} | {x['steps']} x {x['batch']} | {x['seconds']:.0f} | "
                   f"{x['train_flops'] / 1e12:.2f} | {x['trainable']:,} | {x['stored']:,} | {x['seconds'] / ref['seconds']:.2f} | "
                   f"{100 * x['trainable'] / ref['trainable']:.2f}% |")
    if plot:
        out += ["", f"![training cost]({plot})"]
    if all(x.get("curve") for x in r["rows"]):
        goal = 0.9 * ref["psnr"]
        out += ["", f"Held-out PSNR during training, measured every tenth of each run (the measuring time is not counted). Seconds until each "
                    f"run first reached 90% of pix2pix's final PSNR ({goal:.2f} dB), and the share of pix2pix's training time that is:", "",
                "| method | first probe (step, s, dB) | s to reach 90% of pix2pix's final PSNR | share of pix2pix's time |", "|---|---|---|---|"]
        for x in r["rows"]:
            c0, t = x["curve"][0], time_to(x["curve"], goal)
            reach = f"{t:.1f}" if t is not None else "not reached"
            share = f"{t / ref['seconds']:.2f}" if t is not None else "-"
            out.append(f"| {x['name']} | {c0['step']}, {c0['seconds']:.1f} s, {c0['psnr']:.2f} dB | {reach} | {share} |")
        if curves:
            out += ["", f"![quality during training]({curves})"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(run()))
