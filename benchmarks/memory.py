"""Teaching a folder of large photos runs in bounded memory: sources are decoded one at a time.

Peak RSS of `e2gan teach` (its own process) on folders of 2 and of 12 photos of 4000x4000 pixels
(48 MB each when decoded): if memory is flat, the two peaks differ by much less than one decoded photo.

    python -m benchmarks.memory            # writes benchmarks/memory.json and memory.md
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from e2gan.io import atomic_write_json, atomic_write_text

SIDE = 4000


def make_photos(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    for i in range(count):
        img = np.stack([np.sin(xx * (3 + i)) * 0.5 + 0.5, yy, (xx * yy + i / count) % 1], -1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"{i:02d}.png", compress_level=1)


def peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory of one ``e2gan`` run, measured by a wrapper process around it."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "e2gan.cli", *args], capture_output=True, text=True,
                         env={"TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr[-2000:])
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main(out_dir: str = "benchmarks") -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="e2gan-mem-"))
    rows = []
    for count in (2, 12):
        make_photos(tmp / f"p{count}", count)
        mb = peak_rss_mb(["teach", "--teacher", "classic", "--prompt", "sepia", "--images", str(tmp / f"p{count}"), "--size", "64",
                          "--out", str(tmp / f"d{count}")])
        rows.append({"photos": count, "decoded_mb": count * SIDE * SIDE * 3 / 2**20, "peak_rss_mb": mb})
        print(f"[memory] {count} photos of {SIDE}x{SIDE}: peak RSS {mb:.0f} MB (all decoded at once would be {rows[-1]['decoded_mb']:.0f} MB)")
    one = SIDE * SIDE * 3 / 2**20
    growth = rows[1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
    res = {"side": SIDE, "rows": rows, "growth_mb": growth, "one_photo_mb": one, "flat": growth < one}
    md = ["## Memory: teaching a folder of large photos", "",
          f"`e2gan teach` decodes one source at a time (headers are checked first). Peak RSS of the teach process on "
          f"folders of {SIDE}x{SIDE} photos ({one:.0f} MB each decoded), `python -m benchmarks.memory`:", "",
          "| photos | decoded all at once | peak RSS |", "|---|---|---|"]
    md += [f"| {r['photos']} | {r['decoded_mb']:.0f} MB | {r['peak_rss_mb']:.0f} MB |" for r in rows]
    md += ["", f"Ten more photos add {growth:.0f} MB of peak memory, {'less' if res['flat'] else 'MORE'} than one decoded photo "
           f"({one:.0f} MB): memory is {'flat' if res['flat'] else 'NOT flat'} in the number of photos."]
    atomic_write_json(Path(out_dir) / "memory.json", res)
    atomic_write_text(Path(out_dir) / "memory.md", "\n".join(md) + "\n")
    return res


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:]), indent=1))
