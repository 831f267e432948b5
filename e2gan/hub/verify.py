"""Downloads are checked before use: every file of a Hub snapshot must hash to what the repo's tree lists."""

from __future__ import annotations

import hashlib
from pathlib import Path


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def verify_snapshot(repo_id: str, revision: str, folder: Path, token=None) -> None:
    """Every downloaded file must hash to what the repo's tree says (sha256 for LFS files, the git blob id
    for the others); a mismatch is refused, naming the file."""
    from huggingface_hub import HfApi

    for entry in HfApi(token=token).list_repo_tree(repo_id, revision=revision, recursive=True):
        path = folder / entry.path
        if not getattr(entry, "size", None) or not path.is_file():
            continue
        data = path.read_bytes()
        lfs = getattr(entry, "lfs", None)
        ok = hashlib.sha256(data).hexdigest() == lfs.sha256 if lfs else git_blob_sha1(data) == entry.blob_id
        if not ok:
            raise ValueError(f"{repo_id}@{revision}: {entry.path} does not match the hash the repo lists for it (tampered with, or "
                             "corrupted in transfer); refusing it. Delete the cached copy and pull again, or tell the repo's owner")
