"""Deciding a claim from paired differences: a bootstrap confidence interval and a rule fixed in advance.

The unit that is resampled is the independent one: a concept, not a (concept, seed) pair (a seed only changes the
batch order and LoRA's initialisation, so the seeds of one concept are not independent), and a photo, not one of
its crops. Give each difference its ``clusters`` label: the differences of one cluster are averaged first, and the
clusters are resampled.

The rule (stated in benchmarks/RESULTS.md before any number): a claim "the mean paired difference is at
least ``threshold``" **holds** when the 95% interval's lower end is >= threshold, **fails** when its
upper end is < threshold, and is **inconclusive** otherwise (the gap is inside the noise)."""

from __future__ import annotations

import numpy as np

RULE = ("a claim 'mean paired difference >= threshold' holds when the 95% bootstrap interval's lower end is >= threshold, "
        "fails when its upper end is < threshold, and is inconclusive otherwise; a claim 'better than' (strict) needs the lower end "
        "above the threshold, and fails when the upper end is at or below it")


def cluster_means(diffs, clusters=None) -> np.ndarray:
    """``diffs`` averaged within each cluster (in order of first appearance); unchanged without ``clusters``."""
    d = np.asarray(list(diffs), dtype=np.float64)
    if clusters is None:
        return d
    clusters = list(clusters)
    if len(clusters) != d.size:
        raise ValueError(f"{len(clusters)} cluster labels for {d.size} differences")
    groups: dict = {}
    for label, value in zip(clusters, d):
        groups.setdefault(label, []).append(value)
    return np.asarray([np.mean(v) for v in groups.values()], dtype=np.float64)


def bootstrap_ci(diffs, level: float = 0.95, n: int = 10_000, seed: int = 0, clusters=None) -> tuple[float, float, float]:
    """(mean, low, high) of the mean of ``diffs``, by resampling the units with replacement: the differences
    themselves, or, with ``clusters`` (one label per difference), the clusters' means."""
    d = cluster_means(diffs, clusters)
    if d.size == 0:
        raise ValueError("no paired differences to summarise")
    if d.size == 1:
        return float(d[0]), float("-inf"), float("inf")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, (n, d.size))].mean(1)
    alpha = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def verdict(low: float, high: float, threshold: float = 0.0, strict: bool = False) -> str:
    """'holds', 'fails' or 'inconclusive' for the claim 'mean >= threshold' ('mean > threshold' if ``strict``; see :data:`RULE`)."""
    if low > threshold or (not strict and low >= threshold):
        return "holds"
    if high < threshold or (strict and high <= threshold):
        return "fails"
    return "inconclusive"


def summarise(diffs, threshold: float = 0.0, strict: bool = False, clusters=None, **kw) -> dict:
    """Mean, interval and verdict of ``diffs``; ``n`` counts the resampled units (the clusters, when given, and
    ``pairs`` the differences behind them)."""
    diffs = list(diffs)
    mean, low, high = bootstrap_ci(diffs, clusters=clusters, **kw)
    out = {"n": len(diffs) if clusters is None else len(set(clusters)), "mean": mean, "low": low, "high": high, "threshold": threshold,
           "strict": strict, "verdict": verdict(low, high, threshold, strict)}
    if clusters is not None:
        out["pairs"] = len(diffs)
    return out


def units_needed(diffs, clusters=None, threshold: float = 0.0, level: float = 0.95) -> int | None:
    """Roughly how many units (concepts, with their seeds) would make an interval as wide as the observed mean's gap
    to ``threshold`` (normal approximation; None when the gap is zero or there is no spread)."""
    d = cluster_means(diffs, clusters)
    if d.size < 2:
        return None
    gap, sd = abs(float(d.mean()) - threshold), float(d.std(ddof=1))
    if gap == 0 or sd == 0:
        return None
    z = 1.959963984540054 if level == 0.95 else float(__import__("statistics").NormalDist().inv_cdf(0.5 + level / 2))
    return int(np.ceil((z * sd / gap) ** 2))
