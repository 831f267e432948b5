"""Where commands write: refuse to clobber a finished artefact, check writability before the work, and
lock a folder against a second writer. Nothing already written is lost."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from e2gan.files import (
    ADAPTER_CONFIG,
    ADAPTER_META,
    CHECKPOINTS,
    CONFIG,
    LOCK,
    MANIFEST,
    WEIGHTS,
)

#: marker file -> what a folder holding it is
ARTEFACTS = {ADAPTER_META: "an adapter", ADAPTER_CONFIG: "an adapter", CONFIG: "a base model", WEIGHTS: "a base model",
             MANIFEST: "a data set"}


#: what an unfinished run leaves in its --out: rerunning the command resumes from it
RESUMABLE = {CHECKPOINTS, LOCK}


class OutputError(ValueError):
    """An output folder that cannot be used as asked; the message says why and what to do."""


def artefact_kind(folder: Path) -> str | None:
    for marker, kind in ARTEFACTS.items():
        if (folder / marker).exists():
            return kind
    return None


def _real(path) -> Path | None:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop, a name too long: compared as given
        return Path(path).absolute()


def guard_outputs(outputs: dict, reads: dict, overwrite: bool = False, files=(), folders: dict | None = None) -> None:
    """The one check every command that writes makes before any work. ``outputs``: ``{"--out": path, "--grid": path}``;
    ``reads``: ``{"the model": path, "the data set": path}`` (what the command reads). An output that is, or lies inside,
    anything it reads is refused, and so is one output given twice. ``folders``: folders of photos the command scans
    (``--images``, ``--input``): an output may not be one, but may lie inside one, since the scan skips what lies under
    its outputs (earlier results are never read back as photos). ``files`` names the outputs that are single files: an
    existing one is replaced only with ``overwrite``."""
    seen: dict[Path, str] = {}
    real_reads = [(what, src, _real(src)) for what, src in reads.items() if src is not None and Path(src).exists()]
    scanned = [(what, src, _real(src)) for what, src in (folders or {}).items() if src is not None and Path(src).exists()]
    for flag, out in outputs.items():
        if out is None:
            continue
        if Path(out).is_symlink() and not Path(out).exists():
            raise OutputError(f"{flag} {out} is a broken symbolic link (to {os.readlink(out)}); remove it or choose another path")
        o = _real(out)
        for what, src, s in real_reads:
            if o == s or s in o.parents:
                rel = "is" if o == s else "lies inside"
                raise OutputError(f"{flag} {out} {rel} {what} this command reads ({src}); write it elsewhere, nothing was written")
        for what, src, s in scanned:
            if o == s or (s.is_file() and o in s.parents and flag in files):
                raise OutputError(f"{flag} {out} is {what} this command reads ({src}); write it elsewhere, nothing was written")
        if o in seen:
            raise OutputError(f"{flag} {out} is also {seen[o]}: give each output its own path")
        seen[o] = f"{flag}"
        if flag in files and Path(out).exists():
            if Path(out).is_dir():
                raise OutputError(f"{flag} {out} is a folder; give a file path")
            if not overwrite:
                raise OutputError(f"{flag} {out} already exists; pass --overwrite to replace it, or choose another path")


def prepare_out(out, overwrite: bool = False, sources=(), reads: dict | None = None) -> Path:
    """Check a training command's ``out`` folder before any work: it must not be or lie inside anything the command
    reads (``reads``, or the unnamed ``sources``), must not hold a finished artefact (or anything) unless
    ``overwrite``, and must be writable."""
    out = Path(out)
    named = {**{f"the folder {Path(s).name!r}": s for s in sources if s}, **(reads or {})}
    guard_outputs({"--out": out}, named)
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"--out {out} is a file; give a folder")
        kind = artefact_kind(out)
        entries = [p.name for p in out.iterdir() if p.name not in RESUMABLE]
        if kind and not overwrite:
            raise OutputError(f"--out {out} already holds {kind}; pass --overwrite to replace it, or choose another folder")
        if entries and not kind and not overwrite:
            raise OutputError(f"--out {out} is not empty ({len(entries)} entries, e.g. {entries[0]!r}); choose an empty or new folder, "
                              "or pass --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".e2gan-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to --out {out} ({exc.strerror or exc}); choose a writable folder") from None
    return out


def remove_stale(out: Path, keep_kind: str) -> None:
    """After a new artefact is complete in ``out`` (``--overwrite``), drop the marker files of another kind,
    so that loading the folder gives the new artefact and not the old one."""
    for marker, kind in ARTEFACTS.items():
        if kind != keep_kind and kind != "a data set":
            with contextlib.suppress(FileNotFoundError):
                (out / marker).unlink()


def launched_shard() -> tuple[int, int]:
    """``(rank, world)`` that ``accelerate launch`` or ``torchrun`` set for this process; ``(0, 1)`` otherwise."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True outside ``accelerate launch``/``torchrun``, and on the global rank 0 under them."""
    return launched_shard()[0] == 0


def training_lock(out):
    """Held for a whole training run into ``out`` by the process that writes it (rank 0 under ``accelerate launch``; the
    others write nothing): a second run into the same folder is refused instead of resuming the first one's checkpoints."""
    if out is None or not is_main_process() or _real(out) in _HELD:  # held already by this process (adapt -> finetune)
        return contextlib.nullcontext()
    return _held(out)


_HELD: set = set()


@contextlib.contextmanager
def _held(out):
    key = _real(out)
    with folder_lock(out, "trains into"):
        _HELD.add(key)
        try:
            yield out
        finally:
            _HELD.discard(key)


class LockedError(RuntimeError):
    """Another process writes to the folder."""


@contextlib.contextmanager
def folder_lock(folder, what: str = "writes to"):
    """An exclusive lock on ``folder`` (``.e2gan.lock``, released when the process ends, even by kill -9)."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise LockedError(f"another e2gan process {what} {folder}; wait for it to finish (one writer per folder), "
                                  "or use another --out") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield folder
    finally:
        os.close(fd)
