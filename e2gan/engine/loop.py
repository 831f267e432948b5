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

from e2gan.config import TrainConfig  # noqa: F401  (re-exported: e2gan.engine.loop.TrainConfig)
from e2gan.data.images import u8_to_unit
from e2gan.engine import checkpoint
from e2gan.inference import pick_device  # noqa: F401  (re-exported: e2gan.engine.pick_device)
from e2gan.lora import base_model
from e2gan.registry import create_discriminator

#: the discriminator of backbones that name none (pix2pix's, at half its width: these generators are small)
DEFAULT_DISCRIMINATOR = ("patchgan", {"ndf": 32, "n_layers": 3})


def discriminator_for(G, cfg: TrainConfig) -> tuple[str, dict]:
    """``cfg``'s discriminator, else the one the backbone declares (``default_discriminator``), else PatchGAN."""
    base = base_model(G)
    name, settings = getattr(base, "default_discriminator", DEFAULT_DISCRIMINATOR)
    if cfg.discriminator is not None and cfg.discriminator != name:
        name, settings = cfg.discriminator, (DEFAULT_DISCRIMINATOR[1] if cfg.discriminator == "patchgan" else {})
    return name, dict(settings if cfg.disc_config is None else cfg.disc_config)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    start = int(cfg.steps * cfg.decay_start)
    if step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(1, cfg.steps - start))


class Interrupted(Exception):
    """SIGINT or SIGTERM during training: a checkpoint was written (when the run has an output folder)."""


def train(student, pairs, cfg: TrainConfig, progress: bool = True, desc: str = "train", callback=None,
          out=None, resume: bool = True) -> list[dict]:
    """Train ``student.generator`` in place; returns the loss log (one dict per log step) on every process.

    ``pairs`` is a ``PairTensors`` (in memory) or an ``e2gan.engine.batches.FolderPairs`` (streamed through a
    DataLoader's workers). Under ``accelerate launch`` each process trains on its share of every global batch
    (DDP); logging, checkpoints and the callback run on the main process only.
    ``callback(row, student)`` runs at each log step, e.g. to measure held-out quality during training (returning True
    stops the run there: early stopping);
    it must leave the generator in train mode, and its time counts in later rows' ``seconds``.
    With ``out`` and ``cfg.checkpoint_every``, checkpoints go to ``out/checkpoints`` (and on SIGINT/SIGTERM),
    and a run finds the latest valid one there and continues exactly where it stopped (``resume=False``: start over)."""
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(student, pairs, cfg, progress, desc, callback, out, resume)
    finally:  # a library call leaves the caller's thread count as it found it
        torch.set_num_threads(threads_before)


#: TrainConfig fields that do not change the weights a run ends with (where it runs, how it reports): a resume may differ in them
_NOT_IDENTITY = {"device", "threads", "log_every", "checkpoint_every", "keep_checkpoints", "workers"}


def run_identity(student, source, cfg: TrainConfig) -> dict:
    """What decides the weights a run ends with: its data, prompts, model and every training setting that matters.
    A checkpoint records it, and a resume with another identity is refused (naming what differs)."""
    import dataclasses

    return {"data": source.fingerprint(), "prompts": sorted(set(source.prompts)), "backbone": student.backbone,
            "model": student.config_dict()["config"], "text_encoder": student.config_dict()["text_encoder"],
            "base": student.meta.get("base_fingerprint"), "lora": student.meta.get("lora"),
            "train": {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_IDENTITY}}


def identity_changes(old: dict, new: dict) -> list[str]:
    """What differs between two run identities, readably (long values cut)."""
    def short(v) -> str:
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."

    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key in ("train", "model"):
            changes += [f"{k} ({short(a.get(k))} -> {short(b.get(k))})" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif key == "data":
            changes.append("the training pairs")
        else:
            changes.append(f"{key} ({short(a)} -> {short(b)})")
    return changes


def _train(student, pairs, cfg: TrainConfig, progress, desc, callback, out, resume) -> list[dict]:
    from e2gan.engine.batches import BatchPlan, as_source, micro_batches
    from e2gan.engine.distributed import Consensus, make_accelerator

    if cfg.grad_accum < 1:
        raise ValueError(f"--grad-accum must be at least 1, not {cfg.grad_accum}")
    accel = make_accelerator(cfg)
    device, main, world, rank = accel.device, accel.is_main_process, accel.num_processes, accel.process_index
    torch.manual_seed(cfg.seed)
    G = student.generator.to(device).train()
    opt_g, D, opt_d = _optimisers(G, cfg, device)
    source = as_source(pairs)
    plan = BatchPlan(len(source), cfg.batch_size, world, cfg.grad_accum, cfg.crop, cfg.flip, cfg.seed)
    prompt_list = sorted(set(source.prompts))
    embeds, mask = student.embed(prompt_list, device)
    learned = embeds is not None and embeds.requires_grad  # a prompt embedding that trains (e2gan.prompts): embedded every step
    ckpt = out is not None and bool(cfg.checkpoint_every)
    identity = run_identity(student, source, cfg) if ckpt else None
    state = _resume(accel, out, ckpt, resume, identity, plan, (G, D, opt_g, opt_d), cfg, desc)
    log, acc, n_acc, start = state["log"], state["acc"], state["n_acc"], state["step"]
    t0 = time.perf_counter() - state["elapsed"]
    if device.type == "cuda" and not source.streams:
        source = source.to(device)  # a small in-memory set lives on the GPU
    G_run, opt_g = accel.prepare(G, opt_g)
    D_run = None
    if D is not None:
        D_run, opt_d = accel.prepare(D, opt_d)
    batches = micro_batches(source, plan, rank, start, cfg.steps, cfg.workers, pin=device.type == "cuda")
    stats = {"world_size": world, "global_batch": plan.global_batch}
    if main and world > 1:
        print(f"[{desc}] {world} processes, global batch {plan.global_batch} ({cfg.batch_size} x {world} x {cfg.grad_accum})", flush=True)

    def save_checkpoint(done: int):
        if main:
            extra = {"log": log, "acc": acc, "n_acc": n_acc, "elapsed": time.perf_counter() - t0, "total_steps": cfg.steps,
                     "data_position": {"step": done, "seed": cfg.seed, "pairs": plan.n}, "identity": identity, **stats}
            checkpoint.save(out, done, G, D, opt_g, opt_d, extra, cfg.keep_checkpoints)
        accel.wait_for_everyone()

    def mean_losses() -> dict:
        """This log row's mean losses, averaged over the processes (every process takes part)."""
        means = accel.reduce(torch.tensor([acc[k] / n_acc for k in acc], device=device), "mean").tolist()
        return dict(zip(acc, means))

    consensus = Consensus(accel, watch_signals=ckpt)
    bar = tqdm(range(start, cfg.steps), desc=desc, unit="step", disable=not (progress and main), dynamic_ncols=True, initial=start,
               total=cfg.steps)
    shown = ("l1", "g_gan", "d") if D is not None else ("l1",)  # no GAN loss: only what is trained is shown
    step = start
    try:
        for step in bar:
            signal_seen, elapsed = consensus.poll(time.perf_counter() - t0)
            if signal_seen:
                save_checkpoint(step)
                raise Interrupted(f"{desc}: stopped by signal {signal_seen} at step {step}; checkpoint written to {Path(out) / 'checkpoints'}; "
                                  "rerun the same command to resume")
            if cfg.max_seconds and elapsed >= cfg.max_seconds:
                break
            f = _set_lr((opt_g, opt_d), cfg, step, elapsed)
            if learned:
                embeds, mask = student.embed(prompt_list, device)
            losses = _step(accel, G_run, D_run, D, opt_g, opt_d, batches, embeds, mask, cfg, device, step)
            for k in acc:
                acc[k] += losses[k]
            n_acc += 1
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                row = {"step": step + 1, "seconds": round(time.perf_counter() - t0, 3), "lr": cfg.lr * f, **mean_losses(), **stats}
                log.append(row)
                bar.set_postfix({k: f"{row[k]:.4f}" for k in shown})
                acc = {k: 0.0 for k in acc}
                n_acc = 0
                if callback is not None and main and callback(row, student):  # a callback that returns True stops the run (early stopping)
                    break
            if not math.isfinite(losses["g"]):
                raise FloatingPointError(f"generator loss became {losses['g']} at step {step + 1}; lower --lr")
            if ckpt and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
                save_checkpoint(step + 1)
    finally:
        consensus.restore()
        del batches  # stops the DataLoader's workers
    bar.close()
    if ckpt and step + 1 >= cfg.steps:
        save_checkpoint(cfg.steps)
    if n_acc:  # a time budget ended the run between log steps
        log.append({"step": step, "seconds": round(time.perf_counter() - t0, 3), "lr": 0.0, **mean_losses(), **stats})
    accel.unwrap_model(G_run, keep_fp32_wrapper=False)  # undo accelerate's mixed-precision forward wrapper
    if D_run is not None:
        accel.unwrap_model(D_run, keep_fp32_wrapper=False)
    G.eval()
    student.meta.update(stats)
    return log


def _optimisers(G, cfg: TrainConfig, device):
    """Adam over the generator's trainable parameters, and the discriminator with its own Adam when the GAN loss is on."""
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter of the generator is frozen")
    opt_g = torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    D = opt_d = None
    if cfg.gan_weight > 0:
        name, settings = discriminator_for(G, cfg)
        D = create_discriminator(name, **settings).to(device).train()
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    return opt_g, D, opt_d


def _resume(accel, out, ckpt: bool, resume: bool, identity, plan, models, cfg: TrainConfig, desc: str) -> dict:
    """The state a run starts from: the latest valid checkpoint in ``out`` (its identity checked), or step 0."""
    state = {"step": 0, "log": [], "acc": {"l1": 0.0, "g_gan": 0.0, "d": 0.0}, "n_acc": 0, "elapsed": 0.0}
    if ckpt and not resume and accel.is_main_process:
        checkpoint.clear(out)
    accel.wait_for_everyone()
    found = checkpoint.latest(out, *models) if ckpt else None
    if not found:
        return state
    path, saved = found
    if saved.get("global_batch", plan.global_batch) != plan.global_batch:
        raise ValueError(f"{path} was written with a global batch of {saved['global_batch']} pairs, this run has "
                         f"{plan.global_batch} (batch size x processes x grad accum); resume with the same global batch, "
                         "or pass --no-resume to start over")
    if saved.get("identity") is not None and saved["identity"] != identity:
        changes = identity_changes(saved["identity"], identity)
        raise ValueError(f"{path} belongs to another run: {'; '.join(changes[:6])}{' ...' if len(changes) > 6 else ''} differ. Rerun with "
                         "the settings it was started with to resume it, or pass --no-resume to start over (its checkpoints are deleted)")
    if accel.is_main_process:
        print(f"[{desc}] resuming from {path} (step {saved['step']} of {cfg.steps}; --no-resume starts over)", flush=True)
    return {**state, **{k: saved[k] for k in ("step", "log", "acc", "n_acc", "elapsed")}}


def _set_lr(optimisers, cfg: TrainConfig, step: int, elapsed: float) -> float:
    """The schedule's factor at ``step`` (or at the clock's share of ``max_seconds``), applied to every optimiser."""
    f = lr_factor(step, cfg)
    if cfg.max_seconds:
        f = min(f, lr_factor(int(cfg.steps * elapsed / cfg.max_seconds), cfg))
    for opt in optimisers:
        if opt is not None:
            for group in opt.param_groups:
                group["lr"] = cfg.lr * f
    return f


def _step(accel, G, D, D_plain, opt_g, opt_d, batches, embeds, mask, cfg, device, step: int = 0) -> dict:
    """One optimiser step over ``cfg.grad_accum`` micro-batches; returns this process's mean losses.

    Every micro-batch's G loss sees the discriminator before this step's update, and D's loss sees G's
    outputs before G's update, so accumulating k micro-batches of b pairs is the same step as one batch of
    k*b pairs. The adversarial term for G goes through the unwrapped D (its weights are frozen there), so
    DDP reduces D's gradients only in D's own backward."""
    import contextlib

    k = cfg.grad_accum
    out = {"l1": 0.0, "g_gan": 0.0, "d": 0.0, "g": 0.0}
    nonsat = getattr(D_plain, "gan_loss", "lsgan") == "nonsaturating"  # StyleGAN2-style D: softplus losses, lazy R1
    r1_every = int(getattr(D_plain, "r1_every", 0) or 0)
    r1 = nonsat and float(getattr(D_plain, "r1_gamma", 0.0)) > 0 and r1_every > 0 and step % r1_every == 0
    for micro in range(k):
        src, tgt, pid = next(batches)
        src, tgt = u8_to_unit(src.to(device, non_blocking=True)), u8_to_unit(tgt.to(device, non_blocking=True))
        pid = pid.to(device)
        e = None if embeds is None else embeds[pid]
        m = None if mask is None else mask[pid]
        last = micro == k - 1
        with contextlib.ExitStack() as sync:
            if not last:  # reduce gradients across processes once, at the last micro-batch
                sync.enter_context(accel.no_sync(G))
                if D is not None:
                    sync.enter_context(accel.no_sync(D))
            with accel.autocast():
                fake = G(src, e, m)
                l1 = F.l1_loss(fake.float(), tgt)
                loss_g = cfg.lambda_l1 * l1
                g_gan = torch.zeros((), device=device)
                if D is not None:
                    D_plain.requires_grad_(False)
                    pred = D_plain(src, fake).float()
                    g_gan = F.softplus(-pred).mean() if nonsat else F.mse_loss(pred, torch.ones_like(pred))
                    loss_g = loss_g + cfg.gan_weight * g_gan
            accel.backward(loss_g / k)
            d_loss = torch.zeros((), device=device)
            if D is not None:
                D_plain.requires_grad_(True)
                real = tgt.detach().requires_grad_(r1)
                with accel.autocast():
                    real_out, fake_out = D(src, real).float(), D(src, fake.detach()).float()
                    if nonsat:
                        d_loss = F.softplus(fake_out).mean() + F.softplus(-real_out).mean()
                    else:
                        d_loss = 0.5 * (F.mse_loss(real_out, torch.ones_like(real_out)) + F.mse_loss(fake_out, torch.zeros_like(fake_out)))
                if r1:  # R1: the gradient norm on real images, every r1_every steps, scaled by r1_every (lazy regularisation)
                    grad, = torch.autograd.grad(real_out.sum(), real, create_graph=True)
                    d_loss = d_loss + D_plain.r1_gamma / 2 * grad.square().sum([1, 2, 3]).mean() * r1_every
                accel.backward(d_loss / k)
        out["l1"] += float(l1.detach()) / k
        out["g_gan"] += float(g_gan.detach()) / k
        out["d"] += float(d_loss.detach()) / k
        out["g"] += float(loss_g.detach()) / k
    opt_g.step()
    opt_g.zero_grad(set_to_none=True)
    if D is not None:
        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
    return out
