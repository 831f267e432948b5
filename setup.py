"""Package discovery (the rest of the build is in pyproject.toml): every package under e2gan/, plugins/ (installed as
e2gan_plugins) and zoo/ (e2gan_zoo) is found, never listed by hand, so a new subpackage cannot be left out of the wheel."""

from setuptools import find_packages, setup


def found(where: str, name: str) -> list[str]:
    """``name`` and every package below the folder ``where``, named as installed."""
    return [name, *(f"{name}.{p}" for p in find_packages(where, exclude=["*.tests", "*.tests.*"]))]


setup(packages=found("e2gan", "e2gan") + found("plugins", "e2gan_plugins") + found("zoo", "e2gan_zoo"))
