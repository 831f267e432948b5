"""The one rule for "the same pixels" across kernels, batch shapes, thread counts, runtimes and CPUs.

Why a tolerance at all: float kernels (oneDNN, MKL, XNNPACK, ONNX Runtime, OpenVINO) sum in an order they choose by
CPU (AVX2, AVX-512, AMX), batch shape, memory layout and thread count. The same float32 model therefore gives outputs
that differ in their last bits: a relative error of a few ``eps`` (1.2e-7) per operation, of the magnitudes summed,
growing with depth. What follows from that:

- **Floats, before any rounding** (:func:`assert_close`): ``|a - b| <= atol + rtol * max|b|``, the ``rtol`` term
  relative to the output's scale, not to each element (a sum that cancels to near zero keeps the error of the
  magnitudes it summed). Defaults: ``atol`` 1e-4 and ``rtol`` 1e-5 in the generators' [-1, 1] units, where one
  uint8 level is 2/255 = 7.8e-3, so a pass is at least 50x below a visible level.
- **Bytes only** (:func:`assert_same_pixels`, where a path returns uint8): rounding turns a 1e-7 difference on a
  rounding boundary into a whole level, and a float difference of 1+ level into 2. So: at most ``levels`` = 2 apart, on
  at most ``fraction`` = 0.1% of the values. A real defect (a wrong padding, strength, prompt or runtime) moves tens
  of levels on most of the image and fails by orders of magnitude.

Only what the code guarantees bit-exact (the same process, shapes and kernels: a resumed run, a safetensors round
trip, merged vs unmerged LoRA on a zero-padded base) is compared with ``torch.equal``, and says why it can be.
"""

from __future__ import annotations

import numpy as np

#: floats in [-1, 1] units: absolute part, and part relative to the reference's largest magnitude
ATOL = 1e-4
RTOL = 1e-5
#: uint8: the most levels two outputs may differ by, and on what share of values at most
LEVELS = 2
FRACTION = 0.001


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def float_difference(a, b) -> tuple[float, float]:
    """``(largest |a - b|, largest |b|)`` of two float arrays or tensors of one shape."""
    a, b = _array(a).astype(np.float64), _array(b).astype(np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} against {b.shape}")
    return float(np.abs(a - b).max(initial=0.0)), float(np.abs(b).max(initial=0.0))


def assert_close(a, b, what: str, atol: float = ATOL, rtol: float = RTOL) -> float:
    """Float outputs (before any rounding) the same up to kernel rounding; returns the largest difference."""
    err, scale = float_difference(a, b)
    bound = atol + rtol * scale
    assert err <= bound, f"{what}: differ by up to {err:.3g} (bound {bound:.3g} = {atol:g} + {rtol:g} x {scale:.3g})"
    return err


def pixel_difference(a, b) -> tuple[int, float]:
    """``(most levels apart, share of values that differ)`` of two uint8 arrays of one shape."""
    a, b = _array(a), _array(b)
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} against {b.shape}")
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(diff.max(initial=0)), float((diff > 0).mean()) if diff.size else 0.0


def assert_same_pixels(a, b, what: str, levels: int = LEVELS, fraction: float = FRACTION) -> tuple[int, float]:
    """uint8 outputs the same up to rounding: at most ``levels`` apart on at most ``fraction`` of the values."""
    most, share = pixel_difference(a, b)
    assert most <= levels and share <= fraction, (
        f"{what}: up to {most} levels apart on {share:.3%} of values (allowed: {levels} levels on {fraction:.1%})")
    return most, share


def assert_pixels_differ(a, b, what: str, levels: float = 3.0) -> float:
    """The opposite promise (an option that changes pixels does): the mean difference is well above rounding."""
    mean = float(np.abs(_array(a).astype(np.float64) - _array(b).astype(np.float64)).mean())
    assert mean >= levels, f"{what}: the outputs differ by only {mean:.2f} levels on average (expected at least {levels})"
    return mean
