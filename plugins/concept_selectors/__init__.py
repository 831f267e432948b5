"""Concept selectors: which of a teacher's concepts a base model trains on (the paper's
"representative concepts" against random ones and a single one)."""

from __future__ import annotations

import random

from e2gan.hookspecs import hookimpl


class RepresentativeSelector:
    """k-medoids over what each concept does to a fixed probe set: the base sees one concept from
    each cluster of edits, so a new concept is likely near one it learned."""

    needs_effects = True

    def __init__(self, iters: int = 100):
        self.iters = iters

    def select(self, pool, count, seed=0, effects=None):
        import torch

        count = min(count, len(pool))
        x = torch.as_tensor(effects(pool), dtype=torch.float64)
        x = (x - x.mean(0)) / x.std(0).clamp_min(1e-8)  # every probe pixel and statistic weighs the same
        return [pool[i] for i in k_medoids(x, count, seed, self.iters)]


def _rng(seed: int, draw: int) -> random.Random:
    """``draw`` 0 is the seed's own draw; other draws are independent ones (the ablation's 3 random bases)."""
    return random.Random(seed + 1_000_003 * draw)


class RandomConceptSelector:
    """``count`` concepts drawn uniformly from the pool; ``draw=N`` gives another independent draw for the same seed."""

    needs_effects = False

    def __init__(self, draw: int = 0):
        self.draw = int(draw)

    def select(self, pool, count, seed=0, effects=None):
        return sorted(_rng(seed, self.draw).sample(list(pool), min(count, len(pool))), key=list(pool).index)


class SingleConceptSelector:
    """One concept, whatever ``count`` says (the paper's single-concept base)."""

    needs_effects = False

    def __init__(self, prompt: str | None = None, draw: int = 0):
        self.prompt, self.draw = prompt, int(draw)

    def select(self, pool, count, seed=0, effects=None):
        if self.prompt is not None:
            if self.prompt not in pool:
                raise ValueError(f"single:prompt={self.prompt!r} is not in the pool of {len(pool)} concepts")
            return [self.prompt]
        return [_rng(seed, self.draw).choice(list(pool))]


def k_medoids(x, k: int, seed: int = 0, iters: int = 100) -> list[int]:
    """Indices of ``k`` medoids of the rows of tensor ``x`` (k-means++ seeding, then alternate assignment and medoid update)."""
    import torch

    n = len(x)
    d = torch.cdist(x, x)
    g = torch.Generator().manual_seed(seed)
    medoids = [int(torch.randint(0, n, (1,), generator=g))]
    near = d[medoids[0]].clone()
    for _ in range(1, k):
        p = near ** 2
        i = int(torch.multinomial(p / p.sum(), 1, generator=g)) if p.sum() > 0 else int(torch.randint(0, n, (1,), generator=g))
        medoids.append(i)
        near = torch.minimum(near, d[i])
    for _ in range(iters):
        assign = d[:, medoids].argmin(1)
        new = []
        for c in range(k):
            members = (assign == c).nonzero().flatten()
            if len(members) == 0:
                new.append(medoids[c])
                continue
            cost = d[members][:, members].sum(1)
            new.append(int(members[cost.argmin()]))
        if new == medoids:
            break
        medoids = new
    return sorted(set(medoids))


@hookimpl
def register_concept_selectors(register):
    register("representative", RepresentativeSelector, description="k-medoids over each concept's effect on a probe set")
    register("random", RandomConceptSelector, description="concepts drawn at random from the pool")
    register("single", SingleConceptSelector, description="one concept (prompt=... or a random one)")
