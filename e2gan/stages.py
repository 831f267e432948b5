"""The pipeline's training stages as functions (the CLI and the demo call these):
``train_base`` (step 2), ``finetune`` (step 3, LoRA), ``train_scratch`` (pix2pix baseline)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from e2gan.dataset import PairedDataset
from e2gan.engine import PairTensors, TrainConfig, config_dict, train
from e2gan.io import atomic_write_json, atomic_write_text
from e2gan.lora import add_lora, paper_targets, save_adapter
from e2gan.student import Student


def _write_log(folder: Path, log: list[dict]) -> None:
    atomic_write_text(folder / "training_log.jsonl", "".join(json.dumps(r) + "\n" for r in log))


def load_pairs(data: str | Path, prompts=None, split: str | None = "train", size: int | None = None, limit: int | None = None) -> PairTensors:
    ds = PairedDataset(data)
    records = ds.select(prompts, split)
    if limit:
        records = records[:limit]
    if not records:
        raise ValueError(f"{data} has no {split or ''} pairs for prompts {prompts}; it has {ds.prompts()}")
    return PairTensors.from_dataset(ds, records, size)


def train_base(pairs: PairTensors, out, backbone="e2gan", text_encoder="hashed-words", cfg: TrainConfig | None = None,
               backbone_config: dict | None = None, progress=True) -> tuple[Student, list[dict]]:
    """One text-conditioned generator on several concepts at once (the shared base)."""
    cfg = cfg or TrainConfig()
    student = Student.create(backbone, text_encoder, **(backbone_config or {}))
    t0 = time.perf_counter()
    log = train(student, pairs, cfg, progress=progress, desc="train-base")
    student.generator.cpu()
    student.meta.update({"stage": "base", "prompts": sorted(set(pairs.prompts)), "pairs": len(pairs),
                         "train": config_dict(cfg), "seconds": round(time.perf_counter() - t0, 2)})
    out = Path(out)
    student.save_pretrained(out)
    _write_log(out, log)
    return student, log


def finetune(base_ref: str, pairs: PairTensors, out, cfg: TrainConfig | None = None, targets: list[str] | None = None,
             ranks: int | dict = 4, progress=True, meta: dict | None = None, student: Student | None = None,
             callback=None) -> tuple[Student, list[dict]]:
    """LoRA on a frozen base for one new concept; writes a peft adapter folder."""
    cfg = cfg or TrainConfig()
    student = student or Student.from_pretrained(base_ref)
    fingerprint = student.fingerprint()
    targets = targets or paper_targets(student.generator)
    add_lora(student, targets, ranks)
    student.meta["base_fingerprint"] = fingerprint
    t0 = time.perf_counter()
    log = train(student, pairs, cfg, progress=progress, desc="finetune[lora]", callback=callback)
    student.generator.cpu()
    seconds = round(time.perf_counter() - t0, 2)
    prompts = sorted(set(pairs.prompts))
    info = {"prompt": prompts[0] if len(prompts) == 1 else prompts, "trainable_parameters": student.num_parameters(True),
            "base_parameters": student.num_parameters() - student.num_parameters(True), "train": config_dict(cfg),
            "seconds": seconds, "lora": student.meta["lora"], **(meta or {})}
    out = Path(out)
    save_adapter(student, out, base_ref, info)
    _write_log(out, log)
    student.meta.update(info)
    return student, log


def train_scratch(pairs: PairTensors, out, backbone="pix2pix-resnet9", cfg: TrainConfig | None = None,
                  backbone_config: dict | None = None, progress=True, callback=None) -> tuple[Student, list[dict]]:
    """pix2pix-style: a fresh generator for one concept (the baseline the paper compares with)."""
    cfg = cfg or TrainConfig()
    student = Student.create(backbone, "hashed-words", **(backbone_config or {}))
    t0 = time.perf_counter()
    log = train(student, pairs, cfg, progress=progress, desc=f"train[{backbone}]", callback=callback)
    student.generator.cpu()
    student.meta.update({"stage": "scratch", "prompts": sorted(set(pairs.prompts)), "train": config_dict(cfg),
                         "seconds": round(time.perf_counter() - t0, 2)})
    student.save_pretrained(out)
    _write_log(Path(out), log)
    return student, log


@torch.no_grad()
def predict(student: Student, sources_u8: torch.Tensor, prompts, batch: int = 8) -> torch.Tensor:
    """uint8 sources -> uint8 outputs (for metrics and grids)."""
    student.generator.eval()
    device = student.device
    prompts = [prompts] * len(sources_u8) if isinstance(prompts, str) else list(prompts)
    outs = []
    for i in range(0, len(sources_u8), batch):
        x = sources_u8[i : i + batch].to(device).float() / 127.5 - 1
        y = student(x, prompts[i : i + batch])
        outs.append(((y.clamp(-1, 1) + 1) * 127.5).round().byte().cpu())
    return torch.cat(outs)
