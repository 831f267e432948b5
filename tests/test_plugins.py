"""Plugin discovery: built-ins through entry points, throwaway plugins, collisions, misspelt hooks."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import pytest

import e2gan
from e2gan.hookspecs import hookimpl
from e2gan.plugins import PluginError, entries, plugin_summaries, pm
from e2gan.registry import UnknownNameError

BUILTIN = {
    "backbone": {"e2gan", "e2gan-small", "e2gan-large", "pix2pix-resnet9", "pix2pix-unet256", "timm-unet"},
    "discriminator": {"patchgan"},
    "teacher": {"classic", "procedural"},
    "concept_selector": {"representative", "random", "single"},
    "text_encoder": {"hashed-words", "clip", "minilm"},
}


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_builtin_parts_are_discovered_through_entry_points(kind):
    found = entries(kind)
    assert BUILTIN[kind] <= set(found)
    ours = {ep.name for ep in importlib.metadata.distribution("e2gan").entry_points if ep.group == "e2gan"}
    assert all(found[name].plugin in ours for name in BUILTIN[kind])


def test_registry_facade_lists_by_pattern_and_explains_unknown_names():
    assert e2gan.list_backbones("pix2pix*") == ["pix2pix-resnet9", "pix2pix-unet256"]
    with pytest.raises(UnknownNameError, match="Did you mean 'e2gan-small'"):
        e2gan.create_backbone("e2gan-smal")


def test_throwaway_plugin_registers_and_unregisters(register_plugin):
    class Echo:
        settings = {}

        def edit(self, images, prompt, seeds):
            return images

    class Plugin:
        @hookimpl
        def register_teachers(self, register):
            register("echo", Echo, description="returns its input")

    register_plugin(Plugin(), "echo-plugin")
    assert "echo" in e2gan.list_teachers()
    assert entries("teacher")["echo"].plugin == "echo-plugin"
    summary = {row["name"]: row for row in plugin_summaries()}
    assert summary["echo-plugin"]["registers"] == {"teacher": ["echo"]}


def test_two_plugins_with_one_name_is_an_error_naming_both(register_plugin):
    class Dup:
        @hookimpl
        def register_teachers(self, register):
            register("classic", object)

    register_plugin(Dup(), "dup-plugin")
    with pytest.raises(PluginError, match="'classic-teacher'.*'dup-plugin'|'dup-plugin'.*'classic-teacher'"):
        e2gan.list_teachers()


@pytest.mark.slow
def test_misspelt_hook_is_reported_and_skipped():
    code = textwrap.dedent(
        """
        import warnings
        from e2gan.plugins import pm, load_plugins, BROKEN
        from e2gan.hookspecs import hookimpl
        class Bad:
            @hookimpl
            def register_teacher(self, register):  # missing 's'
                pass
        pm.register(Bad(), name="bad")
        load_plugins()
        import e2gan
        print("BROKEN", BROKEN, e2gan.list_teachers("classic"))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'bad'" in out and "register_teacher" in out and "['classic']" in out


@pytest.mark.slow
def test_load_plugins_env_restricts_what_loads():
    code = "import e2gan; print(e2gan.list_backbones(), e2gan.list_teachers())"
    env = {**os.environ, "E2GAN_LOAD_PLUGINS": "classic-teacher"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[] ['classic']"
    env["E2GAN_LOAD_PLUGINS"] = "no-such-plugin"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode != 0 and "no-such-plugin" in res.stderr


def test_every_entry_point_of_the_distribution_is_loaded():
    import importlib.metadata

    ours = {ep.name for ep in importlib.metadata.distribution("e2gan").entry_points if ep.group == "e2gan"}
    loaded = {n for n, _ in pm.list_name_plugin()}
    assert ours <= loaded, f"entry points not loaded: {sorted(ours - loaded)}"
    summaries = {row["name"]: row for row in plugin_summaries()}
    assert all(summaries[n]["package"] == "e2gan" and summaries[n]["registers"] for n in ours)


def test_minilm_is_really_trained():
    """Related prompts come out closer than unrelated ones with the trained sentence encoder."""
    enc = e2gan.create_text_encoder("minilm")
    related = [("add snow", "a snowy winter scene"), ("oil painting", "a painting in oils"), ("make it warmer", "warm colour grade")]
    unrelated = [("add snow", "turn him into a zombie"), ("oil painting", "a snowy winter scene"), ("make it warmer", "a painting in oils")]

    def cos(enc_fn, a, b):  # sentence() is L2-normalised: the dot product is the cosine
        return float(enc_fn([a, b]).prod(0).sum())

    near = [cos(enc.sentence, a, b) for a, b in related]
    far = [cos(enc.sentence, a, b) for a, b in unrelated]
    assert min(near) > max(far) + 0.2, (near, far)
    assert enc.dim == 384 and enc.settings["model"].startswith("package:")
