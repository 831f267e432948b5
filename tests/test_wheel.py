"""The wheel is the product: built from the repository, its contents match the source tree, and installed into a clean
virtual environment with nothing of the repository on the path it runs the command line and a tiny
teach -> finetune -> apply -> export.

The clean environment takes its dependencies (torch and the rest, 6 GB) from this test run's own environment through a
folder of links, without e2gan's own files or the editable install's hooks, so the only e2gan it can import is the
wheel's."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: folder in the repository -> package name in the wheel
PACKAGES = {"e2gan": "e2gan", "plugins": "e2gan_plugins", "zoo": "e2gan_zoo"}


def _tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in out if "/tests/" not in f]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # no --wheel/--sdist: the sdist first, then the wheel built from the unpacked sdist (so the sdist is complete too)
    res = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    return wheel, sdist


def _expected_in_wheel() -> list[str]:
    """Every tracked module of the three packages, and every tracked file that pyproject's package-data ships, as
    installed names."""
    import fnmatch
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    out = []
    for folder, package in PACKAGES.items():
        for f in _tracked(folder):
            rel = f[len(folder) + 1:]
            if f.endswith(".py") or any(fnmatch.fnmatch(rel, pat) for pat in data.get(package, [])):
                out.append(f"{package}/{rel}")
    return out


def test_the_wheel_holds_every_module_and_zoo_file_of_the_source_tree(built):
    wheel, sdist = built
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _expected_in_wheel()
    assert "e2gan/adapt/pipeline.py" in expected and "e2gan_zoo/catalogue.json" in expected
    missing = [f for f in expected if f not in names]
    assert not missing, f"the wheel leaves out {missing[:10]} ({len(missing)} files)"
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        in_sdist = {n[len(top) + 1:] for n in tar.getnames()}
    left_out = [f for folder in PACKAGES for f in _tracked(folder) if f not in in_sdist]
    assert not left_out, f"the sdist leaves out {left_out[:10]}"
    res = subprocess.run([sys.executable, "-m", "check_wheel_contents", str(wheel)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def _clean_venv(root: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed and the dependencies linked in from this one."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True,
                               text=True, check=True).stdout.strip())
    deps = root / "deps"
    deps.mkdir()
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():  # everything but e2gan itself and the editable install's path hooks
        low = entry.name.lower()
        if low.startswith(("e2gan", "__editable__", "_e2gan")) or low.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    (site / "zz-deps.pth").write_text(f"{deps}\n")  # a path line: added to sys.path, its .pth files are not run
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                         capture_output=True, text=True, timeout=300)
    if "no such option: --python" in res.stderr:  # an older pip: install with the environment's own interpreter
        res = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "PYTHONPATH": str(ours)})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return venv


def test_the_installed_wheel_runs_the_tiny_pipeline_with_no_file_from_the_repo(built, tmp_path):
    wheel, _ = built
    venv = _clean_venv(tmp_path, wheel)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TQDM_DISABLE="1", PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")

    def run(*args, timeout=600):
        res = subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, f"{' '.join(map(str, args))}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        return res.stdout

    where = run(venv / "bin" / "python", "-c", "import e2gan, e2gan_plugins, e2gan_zoo; print(e2gan.__file__, e2gan_plugins.__file__, "
                "e2gan_zoo.__file__)")
    assert all(str(venv) in p and str(ROOT) not in p for p in where.split()), where
    assert "finetune" in run("e2gan", "--help") and "--base" in run("e2gan", "finetune", "--help")
    photos = work / "photos"
    photos.mkdir()
    run(venv / "bin" / "python", "-c", f"from e2gan.testing import tiny_images\nfor i, im in enumerate(tiny_images(4, 48)): "
        f"im.save({str(photos)!r} + f'/p{{i}}.png')")
    run("e2gan", "teach", "--teacher", "classic", "--prompt", "sepia", "--images", photos, "--crops", "2", "--size", "32", "--out", "data")
    run("e2gan", "finetune", "--base", "zoo:classic-base", "--data", "data", "--prompt", "sepia", "--steps", "3", "--batch-size", "2",
        "--out", "adapter")
    assert "1 image edited" in run("e2gan", "apply", "--model", "adapter", "--input", photos / "p0.png", "--out", "edited")
    assert (work / "edited" / "p0.png").is_file()
    run("e2gan", "export", "--model", "adapter", "--format", "onnx", "--size", "32", "--out", "sepia.onnx")
    assert (work / "sepia.onnx").stat().st_size > 10_000
