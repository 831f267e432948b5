"""The conformance kit (``e2gan.testing``) over every registered name of every kind, peft-style: one
table of cases, generic checks. Guards fail when a hook has no check or a built-in part no case."""

from __future__ import annotations

import importlib.metadata
from functools import partial

import pytest

import e2gan
from e2gan.plugins import KINDS, entries
from e2gan.registry import create
from e2gan.testing import CHECKS

#: kind -> name -> (factory settings, check keyword arguments). A callable settings value is called
#: with the session's tiny-model folders (``tiny_dirs``) to build the settings.
TABLE = {
    "backbone": {
        "e2gan-small": ({"coords": True}, {"sizes": (32, 48)}),
        "e2gan": ({}, {"sizes": (32, 40)}),
        "e2gan-large": ({}, {"sizes": (32, 24)}),
        "pix2pix-resnet9": ({"ngf": 8}, {"sizes": (32, 48)}),
        "pix2pix-unet256": ({"ngf": 8, "num_downs": 5}, {"sizes": (32, 64)}),
        "timm-unet": ({"encoder": "mobilenetv3_small_050"}, {"sizes": (32, 64)}),
        "comodgan-small": ({}, {"sizes": (32, 48)}),
        "comodgan": ({"levels": 3, "channel_base": 2048, "channel_max": 32, "z_dim": 32, "w_dim": 32, "mapping_layers": 2}, {"sizes": (32, 40)}),
    },
    "discriminator": {"patchgan": ({"ndf": 8}, {}), "comodgan": ({"levels": 3, "channel_base": 2048, "channel_max": 32}, {})},
    "teacher": {
        "classic": ({}, {}),
        "procedural": ({}, {}),
        "instruct-pix2pix": (lambda d: {"model": d["ip2p"], "steps": 2, "resolution": 32, "batch_size": 2}, {"prompt": "make it snow"}),
        "pix2pix-zero": (lambda d: {"model": d["p2pz"], "steps": 2, "resolution": 32, "cache_dir": d["cache"]}, {"prompt": "cat -> dog"}),
    },
    "text_encoder": {"hashed-words": ({}, {}), "minilm": ({"max_tokens": 12}, {}), "clip": (lambda d: {"model": d["clip"], "max_tokens": 16}, {})},
    "scorer": {"weight-delta": ({"steps": 3}, {}), "fisher": ({"batches": 2}, {}), "taylor": ({"batches": 2}, {}), "random": ({}, {})},
    "searcher": {"simple": ({"rounds": 1}, {}), "uniform": ({"rank": 4}, {"within_budget": False}), "random": ({}, {}),
                 "svd-energy": ({}, {}), "greedy": ({}, {})},
    "data_selector": {"kmeans": ({}, {}), "random": ({}, {}), "all": ({}, {})},
    "concept_selector": {"representative": ({}, {}), "random": ({}, {}), "single": ({}, {})},
}


def _our_plugins() -> set[str]:
    """Entry-point names of this distribution: third-party plugins installed beside it are not ours to check."""
    return {ep.name for ep in importlib.metadata.distribution("e2gan").entry_points if ep.group == "e2gan"}


def _builtin(kind):
    ours = _our_plugins()
    return sorted(name for name, e in entries(kind).items() if e.plugin in ours)


def test_every_hook_has_a_check_and_a_table():
    assert set(KINDS) == set(CHECKS), f"hooks without a check in e2gan.testing: {sorted(set(KINDS) - set(CHECKS))}"
    assert set(KINDS) == set(TABLE), f"hooks without a conformance table here: {sorted(set(KINDS) - set(TABLE))}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_builtin_part_has_a_case(kind):
    missing = set(_builtin(kind)) - set(TABLE[kind])
    assert not missing, f"built-in {kind}s without a conformance case: {sorted(missing)}"


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    pytest.importorskip("diffusers")
    from e2gan.testing.diffusers import (
        save_instruct_pix2pix,
        save_pix2pix_zero,
        save_tiny_clip,
    )

    root = tmp_path_factory.mktemp("tiny-models")
    return {"ip2p": save_instruct_pix2pix(root / "ip2p"), "p2pz": save_pix2pix_zero(root / "p2pz"), "clip": save_tiny_clip(root / "clip"),
            "cache": str(root / "p2pz-cache")}


CASES = [(kind, name) for kind in sorted(TABLE) for name in sorted(TABLE[kind])]


@pytest.mark.parametrize("kind,name", CASES, ids=[f"{k}:{n}" for k, n in CASES])
def test_conformance(kind, name, request):
    settings, check_kwargs = TABLE[kind][name]
    if callable(settings):
        settings = settings(request.getfixturevalue("tiny_dirs"))
    factory = partial(create, kind, name, **settings)
    CHECKS[kind](lambda **override: factory(**override), **check_kwargs)


def test_the_kit_catches_a_broken_teacher():
    """The checks can fail: a teacher whose output depends on the call count is refused."""
    from e2gan.testing import check_teacher

    class Flaky:
        settings = {}
        calls = 0

        def edit(self, images, prompt, seeds):
            Flaky.calls += 1
            return [im.rotate(Flaky.calls) for im in images]

    with pytest.raises(AssertionError, match="same pixels"):
        check_teacher(Flaky, prompt="x")


def test_the_kit_catches_a_searcher_over_budget():
    from e2gan.testing import check_searcher

    with pytest.raises(AssertionError, match="exceed the budget"):
        check_searcher(lambda: e2gan.create_searcher("uniform", rank=16))
