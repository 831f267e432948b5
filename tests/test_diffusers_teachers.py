"""InstructPix2Pix and pix2pix-zero teachers on tiny pipelines loaded from a local folder."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import e2gan
from e2gan.cli import cli
from e2gan.data.dataset import PairedDataset
from e2gan.teach import teach
from e2gan.testing.tiny import photo

pytest.importorskip("diffusers")
from e2gan.testing.diffusers import save_instruct_pix2pix, save_pix2pix_zero  # noqa: E402


@pytest.fixture(scope="module")
def ip2p_dir(tmp_path_factory):
    return save_instruct_pix2pix(tmp_path_factory.mktemp("ip2p"))


@pytest.fixture(scope="module")
def p2pz_dir(tmp_path_factory):
    return save_pix2pix_zero(tmp_path_factory.mktemp("p2pz"))


def _digest(folder):
    ds = PairedDataset(folder)
    return {r.key: hashlib.sha256((folder / r.target).read_bytes()).hexdigest() for r in ds.records}


def test_both_teachers_are_registered():
    assert {"instruct-pix2pix", "pix2pix-zero"} <= set(e2gan.list_teachers())


def test_instruct_pix2pix_teaches_deterministic_resumable_pairs(tmp_path, ip2p_dir):
    settings = {"model": ip2p_dir, "steps": 2, "resolution": 64, "batch_size": 2}
    sources = [(f"p{i}", photo(i, 48)) for i in range(3)]
    s = teach("instruct-pix2pix", ["turn it into a watercolor"], sources, tmp_path / "a", size=32, teacher_settings=settings, progress=False)
    assert s.written == 3 and s.ok
    ds = PairedDataset(tmp_path / "a")
    for r in ds.records:
        img = Image.open(tmp_path / "a" / r.target)
        assert img.mode == "RGB" and img.size == (32, 32)
        assert r.settings["model"] == ip2p_dir and r.settings["revision"].startswith("local-sha256:")
        assert r.settings["num_inference_steps"] == 2 and r.settings["image_guidance_scale"] == 1.5
        assert r.settings["scheduler"] == "EulerAncestralDiscreteScheduler"
    # same seed -> same image, in another folder and batch layout
    teach("instruct-pix2pix", ["turn it into a watercolor"], sources[::-1], tmp_path / "b", size=32,
          teacher_settings={**settings, "batch_size": 1}, progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    # resume
    s2 = teach("instruct-pix2pix", ["turn it into a watercolor"], sources, tmp_path / "a", size=32, teacher_settings=settings, progress=False)
    assert (s2.written, s2.already_done) == (0, 3)


def test_instruct_pix2pix_cli_skips_a_corrupt_source(tmp_path, ip2p_dir):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    photo(1, 40).save(imgs / "a.png")
    buf = io.BytesIO()
    photo(2, 64).save(buf, format="JPEG")
    (imgs / "b.jpg").write_bytes(buf.getvalue()[:200])
    res = CliRunner().invoke(cli, ["teach", "--teacher", "instruct-pix2pix", "--set", f"model={ip2p_dir}", "--set", "steps=2",
                                   "--set", "resolution=64", "--prompt", "make it snow", "--images", str(imgs), "--size", "32",
                                   "--out", str(tmp_path / "d")])
    assert res.exit_code == 1 and "b.jpg" in res.output and "1 pair written" in res.output


def test_pix2pix_zero_edits_and_caches_direction(tmp_path, p2pz_dir):
    cache = tmp_path / "cache"
    settings = {"model": p2pz_dir, "steps": 2, "resolution": 64, "cache_dir": str(cache), "source_sentences": ["a cat", "the cat"]}
    sources = [(f"p{i}", photo(i, 48)) for i in range(2)]
    s = teach("pix2pix-zero", ["cat -> dog"], sources, tmp_path / "a", size=32, teacher_settings=settings, progress=False)
    assert s.written == 2 and s.ok, s.lines()
    assert len(list(cache.glob("*.safetensors"))) == 2  # source and target embeddings
    rec = PairedDataset(tmp_path / "a").records[0]
    assert rec.settings["source_sentences"] == ["a cat", "the cat"] and rec.settings["cross_attention_guidance_amount"] == 0.15
    arr = np.asarray(Image.open(tmp_path / "a" / rec.target))
    assert arr.shape == (32, 32, 3)
    teach("pix2pix-zero", ["cat -> dog"], sources, tmp_path / "b", size=32, teacher_settings=settings, progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_pix2pix_zero_needs_an_arrow_prompt(tmp_path, p2pz_dir):
    s = teach("pix2pix-zero", ["a dog"], [("p", photo(0, 48))], tmp_path, size=32,
              teacher_settings={"model": p2pz_dir, "steps": 2, "resolution": 64, "cache_dir": str(tmp_path / "c")}, progress=False)
    assert s.failed and "source -> target" in s.failed[0].reason


@pytest.mark.slow
def test_sharded_teach_equals_one_process(tmp_path):
    """`accelerate launch --num_processes 2 e2gan teach` == one process."""
    import os
    import shutil
    import subprocess
    import sys

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(7):
        photo(i, 40).save(imgs / f"{i}.png")
    args = ["teach", "--prompt", "sepia", "--prompt", "cartoon", "--images", str(imgs), "--size", "32"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    one = subprocess.run([sys.executable, "-m", "e2gan.cli", *args, "--out", str(tmp_path / "one")], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    two = subprocess.run([accelerate, "launch", "--cpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                          "--dynamo_backend", "no", "-m", "e2gan.cli", *args, "--out", str(tmp_path / "two")], env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    assert not (tmp_path / "two" / ".parts").exists()
    lines = (tmp_path / "two" / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 14 and all(json.loads(x) for x in lines)
