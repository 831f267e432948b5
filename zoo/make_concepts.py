"""How the zoo's concept adapters are made: each teacher's held-out concepts (24 procedural, 6 classic), fine-tuned
from that teacher's zoo base with `e2gan finetune`'s defaults and measured with `e2gan eval` on photos no base trained on.

Run from the repository root after `make install` (about 40 minutes for the procedural ones and 15 for the classic
ones on one core of a 2-core CPU; resumable: a concept whose folder already holds its metrics is kept, unless
``--redo``)::

    python zoo/make_concepts.py --photos PHOTOS_DIR     # PHOTOS_DIR from `e2gan photos` (40 training, 10 test photos)
    python zoo/make_concepts.py --teacher classic        # the shipped photos (9 training, 3 held out), 128 px

Each concept: 96 random crops of the training photos train it, 24 crops of the held-out photos measure it (the base
trained on none of them, nor on any of these concepts). Its folder gets the peft adapter, ``metrics.json`` (with the
identity and base-alone rows and the verdict), ``samples.png`` and e2gan's model card; ``catalogue.json`` gets its
entry (Hub id ``e2gan-zoo/NAME``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ZOO = Path(__file__).resolve().parent
ORG = "e2gan-zoo"
#: teacher -> (its zoo base, resolution, whether its pairs use colour photos only)
TEACHERS = {"procedural": ("procedural-base", 64, True), "classic": ("classic-base", 128, False)}


def slug(teacher: str, prompt: str) -> str:
    return f"{teacher}-" + re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")


def e2gan(*args) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-m", "e2gan.cli", *map(str, args)], env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"e2gan {' '.join(map(str, args))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")


def entry(name: str, teacher: str, prompt: str, kind: str, metrics: dict) -> dict:
    m, b = metrics["mean"], metrics["baselines"][prompt]
    return {"path": name, "base": TEACHERS[teacher][0], "teacher": teacher, "prompt": prompt, "licence": "apache-2.0", "kind": kind,
            "made_by": "zoo/make_concepts.py", "repo_id": f"{ORG}/{name}",
            "metrics": {"psnr": round(m["psnr"], 2), "ssim": round(m["ssim"], 3), "identity_psnr": round(b["identity"]["psnr"], 2),
                        "base_psnr": round(b["base"]["psnr"], 2), "n": b["gain_over_identity"]["n"],
                        "verdict": verdict_of(b["gain_over_identity"])}}


def verdict_of(gain: dict) -> str:
    """The catalogue's words for the gain over the input, by the rule of e2gan.metrics.stats (no interval under 5 photos)."""
    from e2gan.metrics.stats import MIN_UNITS

    if gain["n"] < MIN_UNITS:
        return f"inconclusive at this power ({gain['n']} photos)"
    return "clearly better than the input" if gain["low"] > 0 else "not clearly better than the input"


def main(argv=None) -> None:
    from e2gan.teach import teach_shipped_crops
    from e2gan.hub.card import write_local_card
    from e2gan.io import atomic_write_json
    from e2gan.registry import create_teacher

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", default="procedural", choices=list(TEACHERS))
    ap.add_argument("--photos", default=None, help="a folder from `e2gan photos` (the procedural teacher's photos)")
    ap.add_argument("--data", default=None, help="where the pairs go (default: a temporary folder)")
    ap.add_argument("--only", nargs="+", default=None, help="these prompts only")
    ap.add_argument("--redo", action="store_true", help="remake concepts that are already made")
    a = ap.parse_args(argv)
    base, size, colour_only = TEACHERS[a.teacher]
    if colour_only and not a.photos:
        ap.error(f"--teacher {a.teacher} trains on `e2gan photos`: pass --photos PHOTOS_DIR")
    groups = create_teacher(a.teacher).held_out()
    kinds = {c: kind for kind, names in groups.items() for c in names}
    prompts = a.only or list(kinds)
    data = Path(a.data or tempfile.mkdtemp(prefix="e2gan-zoo-"))
    teach_shipped_crops(a.teacher, prompts, data, size, 96, 24, colour_only=colour_only, photos=a.photos if colour_only else None, progress=True)
    catalogue_path = ZOO / "catalogue.json"
    for i, prompt in enumerate(prompts, 1):
        name = slug(a.teacher, prompt)
        folder = ZOO / name
        if (folder / "metrics.json").is_file() and not a.redo:
            print(f"[zoo] {i}/{len(prompts)} {name}: kept", flush=True)
        else:
            e2gan("finetune", "--base", f"zoo:{base}", "--data", data, "--prompt", prompt, "--out", folder, "--overwrite",
                  "--samples-every", 0, "--threads", 1)
            for extra in ("samples", "training.html"):  # the run's watch pages: the card's samples.png replaces them
                p = folder / extra
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            with tempfile.TemporaryDirectory() as tmp:  # eval never writes inside the model it reads: measure, then move in
                e2gan("eval", "--model", folder, "--data", data, "--prompt", prompt, "--split", "test", "--grid", f"{tmp}/samples.png",
                      "--out", f"{tmp}/metrics.json")
                metrics = json.loads(Path(tmp, "metrics.json").read_text())
                metrics["data"] = (f"24 crops of the held-out photos ({'the 10 test photos of `e2gan photos`' if colour_only else 'the 3 shipped ones'}), "
                                   f"{size} px (made by zoo/make_concepts.py)")
                atomic_write_json(folder / "metrics.json", metrics)
                shutil.copyfile(Path(tmp, "samples.png"), folder / "samples.png")
            write_local_card(folder)
        metrics = json.loads((folder / "metrics.json").read_text())
        cat = json.loads(catalogue_path.read_text())
        cat["concepts"][name] = entry(name, a.teacher, prompt, kinds.get(prompt, "other"), metrics)
        atomic_write_json(catalogue_path, cat)
        m = cat["concepts"][name]["metrics"]
        print(f"[zoo] {i}/{len(prompts)} {name}: {m['psnr']:.2f} dB (input {m['identity_psnr']:.2f}, base {m['base_psnr']:.2f}); "
              f"{m['verdict']}", flush=True)


if __name__ == "__main__":
    main()
