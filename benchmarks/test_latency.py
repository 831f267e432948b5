"""Latency per backbone at 256x256, batch 1, eager PyTorch and ONNX Runtime, with pytest-benchmark:

    make bench-latency      # = pytest benchmarks/test_latency.py --benchmark-only ...

pytest-benchmark times one model after another; this machine drifts by up to 2x between windows, so
ratios between models come from `make bench` (interleaved rounds), and this file gives pytest-benchmark's
full statistics (min, max, mean, stddev, IQR, outliers) and its JSON for tracking over time."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
import torch

from benchmarks.inference import BACKBONES, build

SIZE, THREADS = 256, 2


@functools.lru_cache(maxsize=None)
def model(name: str) -> dict:
    torch.set_num_threads(THREADS)
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    return {**build(name, x, THREADS, Path(tempfile.mkdtemp(prefix="e2gan-latency-"))), "x": x}


@pytest.mark.parametrize("backend", ["eager", "onnxruntime"])
@pytest.mark.parametrize("name", list(BACKBONES))
def test_latency(benchmark, name, backend):
    m = model(name)
    module, session, x = m["module"], m["session"], m["x"]
    benchmark.group = backend
    benchmark.extra_info.update(params=m["params"], gmacs=round(m["macs"] / 1e9, 2), size=SIZE, threads=THREADS)
    if backend == "eager":
        with torch.no_grad():
            out = benchmark.pedantic(module, args=(x,), rounds=7, warmup_rounds=1)
        assert out.shape == (1, 3, SIZE, SIZE)
    else:
        feed = {"image": x.numpy()}
        out = benchmark.pedantic(session.run, args=(None, feed), rounds=7, warmup_rounds=1)
        assert out[0].shape == (1, 3, SIZE, SIZE)
