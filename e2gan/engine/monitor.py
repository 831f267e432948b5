"""Held-out quality during training: L1 and PSNR on a data set's test split, every N steps, written into
the training log. Prompts the run trains on and prompts it never sees are reported apart (``test_*`` and
``test_*_new``): for a base, the second is how well it transfers to new concepts."""

from __future__ import annotations

import torch

from e2gan.data.dataset import load_pairs
from e2gan.data.images import u8_to_unit
from e2gan.metrics.quality import psnr


class HeldOutMonitor:
    """A training callback (``e2gan.engine.loop.train(callback=...)``) measuring ``data``'s test split every ``every`` steps."""

    def __init__(self, data, every: int, trained_prompts, size: int | None = None, split: str = "test", batch: int = 32,
                 last_step: int | None = None):
        if every < 1:
            raise ValueError(f"--test-every must be at least 1, not {every}")
        self.pairs = load_pairs(data, None, split, size)  # names the fix when the split is empty
        self.every, self.batch, self.last_step = every, batch, last_step
        self.trained = set(trained_prompts)
        self.prompts = list(self.pairs.prompts)

    @torch.no_grad()
    def measure(self, student) -> dict:
        """Mean L1 (in [-1, 1] units, as the training loss) and PSNR over the trained and the new prompts."""
        g = student.generator
        was_training = g.training
        g.eval()
        l1s, psnrs = [], []
        try:
            for i in range(0, len(self.pairs), self.batch):
                src = self.pairs.sources[i:i + self.batch].to(student.device)
                tgt = u8_to_unit(self.pairs.targets[i:i + self.batch].to(student.device))
                out = student(u8_to_unit(src), self.prompts[i:i + self.batch]).clamp(-1, 1)
                l1s.append((out - tgt).abs().flatten(1).mean(1).cpu())
                psnrs.append(psnr(out, tgt).cpu())
        finally:
            g.train(was_training)
        l1, p = torch.cat(l1s), torch.cat(psnrs)
        row = {}
        for suffix, keep in (("", True), ("_new", False)):
            idx = [j for j, pr in enumerate(self.prompts) if (pr in self.trained) == keep]
            if idx:
                row[f"test_l1{suffix}"] = round(float(l1[idx].mean()), 5)
                row[f"test_psnr{suffix}"] = round(float(p[idx].mean()), 3)
        return row

    def __call__(self, row: dict, student) -> None:
        if row["step"] % self.every == 0 or row["step"] == self.last_step:
            row.update(self.measure(student))
