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


class Watcher:
    """What a training run shows while it trains, as a callback: every ``samples_every`` steps a grid (source | teacher |
    student) of a few pairs into ``out/samples/``, and ``out/training.html`` with the latest grids and the loss and
    held-out curves; with ``monitor`` (a :class:`HeldOutMonitor`), held-out L1 and PSNR in the log; with ``patience``,
    early stopping: the run stops when held-out PSNR has not improved for that many measurements, and the best
    measured weights are put back."""

    def __init__(self, out, samples, samples_every: int = 0, monitor: HeldOutMonitor | None = None, patience: int | None = None,
                 keep: int = 6, label: str = "training"):
        if patience is not None and monitor is None:
            raise ValueError("--early-stop watches held-out PSNR: the data needs a test split (`e2gan teach --split test ...`)")
        self.out, self.samples, self.every = out, samples, samples_every
        self.monitor, self.patience, self.keep, self.label = monitor, patience, keep, label
        self.best, self.best_step, self.best_state, self.stale = float("-inf"), None, None, 0
        self.stopped_at = None

    def __call__(self, row: dict, student):
        stop = False
        if self.monitor is not None:
            self.monitor(row, student)
            if self.patience is not None and "test_psnr" in row:
                stop = self._early(row, student)
        if self.out is not None and self.every and (row["step"] % self.every == 0 or stop):
            self._grid(row["step"], student)
        return stop

    def _early(self, row, student) -> bool:
        if row["test_psnr"] > self.best:
            self.best, self.best_step, self.stale = row["test_psnr"], row["step"], 0
            self.best_state = {n: p.detach().clone() for n, p in student.generator.named_parameters() if p.requires_grad}
            return False
        self.stale += 1
        if self.stale >= self.patience:
            with torch.no_grad():
                params = dict(student.generator.named_parameters())
                for n, v in self.best_state.items():
                    params[n].copy_(v)
            self.stopped_at = row["step"]
            row["early_stop"] = {"best_step": self.best_step, "best_test_psnr": self.best}
            return True
        return False

    @torch.no_grad()
    def _grid(self, step: int, student):
        from pathlib import Path

        from e2gan.grids import grid
        from e2gan.io import atomic_save_image

        g = student.generator
        was = g.training
        try:
            pred = student.predict(self.samples.sources, self.samples.prompts)
        finally:
            g.train(was)
        folder = Path(self.out) / "samples"
        atomic_save_image(folder / f"step-{step:08d}.png", grid({"source": self.samples.sources, "teacher": self.samples.targets,
                                                                f"step {step}": pred}))
        for old in sorted(folder.glob("step-*.png"))[:-self.keep]:
            old.unlink(missing_ok=True)

    def page(self, log: list[dict]) -> None:
        """``out/training.html``: the last sample grids, newest first, and the loss and held-out curves."""
        from pathlib import Path

        from e2gan.report import loss_curves, write_report

        out = Path(self.out)
        sections = []
        if log:
            loss_curves({self.label: log}, out / "samples" / "curve-l1.png")
            sections.append(("Training L1", "<img src='samples/curve-l1.png'>"))
            held = [r for r in log if "test_psnr" in r]
            if held:
                loss_curves({f"{self.label}, held-out": held}, out / "samples" / "curve-test.png", key="test_l1")
                note = (f"<p>Stopped early at step {self.stopped_at}: held-out PSNR was best at step {self.best_step} ({self.best:.2f} dB), and "
                        "those weights were kept.</p>" if self.stopped_at else "")
                sections.append(("Held-out L1", note + "<img src='samples/curve-test.png'>"))
        grids = sorted((out / "samples").glob("step-*.png"), reverse=True)
        if grids:
            sections.append(("Samples: source | teacher | student", "".join(f"<p><img src='samples/{p.name}'></p>" for p in grids)))
        write_report(out / "training.html", f"e2gan {self.label}: {out.name}", sections)


def watcher_for(out, data, prompts, size, samples_every: int, test_every: int, patience: int | None, label: str, steps: int) -> Watcher:
    """The watcher a training command builds: samples from the data's test split (else its training pairs), held-out
    measurements when there is a test split."""
    from e2gan.data.dataset import PairedDataset, PairTensors

    ds = PairedDataset(data if not isinstance(data, (list, tuple)) else data[0])
    test = ds.select(prompts, "test")
    records = test or ds.select(prompts, "train")
    step = max(1, len(records) // 4)
    samples = PairTensors.from_dataset(ds, records[::step][:4], size)
    monitor = HeldOutMonitor(data if not isinstance(data, (list, tuple)) else data[0], test_every, [prompts] if isinstance(prompts, str) else prompts,
                             size, last_step=steps) if test else None
    return Watcher(out, samples, samples_every, monitor, patience, label=label)
