"""Which pairs each training step uses, and loading them: from memory, or streamed from data folders.

A step's batch is a pure function of ``(seed, step)``: the global batch's pair indices, one crop offset and
one flip come from a generator seeded with both. The data position of a run is therefore its step: a
resumed run, a run with DataLoader workers and a run split over N processes (each takes its share of the
global batch) all train on the same pairs, so their weights agree.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from e2gan.data.dataset import PairedDataset, PairTensors, stack_u8


class MemoryPairs:
    """Pairs already decoded in memory (``PairTensors``): small concept sets, LoRA runs, benchmarks."""

    streams = False

    def __init__(self, pairs: PairTensors):
        self.pairs = pairs
        self.prompts = list(pairs.prompts)

    def __len__(self):
        return len(self.prompts)

    def load(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pairs.sources[idx], self.pairs.targets[idx]

    def fingerprint(self) -> str:
        """SHA-256 of every pair's pixels and prompt: a resume checks it is training on the same data."""
        h = hashlib.sha256()
        for t in (self.pairs.sources, self.pairs.targets):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update("\n".join(self.prompts).encode())
        return h.hexdigest()

    def to(self, device):
        return MemoryPairs(PairTensors(self.pairs.sources.to(device), self.pairs.targets.to(device), self.pairs.prompts))


class FolderPairs:
    """Pairs streamed from one or more data folders: each is decoded (and resized to ``size``) when a step
    needs it, so memory does not grow with the data set. With ``cache``, decoded pairs are also kept in that
    folder as safetensors (keyed by the pair, the size and both files' size and mtime), and later epochs
    read those instead of decoding PNGs again."""

    streams = True

    def __init__(self, data, prompts=None, split: str | None = "train", size: int | None = None, cache=None):
        folders = [data] if isinstance(data, (str, Path)) else list(data)
        self.sets = [PairedDataset(d) for d in folders]
        self.items = [(ds, r) for ds in self.sets for r in ds.select(prompts, split)]
        if not self.items:
            have = sorted({p for ds in self.sets for p in ds.prompts()})
            raise ValueError(f"{', '.join(map(str, folders))} has no {split or ''} pairs for prompts {prompts}; it has {have}")
        self.prompts = [r.prompt for _, r in self.items]
        self.size = size
        self.cache = None if cache is None else Path(cache)
        if self.cache is not None:
            self.cache.mkdir(parents=True, exist_ok=True)

    def __len__(self):
        return len(self.items)

    def fingerprint(self) -> str:
        """SHA-256 of the pairs' content addresses (their keys), prompts and size: cheap, and what decides the data."""
        h = hashlib.sha256(f"{self.size}".encode())
        for _, rec in self.items:
            h.update(f"|{rec.key}|{rec.prompt}".encode())
        return h.hexdigest()

    def load(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self._pair(i) for i in idx]
        return stack_u8([s for s, _ in pairs]), stack_u8([t for _, t in pairs])

    def in_memory(self) -> PairTensors:
        """Every pair decoded at once (through the cache, if any): for steps that need them all, e.g. data selection."""
        src, tgt = self.load(range(len(self)))
        return PairTensors(src, tgt, list(self.prompts))

    def _pair(self, i: int):
        ds, rec = self.items[i]
        if self.cache is None:
            return ds.read_pair(rec, self.size)
        from safetensors import SafetensorError
        from safetensors.numpy import load_file, save_file

        stats = [os.stat(ds.root / rel) for rel in (rec.source, rec.target)]
        ident = f"{ds.root.resolve()}|{rec.key}|{self.size}|" + "|".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)
        path = self.cache / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.safetensors"
        try:
            got = load_file(str(path))
            return got["source"], got["target"]
        except (FileNotFoundError, SafetensorError, KeyError, OSError):
            pass  # not cached yet, or a torn file from a killed run: decode again and rewrite it
        src, tgt = ds.read_pair(rec, self.size)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"source": np.ascontiguousarray(src), "target": np.ascontiguousarray(tgt)}, str(tmp))
        os.replace(tmp, path)
        return src, tgt


def as_source(pairs):
    """``PairTensors`` or a streaming source -> a source with ``len``, ``prompts`` and ``load(indices)``."""
    return MemoryPairs(pairs) if isinstance(pairs, PairTensors) else pairs


@dataclass(frozen=True)
class BatchPlan:
    """The global batch is ``batch_size * world * accum`` pairs per optimiser step; process ``rank`` takes,
    for micro-batch ``micro``, slot ``micro * world + rank`` of it (``batch_size`` pairs)."""

    n: int
    batch_size: int
    world: int = 1
    accum: int = 1
    crop: int | None = None
    flip: bool = True
    seed: int = 0

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world * self.accum

    def draw(self, step: int):
        rng = np.random.default_rng([self.seed, step])
        idx = rng.integers(0, self.n, self.global_batch)
        u_y, u_x, u_flip = rng.random(3)
        return idx, (u_y, u_x), bool(self.flip and u_flip < 0.5)

    def share(self, step: int, micro: int, rank: int):
        idx, crop_at, flip = self.draw(step)
        slot = micro * self.world + rank
        return [int(i) for i in idx[slot * self.batch_size:(slot + 1) * self.batch_size]], crop_at, flip


class MicroBatches(torch.utils.data.Dataset):
    """Item ``step * accum + micro``: this process's micro-batch of that step, as uint8 sources, targets and
    prompt indices (into ``sorted(set(source.prompts))``). Cropped and flipped here, in the workers."""

    def __init__(self, source, plan: BatchPlan, rank: int = 0):
        self.source, self.plan, self.rank = source, plan, rank
        names = sorted(set(source.prompts))
        self.prompt_ids = torch.tensor([names.index(p) for p in source.prompts])

    def __len__(self):
        return 1 << 62  # indexed by step; the sampler decides which steps run

    def __getitem__(self, i: int):
        step, micro = divmod(int(i), self.plan.accum)
        idx, (u_y, u_x), flip = self.plan.share(step, micro, self.rank)
        src, tgt = self.source.load(idx)
        h, w = src.shape[-2:]
        crop = self.plan.crop
        if crop and crop < min(h, w):
            y, x = int(u_y * (h - crop + 1)), int(u_x * (w - crop + 1))
            src, tgt = src[..., y:y + crop, x:x + crop], tgt[..., y:y + crop, x:x + crop]
        if flip:
            src, tgt = src.flip(-1), tgt.flip(-1)
        return src.contiguous(), tgt.contiguous(), self.prompt_ids[idx]


def default_workers(source) -> int:
    """Streaming sources decode in background workers (half the cores, at most 4); in-memory ones need none."""
    return min(4, max(1, (os.cpu_count() or 2) // 2)) if getattr(source, "streams", False) else 0


def micro_batches(source, plan: BatchPlan, rank: int, first_step: int, steps: int, workers: int | None = None, pin: bool = False):
    """An iterator over this process's micro-batches from ``first_step`` to ``steps`` (``accum`` per step)."""
    workers = default_workers(source) if workers is None else workers
    order = range(first_step * plan.accum, steps * plan.accum)
    loader = torch.utils.data.DataLoader(MicroBatches(source, plan, rank), batch_size=None, sampler=order, num_workers=workers,
                                         pin_memory=pin, prefetch_factor=4 if workers else None)
    return iter(loader)
