"""Where LoRA goes and how big it is: layer selection modes, weight budgets, and what a rank searcher may use
(short trial runs, a brief full fine-tune's weight deltas, per-layer gradients)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from e2gan.config import LORA_LR, TrainConfig, lora_train_config
from e2gan.data.dataset import PairTensors
from e2gan.data.images import u8_to_unit
from e2gan.engine import train
from e2gan.lora import add_lora, lora_candidates, lora_params, paper_targets
from e2gan.metrics.quality import psnr

LAYER_MODES = ("paper", "all", "top-k", "cumulative")


def select_layers(scores: dict[str, float], mode="paper", k: int = 8, threshold: float = 0.8, model=None) -> list[str]:
    """'paper' (the backbone's declared preset), 'all' (every LoRA-able layer), 'top-k' (k best scores), 'cumulative' (smallest set
    reaching ``threshold`` of the total score), or an explicit list of module names."""
    if not isinstance(mode, str):
        names = list(mode)
        known = set(lora_candidates(model))
        bad = [n for n in names if n not in known]
        if bad:
            raise ValueError(f"no LoRA-able layer named {bad[0]!r}; candidates: {', '.join(sorted(known))}")
        return names
    if mode == "paper":
        return paper_targets(model)
    if mode == "all":
        return lora_candidates(model)
    ranked = sorted(scores, key=scores.get, reverse=True)
    if mode == "top-k":
        return ranked[:k]
    if mode == "cumulative":
        total = sum(max(0.0, v) for v in scores.values()) or 1.0
        out, acc = [], 0.0
        for name in ranked:
            out.append(name)
            acc += max(0.0, scores[name]) / total
            if acc >= threshold:
                break
        return out
    raise ValueError(f"layer selection {mode!r}: use 'paper', 'top-k' or 'cumulative'")


def budget_of(model, layers: list[str], rank: int) -> int:
    return sum(lora_params(model, n, rank) for n in layers)


@dataclass
class SearchContext:
    """What a rank searcher may use: the frozen base, candidate layers, a parameter budget, a cost
    function, a trial (short LoRA training -> validation PSNR) and a cached short full fine-tune."""

    student: object
    layers: list[str]
    budget: int | None
    pairs: PairTensors
    val: PairTensors
    trial_steps: int = 60
    seed: int = 0
    lr: float = LORA_LR  # the pipeline passes the run's own
    trials: list = field(default_factory=list)
    _deltas: dict | None = None

    def cost(self, ranks: dict[str, int]) -> int:
        return sum(lora_params(self.student.generator, n, r) for n, r in ranks.items() if r > 0)

    def trial(self, ranks: dict[str, int]) -> float:
        """Validation PSNR after a short LoRA run with these ranks (recorded in ``trials``)."""
        t0 = time.perf_counter()
        s = copy.deepcopy(self.student)
        live = {n: r for n, r in ranks.items() if r > 0}
        torch.manual_seed(self.seed)  # the trial's LoRA initialisation follows its seed, as finetune's does
        add_lora(s, list(live), live)
        train(s, self.pairs, lora_train_config(steps=self.trial_steps, lr=self.lr, seed=self.seed, log_every=10**9), progress=False)
        score = float(psnr(s.predict(self.val.sources, self.val.prompts), self.val.targets).mean())
        self.trials.append({"ranks": dict(live), "psnr": score, "params": self.cost(live), "seconds": round(time.perf_counter() - t0, 2)})
        return score

    def deltas(self, steps: int = 40) -> dict[str, torch.Tensor]:
        """Weight change of each layer after a brief full fine-tune (cached)."""
        if self._deltas is None:
            self._deltas = full_finetune_deltas(self.student, self.pairs, self.layers, steps, self.seed, self.lr / 4)
        return self._deltas


def full_finetune_deltas(student, pairs, layers, steps=40, seed=0, lr=5e-4) -> dict[str, torch.Tensor]:
    s = copy.deepcopy(student)
    before = {n: s.generator.get_submodule(n).weight.detach().clone() for n in layers}
    s.generator.requires_grad_(True)
    train(s, pairs, TrainConfig(steps=steps, batch_size=8, lr=lr, gan_weight=0, seed=seed, log_every=10**9), progress=False)
    return {n: s.generator.get_submodule(n).weight.detach() - before[n] for n in layers}


def layer_gradients(student, pairs: PairTensors, layers: list[str], batches: int = 4, batch_size: int = 8, seed: int = 0):
    """Yield (layer -> weight gradient) of the L1 loss for a few batches (the base is not changed)."""
    gen = student.generator
    was = {n: p.requires_grad for n, p in gen.named_parameters()}
    mods = {n: gen.get_submodule(n) for n in layers}
    gen.requires_grad_(False)
    for m in mods.values():
        m.weight.requires_grad_(True)
    g = torch.Generator().manual_seed(seed)
    try:
        for _ in range(batches):
            idx = torch.randint(0, len(pairs), (batch_size,), generator=g)
            src, tgt = u8_to_unit(pairs.sources[idx]), u8_to_unit(pairs.targets[idx])
            gen.zero_grad(set_to_none=True)
            F.l1_loss(student(src, [pairs.prompts[i] for i in idx]), tgt).backward()
            yield {n: m.weight.grad.detach().clone() for n, m in mods.items()}
    finally:
        for n, p in gen.named_parameters():
            p.requires_grad_(was[n])
            p.grad = None


def split_validation(pairs: PairTensors, fraction: float = 0.15, seed: int = 0) -> tuple[PairTensors, PairTensors]:
    n = len(pairs)
    k = max(1, int(round(n * fraction)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return pairs.subset(perm[k:]), pairs.subset(perm[:k])
