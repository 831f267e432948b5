"""Shared fixtures: offline Hub, tiny data sets built with the classic teacher, throwaway plugins."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from e2gan.testing import tiny_images  # noqa: E402

torch.set_num_threads(2)


def photo(seed: int, size: int = 48) -> Image.Image:
    """A smooth synthetic photo (gradients + shapes) so edits have structure to act on."""
    return tiny_images(1, size, seed)[0]


def assert_picture(path, size=None, min_colours: int = 16):
    """A PNG that shows something: readable, of ``size`` (w, h) if given, not blank (many colours, >2%
    of pixels away from the background). Replaces "the file is over 1000 bytes"."""
    img = Image.open(path)
    img.load()
    if size is not None:
        assert img.size == tuple(size), f"{path}: {img.size}, expected {tuple(size)}"
    arr = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(arr, axis=0)) >= min_colours, f"{path}: only {len(np.unique(arr, axis=0))} colours"
    background = np.median(arr, axis=0)
    assert (np.abs(arr - background).sum(1) > 30).mean() > 0.02, f"{path} is nearly blank"
    return img


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
