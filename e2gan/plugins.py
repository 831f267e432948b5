"""Plugin discovery (entry-point group ``e2gan``) and the per-kind registries built from the hooks."""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import pluggy

from e2gan import hookspecs

ENTRY_POINT_GROUP = "e2gan"
#: hook name -> the word used in messages and in the registry facade
KINDS = {
    "backbone": "register_backbones",
    "discriminator": "register_discriminators",
    "teacher": "register_teachers",
    "text_encoder": "register_text_encoders",
    "scorer": "register_importance_scorers",
    "searcher": "register_rank_searchers",
    "data_selector": "register_data_selectors",
    "concept_selector": "register_concept_selectors",
}


class PluginError(RuntimeError):
    """A plugin could not be loaded, or two plugins collide."""


@dataclass(frozen=True)
class Entry:
    """One registered part: its name, how to build it, and which plugin provided it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""


pm = pluggy.PluginManager("e2gan")
pm.add_hookspecs(hookspecs)
_loaded = False


#: entry-point name -> why it could not be loaded (shown by `e2gan plugins`; other commands go on without it)
BROKEN: dict[str, str] = {}


def _allowed() -> set[str] | None:
    raw = os.environ.get("E2GAN_LOAD_PLUGINS")
    if raw is None:
        return None
    names = {name.strip() for name in raw.split(",") if name.strip()}
    if not names:
        raise PluginError("E2GAN_LOAD_PLUGINS is set but names no plugin; unset it to load every plugin, or list the ones to load "
                          "(e.g. E2GAN_LOAD_PLUGINS=backbones,text-encoders)")
    return names


def load_plugins() -> pluggy.PluginManager:
    """Load every entry point of the ``e2gan`` group once (``E2GAN_LOAD_PLUGINS=a,b`` restricts it)."""
    global _loaded
    if _loaded:
        return pm
    _loaded = True
    allowed = _allowed()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
        except (Exception, SystemExit) as exc:  # a broken third-party plugin must not take every command down
            why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, SystemExit) else f"it called sys.exit({exc.code!r}) at import"
            BROKEN[ep.name] = why
            warnings.warn(f"e2gan plugin {ep.name!r} ({ep.value}) failed to load and is skipped ({why}); "
                          f"`e2gan plugins` lists it; load only the others with E2GAN_LOAD_PLUGINS=<names>", stacklevel=2)
            continue
        try:
            pm.register(module, name=ep.name)
        except ValueError as exc:
            BROKEN[ep.name] = f"could not register: {exc}"
            continue
    if allowed:
        missing = allowed - {name for name, _ in pm.list_name_plugin()}
        if missing:
            raise PluginError(
                f"E2GAN_LOAD_PLUGINS names {sorted(missing)}, which no installed package provides; "
                f"installed: {sorted(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))}"
            )
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        bad = getattr(exc, "plugin", None)
        name = pm.get_name(bad) if bad is not None else None
        if name is None:
            raise PluginError(f"a plugin implements a hook that does not exist (misspelt?): {exc}") from exc
        pm.unregister(name=name)
        BROKEN[name] = f"implements a hook that does not exist (misspelt?): {exc}"
    return pm


def entries(kind: str) -> dict[str, Entry]:
    """Every part of ``kind`` that the loaded plugins register, by name (collisions are errors)."""
    load_plugins()
    hook = getattr(pm.hook, KINDS[kind])
    found: dict[str, Entry] = {}
    for impl in reversed(hook.get_hookimpls()):  # registration order

        def register(name, factory, description="", _plugin=impl.plugin_name):
            if name in found:
                raise PluginError(
                    f"{kind} {name!r} is registered by both plugin {found[name].plugin!r} and plugin "
                    f"{_plugin!r}; uninstall one or restrict loading with E2GAN_LOAD_PLUGINS"
                )
            found[name] = Entry(kind, name, factory, _plugin, description)

        impl.function(register=register)
    return found


def plugin_summaries() -> list[dict]:
    """What ``e2gan plugins`` shows: each plugin, its version, and what it registers."""
    load_plugins()
    dists = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                dists[ep.name] = (dist.metadata["Name"], dist.version)
    by_plugin: dict[str, dict] = {}
    for name, plugin in pm.list_name_plugin():
        dist_name, version = dists.get(name, (None, None))
        by_plugin[name] = {
            "name": name,
            "package": dist_name,
            "version": version,
            "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            "registers": {},
            "descriptions": {},
        }
    for kind in KINDS:
        for entry in entries(kind).values():
            by_plugin[entry.plugin]["registers"].setdefault(kind, []).append(entry.name)
            by_plugin[entry.plugin]["descriptions"][f"{kind}:{entry.name}"] = entry.description
    for name, why in BROKEN.items():
        dist_name, version = dists.get(name, (None, None))
        by_plugin[name] = {"name": name, "package": dist_name, "version": version, "hooks": [], "registers": {}, "descriptions": {},
                           "broken": why}
    return list(by_plugin.values())
