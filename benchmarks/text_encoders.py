"""Which text encoder says "similar prompt" where the edits are similar? (issue 10, part 2)

A base can only help a new prompt through the prompt's embedding: the generator's cross-attention sees
nothing else. So an encoder is useful to transfer when a held-out prompt comes out close to the base's
prompts that *do* similar things. For each of the procedural teacher's held-out prompts, against the 48
prompts of ``zoo:procedural-base``:

* **rank correlation** (Spearman) between the prompts' cosine similarity and their effects' similarity
  (minus the distance of the standardised effect features on the probe crops, as the representative
  concept selector measures what a concept does);
* **nearest-prompt regret**: how much farther (in effect) the base prompt nearest in text is than the
  base prompt nearest in effect, as a share of the median effect distance (0 = the text found the best).

``minilm`` minus ``hashed-words`` is paired per held-out prompt, with bootstrap 95% intervals, split
into new combinations of seen primitives and combinations with a primitive the base never saw.

    python -m benchmarks.text_encoders
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.metrics.stats import RULE, bracket, summarise

HERE = Path(__file__).parent


def sentence(encoder, prompts: list[str]) -> torch.Tensor:
    """L2-normalised sentence embeddings: the encoder's own pooling when it has one, else the masked mean of its tokens."""
    with torch.no_grad():
        if hasattr(encoder, "sentence"):
            return encoder.sentence(prompts)
        e, m = encoder.encode(prompts)
        return torch.nn.functional.normalize(e.sum(1) / m.sum(1, keepdim=True).clamp_min(1), dim=-1)


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))


def measure(encoders: list[str], base: str = "zoo:procedural-base") -> dict:
    from e2gan.data.concepts import effect_features, probe_photos
    from e2gan.registry import create_teacher, create_text_encoder
    from e2gan.student import Student

    teacher = create_teacher("procedural")
    known = list(Student.from_pretrained(base).meta["prompts"])
    held = teacher.held_out()
    new = [c for group in held.values() for c in group]
    feats = effect_features(teacher, known + new, probe_photos())
    feats = (feats - feats.mean(0)) / feats.std(0).clamp_min(1e-8)
    dist = torch.cdist(feats[len(known):], feats[: len(known)])  # held-out x known, in effect
    scale = float(dist.median())
    rows = []
    for name in encoders:
        enc = create_text_encoder(name)
        sim = sentence(enc, new) @ sentence(enc, known).T
        for i, prompt in enumerate(new):
            nearest_text = int(sim[i].argmax())
            rows.append({"encoder": name, "prompt": prompt, "kind": next(k for k, g in held.items() if prompt in g),
                         "spearman": spearman(sim[i], -dist[i]), "regret": float(dist[i, nearest_text] - dist[i].min()) / scale,
                         "nearest_in_text": known[nearest_text], "nearest_in_effect": known[int(dist[i].argmin())]})
    return {"base": base, "known": len(known), "encoders": encoders, "rows": rows, "claims": claims(rows, encoders)}


def claims(rows: list[dict], encoders: list[str]) -> list[dict]:
    """The first encoder minus the second, per held-out prompt: higher correlation and lower regret are better."""
    a, b = encoders[:2]
    by = {(r["encoder"], r["prompt"]): r for r in rows}
    out = []
    for kind in ("all", "seen-primitives", "unseen-primitive"):
        prompts = [r["prompt"] for r in rows if r["encoder"] == a and kind in ("all", r["kind"])]
        if not prompts:
            continue
        for metric, sign in (("spearman", 1), ("regret", -1)):
            diffs = [sign * (by[a, p][metric] - by[b, p][metric]) for p in prompts]
            out.append({"kind": kind, "metric": metric, "ours": a, "other": b, **summarise(diffs, threshold=0.0, strict=True)})
    return out


def markdown(res: dict) -> str:
    a, b = res["encoders"][:2]
    mean = lambda enc, kind, m: sum(r[m] for r in res["rows"] if r["encoder"] == enc and kind in ("all", r["kind"])) / max(  # noqa: E731
        1, sum(1 for r in res["rows"] if r["encoder"] == enc and kind in ("all", r["kind"])))
    lines = ["## Text encoders: does a similar prompt mean a similar edit?", "",
             f"The procedural teacher's {len(res['rows']) // len(res['encoders'])} held-out prompts against the {res['known']} prompts of "
             f"`{res['base']}`. Spearman: rank correlation, per held-out prompt, between prompt cosine similarity and effect similarity "
             "(higher is better). Regret: how much farther in effect the base prompt nearest in text is than the nearest in effect, as a "
             "share of the median effect distance (0 is best). The claim is "
             f"'`{a}` is better than `{b}`', paired per prompt; rule: {RULE}.", "",
             "| prompts | metric | " + " | ".join(f"`{e}`" for e in res["encoders"]) + f" | {a} better by [95% CI] | n | verdict |",
             "|---|---|" + "---|" * len(res["encoders"]) + "---|---|---|"]
    for c in res["claims"]:
        vals = " | ".join(f"{mean(e, c['kind'], c['metric']):.3f}" for e in res["encoders"])
        lines.append(f"| {c['kind']} | {c['metric']} | {vals} | {c['mean']:+.3f} {bracket(c, 3)} | {c['n']} | **{c['verdict']}** |")
    lines += ["", "Nearest base prompt in text, per encoder, for the prompts with an unseen primitive (and the nearest in effect):", "",
              "| held-out prompt | nearest in effect | " + " | ".join(f"nearest in `{e}`" for e in res["encoders"]) + " |",
              "|---|---|" + "---|" * len(res["encoders"])]
    by = {(r["encoder"], r["prompt"]): r for r in res["rows"]}
    for r in [r for r in res["rows"] if r["encoder"] == a and r["kind"] == "unseen-primitive"]:
        lines.append(f"| {r['prompt']} | {r['nearest_in_effect']} | " + " | ".join(by[e, r["prompt"]]["nearest_in_text"] for e in res["encoders"]) + " |")
    lines += ["", "This compares the encoders' geometry only: no base was trained with `minilm` (a base is an hour of this CPU per arm)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoders", nargs="+", default=["minilm", "hashed-words"])
    ap.add_argument("--base", default="zoo:procedural-base")
    ap.add_argument("--out", default=str(HERE / "text_encoders"))
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = measure(a.encoders, a.base)
    out = Path(a.out)
    atomic_write_json(out / "text_encoders.json", res)
    atomic_write_text(out / "text_encoders.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
