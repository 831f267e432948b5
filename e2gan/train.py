"""Step 2, Base (and the from-scratch baseline): train a whole generator and save it as a base folder
(``config.json`` + ``model.safetensors`` + ``training_log.jsonl``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from e2gan.engine import TrainConfig, train
from e2gan.outputs import is_main_process
from e2gan.io import write_training_log
from e2gan.student import Student


def train_base(pairs, out, backbone="e2gan", text_encoder="hashed-words", cfg: TrainConfig | None = None,
               backbone_config: dict | None = None, progress=True, callback=None, resume: bool = True) -> tuple[Student, list[dict]]:
    """One text-conditioned generator on several concepts at once (the shared base). ``pairs``: a ``PairTensors``
    or a streaming ``e2gan.engine.batches.FolderPairs``. Under ``accelerate launch`` only the main process writes."""
    return _train_whole(pairs, out, "base", backbone, text_encoder, cfg, backbone_config, progress, callback, "train-base", resume)


def train_scratch(pairs, out, backbone="pix2pix-resnet9", cfg: TrainConfig | None = None,
                  backbone_config: dict | None = None, progress=True, callback=None,
                  text_encoder: str = "hashed-words", resume: bool = True) -> tuple[Student, list[dict]]:
    """pix2pix-style: a fresh generator for one concept (the baseline the paper compares with)."""
    return _train_whole(pairs, out, "scratch", backbone, text_encoder, cfg, backbone_config, progress, callback, f"train[{backbone}]", resume)


def _train_whole(pairs, out, stage, backbone, text_encoder, cfg, backbone_config, progress, callback, desc, resume=True):
    import torch

    from e2gan.outputs import training_lock

    cfg = cfg or TrainConfig()
    with training_lock(out):
        torch.manual_seed(cfg.seed)  # the initial weights follow the run's seed: reruns and resumes are reproducible
        student = Student.create(backbone, text_encoder, **(backbone_config or {}))
        t0 = time.perf_counter()
        log = train(student, pairs, cfg, progress=progress, desc=desc, callback=callback, out=out, resume=resume)
        student.generator.cpu()
        from e2gan.fullres import training_side

        student.meta.update({"stage": stage, "prompts": sorted(set(pairs.prompts)), "pairs": len(pairs), "train": asdict(cfg),
                             "resolution": training_side(pairs, cfg),
                             "seconds": round(time.perf_counter() - t0, 2)})
        if not is_main_process():
            return student, log
        out = Path(out)
        student.save_pretrained(out)
        write_training_log(out, log)
    return student, log
