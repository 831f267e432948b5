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


def prepare_out(out, overwrite: bool = False, sources=()) -> Path:
    """Check ``out`` before any work: it must not hold a finished artefact (or anything) unless
    ``overwrite``, must not be one of ``sources`` (e.g. the base an adapter trains on), and must be writable."""
    out = Path(out)
    for src in sources:
        try:
            if src and Path(src).exists() and Path(src).resolve() == out.resolve():
                raise OutputError(f"--out {out} is the model this command reads ({src}); write to another folder")
        except OSError:
            pass
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
