"""``e2gan apply`` on pictures: an image or a folder of images edited into a folder, one PNG per input at the input's
relative path, written atomically, with a reason for every input that was skipped."""

from __future__ import annotations

from pathlib import Path


def output_names(paths: list[Path], root: Path) -> list[Path]:
    """One PNG per input, at the input's path relative to ``root``: ``a/img.png`` and ``b/img.png`` stay apart;
    ``img.jpg`` beside ``img.png`` becomes ``img.jpg.png`` so that no two inputs share an output."""
    rels = [p.relative_to(root) if p.is_relative_to(root) else Path(p.name) for p in paths]
    plain = [r.with_suffix(".png") for r in rels]
    clash = {n for n in plain if plain.count(n) > 1}
    return [r.with_name(r.name + ".png") if n in clash else n for r, n in zip(rels, plain)]


def gather(src: Path, out: Path):
    """``(items, skipped)``: the images ``src`` names (a file, or every image under a folder, checked by header) and
    the files skipped, each with its reason. Nothing is decoded yet: a folder of any size costs one image at a time."""
    from e2gan.data.images import load_image, scan_images

    if src.is_dir():
        return scan_images(src, exclude=out, decode=False)
    return [(src, load_image(src))], []


def plan(items, root: Path, out: Path, overwrite: bool = False) -> list[Path]:
    """Where each input's edit goes, checked before any work: never onto an input, and onto an existing file only with
    ``overwrite``."""
    from e2gan.outputs import OutputError

    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file: images are written into a folder; give a folder path")
    targets = [out / rel for rel in output_names([Path(p) for p, _ in items], root)]
    inputs = {Path(p).resolve() for p, _ in items}
    for path, target in zip([p for p, _ in items], targets):
        if target.resolve() in inputs:
            raise OutputError(f"--out {out} would write over the input {path}: write the edits to another folder, nothing was written")
        if target.exists() and not overwrite:
            raise OutputError(f"{target} already exists (an earlier run?): pass --overwrite to replace the edits in {out}, or choose another folder")
    return targets


def edit_pictures(runner, items, root: Path, out: Path, size: int | None = None, progress: bool = True, overwrite: bool = False) -> list[Path]:
    """Edit ``items`` (from :func:`gather`) with ``runner`` into ``out``; returns the files written. ``size``: the short
    side each image is resized to first."""
    from PIL import Image
    from tqdm.auto import tqdm

    from e2gan.data.images import open_source
    from e2gan.io import atomic_save_image

    written = []
    targets = plan(items, root, out, overwrite)
    for (_, img), target in tqdm(list(zip(items, targets)), desc="apply", unit="img", disable=not progress):
        img = open_source(img)
        if size:
            w, h = img.size
            k = size / min(w, h)
            img = img.resize((round(w * k), round(h * k)), Image.LANCZOS)
        atomic_save_image(target, runner.edit_images([img])[0])
        written.append(target)
    return written
