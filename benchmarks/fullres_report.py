"""benchmarks/fullres/fullres.md from fullres.json: every number in it is read from the JSON (python -m benchmarks.fullres report)."""

from __future__ import annotations

import statistics

from e2gan.metrics.stats import bracket


def _ci(c) -> str:
    return "n/a" if not c else f"{c['mean']:+.2f} {bracket(c)} (n={c['n']})"


def cost_table(rows: list[dict]) -> list[str]:
    from benchmarks.fullres import growth

    sides = []
    for r in rows:
        for x in r.get("rows", []):
            if x["side"] not in sides:
                sides.append(x["side"])
    lines = ["| backbone | runtime | " + " | ".join(f"{s} ms (x growth) / MB" for s in sides) + " |", "|---|---|" + "---|" * len(sides)]
    for r in rows:
        name = r["backbone"] + (" (attention over every token)" if r.get("unbounded") else "")
        if "error" in r:
            lines.append(f"| {name} | {r['runtime']} | failed: {r['error'][:80]} |" + " |" * (len(sides) - 1))
            continue
        g = dict(zip([x["side"] for x in r["rows"] if x["side"].split("x")[0] == x["side"].split("x")[1]], growth(r["rows"])))
        cells = []
        for s in sides:
            x = next((x for x in r["rows"] if x["side"] == s), None)
            cells.append("" if x is None else f"{x['ms']:.0f}{f' (x{g[s]:.1f})' if g.get(s) else ''} / {x['peak_mb']:.0f}")
        lines.append(f"| {name} | {r['runtime']} | " + " | ".join(cells) + " |")
    return lines


def render(res: dict) -> str:
    lines = ["## Any photo at its own resolution (benchmarks/fullres.py)", "", f"Machine: {res.get('machine', '?')}. One run, side by side.", ""]
    if "cost" in res:
        lines += ["### Cost against size, the generator on the whole image (`direct`)", "",
                  "Random weights, batch 1; best of 3 calls (1 above a megapixel) after a warm-up; peak resident memory of the "
                  "process after that size. Growth: the time ratio to the square side before (4x the pixels).", "", *cost_table(res["cost"]), ""]
    if "speed256" in res:
        by = {(r["runtime"], r["arm"]): r["ms"] for r in res["speed256"]}
        lines += ["### 256 px: the token budget against the graph before it", "",
                  "The zoo concept, batch 1, interleaved rounds (median of each block's median); at 256 px the pooling matrices are "
                  "the identity, so this is the cost of the two small products the graph now carries.", "",
                  "| runtime | with the budget ms | before it ms | ratio |", "|---|---|---|---|"]
        for rt in ("torch", "onnx", "openvino"):
            if (rt, "budget") in by:
                lines.append(f"| {rt} | {by[(rt, 'budget')]:.1f} | {by[(rt, 'before')]:.1f} | {by[(rt, 'budget')] / by[(rt, 'before')]:.2f} |")
        lines.append("")
    if "photo" in res:
        lines += ["### A 4000x3000 photo, `" + "zoo:procedural-faded-red-accents" + "` in its full-resolution mode", "",
                  "| runtime | mode | edit ms (array in, array out) | peak MB | JPEG decode ms | PNG encode ms | JPEG encode ms |", "|---|---|---|---|---|---|---|"]
        for p in res["photo"]:
            if "error" in p:
                lines.append(f"| {p['runtime']} | failed: {p['error'][:80]} | | | | | |")
                continue
            lines.append(f"| {p['runtime']} | {p['mode']} | {p['edit_ms']:.0f} | {p['peak_mb']:.0f} | {p['decode_jpeg_ms']:.0f} | "
                         f"{p['encode_png_ms']:.0f} | {p['encode_jpeg_ms']:.0f} |")
        lines.append("")
    if "video" in res:
        lines += ["### Video end to end (decode + edit + encode, H.264)", "", "| size | runtime | mode | FPS |", "|---|---|---|---|"]
        lines += [f"| {v['size']} | {v['runtime']} | {v['mode']} | {v['fps']:.1f} |" for v in res["video"]]
        lines.append("")
    if "quality" in res:
        rows = res["quality"]["rows"]
        from benchmarks.fullres import MODES, QUALITY_SIDES

        lines += ["### Quality at size: each mode against the teacher run at that size (PSNR dB, mean over the held-out photos)", "",
                  "Each zoo concept on its held-out photos (the 10 test photos of `e2gan photos` for procedural concepts; the 3 shipped "
                  "held-out photos for classic ones, at most 640 px, so their 512- and 1024-px rows are Lanczos upscales with less "
                  "detail than a real photo), resized to the long side given; the working size is the side the concept's base trained "
                  "at (64 px procedural, 128 px classic). `direct` runs the generator on the whole photo. A picture: `fullres.png`.", "",
                  "| concept | kind | " + " | ".join(f"{s} px: " + " / ".join(MODES) for s in QUALITY_SIDES) + " | input at 1024 |",
                  "|---|---|" + "---|" * (len(QUALITY_SIDES) + 1)]
        for name in sorted({r["concept"] for r in rows}):
            mine = {r["side"]: r for r in rows if r["concept"] == name}
            cells = [" / ".join(f"{statistics.mean(mine[s][m]):.1f}" for m in MODES) if s in mine else "" for s in QUALITY_SIDES]
            top = mine.get(max(QUALITY_SIDES))
            lines.append(f"| `{name}` | {next(iter(mine.values()))['kind']} | " + " | ".join(cells) +
                         f" | {statistics.mean(top['input']):.1f} |" if top else " |")
        lines.append("")
    d = res.get("decision")
    if d:
        from collections import Counter

        picks = Counter(p["mode"] for p in d["picks"].values())
        lines += ["### Targets at 1024 px", "", "| target | measured | verdict |", "|---|---|---|",
                  f"| the chosen mode beats the working-size edit upscaled (bicubic) on >= 80% of the zoo's concepts | "
                  f"{d['beats_bicubic']['share']:.0%} of {d['beats_bicubic']['of']} | **{d['beats_bicubic']['verdict']}** |",
                  f"| on colour concepts, the chosen mode within 1 dB of the direct full-resolution run (minus direct >= -1 dB) | "
                  f"{_ci(d['colour_pick_minus_direct'])} | **{(d['colour_pick_minus_direct'] or {}).get('verdict', 'n/a')}** |",
                  f"| (beside it) guided minus direct on colour concepts | {_ci(d['colour_guided_minus_direct'])} | "
                  f"{(d['colour_guided_minus_direct'] or {}).get('verdict', 'n/a')} |", "",
                  "Picks (written to zoo/catalogue.json as each concept's `full_res`, which `e2gan apply` follows): "
                  + ", ".join(f"{m}: {n}" for m, n in picks.most_common()) + ".", ""]
    return "\n".join(lines) + "\n"
