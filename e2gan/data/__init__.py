"""Step 1's material: the paired data format, reading user photos, the shipped and fetched photos, crops, and
choosing which concepts a base trains on."""

from e2gan.data.dataset import PairedDataset, PairRecord, PairTensors, load_pairs

__all__ = ["PairRecord", "PairTensors", "PairedDataset", "load_pairs"]
