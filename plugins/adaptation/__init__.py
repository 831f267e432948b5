"""Adaptation plugins: importance scorers, rank-search strategies, data selectors."""

from e2gan.hookspecs import hookimpl

from .scorers import FisherScorer, RandomScorer, TaylorScorer, WeightDeltaScorer
from .searchers import (
    GreedySearcher,
    RandomSearcher,
    SimpleSearcher,
    SVDEnergySearcher,
    UniformSearcher,
)
from .selectors import AllSelector, KMeansSelector, RandomSelector


@hookimpl
def register_importance_scorers(register):
    register("weight-delta", WeightDeltaScorer, description="||W'-W||/||W|| after a brief full fine-tune")
    register("fisher", FisherScorer, description="mean squared gradient (empirical Fisher)")
    register("taylor", TaylorScorer, description="sum |w * g|")
    register("random", RandomScorer, description="baseline")


@hookimpl
def register_rank_searchers(register):
    register("simple", SimpleSearcher, description="double the rank of the layer group a short trial favours most, until gains stop")
    register("uniform", UniformSearcher, description="one rank everywhere (rank=1: '1x', rank=4: '4x')")
    register("random", RandomSearcher, description="random ranks at the same budget")
    register("svd-energy", SVDEnergySearcher, description="ranks keeping 90% of a fine-tune delta's spectral energy")
    register("greedy", GreedySearcher, description="greedy spectral gain per weight under a budget")


@hookimpl
def register_data_selectors(register):
    register("kmeans", KMeansSelector, description="samples nearest k-means centroids of image features")
    register("random", RandomSelector, description="a random subset")
    register("all", AllSelector, description="every sample")
