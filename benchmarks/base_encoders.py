"""Which text encoder should the procedural base use? Two bases trained with one recipe, differing only in
``--text-encoder``, compared at the same step of their checkpoints on the held-out photos, per concept (the rule was
written before the runs were read: benchmarks/base_encoders/rule.md).

    python -m benchmarks.base_encoders --runs RUN_A RUN_B --step 20000 --test-data DATA/test
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.metrics.stats import RULE, bracket, summarise

HERE = Path(__file__).parent / "base_encoders"


def at_checkpoint(run: Path, step: int, encoder: str, config: dict, prompts: list[str]):
    """The student a training run into ``run`` had at ``step``: its checkpoint's weights in the backbone the run built
    (``encoder`` and the backbone ``config`` it was given; a checkpoint that records its run identity says them itself)."""
    from safetensors.torch import load_file

    from e2gan.student import Student

    ck = run / "checkpoints" / f"step-{step:08d}"
    ident = json.loads((ck / "state.json").read_text()).get("identity")
    if ident:
        encoder, settings, config, prompts = ident["text_encoder"]["name"], ident["text_encoder"]["settings"], ident["model"], ident["prompts"]
    else:
        settings = None
    student = Student.create("e2gan", encoder, settings, **config)
    student.generator.load_state_dict(load_file(str(ck / "generator.safetensors")))
    student.generator.eval()
    student.meta["prompts"] = prompts
    return student, encoder


@torch.no_grad()
def per_concept(student, data) -> dict[str, float]:
    from e2gan.data.dataset import PairedDataset, PairTensors
    from e2gan.metrics.quality import psnr

    ds = PairedDataset(data)
    out = {}
    for prompt in ds.prompts():
        pairs = PairTensors.from_dataset(ds, ds.select(prompt, "test"))
        out[prompt] = float(psnr(student.predict(pairs.sources, prompt), pairs.targets).mean())
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs=2, required=True, help="the two training runs' --out folders (ours first: the challenger)")
    ap.add_argument("--step", type=int, required=True)
    ap.add_argument("--test-data", required=True)
    ap.add_argument("--encoders", nargs=2, required=True, help="the runs' text encoders (checkpoints older than the run identity do not say)")
    ap.add_argument("--train-data", required=True, help="the runs' training data (its prompts are the bases' own concepts)")
    ap.add_argument("--coords", action="store_true", help="the runs' backbone had coordinate channels")
    ap.add_argument("--out", default=str(HERE))
    a = ap.parse_args(argv)
    from e2gan.data.dataset import PairedDataset
    from e2gan.registry import create_teacher

    held = create_teacher("procedural").held_out()
    groups = {**{c: "held-out: " + k for k, cs in held.items() for c in cs}}
    trained = set(PairedDataset(a.train_data).prompts())
    scores, names = [], []
    for run, encoder in zip(a.runs, a.encoders):
        student, name = at_checkpoint(Path(run), a.step, encoder, {"coords": True} if a.coords else {}, sorted(trained))
        scores.append(per_concept(student, a.test_data))
        names.append(name)
    rows = [{"concept": c, "group": groups.get(c, "own" if c in trained else "other"), names[0]: scores[0][c], names[1]: scores[1][c]}
            for c in scores[0]]
    claims = {}
    for label, keep in (("held-out (24)", lambda g: g.startswith("held-out")), ("held-out, seen primitives (12)", lambda g: g.endswith("seen-primitives")),
                        ("held-out, unseen primitive (12)", lambda g: g.endswith("unseen-primitive")), ("own (64)", lambda g: g == "own")):
        sel = [r for r in rows if keep(r["group"])]
        claims[label] = {"mean_a": sum(r[names[0]] for r in sel) / len(sel), "mean_b": sum(r[names[1]] for r in sel) / len(sel),
                         **summarise([r[names[0]] - r[names[1]] for r in sel], threshold=0.0, strict=True)}
    held_ok = claims["held-out (24)"]["low"] > 0
    own_ok = claims["own (64)"]["high"] >= 0
    decision = names[0] if held_ok and own_ok else names[1]
    res = {"runs": a.runs, "step": a.step, "encoders": names, "rows": rows, "claims": claims, "decision": decision}
    out = Path(a.out)
    atomic_write_json(out / "base_encoders.json", res)
    lines = ["## Which text encoder for the procedural base? (`python -m benchmarks.base_encoders`)", "",
             (out / "rule.md").read_text().strip() if (out / "rule.md").exists() else "", "",
             f"Both bases at step {a.step}; PSNR on 16 crops of the 10 test photos per concept; `{names[0]}` minus `{names[1]}` paired per "
             f"concept. Rule for each claim: {RULE}.", "",
             f"| concepts | `{names[0]}` dB | `{names[1]}` dB | difference [95% CI] | n | verdict ('{names[0]}' better) |", "|---|---|---|---|---|---|"]
    for label, c in claims.items():
        lines.append(f"| {label} | {c['mean_a']:.2f} | {c['mean_b']:.2f} | {c['mean']:+.2f} {bracket(c)} | {c['n']} | {c['verdict']} |")
    lines += ["", f"Decision by the rule: **{decision}** (held-out interval above 0: {held_ok}; own concepts not clearly worse: {own_ok}).", ""]
    atomic_write_text(out / "base_encoders.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
