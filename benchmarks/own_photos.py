"""A newcomer's first concept on their own photos, as the README walks through it, timed and measured (issue 20).

"Their own photos" are photos no base trained on: the 10 test photos of the procedural base (3 shipped with packages,
7 fetched by `e2gan photos`). Two folds: each teaches a new combination of primitives the base saw on 8 of them
(`teach --images --crops`), fine-tunes with `finetune`'s defaults from `zoo:procedural-base`, and measures on crops of
the other 2 (`eval`). The claim: the adapter beats returning the input unchanged by at least 1 dB on the held-out
photos, and the default `finetune` takes at most 5 minutes on this CPU.

    python -m benchmarks.own_photos --photos photos/       # benchmarks/own_photos.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.metrics.stats import bracket

HERE = Path(__file__).parent
PROMPT = "pencil, sepia, sunset glow"  # a held-out new combination of primitives the base saw


def e2gan(*args) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-m", "e2gan.cli", *map(str, args)], env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"e2gan {' '.join(map(str, args))} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return res.stdout


def unseen_photos(folder) -> dict:
    """The photos no base trained on, by name: the shipped held-out ones and the fetched test split."""
    from e2gan.data.samples import colour_photos, held_out_names

    photos = colour_photos(folder)
    return {n: photos[n] for n in held_out_names(folder) if n in photos}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", required=True, help="a folder from `e2gan photos`")
    ap.add_argument("--base", default="zoo:procedural-base")
    ap.add_argument("--prompt", default=PROMPT)
    ap.add_argument("--crops", type=int, default=32, help="training crops per photo")
    ap.add_argument("--test-crops", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--out", default=str(HERE))
    a = ap.parse_args(argv)
    photos = unseen_photos(a.photos)
    names = sorted(photos)
    folds = [names[:2], names[-2:]]
    root = Path(tempfile.mkdtemp(prefix="e2gan-own-"))
    rows = []
    for i, test_names in enumerate(folds):
        fold = root / f"fold{i}"
        for split, keep in (("train", [n for n in names if n not in test_names][:8]), ("test", test_names)):
            (fold / "photos" / split).mkdir(parents=True)
            for n in keep:
                photos[n].save(fold / "photos" / split / f"{n}.png")
        e2gan("teach", "--teacher", "procedural", "--prompt", a.prompt, "--images", fold / "photos" / "train", "--crops", a.crops, "--size", a.size,
              "--out", fold / "data")
        e2gan("teach", "--teacher", "procedural", "--prompt", a.prompt, "--images", fold / "photos" / "test", "--crops", a.test_crops, "--size",
              a.size, "--split", "test", "--out", fold / "data")
        t0 = time.perf_counter()
        log = e2gan("finetune", "--base", a.base, "--data", fold / "data", "--prompt", a.prompt, "--out", fold / "adapter")
        minutes = (time.perf_counter() - t0) / 60
        e2gan("eval", "--model", fold / "adapter", "--data", fold / "data", "--out", fold / "metrics.json", "--no-lpips")
        m = json.loads((fold / "metrics.json").read_text())
        b = m["baselines"][a.prompt]
        rows.append({"fold": i, "train_photos": [n for n in names if n not in test_names][:8], "test_photos": test_names, "minutes": round(minutes, 2),
                     "psnr": m["per_prompt"][a.prompt]["psnr"], "identity": b["identity"]["psnr"], "base": b.get("base", {}).get("psnr"),
                     "gain": b["gain_over_identity"],
                     "finetune_output": [line.replace(f"{root}/", "") for line in log.strip().splitlines()[-3:]]})  # no temp folder
        print(f"[own photos] fold {i}: {rows[-1]['psnr']:.2f} dB, identity {rows[-1]['identity']:.2f}, gain {b['gain_over_identity']['mean']:+.2f} dB; "
              f"finetune {minutes:.1f} min", flush=True)
    res = {"prompt": a.prompt, "base": a.base, "crops": a.crops, "size": a.size, "rows": rows,
           "mean_gain": statistics.mean(r["gain"]["mean"] for r in rows), "max_minutes": max(r["minutes"] for r in rows)}
    out = Path(a.out)
    atomic_write_json(out / "own_photos.json", res)
    atomic_write_text(out / "own_photos.md", markdown(res))
    print(markdown(res))


def markdown(res: dict) -> str:
    lines = ["## A new concept on your own photos (`python -m benchmarks.own_photos`)", "",
             f"`{res['prompt']}` (a new combination of primitives the base saw) from `{res['base']}` with `finetune`'s defaults; "
             f"{res['crops']} crops of each of 8 photos no base trained on, at {res['size']} px; tested on crops of 2 other such photos; two folds.", "",
             "| fold | test photos | adapter dB | the input unchanged dB | the base alone dB | gain over the input [95% CI over photos] | finetune minutes |",
             "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        g = r["gain"]
        lines.append(f"| {r['fold']} | {', '.join(r['test_photos'])} | {r['psnr']:.2f} | {r['identity']:.2f} | "
                     f"{r['base']:.2f} | {g['mean']:+.2f} {bracket(g)} | {r['minutes']:.1f} |")
    ok = res["mean_gain"] >= 1.0 and res["max_minutes"] <= 5.0
    lines += ["", f"Mean gain over returning the input: **{res['mean_gain']:+.2f} dB** (target >= 1 dB); the slowest finetune "
              f"**{res['max_minutes']:.1f} min** (target <= 5): **{'holds' if ok else 'does not hold'}**.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
