"""Layer-importance scorers: which layers matter for a new concept (higher = more important)."""

from __future__ import annotations

import torch

from e2gan.adapt import full_finetune_deltas, layer_gradients


class WeightDeltaScorer:
    """A brief full fine-tune on the new concept; score = ||W' - W|| / ||W||."""

    def __init__(self, steps: int = 40, lr: float = 5e-4):
        self.steps, self.lr = steps, lr

    def score(self, student, pairs, layers, seed: int = 0) -> dict[str, float]:
        deltas = full_finetune_deltas(student, pairs, layers, self.steps, seed, self.lr)
        gen = student.generator
        return {n: float(d.norm() / gen.get_submodule(n).weight.detach().norm().clamp_min(1e-12)) for n, d in deltas.items()}


class FisherScorer:
    """Empirical Fisher: mean squared gradient of the loss per weight, averaged over the layer."""

    def __init__(self, batches: int = 4):
        self.batches = batches

    def score(self, student, pairs, layers, seed: int = 0) -> dict[str, float]:
        acc = {n: 0.0 for n in layers}
        for grads in layer_gradients(student, pairs, layers, self.batches, seed=seed):
            for n, g in grads.items():
                acc[n] += float(g.pow(2).mean()) / self.batches
        return acc


class TaylorScorer:
    """First-order Taylor importance: sum |w * g| (the loss change if the layer were removed)."""

    def __init__(self, batches: int = 4):
        self.batches = batches

    def score(self, student, pairs, layers, seed: int = 0) -> dict[str, float]:
        gen = student.generator
        acc = {n: 0.0 for n in layers}
        for grads in layer_gradients(student, pairs, layers, self.batches, seed=seed):
            for n, g in grads.items():
                acc[n] += float((gen.get_submodule(n).weight.detach() * g).abs().sum()) / self.batches
        return acc


class RandomScorer:
    """A baseline: uniform random scores (deterministic with the seed)."""

    def score(self, student, pairs, layers, seed: int = 0) -> dict[str, float]:
        g = torch.Generator().manual_seed(seed)
        return {n: float(v) for n, v in zip(layers, torch.rand(len(layers), generator=g))}
