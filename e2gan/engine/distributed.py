"""Running under Hugging Face ``accelerate``: one process by default, DDP under ``accelerate launch``
(GPUs with NCCL, CPUs with gloo), and the few things every process must agree on each step."""

from __future__ import annotations

import signal
import threading

import torch

MIXED_PRECISION = ("no", "bf16", "fp16")


def make_accelerator(cfg):
    """An ``Accelerator`` for one training run. Its settings are per run (a fresh state each time), so that
    one Python process can train several models with different precisions; a launched process group is kept."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    if cfg.mixed_precision is not None and cfg.mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"--mixed-precision {cfg.mixed_precision!r}: use one of {', '.join(MIXED_PRECISION)}")
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    kw = {}
    if cfg.device == "cpu":
        kw["cpu"] = True
    elif cfg.device.startswith("cuda:") and torch.cuda.is_available():
        torch.cuda.set_device(int(cfg.device.split(":")[1]))
    elif cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {cfg.device}: this machine has no CUDA device; use --device cpu (or auto)")
    try:
        return Accelerator(mixed_precision=cfg.mixed_precision, **kw)
    except ValueError as exc:
        raise ValueError(f"--mixed-precision {cfg.mixed_precision}: {exc}") from None


class Consensus:
    """Per step, every process learns whether any of them got SIGINT/SIGTERM and the largest elapsed time,
    so they all stop (and checkpoint) at the same step and follow the same lr schedule."""

    def __init__(self, accel, watch_signals: bool):
        self.accel, self.signal, self._old = accel, None, {}
        if watch_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._set)

    def _set(self, signum, frame):
        self.signal = signum

    def poll(self, elapsed: float) -> tuple[int | None, float]:
        if self.accel.num_processes == 1:
            return self.signal, elapsed
        t = torch.tensor([float(self.signal or 0), elapsed], dtype=torch.float64, device=self.accel.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return (int(t[0]) or None), float(t[1])

    def restore(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}
