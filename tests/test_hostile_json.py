"""Nothing lost, round three: JSON nested thousands deep, settings each in range but too large together, and random or
hostile JSON fed to every reader (hypothesis, fixed seed): a one-line error naming the file, exit code 2, nothing
written; never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from e2gan.files import MAX_JSON_DEPTH, loads_bounded, read_config
from e2gan.testing.cli import run_cli
from e2gan.testing.tiny import tiny_invert_adapter, tiny_images

DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    tiny_invert_adapter(root)
    tiny_images(1, 32)[0].save(root / "p.png")
    return root


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("victim", ["base/config.json", "invert/e2gan_adapter.json", "invert/adapter_config.json"])
def test_json_nested_thousands_deep_is_one_line_and_nothing_is_written(adapter, tmp_path, victim):
    root = _copy(adapter, tmp_path / "m")
    (root / victim).write_text(DEEP)
    model = root / "invert" if "invert" in victim else root / "base"
    code, out = run_cli("apply", "--model", model, "--input", root / "p.png", "--out", tmp_path / "out", "--prompt", "invert")
    assert code == 2 and str(root / victim) in out and "levels deep" in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) <= 2
    assert not (tmp_path / "out").exists()


def test_a_manifest_record_nested_thousands_deep_is_one_line(tmp_path, tiny_data):
    data = _copy(tiny_data, tmp_path / "data")
    with open(data / "manifest.jsonl", "a") as f:
        f.write(DEEP + "\n" + json.dumps({"key": "x"}) + "\n")
    code, out = run_cli("finetune", "--base", "zoo:classic-base", "--data", data, "--prompt", "sepia", "--steps", "1", "--out", tmp_path / "ad")
    assert code == 2 and "manifest.jsonl line" in out and "levels deep" in out and "Traceback" not in out, out
    assert not (tmp_path / "ad").exists()


def test_settings_each_in_range_but_too_large_together_are_refused_before_allocation(adapter, tmp_path):
    root = _copy(adapter, tmp_path / "m")
    cfg = json.loads((root / "base" / "config.json").read_text())
    cfg["config"].update(ngf=512, text_dim=4096, heads=64, n_res_before=32, n_res_after=32)
    (root / "base" / "config.json").write_text(json.dumps(cfg))
    code, out = run_cli("apply", "--model", root / "base", "--prompt", "invert", "--input", root / "p.png", "--out", tmp_path / "out")
    assert code == 2 and "would have" in out and "ngf=512" in out and "bound of 200,000,000" in out and "Traceback" not in out, out
    assert not (tmp_path / "out").exists()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=30)


@seed(2026)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=JSON | st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
       depth=st.integers(0, 3 * MAX_JSON_DEPTH))
def test_random_and_hostile_json_to_the_readers_is_a_value_or_one_clear_error(doc, depth, tmp_path_factory):
    text = doc if isinstance(doc, str) else json.dumps(doc)  # raw text (often not JSON at all), or a JSON document
    text = "[" * depth + text + "]" * depth
    path = tmp_path_factory.mktemp("j") / "config.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    for reader in (lambda: loads_bounded(path.read_bytes(), path), lambda: read_config(path)):
        try:
            reader()
        except ValueError as exc:
            msg = str(exc)
            assert str(path) in msg and "\n" not in msg, msg
