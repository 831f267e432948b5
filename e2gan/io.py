"""Atomic file writes: a crash (even ``kill -9``) leaves either the old file or the new one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

#: the longest file name most file systems take (ext4, xfs, btrfs, APFS, NTFS): temporary names stay within it
NAME_MAX = 255


def temp_name(path: Path, tag: str) -> str:
    """A hidden temporary name beside ``path`` (``.NAME.TAG.tmp``), its ``NAME`` cut so the whole stays within NAME_MAX."""
    room = NAME_MAX - len(tag) - len(".tmp") - 2
    return f".{path.name[:room]}.{tag}.tmp"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = temp_name(path, "XXXXXXXX")[: -len("XXXXXXXX.tmp")]  # mkstemp puts 8 random characters where the tag is
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def follow_umask(*paths) -> None:
    """Give files that a library created (safetensors makes 0600 files) the mode a plain ``open()`` would: 0666 minus the umask."""
    for p in paths:
        if Path(p).is_file():
            os.chmod(p, 0o666 & ~_umask())


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_save_image(path, image) -> None:
    """Save a PIL image atomically; the format comes from the extension."""
    import io

    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(Path(path).suffix.lower(), "PNG")
    image.save(buf, format=fmt)
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_file(path, save) -> None:
    """Atomically produce ``path`` with ``save(tmp_path)`` (for libraries that write by filename)."""
    path = Path(path).absolute()  # a writer that changes directory (or resolves names itself) still finds the temp file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temp_name(path, str(os.getpid())))
    try:
        save(str(tmp))
        if not tmp.exists():
            raise OSError(f"{path}: the writer returned without writing its temporary file {tmp.name}; nothing was written")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # some writers (safetensors) create 0600 files
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_training_log(folder, log: list[dict]) -> None:
    """``training_log.jsonl``: one JSON row per log step of the engine."""
    from e2gan.files import TRAINING_LOG

    atomic_write_text(Path(folder) / TRAINING_LOG, "".join(json.dumps(r) + "\n" for r in log))


def atomic_save_figure(fig, path) -> None:
    """Save a matplotlib figure atomically (PNG) and close it."""
    import io as _io

    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
