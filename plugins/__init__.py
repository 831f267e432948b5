"""e2gan's built-in plugins, each registered through the ``e2gan`` entry-point group like any other."""
