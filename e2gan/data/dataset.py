"""The paired data format: a folder with ``manifest.jsonl`` (one JSON record per pair) and images.

Record fields: ``key`` (content address), ``source``/``target`` (paths relative to the folder),
``prompt``, ``teacher``, ``settings``, ``seed``, ``source_sha256`` (of the stored RGB source
pixels), ``size``. Images are written atomically before their record is appended, and the record is
one ``write`` + ``fsync``: a ``kill -9`` loses at most the pair in flight, and a torn last line is
dropped (and reported) on the next open.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from e2gan.files import MANIFEST, loads_bounded  # noqa: E402  (re-exported: e2gan.data.dataset.MANIFEST)

#: the longest manifest line read (a record is a few hundred bytes; its teacher settings could make it a few KB)
MAX_RECORD = 1 << 20
from e2gan.io import atomic_save_image

#: how a crop's source name ends: the shipped photos' random crops (``astronaut-0012``) and a user's (``me.jpg#crop3``)
_CROP_SUFFIX = __import__("re").compile(r"(-\d{4}|#crop\d+)$")


def source_photo(source_name: str) -> str:
    """The photo a pair's source was cut from: crops of one photo are not independent samples of photos."""
    return _CROP_SUFFIX.sub("", str(source_name))


def pair_key(source_sha256: str, teacher: str, settings: dict, prompt: str, seed: int) -> str:
    """The content address of one teacher output: same inputs, same key, skip on rerun."""
    blob = json.dumps([source_sha256, teacher, settings, prompt, int(seed)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class PairRecord:
    key: str
    source: str
    target: str
    prompt: str
    teacher: str
    settings: dict
    seed: int
    source_sha256: str
    size: list
    source_name: str = ""
    split: str = "train"
    extra: dict = field(default_factory=dict)  # fields a newer e2gan wrote: kept, and written back unchanged


_FIELDS = None


def _record(obj: dict) -> PairRecord:
    global _FIELDS
    if _FIELDS is None:
        from dataclasses import fields as dc_fields

        _FIELDS = {f.name for f in dc_fields(PairRecord)} - {"extra"}
    known = {k: v for k, v in obj.items() if k in _FIELDS}
    return PairRecord(**known, extra={k: v for k, v in obj.items() if k not in _FIELDS})


class PairedDataset:
    """A folder of (source, teacher-edited) pairs; appendable, resumable, filterable by prompt.

    Opened to read (the default), it never writes: a torn last line (a killed writer) is skipped in memory
    and duplicate keys are read once. Opened with ``create=True`` (``teach``, under the folder's lock), the
    torn line is also cut from the file so that appends stay valid. Every record's paths must stay inside
    the folder."""

    def __init__(self, root: str | Path, create: bool = False):
        self.root = Path(root)
        self.manifest = self.root / MANIFEST
        if not self.manifest.exists():
            if not create:
                raise FileNotFoundError(f"{self.root} is not an e2gan data set (no {MANIFEST}); make one with `e2gan teach --out {self.root}`")
            self.root.mkdir(parents=True, exist_ok=True)
            self.manifest.touch()
        self.records: list[PairRecord] = self._read(repair=create)
        self._keys = {r.key for r in self.records}

    def _lines(self) -> list[bytes]:
        """The manifest's lines, read with a bound on each: a special file (a FIFO, /dev/zero) or a giant line is refused
        before it can hang the command or fill the memory."""
        import stat

        try:
            mode = os.stat(self.manifest).st_mode
        except OSError as exc:
            raise ValueError(f"{self.manifest} cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
            raise ValueError(f"{self.manifest} is {kind}: a data set's manifest must be a regular file (made by `e2gan teach`)")
        lines = []
        with open(self.manifest, "rb") as f:
            while True:
                line = f.readline(MAX_RECORD + 1)
                if not line:
                    break
                if len(line) > MAX_RECORD:
                    raise ValueError(f"{self.manifest} line {len(lines) + 1} is longer than {MAX_RECORD // 1024} KB: not a record "
                                     "`e2gan teach` writes; restore the manifest or teach the data set again")
                lines.append(line.rstrip(b"\n"))
        if lines and not lines[-1].strip():
            lines.pop()
        return lines + [b""]  # as split() gives: a last (possibly torn) line, then what follows the final newline

    def _read(self, repair: bool = False) -> list[PairRecord]:
        records, seen = [], set()
        lines = self._lines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rec = _record(loads_bounded(line, f"{self.manifest} line {i + 1}"))
            except (ValueError, TypeError) as exc:
                if i >= len(lines) - 2:  # a torn final line from a killed writer
                    warnings.warn(f"{self.manifest}: skipped an incomplete last record (an interrupted run); `e2gan teach` redoes it")
                    if repair:
                        self._truncate_to_valid(lines[:i])
                    break
                why = str(exc).replace(f"{self.manifest} line {i + 1} ", "")
                raise ValueError(f"{self.manifest} line {i + 1} is not a valid record ({why}); fix or delete that line") from None
            self._confine(rec, i + 1)
            if rec.key not in seen:  # two writers or a copied manifest: read each pair once
                seen.add(rec.key)
                records.append(rec)
        return records

    def _confine(self, rec: PairRecord, line: int) -> None:
        root = self.root.resolve()
        for what in ("source", "target"):
            rel = getattr(rec, what)
            if not rel:
                continue
            path = Path(rel)
            if path.is_absolute() or not (root / path).resolve().is_relative_to(root):
                raise ValueError(f"{self.manifest} line {line}: {what} {rel!r} points outside the data set folder; records may only "
                                 "name files inside it (a tampered or hand-edited manifest?). Remove that line")

    def _truncate_to_valid(self, good_lines):
        from e2gan.io import atomic_write_bytes

        atomic_write_bytes(self.manifest, b"".join(line + b"\n" for line in good_lines if line.strip()))

    def remove_partial_files(self) -> int:
        """Delete temp files a killed writer left behind (only one writer may use a folder at a time)."""
        stale = [p for sub in ("sources", "targets") for p in (self.root / sub).glob(".*.tmp")]
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    def __len__(self):
        return len(self.records)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def prompts(self) -> list[str]:
        return sorted({r.prompt for r in self.records})

    def add(self, record: PairRecord, source: Image.Image, target: Image.Image) -> None:
        """Write both images atomically, then append the record in one write."""
        src_rel = f"sources/{record.source_sha256[:20]}.png"
        tgt_rel = f"targets/{record.key[:20]}.png"
        if not (self.root / src_rel).exists():
            atomic_save_image(self.root / src_rel, source)
        atomic_save_image(self.root / tgt_rel, target)
        record.source, record.target = src_rel, tgt_rel
        line = _manifest_line(record)
        fd = os.open(self.manifest, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records.append(record)
        self._keys.add(record.key)

    def select(self, prompts=None, split: str | None = None) -> list[PairRecord]:
        wanted = None if prompts is None else set([prompts] if isinstance(prompts, str) else prompts)
        return [r for r in self.records if (wanted is None or r.prompt in wanted) and (split is None or r.split == split)]

    def read_pair(self, r: PairRecord, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One record -> (source, target) uint8 HxWx3 arrays, resized to ``size`` if given."""
        try:
            s = Image.open(self.root / r.source).convert("RGB")
            t = Image.open(self.root / r.target).convert("RGB")
        except FileNotFoundError as exc:
            raise ValueError(f"{self.manifest}: pair {r.key[:12]} names {exc.filename}, which is missing; rerun `e2gan teach` "
                             f"with the same settings to redo it, or remove its line") from None
        if size is not None and s.size != (size, size):
            s, t = s.resize((size, size), Image.LANCZOS), t.resize((size, size), Image.LANCZOS)
        if s.size != t.size:
            raise ValueError(f"{self.manifest}: pair {r.key[:12]} has a {s.size[0]}x{s.size[1]} source and a {t.size[0]}x{t.size[1]} "
                             "target; pass --size to resize both, or redo the pair with `e2gan teach`")
        return np.asarray(s), np.asarray(t)

    def read_images(self, records: list[PairRecord], size: int | None = None):
        """Records -> (sources, targets) uint8 tensors (N, 3, H, W), resized to ``size`` if given."""
        if not records:
            raise ValueError(f"no pairs selected from {self.root}; its prompts are {self.prompts()}")
        pairs = [self.read_pair(r, size) for r in records]
        return stack_u8([s for s, _ in pairs]), stack_u8([t for _, t in pairs])


def stack_u8(arrays) -> torch.Tensor:
    """HxWx3 uint8 arrays of one size -> (N, 3, H, W) uint8 tensor (a clear error when sizes differ)."""
    shapes = sorted({a.shape[:2] for a in arrays})
    if len(shapes) > 1:
        raise ValueError(f"pairs of different sizes ({', '.join(f'{w}x{h}' for h, w in shapes[:3])}) cannot share a batch; "
                         "pass --size to resize them to one size")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


@dataclass
class PairTensors:
    """Training pairs in memory: uint8 (N, 3, H, W) sources and targets, and a prompt per pair."""

    sources: torch.Tensor
    targets: torch.Tensor
    prompts: list[str]

    def __len__(self):
        return len(self.prompts)

    @classmethod
    def from_dataset(cls, data: PairedDataset, records, size=None):
        s, t = data.read_images(records, size)
        return cls(s, t, [r.prompt for r in records])

    @classmethod
    def concat(cls, parts: list["PairTensors"]) -> "PairTensors":
        return cls(torch.cat([p.sources for p in parts]), torch.cat([p.targets for p in parts]), [x for p in parts for x in p.prompts])

    def subset(self, idx):
        idx = list(idx)
        return PairTensors(self.sources[idx], self.targets[idx], [self.prompts[i] for i in idx])


def load_pairs(data: str | Path, prompts=None, split: str | None = "train", size: int | None = None, limit: int | None = None) -> PairTensors:
    """The pairs of ``data`` for ``prompts`` (all if None) and ``split``, in memory."""
    ds = PairedDataset(data)
    records = ds.select(prompts, split)
    if limit:
        records = records[:limit]
    if not records:
        how = (f"; make them with `e2gan teach --split {split} --out {data} ...`" if split and split != "train" else "")
        raise ValueError(f"{data} has no {split or ''} pairs for prompts {prompts}; it has {ds.prompts()}{how}")
    return PairTensors.from_dataset(ds, records, size)


def teacher_of(data, prompts=None, split: str | None = "train") -> dict | None:
    """Which teacher made a data set's pairs (for ``prompts``): ``{"name", "settings"}`` of the most common one, the
    settings with the model revision a diffusion teacher records. None for an empty selection."""
    from collections import Counter

    recs = PairedDataset(data).select(prompts, split)
    if not recs:
        return None
    counts = Counter(json.dumps({"name": r.teacher, "settings": r.settings}, sort_keys=True) for r in recs)
    return json.loads(counts.most_common(1)[0][0])


def _manifest_line(record: PairRecord) -> bytes:
    fields = {k: v for k, v in record.__dict__.items() if k != "extra"}
    return (json.dumps({**record.extra, **fields}, sort_keys=True) + "\n").encode()


PARTS = ".parts"


def part_folder(root, rank: int, world: int) -> Path:
    """Where shard ``rank`` of ``world`` writes its pairs (merged into ``root`` afterwards)."""
    return Path(root) / PARTS / f"rank-{rank:03d}-of-{world:03d}"


def mark_part_done(root, rank: int, world: int) -> None:
    from e2gan.io import atomic_write_text

    atomic_write_text(part_folder(root, rank, world) / "DONE", "ok\n")


def wait_until_merged(root, rank: int, world: int, timeout: float = 24 * 3600, poll: float = 0.2) -> None:
    """Block until rank 0 has folded this shard's part into ``root`` (``merge_parts`` removes the parts)."""
    deadline = time.time() + timeout
    while part_folder(root, rank, world).exists():
        if time.time() > deadline:
            raise TimeoutError(f"rank 0 did not merge the shards of {root}; rerun the same command to resume")
        time.sleep(poll)


def merge_parts(root, world: int, timeout: float = 24 * 3600, poll: float = 0.2) -> int:
    """Wait for every shard's DONE marker, then fold their pairs into ``root`` (images moved, manifest
    rewritten atomically, duplicates by key dropped). Returns the number of pairs added."""
    from e2gan.io import atomic_write_bytes

    parts = [part_folder(root, r, world) for r in range(world)]
    deadline = time.time() + timeout
    while not all((p / "DONE").exists() for p in parts):
        if time.time() > deadline:
            missing = [p.name for p in parts if not (p / "DONE").exists()]
            raise TimeoutError(f"shards {missing} of {root} did not finish; rerun the same command to resume")
        time.sleep(poll)
    main = PairedDataset(root, create=True)
    added, seen = [], set()
    for part in parts:
        if not (part / MANIFEST).exists():
            continue
        for rec in PairedDataset(part).records:
            if rec.key in main or rec.key in seen:
                continue
            seen.add(rec.key)
            for rel in (rec.source, rec.target):
                dst = main.root / rel
                if not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(part / rel, dst)
            added.append(rec)
    atomic_write_bytes(main.manifest, main.manifest.read_bytes() + b"".join(_manifest_line(r) for r in added))
    shutil.rmtree(main.root / PARTS, ignore_errors=True)
    return len(added)
