"""Training-subset selectors: which ``count`` of the N pairs to train on."""

from __future__ import annotations

import torch


class AllSelector:
    needs_features = False

    def select(self, features, count, seed: int = 0) -> list[int]:
        return list(range(len(features)))


class RandomSelector:
    needs_features = False  # skip computing image features it would ignore

    def __init__(self, draw: int = 0):
        self.draw = draw  # an independent random subset per value (random:draw=3)

    def select(self, features, count, seed: int = 0) -> list[int]:
        g = torch.Generator().manual_seed(seed * 1000 + self.draw)
        return sorted(torch.randperm(len(features), generator=g)[:count].tolist())


class KMeansSelector:
    """k-means (k = count) on the features; keep the sample nearest each centroid (the paper's
    minimal-data step: representative, not redundant)."""

    def __init__(self, iters: int = 50):
        self.iters = iters

    def select(self, features, count, seed: int = 0) -> list[int]:
        x = torch.as_tensor(features, dtype=torch.float64)
        x = (x - x.mean(0)) / x.std(0).clamp_min(1e-8)
        n = len(x)
        count = min(count, n)
        g = torch.Generator().manual_seed(seed)
        # k-means++ initialisation
        centres = [int(torch.randint(0, n, (1,), generator=g))]
        d2 = ((x - x[centres[0]]) ** 2).sum(1)
        for _ in range(1, count):
            probs = d2 / d2.sum() if d2.sum() > 0 else torch.full((n,), 1.0 / n, dtype=torch.float64)
            c = int(torch.multinomial(probs, 1, generator=g))
            centres.append(c)
            d2 = torch.minimum(d2, ((x - x[c]) ** 2).sum(1))
        c = x[centres].clone()
        for _ in range(self.iters):
            assign = torch.cdist(x, c).argmin(1)
            new = torch.stack([x[assign == k].mean(0) if (assign == k).any() else c[k] for k in range(count)])
            if torch.allclose(new, c):
                break
            c = new
        dist = torch.cdist(c, x)
        chosen: list[int] = []
        for k in range(count):  # nearest unused sample to each centroid
            for i in dist[k].argsort().tolist():
                if i not in chosen:
                    chosen.append(i)
                    break
        return sorted(chosen)
