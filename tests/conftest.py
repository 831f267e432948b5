"""Shared fixtures: offline Hub, tiny data sets built with the classic teacher, throwaway plugins."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from e2gan.testing.tiny import photo  # noqa: E402

torch.set_num_threads(int(os.environ.get("E2GAN_TEST_THREADS", "2")))  # make test-numerics runs the numerics tests at 1


@pytest.fixture
def photos():
    return [(f"p{i}", photo(i)) for i in range(6)]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """32 px pairs for two concepts, train and test splits."""
    from e2gan.teach import teach

    root = tmp_path_factory.mktemp("data")
    teach("classic", ["sepia", "cartoon"], [(f"p{i}", photo(i, 64)) for i in range(8)], root, size=32, split="train", progress=False)
    teach("classic", ["sepia", "cartoon"], [(f"t{i}", photo(100 + i, 64)) for i in range(4)], root, size=32, split="test", progress=False)
    return root

# register_plugin: a throwaway plugin for one test (the same fixture plugin authors use)
pytest_plugins = ["e2gan.testing.fixtures"]
