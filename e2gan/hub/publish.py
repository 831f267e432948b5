"""Ship: publish a base or an adapter to the Hub with a model card, and pull one back, verified.

What goes up is only safetensors, JSON, the card and images (a folder holding anything else is
refused, with the names). An adapter's ``e2gan_adapter.json`` and peft's ``base_model_name_or_path``
name its base by Hub id and revision, so that anyone can pull it: publish the base first. The local
folder is never changed: the rewritten JSON and the card go up as bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from e2gan.files import (
    ADAPTER_CONFIG,
    ADAPTER_META,
    ADAPTER_WEIGHTS,
    CONFIG,
    METRICS,
    SAMPLES,
    WEIGHTS,
    read_adapter_meta,
    read_config,
)

PUBLISHABLE = (".safetensors", ".json", ".md", ".png", ".jpg", ".jpeg", ".jsonl")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_publishable(folder: Path) -> list[Path]:
    """The files to upload; refuses anything that is not safetensors, JSON, the card or an image."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    bad = [str(p.relative_to(folder)) for p in files if p.suffix.lower() not in PUBLISHABLE]
    if bad:
        raise ValueError(f"{folder} holds {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}: e2gan publishes only safetensors weights, "
                         "JSON, the model card and images (a pickle or an unknown file must not reach the Hub); move them out first")
    if not any(p.name in (WEIGHTS, ADAPTER_WEIGHTS) for p in files):
        raise ValueError(f"{folder} has neither {WEIGHTS} (a base) nor adapter_model.safetensors (an adapter): nothing to publish")
    return files


def _base_hub_id(meta: dict, base_repo: str | None) -> tuple[str, str | None]:
    """(hub id, revision) of an adapter's base: given, already a Hub id, or a zoo entry the catalogue publishes."""
    if base_repo:
        repo, _, rev = base_repo.partition("@")
        return repo, rev or None
    base = str(meta.get("base", ""))
    if base.startswith("hf-hub:"):
        base = base[len("hf-hub:"):]
    if HUB_ID.match(base) and not Path(base).exists():
        return base, meta.get("base_revision")
    if base.startswith("zoo:"):
        from e2gan.hub.zoo import catalogue

        entry = catalogue()["bases"].get(base[4:], {})
        if entry.get("repo_id"):
            return entry["repo_id"], entry.get("revision")
    raise ValueError(f"the adapter's base is {base!r}, which others cannot download: publish the base first "
                     f"(`e2gan push BASE_FOLDER org/base-name`), then pass --base-repo org/base-name[@revision]")


def _record(folder: Path, adapter: bool) -> dict:
    """The adapter's record or the base's config, read (and checked) the way loading reads them."""
    return read_adapter_meta(folder) if adapter else read_config(folder / CONFIG)


def model_card(folder: Path, repo_id: str, base_id: str | None = None, base_rev: str | None = None):
    """A ``huggingface_hub.ModelCard``: YAML header (library, task, base, tags, licence, model-index) and a body
    (prompt, teacher, data, metrics against the teacher, a sample grid, how to use it in three lines)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    adapter = (folder / ADAPTER_META).exists()
    meta = _record(folder, adapter)
    info = meta if adapter else meta.get("meta", {})
    prompt = info.get("prompt") if adapter else None
    prompts = [prompt] if isinstance(prompt, str) else (info.get("prompts") or [])
    teacher = info.get("teacher") or (info.get("adapt") or {}).get("teacher") or "unknown"
    metrics = json.loads((folder / METRICS).read_text()) if (folder / METRICS).exists() else {}
    results = []
    for name, value in (metrics.get("mean") or {}).items():
        if name in ("psnr", "ssim", "lpips", "fid"):
            results.append(EvalResult(task_type="image-to-image", dataset_type="teacher-outputs", dataset_name=f"{teacher} teacher, held-out photos",
                                      metric_type=name, metric_value=round(float(value), 4)))
    data = ModelCardData(library_name="e2gan", pipeline_tag="image-to-image", license="apache-2.0",
                         base_model=base_id if adapter else None, tags=["e2gan", "lora" if adapter else "base-model", f"teacher:{teacher}", "gan"],
                         model_name=repo_id.split("/")[-1], eval_results=results or None)
    use_prompt = prompts[0] if prompts else "your prompt"
    lines = [f"# {repo_id.split('/')[-1]}", "",
             (f"An [e2gan](https://github.com/) LoRA adapter that distils the `{teacher}` teacher's edit **{use_prompt!r}** into a tiny image-to-image GAN. "
              f"Base: `{base_id}`" + (f" at revision `{base_rev}`" if base_rev else "") + "." if adapter else
              f"An e2gan base generator (`{meta.get('backbone')}`), trained on {len(prompts)} concepts of the `{teacher}` teacher: "
              + ", ".join(f"`{p}`" for p in prompts[:12]) + (" ..." if len(prompts) > 12 else "") + "."), ""]
    if adapter:
        tr = info.get("train", {})
        lines += ["## Training", f"- teacher: `{teacher}`; prompt: `{use_prompt}`",
                  f"- {tr.get('steps', '?')} steps, batch {tr.get('batch_size', '?')}, lr {tr.get('lr', '?')}; "
                  f"{info.get('trainable_parameters', '?'):,} trainable weights" if isinstance(info.get('trainable_parameters'), int) else "",
                  f"- LoRA layers and ranks: {json.dumps(info.get('lora', {}).get('ranks', {}))}", ""]
    if metrics.get("per_prompt"):
        lines += ["## Quality against the teacher (held-out photos)", "", "| concept | PSNR dB | SSIM | n |", "|---|---|---|---|"]
        lines += [f"| {p} | {m.get('psnr', float('nan')):.2f} | {m.get('ssim', float('nan')):.3f} | {m.get('n', '')} |" for p, m in metrics["per_prompt"].items()]
        lines.append("")
    if (folder / SAMPLES).exists():
        lines += ["![samples: source | teacher | student](samples.png)", ""]
    lines += ["## Use it", "", "```bash", f"e2gan apply --model {repo_id} --input photo.jpg --out edited/" + ("" if adapter else f' --prompt "{use_prompt}"'), "```", "",
              "```python", "from e2gan.student import Student", f'student = Student.from_pretrained("{repo_id}")',
              f'edited = student.edit([image], "{use_prompt}")', "```", ""]
    if adapter:
        lines += ["Plain peft (the adapter is a peft LoRA on the base's generator):", "", "```python", "from peft import PeftModel",
                  f'base = Student.from_pretrained("{base_id}")', f'model = PeftModel.from_pretrained(base.generator, "{repo_id}")', "```", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(line for line in lines if line is not None) + "\n")


def push(folder, repo_id: str, private: bool = False, revision: str | None = None, message: str | None = None,
         base_repo: str | None = None, token=None):
    """Publish ``folder`` (a base or an adapter) to ``repo_id``; returns ``(commit oid, card)``."""
    from huggingface_hub import CommitOperationAdd, HfApi

    folder = Path(folder)
    if not HUB_ID.match(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repo id (org/name)")
    files = check_publishable(folder)
    adapter = (folder / ADAPTER_META).exists()
    base_id = base_rev = None
    overrides: dict[str, bytes] = {}
    if adapter:
        meta = _record(folder, adapter)
        base_id, base_rev = _base_hub_id(meta, base_repo)
        overrides[ADAPTER_META] = json.dumps({**meta, "base": base_id, "base_revision": base_rev}, indent=2, sort_keys=True).encode()
        peft_cfg = json.loads((folder / ADAPTER_CONFIG).read_text())
        overrides[ADAPTER_CONFIG] = json.dumps({**peft_cfg, "base_model_name_or_path": base_id}, indent=2, sort_keys=True).encode()
    card = model_card(folder, repo_id, base_id, base_rev)
    overrides["README.md"] = str(card).encode()
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision and revision != "main":
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    ops = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in overrides.items()]
    ops += [CommitOperationAdd(path_in_repo=str(p.relative_to(folder)), path_or_fileobj=str(p)) for p in files
            if str(p.relative_to(folder)) not in overrides]
    kind = "adapter" if adapter else "base"
    info = api.create_commit(repo_id, ops, commit_message=message or f"e2gan push: {kind} {folder.name}", revision=revision or "main")
    return info.oid, card
