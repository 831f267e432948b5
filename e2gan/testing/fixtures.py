"""pytest fixtures for plugin authors: ``pytest_plugins = ["e2gan.testing.fixtures"]`` in a conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def register_plugin():
    """Register a throwaway plugin object for one test, llm-style; unregistered afterwards::

        def test_it(register_plugin):
            register_plugin(MyPlugin(), "my-plugin")
    """
    from e2gan.plugins import pm

    names = []

    def register(plugin, name):
        pm.register(plugin, name=name)
        names.append(name)
        return plugin

    yield register
    for name in names:
        pm.unregister(name=name)
