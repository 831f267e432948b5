"""Deciding a claim from paired differences: a bootstrap confidence interval and a rule fixed in advance.

The unit that is resampled is the independent one: a concept, not a (concept, seed) pair (a seed only changes the
batch order and LoRA's initialisation, so the seeds of one concept are not independent), and a photo, not one of
its crops. Give each difference its ``clusters`` label: the differences of one cluster are averaged first, and the
clusters are resampled.

The rule (stated in benchmarks/RESULTS.md before any number): a claim "the mean paired difference is at
least ``threshold``" **holds** when the 95% interval's lower end is >= threshold, **fails** when its
upper end is < threshold, and is **inconclusive at this power** otherwise (the gap is inside the noise). Over fewer
than ``MIN_UNITS`` (5) units no interval is given at all (a bootstrap over 2-4 values is the values themselves): the
verdict is then "inconclusive at this power", and it says so."""

from __future__ import annotations

import numpy as np

RULE = ("a claim 'mean paired difference >= threshold' holds when the 95% bootstrap interval's lower end is >= threshold, "
        "fails when its upper end is < threshold, and is inconclusive at this power otherwise; a claim 'better than' (strict) needs the "
        "lower end above the threshold, and fails when the upper end is at or below it; fewer than 5 units get no interval and "
        "are inconclusive at this power")
#: the fewest resampled units (concepts, photos) an interval is given over
MIN_UNITS = 5
INCONCLUSIVE = "inconclusive at this power"


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
    return INCONCLUSIVE


def summarise(diffs, threshold: float = 0.0, strict: bool = False, clusters=None, **kw) -> dict:
    """Mean, interval and verdict of ``diffs``; ``n`` counts the resampled units (the clusters, when given, and
    ``pairs`` the differences behind them)."""
    diffs = list(diffs)
    units = len(diffs) if clusters is None else len(set(clusters))
    if units < MIN_UNITS:  # no interval: say so instead of printing one
        mean = float(cluster_means(diffs, clusters).mean()) if diffs else float("nan")
        out = {"n": units, "mean": mean, "low": None, "high": None, "threshold": threshold, "strict": strict, "verdict": INCONCLUSIVE,
               "note": f"n={units}: fewer than {MIN_UNITS} units, no interval"}
        if clusters is not None:
            out["pairs"] = len(diffs)
        return out
    mean, low, high = bootstrap_ci(diffs, clusters=clusters, **kw)
    out = {"n": units, "mean": mean, "low": low, "high": high, "threshold": threshold,
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


def interval_text(summary: dict | None, unit: str = "dB") -> str:
    """``+1.23 dB [+0.50, +2.00] (n=20)``, or the mean with why there is no interval (``n=3: fewer than 5 units``)."""
    if not summary:
        return "n/a"
    if summary.get("low") is None:
        return f"{summary['mean']:+.2f} {unit} ({summary.get('note', 'no interval')})"
    return f"{summary['mean']:+.2f} {unit} [{summary['low']:+.2f}, {summary['high']:+.2f}] (n={summary['n']})"


def bracket(summary: dict, digits: int = 2) -> str:
    """``[+0.50, +2.00]`` for a table cell, or ``(no interval: n<5)`` where there were too few units for one."""
    if summary.get("low") is None:
        return f"(no interval: n<{MIN_UNITS})"
    return f"[{summary['low']:+.{digits}f}, {summary['high']:+.{digits}f}]"
