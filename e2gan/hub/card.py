"""e2gan's model card: what a base or an adapter is, who taught it, how it was trained, and how good it is, with the
baselines that keep the numbers honest (returning the input unchanged, and for an adapter its base alone), the
verdict, and the sample size. The same card is the Hub README and an adapter folder's own README.md (in place of
peft's empty template)."""

from __future__ import annotations

import json
from pathlib import Path

from e2gan.hub.sources import portable_ref
from e2gan.metrics.stats import INCONCLUSIVE, MIN_UNITS, interval_text
from e2gan.files import (
    read_json,
    ADAPTER_META,
    CONFIG,
    METRICS,
    SAMPLES,
    read_adapter_meta,
    read_config,
)

#: where the project lives; None writes no link rather than a placeholder
PROJECT_URL: str | None = None


def teacher_of(info: dict) -> dict:
    """``{"name", "settings"}`` of the teacher an adapter or base records (older records hold only a name), or unknown."""
    t = info.get("teacher") or (info.get("adapt") or {}).get("teacher")
    if isinstance(t, dict) and t.get("name"):
        return {"name": t["name"], "settings": t.get("settings") or {}}
    return {"name": t, "settings": {}} if isinstance(t, str) and t else {"name": "unknown", "settings": {}}


def _quality(metrics: dict, prompt: str | None) -> tuple[list[str], list]:
    """The quality section (Markdown lines) and the model-index results, from ``e2gan eval --out`` metrics."""
    from huggingface_hub import EvalResult

    lines, results = [], []
    per = metrics.get("per_prompt") or {}
    if not per:
        return ["## Quality", "", "Not measured: run `e2gan eval --model THIS --data DATA --out metrics.json` on held-out pairs.", ""], []
    base = metrics.get("baselines") or {}
    lines += ["## Quality against the teacher (held-out photos)", "", "| concept | model | PSNR dB | SSIM | n |", "|---|---|---|---|---|"]
    for p, m in per.items():
        b = base.get(p, {})
        lines.append(f"| {p} | **this model** | {m['psnr']:.2f} | {m.get('ssim', float('nan')):.3f} | {m.get('n', '')} |")
        if "identity" in b:
            lines.append(f"| {p} | the input unchanged | {b['identity']['psnr']:.2f} | {b['identity'].get('ssim', float('nan')):.3f} | {m.get('n', '')} |")
        if "base" in b:
            lines.append(f"| {p} | its base alone | {b['base']['psnr']:.2f} | {b['base'].get('ssim', float('nan')):.3f} | {m.get('n', '')} |")
        for name in ("psnr", "ssim"):
            if name in m:
                results.append(EvalResult(task_type="image-to-image", dataset_type="teacher-outputs", dataset_name=f"held-out pairs of {p!r}",
                                          metric_type=name, metric_value=round(float(m[name]), 4)))
    lines.append("")
    for p, b in base.items():
        g = b.get("gain_over_identity")
        if not g:
            continue
        n = f"{g['n']} photos" if g.get("pairs") else f"{g['n']} test pairs"
        if g["n"] < MIN_UNITS:  # an interval over 2-4 photos is the photos' own values: none is given
            lines.append(f"**Verdict ({p}): {INCONCLUSIVE}** against returning the input unchanged: {g['mean']:+.2f} dB on average over "
                         f"only {n} (fewer than {MIN_UNITS}: no interval). Measure on more held-out photos to decide.")
        elif b.get("clearly_better"):
            lines.append(f"**Verdict ({p}): clearly better than returning the input unchanged**: {interval_text(g)} (95% bootstrap interval "
                         f"over {n}).")
        else:
            lines.append(f"**Verdict ({p}): NOT clearly better than returning the input unchanged**: {interval_text(g)} over {n}. Treat it as "
                         "an experiment, not a working edit.")
            lines += [f"- try: {f}" for f in b.get("likely_fixes", [])]
        if b.get("gain_over_base"):
            lines.append(f"- over its base alone: {interval_text(b['gain_over_base'])}, {b['gain_over_base']['verdict']}.")
    if metrics.get("caveat"):
        lines.append(f"\n{metrics['caveat']}")
    return lines + [""], results


def _full_res(info: dict) -> list[str]:
    """The card's "At a photo's own size" section: which full-resolution mode the measurements picked, with the numbers."""
    fr = info.get("full_res")
    if not isinstance(fr, dict) or "mode" not in fr:
        return []
    scores = ", ".join(f"{m} {v:.2f} dB" for m, v in sorted((fr.get("psnr") or {}).items(), key=lambda kv: -kv[1]))
    return ["## At a photo's own size", "",
            f"A photo larger than the working size is edited there and carried to its own size: `e2gan apply` uses "
            f"**`{fr['mode']}`** for this concept (`--full-res` chooses another). Measured against the teacher run at "
            f"{fr.get('size', '?')} px on the held-out photos: {scores} (benchmarks/fullres).", ""]


def model_card(folder, repo_id: str | None = None, base_id: str | None = None, base_rev: str | None = None):
    """A ``huggingface_hub.ModelCard`` for the base or adapter in ``folder`` (``repo_id``: its Hub id, when published)."""
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(folder)
    adapter = (folder / ADAPTER_META).exists()
    meta = read_adapter_meta(folder) if adapter else read_config(folder / CONFIG)
    info = meta if adapter else meta.get("meta", {})
    name = repo_id.split("/")[-1] if repo_id else folder.name
    prompt = info.get("prompt") if adapter else None
    prompts = [prompt] if isinstance(prompt, str) else (info.get("prompts") or [])
    teacher = teacher_of(info)
    metrics = read_json(folder / METRICS, "run e2gan eval again") if (folder / METRICS).is_file() else {}
    quality, results = _quality(metrics, prompt)
    base_id = base_id or (info.get("base") if adapter else None)
    data = ModelCardData(library_name="e2gan", pipeline_tag="image-to-image", license="apache-2.0",
                         base_model=base_id if adapter and repo_id else None,
                         tags=["e2gan", "lora" if adapter else "base-model", f"teacher:{teacher['name']}", "gan", "image-to-image"],
                         model_name=name, eval_results=results or None)
    use = prompts[0] if prompts else "your prompt"
    made = f"[e2gan]({PROJECT_URL})" if PROJECT_URL else "e2gan"
    lines = [f"# {name}", ""]
    if adapter:
        lines += [f"An {made} LoRA adapter that distils the `{teacher['name']}` teacher's edit **{use!r}** into a tiny image-to-image "
                  f"GAN. Base: `{base_id}`" + (f" at revision `{base_rev}`" if base_rev else "") + ".", ""]
    else:
        lines += [f"An {made} base generator (`{meta.get('backbone')}`), trained on {len(prompts)} concepts of the `{teacher['name']}` teacher"
                  + (": " + ", ".join(f"`{p}`" for p in prompts[:12]) + (" ..." if len(prompts) > 12 else "") if prompts else "") + ".", ""]
    lines += ["## Teacher", "", f"- `{teacher['name']}`" + (f", settings `{json.dumps(teacher['settings'], sort_keys=True)}`" if teacher["settings"] else ""), ""]
    tr = info.get("train", {})
    if tr:
        lines += ["## Training", ""]
        lines.append(f"- {tr.get('steps', '?')} steps, batch {tr.get('batch_size', '?')}, lr {tr.get('lr', '?')}, seed {tr.get('seed', '?')}")
        adapt = info.get("adapt") or {}
        if adapter:
            lines.append(f"- {adapt.get('data_used', '?')} training pairs; {info.get('trainable_parameters', 0):,} trainable weights "
                         f"({len((info.get('lora') or {}).get('ranks', {}))} LoRA layers, ranks "
                         f"{sorted(set((info.get('lora') or {}).get('ranks', {}).values()))})")
        else:
            lines.append(f"- {info.get('pairs', '?')} training pairs")
        lines.append("")
    lines += quality + _full_res(info)
    if (folder / SAMPLES).exists():
        lines += [f"![samples: source | teacher | this model]({SAMPLES})", ""]
    ref = repo_id or portable_ref(folder)  # zoo:NAME or a relative folder, never this machine's path
    lines += ["## Use it", "", "```bash", f"e2gan apply --model {ref} --input photo.jpg --out edited/" + ("" if adapter else f' --prompt "{use}"'),
              "```", "", "```python", "from e2gan.student import Student", f'student = Student.from_pretrained("{ref}")',
              f'edited = student.edit([image], "{use}")', "```", ""]
    if adapter:
        # plain peft reads a folder or a Hub id: a zoo entry's folder is where e2gan's resolve() finds it
        zoo = ref.startswith("zoo:")
        where = f'str(resolve("{ref}"))' if zoo else f'"{ref}"'
        lines += ["Plain peft (the adapter is a peft LoRA on the base's generator):", "", "```python", "from peft import PeftModel",
                  *(["from e2gan.hub.sources import resolve"] if zoo else []), f'base = Student.from_pretrained("{base_id}")',
                  f"model = PeftModel.from_pretrained(base.generator, {where})", "```", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(lines) + "\n")


def write_local_card(folder) -> Path:
    """The folder's README.md: e2gan's card (an adapter's replaces the template peft writes)."""
    from e2gan.io import atomic_write_text

    path = Path(folder) / "README.md"
    atomic_write_text(path, str(model_card(folder)))
    return path
