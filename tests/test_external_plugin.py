"""A real third-party distribution (own pyproject, own entry point) is built, installed and used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from e2gan.testing.tiny import photo

PYPROJECT = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "e2gan-mirror-teacher"
version = "0.3.1"

[project.entry-points.e2gan]
mirror = "e2gan_mirror"
"""

MODULE = '''
from e2gan import hookimpl


class Mirror:
    batch_size = 8

    def __init__(self, axis="horizontal"):
        self.axis = axis
        self.settings = {"axis": axis}

    def edit(self, images, prompt, seeds):
        from PIL import ImageOps

        flip = ImageOps.mirror if self.axis == "horizontal" else ImageOps.flip
        return [flip(im) for im in images]


@hookimpl
def register_teachers(register):
    register("mirror", Mirror, description="flips the photo")
'''


@pytest.mark.slow
def test_installed_distribution_is_listed_and_teaches(tmp_path):
    src = tmp_path / "dist"
    (src / "e2gan_mirror").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (src / "e2gan_mirror" / "__init__.py").write_text(MODULE)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "TQDM_DISABLE": "1"}
    e2gan = [sys.executable, "-m", "e2gan.cli"]
    listed = subprocess.run(e2gan + ["plugins"], env=env, capture_output=True, text=True, check=True).stdout
    assert "mirror  [e2gan-mirror-teacher 0.3.1]" in listed
    assert re.search(r"teacher +mirror +flips the photo", listed)
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    photo(1, 40).save(imgs / "a.png")
    out = tmp_path / "data"
    res = subprocess.run(e2gan + ["teach", "--teacher", "mirror", "--set", "axis=vertical", "--prompt", "flip", "--images", str(imgs),
                                  "--size", "32", "--out", str(out)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    line = (out / "manifest.jsonl").read_text().splitlines()[0]
    assert '"teacher": "mirror"' in line and '"axis": "vertical"' in line
    import json

    rec = json.loads(line)
    src_img, tgt_img = Image.open(out / rec["source"]), Image.open(out / rec["target"])
    import numpy as np

    assert np.array_equal(np.asarray(tgt_img), np.asarray(src_img.transpose(Image.FLIP_TOP_BOTTOM)))
    assert Path(out / rec["target"]).exists()


PLUGIN_TEST = """
from e2gan.testing import check_teacher
from e2gan_mirror import Mirror

def test_mirror_conforms():
    check_teacher(Mirror, prompt="flip")
"""


@pytest.mark.slow
def test_a_third_party_package_tests_itself_with_the_kit_and_does_not_break_our_guards(tmp_path):
    """The three lines of docs/plugins.md, in the plugin's own test folder; our guards ignore its entry point."""
    src = tmp_path / "dist"
    (src / "e2gan_mirror").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (src / "e2gan_mirror" / "__init__.py").write_text(MODULE)
    (src / "tests").mkdir()
    (src / "tests" / "test_mirror.py").write_text(PLUGIN_TEST)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path(__file__).resolve().parents[1])]), "TQDM_DISABLE": "1"}
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    res = subprocess.run(pytest_cmd + [str(src / "tests")], env=env, capture_output=True, text=True, cwd=src)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout[-2000:]
    guards = str(Path(__file__).resolve().parent / "test_conformance.py")
    res = subprocess.run(pytest_cmd + [guards, "-k", "every_hook or every_builtin"], env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "9 passed" in res.stdout, res.stdout[-2000:]


BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "e2gan-broken-plugins"
version = "0.0.1"

[project.entry-points.e2gan]
boom = "e2gan_boom"
quitter = "e2gan_quitter"

[tool.setuptools]
packages = ["e2gan_boom", "e2gan_quitter"]
"""


@pytest.mark.slow
def test_broken_third_party_plugins_are_listed_not_obeyed(tmp_path):
    """One that raises at import and one that calls sys.exit: both reported, every other command still works."""
    src = tmp_path / "dist"
    for mod, body in (("e2gan_boom", "raise ImportError('needs libfoo 9')\n"), ("e2gan_quitter", "import sys\nsys.exit(3)\n")):
        (src / mod).mkdir(parents=True)
        (src / mod / "__init__.py").write_text(body)
    (src / "pyproject.toml").write_text(textwrap.dedent(BROKEN_PYPROJECT))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "TQDM_DISABLE": "1"}
    e2gan = [sys.executable, "-m", "e2gan.cli"]
    res = subprocess.run(e2gan + ["plugins"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "boom  [e2gan-broken-plugins 0.0.1]  BROKEN: ImportError: needs libfoo 9" in res.stdout
    assert "quitter  [e2gan-broken-plugins 0.0.1]  BROKEN: it called sys.exit(3) at import" in res.stdout
    res = subprocess.run(e2gan + ["concepts", "--teacher", "classic"], env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "oil painting" in res.stdout and "E2GAN_LOAD_PLUGINS" in res.stderr
    res = subprocess.run(e2gan + ["concepts"], env={**env, "E2GAN_LOAD_PLUGINS": ""}, capture_output=True, text=True)
    assert res.returncode == 2 and "names no plugin" in res.stderr and "Traceback" not in res.stderr
