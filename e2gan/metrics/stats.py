"""Deciding a claim from paired differences: a bootstrap confidence interval and a rule fixed in advance.

The rule (stated in benchmarks/RESULTS.md before any number): a claim "the mean paired difference is at
least ``threshold``" **holds** when the 95% interval's lower end is >= threshold, **fails** when its
upper end is < threshold, and is **inconclusive** otherwise (the gap is inside the noise)."""

from __future__ import annotations

import numpy as np

RULE = ("a claim 'mean paired difference >= threshold' holds when the 95% bootstrap interval's lower end is >= threshold, "
        "fails when its upper end is < threshold, and is inconclusive otherwise; a claim 'better than' (strict) needs the lower end "
        "above the threshold, and fails when the upper end is at or below it")


def bootstrap_ci(diffs, level: float = 0.95, n: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the mean of ``diffs``, by resampling the units (concepts, or concept x seed) with replacement."""
    d = np.asarray(list(diffs), dtype=np.float64)
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


def summarise(diffs, threshold: float = 0.0, strict: bool = False, **kw) -> dict:
    diffs = list(diffs)
    mean, low, high = bootstrap_ci(diffs, **kw)
    return {"n": len(diffs), "mean": mean, "low": low, "high": high, "threshold": threshold, "strict": strict,
            "verdict": verdict(low, high, threshold, strict)}
