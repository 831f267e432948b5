"""Where weights come from: a local folder, ``zoo:NAME`` (this repository's catalogue), or a Hub
repo (``hf-hub:org/name`` or ``org/name``, downloaded with ``snapshot_download``). Only
safetensors and JSON are ever read: weights from users or the Hub are never unpickled."""

from __future__ import annotations

import os
import re
from pathlib import Path

ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.md", "*.jsonl"]


def zoo_dir() -> Path:
    """``E2GAN_ZOO`` if set, else the repository's ``zoo/`` (a source checkout), else the zoo inside the installed wheel."""
    env = os.environ.get("E2GAN_ZOO")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent / "zoo"
    if (here / "catalogue.json").exists():
        return here
    try:
        import importlib.resources

        return Path(str(importlib.resources.files("e2gan_zoo")))
    except ModuleNotFoundError:
        return here


def portable_ref(ref) -> str:
    """How a file that ships or is shared names a model or a folder: ``zoo:NAME`` for a zoo entry, a Hub id as it is,
    else the path relative to the current folder (or only its name when it lies outside), never this machine's
    absolute path."""
    text = str(ref)
    if text.startswith(("zoo:", "hf-hub:")) or not (os.path.isabs(text) or os.path.exists(text)):
        return text
    path = Path(text).resolve()
    try:
        rel = path.relative_to(zoo_dir().resolve())
        if len(rel.parts) == 1:
            return f"zoo:{rel.parts[0]}"
    except ValueError:
        pass
    try:
        return str(path.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return path.name


def portable_text(text: str) -> str:
    """``text`` with this machine's home folder written as ``~`` (messages that name a cache, in shared results)."""
    home = str(Path.home())
    return text.replace(home + os.sep, "~" + os.sep) if home not in ("", os.sep) else text


def resolve(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """Turn a model reference into a local folder (downloading from the Hub if needed)."""
    ref = str(name_or_path)
    if ref.startswith("zoo:"):
        name = ref[4:]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or name in (".", ".."):
            raise FileNotFoundError(f"{ref!r} is not a zoo name: zoo names are single words of letters, digits, '.', '_' and '-' "
                                    f"(entries of {zoo_dir()}); for a folder pass its path")
        path = zoo_dir() / name
        if not path.is_dir():
            have = sorted(p.name for p in zoo_dir().iterdir() if p.is_dir()) if zoo_dir().is_dir() else []
            raise FileNotFoundError(f"no zoo entry {ref!r} in {zoo_dir()}; available: {', '.join(have) or 'none'}")
        return path
    if ref.startswith("local-dir:"):
        ref = ref[len("local-dir:"):]
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is a file; pass the folder that holds config.json and model.safetensors")
        return path
    if ref.startswith(("/", "./", "../", "~")) or os.sep in ref.rstrip("/").split("/", 1)[0]:
        raise FileNotFoundError(f"no folder {path}: pass an existing model folder, zoo:NAME, or a Hub id org/name")
    repo = ref[len("hf-hub:"):] if ref.startswith("hf-hub:") else ref
    if "@" in repo:  # org/name@revision
        repo, _, at = repo.partition("@")
        if revision and at != revision:
            raise ValueError(f"{ref!r} names revision {at!r} but --revision says {revision!r}; give one")
        revision = at
    if repo.count("/") != 1:
        raise FileNotFoundError(f"{ref!r} is neither a folder, a zoo:NAME entry nor a Hub repo id (org/name)")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo, revision=revision or "main", allow_patterns=ALLOW_PATTERNS))
    except Exception as exc:
        raise FileNotFoundError(
            f"could not fetch {repo!r} (revision {revision or 'main'}) from the Hub ({type(exc).__name__}: {exc}); "
            "check the id, your network, or HF_HUB_OFFLINE / HF_ENDPOINT"
        ) from exc
    if os.environ.get("HF_HUB_OFFLINE", "0") in ("", "0"):  # online: check every file against the repo's hashes
        from e2gan.hub.verify import verify_snapshot

        verify_snapshot(repo, folder.name, folder)
    return folder


def commit_of(folder: Path) -> str | None:
    """The Hub commit a downloaded folder holds (its snapshot folder's name), or None for a local folder."""
    folder = Path(folder)
    return folder.name if folder.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", folder.name) else None


def resolve_base(adapter, base_ref: str, revision: str | None = None, given: bool = False) -> Path:
    """The folder of ``adapter``'s base, or an error that says how to point at it (``--base``; ``push --base-repo``
    when publishing) unless the base was ``given`` by the user already."""
    try:
        return resolve(base_ref, revision)
    except FileNotFoundError as exc:
        if given:
            raise
        raise FileNotFoundError(f"adapter {adapter}'s base {base_ref!r} could not be loaded: {exc}. If the base lives under another name "
                                "(another Hub, a local folder), pass it with --base (Python: base=...); when publishing, "
                                "`e2gan push --base-repo ORG/NAME` records where it is") from None
