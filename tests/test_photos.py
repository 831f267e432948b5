"""`e2gan photos`: pinned archives, only the listed members read, resumable, sources recorded; on archives made
here and served from file:// URLs (the real ones are on PyPI, which tests do not reach)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from e2gan.data import photos as ph
from e2gan.data.samples import colour_photos, held_out_names, random_crops, split_photos


def _jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), colour).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def archives(tmp_path):
    tgz = tmp_path / "src" / "pkg-1.0.tar.gz"
    tgz.parent.mkdir()
    with tarfile.open(tgz, "w:gz") as t:
        for name, data in (("pkg-1.0/images/red.jpg", _jpeg("red")), ("../evil.jpg", _jpeg("black"))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    whl = tmp_path / "src" / "wheel-2.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("wheel/assets/blue.jpg", _jpeg("blue"))
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    return {"pkg": ph.Archive("pkg", "1.0", tgz.as_uri(), sha(tgz), "MIT"),
            "wheel": ph.Archive("wheel", "2.0", whl.as_uri(), sha(whl), "Apache-2.0")}


PHOTOS = (ph.Photo("aaa-red", "pkg", "pkg-1.0/images/red.jpg", "train"), ph.Photo("aaa-blue", "wheel", "wheel/assets/blue.jpg", "test"))


def test_fetch_writes_the_listed_photos_with_their_sources_and_resumes(tmp_path, archives):
    out = tmp_path / "photos"
    assert ph.fetch_photos(out, archives=archives, photos=PHOTOS, progress=False) == {"photos": 2, "train": 1, "test": 1}
    assert sorted(p.name for p in out.glob("*.png")) == ["aaa-blue.png", "aaa-red.png"]
    assert not (tmp_path / "evil.jpg").exists() and not (out.parent / "evil.jpg").exists()
    assert np.asarray(Image.open(out / "aaa-red.png"))[..., 0].mean() > 200
    rows = json.loads((out / "SOURCES.json").read_text())["photos"]
    assert {(r["name"], r["split"], r["licence"]) for r in rows} == {("aaa-red", "train", "MIT"), ("aaa-blue", "test", "Apache-2.0")}
    assert "pkg-1.0/images/red.jpg" in (out / "SOURCES.md").read_text()
    # a second run downloads nothing: the archives could be gone
    gone = {k: ph.Archive(a.package, a.version, (tmp_path / "nowhere.tar.gz").as_uri(), a.sha256, a.licence) for k, a in archives.items()}
    for f in (out / ".archives").iterdir():
        f.unlink()
    assert ph.fetch_photos(out, archives=gone, photos=PHOTOS, progress=False)["photos"] == 2


def test_an_archive_that_is_not_the_pinned_one_is_refused(tmp_path, archives):
    bad = {**archives, "pkg": ph.Archive("pkg", "1.0", archives["pkg"].url, "0" * 64, "MIT")}
    with pytest.raises(RuntimeError, match="not the pinned"):
        ph.fetch_photos(tmp_path / "photos", archives=bad, photos=PHOTOS[:1], progress=False)
    assert not list((tmp_path / "photos").glob("*.png")) and not list((tmp_path / "photos" / ".archives").iterdir())
    with pytest.raises(RuntimeError, match="could not download"):
        ph.fetch_photos(tmp_path / "p2", archives={"pkg": ph.Archive("pkg", "1", (tmp_path / "none.tgz").as_uri(), "0" * 64, "x")},
                        photos=PHOTOS[:1], progress=False)


def test_fetched_photos_join_the_shipped_ones_with_their_split(tmp_path, archives):
    out = tmp_path / "photos"
    ph.fetch_photos(out, archives=archives, photos=PHOTOS, progress=False)
    train, test = split_photos(colour_photos(out), held_out_names(out))
    assert "aaa-red" in train and "aaa-blue" in test and "astronaut" in train and "chelsea" in test
    assert random_crops(train, 1, 32)[0][0].startswith("aaa-red")
    (out / "aaa-red.png").unlink()
    with pytest.raises(ValueError, match="aaa-red.png is missing"):
        colour_photos(out)


def test_the_real_list_has_40_training_and_10_test_photos():
    from e2gan.data.samples import HELD_OUT, SKIMAGE_COLOUR

    shipped_train = len(SKIMAGE_COLOUR) - sum(n in HELD_OUT for n in SKIMAGE_COLOUR) + 1  # + scikit-learn's china
    assert shipped_train + sum(p.split == "train" for p in ph.PHOTOS) == 40
    assert len(HELD_OUT) + sum(p.split == "test" for p in ph.PHOTOS) == 10
    assert len({p.name for p in ph.PHOTOS}) == len(ph.PHOTOS) and {p.package for p in ph.PHOTOS} <= set(ph.ARCHIVES)
