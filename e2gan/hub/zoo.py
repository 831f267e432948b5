"""The model zoo as a catalogue: ``zoo/catalogue.json`` is the one source of truth for published bases
and concepts (repo id, pinned revision, base, teacher, prompt, metrics, licence), read by code and
checked against a schema; ``list_pretrained("*oil*")`` in timm's style."""

from __future__ import annotations

import fnmatch
import json

from e2gan.hub.sources import zoo_dir

#: field -> type of every catalogue entry (bases and concepts); "?" marks optional fields
SCHEMA = {
    "bases": {"path": str, "teacher": str, "backbone": str, "text_encoder": str, "resolution": int, "concepts": list, "made_by": str,
              "licence": str, "repo_id?": (str, type(None)), "revision?": (str, type(None)), "metrics?": dict},
    "concepts": {"path": str, "base": str, "teacher": str, "prompt": str, "licence": str, "metrics": dict, "made_by": str,
                 "kind?": str, "repo_id?": (str, type(None)), "revision?": (str, type(None))},
}


def catalogue() -> dict:
    path = zoo_dir() / "catalogue.json"
    if not path.exists():
        return {"bases": {}, "concepts": {}}
    cat = json.loads(path.read_text())
    problems = validate(cat)
    if problems:
        raise ValueError(f"{path}: {problems[0]}")
    return cat


def validate(cat: dict) -> list[str]:
    """Schema problems of a catalogue (empty when it is valid)."""
    problems = []
    for section, fields in SCHEMA.items():
        for name, entry in cat.get(section, {}).items():
            for field, typ in fields.items():
                optional = field.endswith("?")
                key = field.rstrip("?")
                if key not in entry:
                    if not optional:
                        problems.append(f"{section}.{name} lacks {key!r}")
                    continue
                if not isinstance(entry[key], typ):
                    problems.append(f"{section}.{name}.{key} should be {typ}, is {type(entry[key]).__name__}")
            extra = set(entry) - {f.rstrip("?") for f in fields}
            if extra:
                problems.append(f"{section}.{name} has unknown fields {sorted(extra)}")
            if not (zoo_dir() / entry.get("path", "")).is_dir():
                problems.append(f"{section}.{name}: folder zoo/{entry.get('path')} is missing")
    for name, entry in cat.get("concepts", {}).items():
        if entry.get("base") not in cat.get("bases", {}):
            problems.append(f"concepts.{name}.base {entry.get('base')!r} is not a base of the catalogue")
    return problems


def list_pretrained(pattern: str = "*") -> list[str]:
    """Names of the zoo's bases and concepts matching ``pattern`` (``zoo:NAME`` loads each)."""
    cat = catalogue()
    return sorted(n for section in ("bases", "concepts") for n in cat.get(section, {}) if fnmatch.fnmatch(n, pattern))


def show(name: str) -> dict:
    cat = catalogue()
    for section in ("bases", "concepts"):
        if name in cat.get(section, {}):
            return {"kind": section[:-1], "name": name, **cat[section][name]}
    import difflib

    close = difflib.get_close_matches(name, list_pretrained(), n=3)
    raise KeyError(f"no zoo entry {name!r}" + (f"; did you mean {', '.join(close)}?" if close else f"; the zoo has {', '.join(list_pretrained())}"))


def search(query: str = "", limit: int = 50) -> list[dict]:
    """Models on the Hub tagged ``e2gan`` whose id matches ``query``."""
    from huggingface_hub import HfApi

    return [{"id": m.id, "tags": list(m.tags or [])} for m in HfApi().list_models(filter="e2gan", search=query or None, limit=limit)]
