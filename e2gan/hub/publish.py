"""Ship: publish a base or an adapter to the Hub with a model card, and pull one back, verified.

What goes up is only safetensors, JSON, the card and images (a folder holding anything else is
refused, with the names). An adapter's ``e2gan_adapter.json`` and peft's ``base_model_name_or_path``
name its base by Hub id and revision, so that anyone can pull it: publish the base first. The local
folder is never changed: the rewritten JSON and the card go up as bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from e2gan.files import (
    read_json,
    ADAPTER_CONFIG,
    ADAPTER_META,
    ADAPTER_WEIGHTS,
    WEIGHTS,
    read_adapter_meta,
)
from e2gan.hub.sources import zoo_dir
from e2gan.hub.zoo import catalogue

PUBLISHABLE = (".safetensors", ".json", ".md", ".png", ".jpg", ".jpeg", ".jsonl")
#: plain-text files that describe how a model was made (a zoo entry's make.sh): left behind, and said so
LEFT_OUT = (".sh", ".txt", ".log", ".html")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_publishable(folder: Path) -> list[Path]:
    """The files to upload; refuses anything that is not safetensors, JSON, the card or an image, except plain-text
    notes (``LEFT_OUT``), which stay behind."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in LEFT_OUT)
    bad = [str(p.relative_to(folder)) for p in files if p.suffix.lower() not in PUBLISHABLE]
    if bad:
        raise ValueError(f"{folder} holds {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}: e2gan publishes only safetensors weights, "
                         "JSON, the model card and images (a pickle or an unknown file must not reach the Hub); move them out first")
    if not any(p.name in (WEIGHTS, ADAPTER_WEIGHTS) for p in files):
        raise ValueError(f"{folder} has neither {WEIGHTS} (a base) nor adapter_model.safetensors (an adapter): nothing to publish")
    return files


def _base_hub_id(meta: dict, base_repo: str | None) -> tuple[str, str | None]:
    """(hub id, revision) of an adapter's base: given, already a Hub id, or a zoo entry the catalogue publishes."""
    if base_repo:
        repo, _, rev = base_repo.partition("@")
        return repo, rev or None
    base = str(meta.get("base", ""))
    if base.startswith("hf-hub:"):
        base = base[len("hf-hub:"):]
    if HUB_ID.match(base) and not Path(base).exists():
        return base, meta.get("base_revision")
    if base.startswith("zoo:"):
        entry = catalogue()["bases"].get(base[4:], {})
        if entry.get("repo_id"):
            return entry["repo_id"], entry.get("revision")
    raise ValueError(f"the adapter's base is {base!r}, which others cannot download: publish the base first "
                     f"(`e2gan push BASE_FOLDER org/base-name`), then pass --base-repo org/base-name[@revision]")


def push(folder, repo_id: str, private: bool = False, revision: str | None = None, message: str | None = None,
         base_repo: str | None = None, token=None):
    """Publish ``folder`` (a base or an adapter) to ``repo_id``; returns ``(commit oid, card)``."""
    from huggingface_hub import CommitOperationAdd, HfApi

    folder = Path(folder)
    if not HUB_ID.match(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repo id (org/name)")
    files = check_publishable(folder)
    adapter = (folder / ADAPTER_META).exists()
    base_id = base_rev = None
    overrides: dict[str, bytes] = {}
    if adapter:
        meta = read_adapter_meta(folder)
        base_id, base_rev = _base_hub_id(meta, base_repo)
        overrides[ADAPTER_META] = json.dumps({**meta, "base": base_id, "base_revision": base_rev}, indent=2, sort_keys=True).encode()
        peft_cfg = read_json(folder / ADAPTER_CONFIG, "copy the adapter again")
        overrides[ADAPTER_CONFIG] = json.dumps({**peft_cfg, "base_model_name_or_path": base_id}, indent=2, sort_keys=True).encode()
    from e2gan.hub.card import model_card

    card = model_card(folder, repo_id, base_id, base_rev)
    overrides["README.md"] = str(card).encode()
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision and revision != "main":
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    ops = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in overrides.items()]
    ops += [CommitOperationAdd(path_in_repo=str(p.relative_to(folder)), path_or_fileobj=str(p)) for p in files
            if str(p.relative_to(folder)) not in overrides]
    kind = "adapter" if adapter else "base"
    info = api.create_commit(repo_id, ops, commit_message=message or f"e2gan push: {kind} {folder.name}", revision=revision or "main")
    return info.oid, card


def publish_all(only=None, private: bool = False) -> list[dict]:
    """Push every catalogue entry that names a ``repo_id`` (bases first, so that concepts can name their base by Hub id);
    ``only``: a subset of names. Returns what went where."""
    cat = catalogue()
    done = []
    for section in ("bases", "concepts"):
        for name, entry in cat.get(section, {}).items():
            if only and name not in only:
                continue
            if not entry.get("repo_id"):
                raise ValueError(f"zoo entry {name!r} names no repo_id in {zoo_dir() / 'catalogue.json'}: add one to publish it")
            base_repo = None
            if section == "concepts":
                base = cat["bases"][entry["base"]]
                base_repo = base["repo_id"] + (f"@{base['revision']}" if base.get("revision") else "")
            oid, _ = push(zoo_dir() / entry["path"], entry["repo_id"], private=private, base_repo=base_repo,
                          message=f"e2gan zoo publish: {name}")
            done.append({"name": name, "kind": section[:-1], "repo_id": entry["repo_id"], "commit": oid})
    return done


def push_to_hub(student, repo_id: str, folder=None, **kw):
    """Publish a student (:func:`push`): a base from memory (saved to a temporary folder first), or the adapter folder it
    was loaded from or saved to (``folder``). A function beside ``push``, not a method: the model never imports publishing."""
    import tempfile

    if folder is None:
        if "adapter" in student.meta:
            raise ValueError("pass folder= (the adapter folder) to publish an adapter")
        folder = Path(tempfile.mkdtemp(prefix="e2gan-push-"))
        student.save_pretrained(folder)
    return push(folder, repo_id, **kw)
