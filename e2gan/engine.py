"""The distillation engine: one GAN training loop for every stage (base, LoRA finetune, from scratch).

Loss (pix2pix's, with e2gan defaults noted): ``lambda_l1 * L1(G(x), y) + gan_weight * LSGAN`` with a
source-conditioned PatchGAN; Adam(lr, betas=(0.5, 0.999)); constant lr, then linear decay to 0.
Only parameters with ``requires_grad`` train, so a LoRA-wrapped student trains only its adapter.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from e2gan import checkpoint
from e2gan.config import TrainConfig  # noqa: F401  (re-exported: e2gan.engine.TrainConfig)
from e2gan.dataset import PairTensors
from e2gan.images import u8_to_unit
from e2gan.registry import create_discriminator


class _SignalFlag:
    """SIGINT/SIGTERM set a flag that the training loop checks after each step (main thread only)."""

    def __init__(self):
        import signal
        import threading

        self.signal = None
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._set)

    def _set(self, signum, frame):
        self.signal = signum

    def restore(self):
        import signal

        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _batch(pairs: PairTensors, idx, crop, flip, gen, device):
    src = u8_to_unit(pairs.sources[idx].to(device, non_blocking=True))
    tgt = u8_to_unit(pairs.targets[idx].to(device, non_blocking=True))
    h, w = src.shape[-2:]
    if crop and crop < min(h, w):
        y = int(torch.randint(0, h - crop + 1, (1,), generator=gen))
        x = int(torch.randint(0, w - crop + 1, (1,), generator=gen))
        src, tgt = src[..., y : y + crop, x : x + crop], tgt[..., y : y + crop, x : x + crop]
    if flip and bool(torch.rand(1, generator=gen) < 0.5):
        src, tgt = src.flip(-1), tgt.flip(-1)
    return src, tgt


def lr_factor(step: int, cfg: TrainConfig) -> float:
    start = int(cfg.steps * cfg.decay_start)
    if step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(1, cfg.steps - start))


class Interrupted(Exception):
    """SIGINT or SIGTERM during training: a checkpoint was written (when the run has an output folder)."""


def train(student, pairs: PairTensors, cfg: TrainConfig, progress: bool = True, desc: str = "train", callback=None,
          out=None, resume: bool = True) -> list[dict]:
    """Train ``student.generator`` in place on ``pairs``; returns the loss log (one dict per log step).

    ``callback(row, student)`` runs at each log step, e.g. to measure held-out quality during training;
    it must leave the generator in train mode, and its time counts in later rows' ``seconds``.
    With ``out`` and ``cfg.checkpoint_every``, checkpoints go to ``out/checkpoints`` (and on SIGINT/SIGTERM),
    and a run finds the latest valid one there and continues exactly where it stopped (``resume=False``: start over)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    gen_rng = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    G = student.generator.to(device).train()
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter of the generator is frozen")
    opt_g = torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    D = opt_d = None
    if cfg.gan_weight > 0:
        D = create_discriminator(cfg.discriminator, **cfg.disc_config).to(device).train()
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    prompts = sorted(set(pairs.prompts))
    embeds, mask = student.embed(prompts, device)
    prompt_idx = torch.tensor([prompts.index(p) for p in pairs.prompts])
    log, t0 = [], time.perf_counter()
    acc = {"l1": 0.0, "g_gan": 0.0, "d": 0.0}
    n_acc, start = 0, 0
    ckpt = out is not None and bool(cfg.checkpoint_every)
    if ckpt and not resume:
        checkpoint.clear(out)
    found = checkpoint.latest(out) if ckpt else None
    if found:
        path, state = found
        checkpoint.load(path, G, D, opt_g, opt_d, gen_rng)
        start, log, acc, n_acc = state["step"], state["log"], state["acc"], state["n_acc"]
        t0 -= state["elapsed"]
        print(f"[{desc}] resuming from {path} (step {start} of {cfg.steps}; --no-resume starts over)", flush=True)
    if device.type == "cuda":  # keep the whole (small) data set on the GPU
        pairs = PairTensors(pairs.sources.to(device), pairs.targets.to(device), pairs.prompts)

    def save_checkpoint(done: int):
        extra = {"log": log, "acc": acc, "n_acc": n_acc, "elapsed": time.perf_counter() - t0, "total_steps": cfg.steps}
        return checkpoint.save(out, done, G, D, opt_g, opt_d, gen_rng, extra, cfg.keep_checkpoints)

    stop = _SignalFlag() if ckpt else None
    bar = tqdm(range(start, cfg.steps), desc=desc, unit="step", disable=not progress, dynamic_ncols=True, initial=start, total=cfg.steps)
    step = start
    try:
        for step in bar:
            if stop is not None and stop.signal:
                save_checkpoint(step)
                raise Interrupted(f"{desc}: stopped by signal {stop.signal} at step {step}; checkpoint written to {Path(out) / 'checkpoints'}; "
                                  "rerun the same command to resume")

            elapsed = time.perf_counter() - t0
            if cfg.max_seconds and elapsed >= cfg.max_seconds:
                break
            f = lr_factor(step, cfg)
            if cfg.max_seconds:
                f = min(f, lr_factor(int(cfg.steps * elapsed / cfg.max_seconds), cfg))
            for opt in (opt_g, opt_d):
                if opt is not None:
                    for group in opt.param_groups:
                        group["lr"] = cfg.lr * f
            idx = torch.randint(0, len(pairs), (cfg.batch_size,), generator=gen_rng)
            src, tgt = _batch(pairs, idx, cfg.crop, cfg.flip, gen_rng, device)
            e = None if embeds is None else embeds[prompt_idx[idx].to(device)]
            m = None if mask is None else mask[prompt_idx[idx].to(device)]
            fake = G(src, e, m)
            l1 = F.l1_loss(fake, tgt)
            loss_g = cfg.lambda_l1 * l1
            g_gan = torch.zeros((), device=device)
            if D is not None:
                D.requires_grad_(False)
                pred = D(src, fake)
                g_gan = F.mse_loss(pred, torch.ones_like(pred))
                loss_g = loss_g + cfg.gan_weight * g_gan
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            d_loss = torch.zeros((), device=device)
            if D is not None:
                D.requires_grad_(True)
                real_out, fake_out = D(src, tgt), D(src, fake.detach())
                d_loss = 0.5 * (F.mse_loss(real_out, torch.ones_like(real_out)) + F.mse_loss(fake_out, torch.zeros_like(fake_out)))
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            acc["l1"] += float(l1.detach())
            acc["g_gan"] += float(g_gan.detach())
            acc["d"] += float(d_loss.detach())
            n_acc += 1
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                row = {"step": step + 1, "seconds": round(time.perf_counter() - t0, 3), "lr": cfg.lr * f}
                row.update({k: v / n_acc for k, v in acc.items()})
                log.append(row)
                bar.set_postfix(l1=f"{row['l1']:.4f}", g=f"{row['g_gan']:.3f}", d=f"{row['d']:.3f}")
                acc = {k: 0.0 for k in acc}
                n_acc = 0
                if callback is not None:
                    callback(row, student)
            if not math.isfinite(float(loss_g.detach())):
                raise FloatingPointError(f"generator loss became {float(loss_g)} at step {step + 1}; lower --lr")
            if ckpt and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
                save_checkpoint(step + 1)
    finally:
        if stop is not None:
            stop.restore()
    bar.close()
    if ckpt and step + 1 >= cfg.steps:
        save_checkpoint(cfg.steps)
    if n_acc:  # a time budget ended the run between log steps
        log.append({"step": step, "seconds": round(time.perf_counter() - t0, 3), "lr": 0.0, **{k: v / n_acc for k, v in acc.items()}})
    G.eval()
    return log

