"""Where models come from and go: a folder, ``zoo:NAME`` or a Hub repo (resolved and verified), the zoo's
catalogue, model cards, and publishing."""

from e2gan.hub.sources import commit_of, resolve, zoo_dir

__all__ = ["commit_of", "resolve", "zoo_dir"]
