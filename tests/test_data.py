"""The paired data format and `e2gan teach`: normalisation, bad inputs, resume after kill -9."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from e2gan.cli import cli
from e2gan.data.dataset import PairedDataset
from e2gan.data.images import BadImageError, load_image, scan_images
from e2gan.teach import teach
from e2gan.testing.tiny import photo


@pytest.fixture
def messy_folder(tmp_path):
    """Good images in awkward formats, and one of each kind of bad file."""
    d = tmp_path / "in"
    d.mkdir()
    photo(1, 40).save(d / "good.png")
    photo(2, 40).convert("L").save(d / "grey.jpg")
    rgba = photo(3, 40).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(d / "alpha.png")
    Image.fromarray((np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40)).save(d / "sixteen.png")
    # EXIF orientation 6 (rotate 90): a 40x24 image must come out 24x40
    exif = Image.Exif()
    exif[0x0112] = 6
    photo(4, 40).crop((0, 0, 40, 24)).save(d / "rotated.jpg", exif=exif.tobytes())
    buf = io.BytesIO()
    photo(5, 64).save(buf, format="JPEG")
    (d / "corrupt.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    (d / "empty.png").write_bytes(b"")
    (d / "notes.png").write_text("this is not an image")
    Image.new("RGB", (1, 1)).save(d / "dot.png")
    photo(6, 40).save(d / "misnamed.png", format="JPEG")
    (d / "readme.txt").write_text("hello")
    return d


def test_scan_normalises_good_images_and_explains_bad_ones(messy_folder):
    good, skipped = scan_images(messy_folder)
    names = {Path(p).name: img for p, img in good}
    assert set(names) == {"good.png", "grey.jpg", "alpha.png", "sixteen.png", "rotated.jpg"}
    assert all(img.mode == "RGB" for img in names.values())
    assert names["rotated.jpg"].size == (24, 40)
    assert np.asarray(names["sixteen.png"]).max() > 200  # 16-bit scaled, not clipped to 255 of 65535
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert "truncated" in reasons["corrupt.jpg"]
    assert "empty" in reasons["empty.png"]
    assert "not an image" in reasons["notes.png"]
    assert "too small (1x1)" in reasons["dot.png"]
    assert "wrong extension" in reasons["misnamed.png"] and "JPEG" in reasons["misnamed.png"]
    assert "not an image extension" in reasons["readme.txt"]


def test_teach_cli_survives_bad_images_and_reports_each(messy_folder, tmp_path):
    out = tmp_path / "data"
    res = CliRunner().invoke(cli, ["teach", "--prompt", "sepia", "--images", str(messy_folder), "--out", str(out), "--size", "32"])
    assert res.exit_code == 1, res.output  # some inputs failed: non-zero, but the good ones are done
    for bad in ["corrupt.jpg", "empty.png", "notes.png", "dot.png", "misnamed.png", "readme.txt"]:
        assert bad in res.output
    assert "5 pairs written" in res.output and "6 unusable inputs" in res.output
    ds = PairedDataset(out)
    assert len(ds) == 5
    rec = ds.records[0]
    assert rec.teacher == "classic" and rec.prompt == "sepia" and len(rec.source_sha256) == 64
    assert Image.open(out / rec.target).size == (32, 32)


def test_teach_skips_pairs_already_present(tmp_path, photos):
    s1 = teach("classic", ["sepia", "night"], photos, tmp_path, size=32, progress=False)
    s2 = teach("classic", ["sepia", "night", "winter"], photos, tmp_path, size=32, progress=False)
    assert (s1.written, s2.written, s2.already_done) == (12, 6, 12)
    assert len(PairedDataset(tmp_path)) == 18


def test_teacher_failure_on_one_image_does_not_stop_the_batch(tmp_path, photos, register_plugin):
    from e2gan.hookspecs import hookimpl

    class Picky:
        batch_size = 4
        settings = {"v": 1}

        def edit(self, images, prompt, seeds):
            if any(im.getpixel((0, 0)) == photos[2][1].resize((32, 32)).getpixel((0, 0)) for im in images):
                raise RuntimeError("cannot edit this one")
            return images

    class P:
        @hookimpl
        def register_teachers(self, register):
            register("picky", Picky)

    register_plugin(P(), "picky-plugin")
    summary = teach("picky", ["x"], photos, tmp_path, size=32, progress=False)
    assert summary.written == 5 and len(summary.failed) == 1 and "cannot edit" in summary.failed[0].reason


def test_torn_last_manifest_line_is_dropped_and_redone(tmp_path, photos):
    teach("classic", ["sepia"], photos, tmp_path, size=32, progress=False)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_bytes(manifest.read_bytes()[:-40])  # a writer killed mid-line
    with pytest.warns(UserWarning, match="incomplete last record"):
        ds = PairedDataset(tmp_path)
    assert len(ds) == 5
    s = teach("classic", ["sepia"], photos, tmp_path, size=32, progress=False)
    assert (s.written, s.already_done) == (1, 5)
    assert all(json.loads(line) for line in manifest.read_text().splitlines())


@pytest.mark.slow
def test_teach_resumes_after_kill_9(tmp_path):
    out = tmp_path / "data"
    cmd = [sys.executable, "-m", "e2gan.cli", "teach", "--prompt", "watercolor painting", "--prompt", "cartoon",
           "--crops", "400", "--size", "64", "--out", str(out)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "manifest.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if manifest.exists() and manifest.read_bytes().count(b"\n") >= 20:
            break
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "teach finished before it could be killed; make the job larger"
    before = len(PairedDataset(out)) if manifest.exists() else 0
    assert 0 < before < 800
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"{800 - before} pairs written, {before} already present" in res.stdout
    ds = PairedDataset(out)
    assert len(ds) == 800 and len({r.key for r in ds.records}) == 800
    for r in ds.records[:: 50]:
        Image.open(out / r.target).verify()
    assert not list(out.rglob("*.tmp"))


def test_load_image_error_names_the_fix(tmp_path):
    p = tmp_path / "x.gif"
    p.write_bytes(b"GIF89a")
    with pytest.raises(BadImageError, match="use one of"):
        load_image(p)


def test_dataset_open_on_a_plain_folder_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="e2gan teach"):
        PairedDataset(tmp_path)


def test_teach_decodes_each_photo_once_however_many_crops(tmp_path, monkeypatch):
    import e2gan.data.images as images
    from e2gan.data.samples import photo_crops
    from e2gan.teach import teach
    from e2gan.testing.tiny import photo

    for i in range(2):
        photo(i, 80).save(tmp_path / f"p{i}.png")
    calls = []
    real = images.load_image
    monkeypatch.setattr(images, "load_image", lambda p, *a, **k: calls.append(p) or real(p, *a, **k))
    images._decoded.cache_clear()
    crops = photo_crops(sorted(tmp_path.glob("p*.png")), 5, 32)
    summary = teach("classic", ["sepia"], crops, tmp_path / "data", size=32, progress=False)
    assert summary.written == 10 and len(calls) == 2, calls  # 2 photos x 5 crops: 2 decodes
