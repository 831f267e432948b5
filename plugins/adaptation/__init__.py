"""Adaptation plugins: importance scorers, rank-search strategies, data selectors (imported on first use)."""

from e2gan.hookspecs import hookimpl, lazy


def _part(module, attr):
    return lazy(f".{module}", attr, __package__)


@hookimpl
def register_importance_scorers(register):
    register("weight-delta", _part("scorers", "WeightDeltaScorer"), description="||W'-W||/||W|| after a brief full fine-tune")
    register("fisher", _part("scorers", "FisherScorer"), description="mean squared gradient (empirical Fisher)")
    register("taylor", _part("scorers", "TaylorScorer"), description="sum |w * g|")
    register("random", _part("scorers", "RandomScorer"), description="baseline")


@hookimpl
def register_rank_searchers(register):
    register("simple", _part("searchers", "SimpleSearcher"), description="double the rank of the layer group a short trial favours most, until gains stop")
    register("uniform", _part("searchers", "UniformSearcher"), description="one rank everywhere (rank=1: '1x', rank=4: '4x')")
    register("random", _part("searchers", "RandomSearcher"), description="random ranks at the same budget")
    register("svd-energy", _part("searchers", "SVDEnergySearcher"), description="ranks keeping 90% of a fine-tune delta's spectral energy")
    register("greedy", _part("searchers", "GreedySearcher"), description="greedy spectral gain per weight under a budget")


@hookimpl
def register_data_selectors(register):
    register("kmeans", _part("selectors", "KMeansSelector"), description="samples nearest k-means centroids of image features")
    register("random", _part("selectors", "RandomSelector"), description="a random subset")
    register("all", _part("selectors", "AllSelector"), description="every sample")
