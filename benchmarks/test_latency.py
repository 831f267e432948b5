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

from benchmarks.inference import BACKBONES

SIZE, THREADS = 256, 2


@functools.lru_cache(maxsize=None)
def model(name: str):
    from e2gan.export import concept_module, export_onnx, onnx_session
    from e2gan.macs import count_macs
    from e2gan.student import Student

    torch.set_num_threads(THREADS)
    s = Student.create(name, **BACKBONES[name])
    module = concept_module(s, "sepia")
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    args = (x, *((module.embeds, module.mask) if module.conditioned else ()))
    path = export_onnx(s, "sepia", Path(tempfile.mkdtemp(prefix="e2gan-latency-")) / f"{name}.onnx", SIZE)
    return module, onnx_session(path, THREADS), x, s.num_parameters(), count_macs(s.generator, *args)


@pytest.mark.parametrize("backend", ["eager", "onnxruntime"])
@pytest.mark.parametrize("name", list(BACKBONES))
def test_latency(benchmark, name, backend):
    module, session, x, params, macs = model(name)
    benchmark.group = backend
    benchmark.extra_info.update(params=params, gmacs=round(macs / 1e9, 2), size=SIZE, threads=THREADS)
    if backend == "eager":
        with torch.no_grad():
            out = benchmark.pedantic(module, args=(x,), rounds=7, warmup_rounds=1)
        assert out.shape == (1, 3, SIZE, SIZE)
    else:
        feed = {"image": x.numpy()}
        out = benchmark.pedantic(session.run, args=(None, feed), rounds=7, warmup_rounds=1)
        assert out[0].shape == (1, 3, SIZE, SIZE)
