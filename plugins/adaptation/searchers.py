"""LoRA rank-search strategies. Each returns a peft ``rank_pattern`` ({layer: rank}) whose cost is
within ``ctx.budget`` (trainable weights) when a budget is given."""

from __future__ import annotations

import torch


def _fit_uniform(ctx, rank_max: int = 64) -> int:
    """The largest uniform rank within the budget (at least 1)."""
    r = 1
    while r < rank_max and (ctx.budget is None or ctx.cost({n: r + 1 for n in ctx.layers}) <= ctx.budget):
        r += 1
    return r


class UniformSearcher:
    """One rank everywhere: the paper's "1x" (rank=1) and "4x" (rank=4); ``rank=None`` fits the budget."""

    def __init__(self, rank: int | None = None):
        self.rank = rank

    def search(self, ctx) -> dict[str, int]:
        r = self.rank if self.rank is not None else _fit_uniform(ctx)
        return {n: r for n in ctx.layers}


class RandomSearcher:
    """Random ranks (1..max_rank) drawn until the budget is used: the paper's "random" ablation."""

    def __init__(self, max_rank: int = 8, draw: int = 0):
        self.max_rank, self.draw = max_rank, draw  # draw: an independent random draw per value (random:draw=3)

    def search(self, ctx) -> dict[str, int]:
        g = torch.Generator().manual_seed(ctx.seed * 1000 + self.draw)
        ranks = {n: 1 for n in ctx.layers}
        order = torch.randperm(len(ctx.layers) * self.max_rank, generator=g).tolist()
        for i in order:
            n = ctx.layers[i % len(ctx.layers)]
            if ranks[n] >= self.max_rank:
                continue
            trial = {**ranks, n: ranks[n] + 1}
            if ctx.budget is None or ctx.cost(trial) <= ctx.budget:
                ranks = trial
        return ranks


class SVDEnergySearcher:
    """Ranks from the singular values of a brief full fine-tune's weight change: each layer gets
    the rank that keeps ``energy`` of its delta's spectrum, then all ranks shrink to the budget."""

    def __init__(self, energy: float = 0.9, max_rank: int = 16):
        self.energy, self.max_rank = energy, max_rank

    def search(self, ctx) -> dict[str, int]:
        ranks = {}
        for n, d in ctx.deltas().items():
            s = torch.linalg.svdvals(d.flatten(1).float())
            cum = (s**2).cumsum(0) / (s**2).sum().clamp_min(1e-20)
            ranks[n] = int(min(self.max_rank, int((cum < self.energy).sum()) + 1))
        while ctx.budget is not None and ctx.cost(ranks) > ctx.budget and max(ranks.values()) > 1:
            top = max(ranks, key=lambda k: (ranks[k], k))
            ranks[top] -= 1
        return ranks


class GreedySearcher:
    """Greedy under a budget by importance per weight: repeatedly raise the rank of the layer whose
    fine-tune delta has the most unexplained spectral energy per added LoRA weight."""

    def __init__(self, max_rank: int = 16):
        self.max_rank = max_rank

    def search(self, ctx) -> dict[str, int]:
        spectra = {n: torch.linalg.svdvals(d.flatten(1).float()) ** 2 for n, d in ctx.deltas().items()}
        ranks = {n: 1 for n in ctx.layers}
        while True:
            best, gain = None, 0.0
            for n, s in spectra.items():
                r = ranks[n]
                if r >= min(self.max_rank, len(s)):
                    continue
                trial = {**ranks, n: r + 1}
                if ctx.budget is not None and ctx.cost(trial) > ctx.budget:
                    continue
                g = float(s[r] / s.sum().clamp_min(1e-20)) / (ctx.cost({n: 1}))
                if g > gain:
                    best, gain = n, g
            if best is None:
                return ranks
            ranks[best] += 1


class SimpleSearcher:
    """e2gan's version of the paper's unpublished "simple yet effective" rank search.

    Start from rank ``start`` everywhere; split the layers into groups (down-sampling, DS/US,
    transformer, up-sampling/head); in each round try doubling the rank of each group with a short
    LoRA trial (``ctx.trial``: validation PSNR after a few steps) and keep the single best doubling if
    it gains at least ``min_gain`` dB and fits the budget; stop when no doubling pays. Groups (not
    single layers) keep the number of trials small: at most rounds x groups trials."""

    GROUPS = {"down": ("stem", "down"), "ds-us": ("ds", "us"), "transformer": ("transformer",), "up": ("up", "film", "head")}

    def __init__(self, start: int = 1, min_gain: float = 0.1, rounds: int = 3, max_rank: int = 16):
        self.start, self.min_gain, self.rounds, self.max_rank = start, min_gain, rounds, max_rank

    def groups(self, layers):
        out = {}
        for n in layers:
            g = next((k for k, prefixes in self.GROUPS.items() if n.split(".")[0].rstrip("0123456789") in prefixes), "other")
            out.setdefault(g, []).append(n)
        return out

    def search(self, ctx) -> dict[str, int]:
        ranks = {n: self.start for n in ctx.layers}
        best = ctx.trial(ranks)
        groups = self.groups(ctx.layers)
        for _ in range(self.rounds):
            options = []
            for g, names in groups.items():
                trial = {**ranks, **{n: min(self.max_rank, ranks[n] * 2) for n in names}}
                if trial == ranks or (ctx.budget is not None and ctx.cost(trial) > ctx.budget):
                    continue
                options.append((ctx.trial(trial), g, trial))
            if not options:
                break
            score, _, trial = max(options, key=lambda o: o[0])
            if score - best < self.min_gain:
                break
            ranks, best = trial, score
        return ranks
