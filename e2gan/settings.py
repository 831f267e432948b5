"""The one ``key=value`` parser (``--set`` options and ``name:key=value,...`` strategy specs), and values quoted in messages."""

from __future__ import annotations

import json


def parse_value(raw: str):
    """JSON when it parses (numbers, booleans, lists), else the plain string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_pairs(items, what: str = "--set") -> dict:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; a clear error for an item without ``=``."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what}: {item!r} is not key=value")
        out[key.strip()] = parse_value(raw)
    return out


def parse_spec(spec: str) -> tuple[str, dict]:
    """``'uniform:rank=4'`` -> ``('uniform', {'rank': 4})``."""
    name, _, rest = spec.partition(":")
    return name.strip(), parse_pairs([s for s in rest.split(",") if s.strip()], what=spec)


def shorten(text, limit: int = 200) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out (a 100k-character value stays readable)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:max(20, limit - 40)]}... ({len(text) - max(20, limit - 40)} more characters)"
