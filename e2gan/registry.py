"""The timm-style facade: ``create_<kind>(name, **settings)`` and ``list_<kind>s(pattern)``."""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any

from e2gan.plugins import entries


class UnknownNameError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0])


def _lookup(kind: str, name: str):
    found = entries(kind)
    if name not in found:
        close = difflib.get_close_matches(name, found, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(
            f"no {kind.replace('_', ' ')} named {name!r}.{hint} Available: {', '.join(sorted(found)) or 'none'}"
            " (install a plugin that provides it; `e2gan plugins` lists what is loaded)."
        )
    return found[name]


def create(kind: str, name: str, **settings: Any):
    factory = _lookup(kind, name).factory
    unknown, accepted = _unknown_settings(factory, settings)
    if unknown:
        from e2gan.settings import shorten

        raise ValueError(f"{kind.replace('_', ' ')} {name!r} has no setting {shorten(unknown[0], 60)!r}; its settings: "
                         f"{', '.join(accepted) or 'none'}")
    return factory(**settings)


def _unknown_settings(factory, settings: dict) -> tuple[list[str], list[str]]:
    """The keys of ``settings`` that ``factory`` does not take, and the ones it does (none unknown when it takes ``**kw``)."""
    import inspect

    target = getattr(factory, "target", None)
    try:
        sig = inspect.signature(target() if target else factory)
    except (TypeError, ValueError):
        return [], []
    params = [p for p in sig.parameters.values() if p.name != "self"]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return [], []
    accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return [k for k in settings if k not in accepted], accepted


def list_names(kind: str, pattern: str = "*") -> list[str]:
    return sorted(n for n in entries(kind) if fnmatch.fnmatch(n, pattern))


def create_backbone(name: str, **config):
    return create("backbone", name, **config)


def list_backbones(pattern: str = "*") -> list[str]:
    return list_names("backbone", pattern)


def create_discriminator(name: str, **config):
    return create("discriminator", name, **config)


def list_discriminators(pattern: str = "*") -> list[str]:
    return list_names("discriminator", pattern)


def create_teacher(name: str, **settings):
    return create("teacher", name, **settings)


def list_teachers(pattern: str = "*") -> list[str]:
    return list_names("teacher", pattern)


def create_text_encoder(name: str, **settings):
    return create("text_encoder", name, **settings)


def list_text_encoders(pattern: str = "*") -> list[str]:
    return list_names("text_encoder", pattern)


def create_scorer(name: str, **settings):
    return create("scorer", name, **settings)


def list_scorers(pattern: str = "*") -> list[str]:
    return list_names("scorer", pattern)


def create_searcher(name: str, **settings):
    return create("searcher", name, **settings)


def list_searchers(pattern: str = "*") -> list[str]:
    return list_names("searcher", pattern)


def create_data_selector(name: str, **settings):
    return create("data_selector", name, **settings)


def list_data_selectors(pattern: str = "*") -> list[str]:
    return list_names("data_selector", pattern)


#: the names data selectors had before "selector" became ambiguous beside concept selectors (kept working)
create_selector, list_selectors = create_data_selector, list_data_selectors


def create_concept_selector(name: str, **settings):
    return create("concept_selector", name, **settings)


def list_concept_selectors(pattern: str = "*") -> list[str]:
    return list_names("concept_selector", pattern)
