"""The model zoo as a catalogue: ``zoo/catalogue.json`` is the one source of truth for published bases
and concepts (repo id, pinned revision, base, teacher, prompt, metrics, licence), read by code and
checked against a schema; ``list_pretrained("*oil*")`` in timm's style."""

from __future__ import annotations

import fnmatch

from e2gan.files import read_json
from e2gan.hub.sources import zoo_dir

#: field -> type of every catalogue entry (bases and concepts); "?" marks optional fields
SCHEMA = {
    "bases": {"path": str, "teacher": str, "backbone": str, "text_encoder": str, "resolution": int, "concepts": list, "made_by": str,
              "licence": str, "repo_id?": (str, type(None)), "revision?": (str, type(None)), "metrics?": dict},
    "concepts": {"path": str, "base": str, "teacher": str, "prompt": str, "licence": str, "metrics": dict, "made_by": str,
                 "kind?": str, "repo_id?": (str, type(None)), "revision?": (str, type(None)), "full_res?": dict},
}


def catalogue() -> dict:
    path = zoo_dir() / "catalogue.json"
    if not path.exists():
        return {"bases": {}, "concepts": {}}
    cat = read_json(path, "reinstall e2gan or restore zoo/catalogue.json")
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


def base_for_teacher(teacher: str | None) -> str | None:
    """``zoo:NAME`` of the catalogue's base trained on ``teacher``'s concepts (the most concepts, when several are),
    or None: what ``finetune`` starts from when no --base is given."""
    bases = [(len(e.get("concepts", [])), name) for name, e in catalogue().get("bases", {}).items() if teacher and e.get("teacher") == teacher]
    return f"zoo:{max(bases)[1]}" if bases else None


def show(name: str) -> dict:
    cat = catalogue()
    for section in ("bases", "concepts"):
        if name in cat.get(section, {}):
            return {"kind": section[:-1], "name": name, **cat[section][name]}
    import difflib

    close = difflib.get_close_matches(name, list_pretrained(), n=3)
    raise KeyError(f"no zoo entry {name!r}" + (f"; did you mean {', '.join(close)}?" if close else f"; the zoo has {', '.join(list_pretrained())}"))


def search_catalogue(query: str = "") -> list[dict]:
    """Catalogue entries whose name, prompt, concepts or teacher contain every word of ``query`` (case-insensitive)."""
    words = query.lower().split()
    cat = catalogue()
    found = []
    for section in ("bases", "concepts"):
        for name, entry in cat.get(section, {}).items():
            text = " ".join([name, entry.get("prompt", ""), entry.get("teacher", ""), " ".join(entry.get("concepts", []))]).lower()
            if all(w in text for w in words):
                found.append({"name": name, **entry, "entry": section[:-1]})
    return found


def search_hub(query: str = "", limit: int = 50) -> tuple[list[dict], str | None]:
    """``(models, why_not)``: models on the Hub tagged ``e2gan`` whose id matches ``query``, or why the Hub was not
    searched (offline, unreachable), in one line."""
    import os

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return [], "the Hub was not searched: HF_HUB_OFFLINE is set"
    from huggingface_hub import HfApi

    try:
        return [{"id": m.id, "tags": list(m.tags or [])} for m in HfApi().list_models(filter="e2gan", search=query or None, limit=limit)], None
    except Exception as exc:  # noqa: BLE001  no network, a proxy, a 5xx: the catalogue's results still stand
        from e2gan.settings import shorten

        return [], f"the Hub could not be searched ({type(exc).__name__}: {shorten(exc, 120)})"
