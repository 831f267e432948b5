"""The options of training and of the demo, declared once as dataclasses with help text (peft's
``field(metadata={"help": ...})``); the CLI generates its options from them (``e2gan.cli.options_from``).
No torch here: ``e2gan --help`` stays quick."""

from __future__ import annotations

from dataclasses import dataclass, field

#: LoRA fine-tuning's defaults, stated once (the CLI's options, the demo, compare and the benchmarks read them)
LORA_STEPS = 300
LORA_LR = 2e-3
LORA_BATCH = 8


def option(default, help: str, **kw):
    """A dataclass field with CLI help."""
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class TrainConfig:
    """One training run of the engine (base, LoRA fine-tune, or from scratch)."""

    steps: int = option(1000, "optimisation steps")
    batch_size: int = option(8, "pairs per step and process (accelerate's convention)")
    lr: float = option(2e-4, "Adam learning rate (constant, then linear decay to 0)")
    beta1: float = option(0.5, "Adam beta1 (pix2pix's 0.5)")
    lambda_l1: float = option(100.0, "weight of L1 to the teacher's output")
    gan_weight: float = option(1.0, "weight of the adversarial loss (0: L1 only, no discriminator)")
    decay_start: float = option(0.5, "share of the steps (or of --max-minutes) after which the lr decays linearly to 0")
    crop: int | None = option(None, "random crop side during training (default: whole pairs)")
    flip: bool = option(True, "random horizontal flips")
    seed: int = option(0, "seed of batches, crops, flips and of LoRA's initialisation")
    log_every: int = option(10, "steps between loss-log rows")
    discriminator: str | None = option(None, "discriminator plugin (default: the backbone's `default_discriminator`, else patchgan)")
    disc_config: dict | None = option(None, "discriminator settings (default: the backbone's, else patchgan's ndf=32, n_layers=3)")
    device: str = option("auto", "cpu, cuda, cuda:1, ... (auto: cuda when available)")
    threads: int | None = option(None, "torch CPU threads (default: torch's)")
    max_seconds: float | None = option(None, "wall-clock budget in seconds: the lr schedule and the end follow the clock")
    checkpoint_every: int | None = option(None, "write a checkpoint every this many steps (and at the end, and on SIGINT/SIGTERM); "
                                                "rerunning the command resumes from the latest valid one")
    keep_checkpoints: int = option(2, "checkpoints kept (the newest)")
    grad_accum: int = option(1, "micro-batches per optimiser step (global batch = batch size x processes x this)")
    mixed_precision: str | None = option(None, "no, bf16 or fp16 (default: accelerate's config, else no)")
    workers: int | None = option(None, "DataLoader workers that decode pairs (default: half the cores, at most 4, when streaming)")


#: the TrainConfig fields the training commands expose (the rest keep their defaults)
TRAIN_CLI_FIELDS = ("steps", "batch_size", "lr", "lambda_l1", "gan_weight", "crop", "seed", "device", "threads", "checkpoint_every",
                    "keep_checkpoints", "grad_accum", "mixed_precision", "workers", "log_every")

BASE_CONCEPTS = ["watercolor painting", "pencil sketch", "cartoon", "enhance details", "sepia", "night", "thermal camera", "pop art"]
HELD_OUT = ["oil painting", "winter"]


@dataclass
class DemoConfig:
    """``e2gan demo``: the whole pipeline offline on the classic teacher."""

    out: str = option("results", "output folder (report.html, data, adapters, baselines)")
    teacher: str = option("classic", "offline teacher: classic (14 unrelated OpenCV edits) or procedural (compositional concepts)")
    size: int | None = option(None, "resolution of the demo's pairs (default: the teacher's preset, 128 classic / 64 procedural)")
    retrain_base: bool = option(False, "train the base inside the demo instead of using the zoo's")
    base: str | None = option(None, "base to adapt from (default: the teacher's zoo base)")
    equal_time: bool | None = option(None, "give e2gan-from-scratch the LoRA run's wall time instead of its steps (default: on for procedural)")
    lora_steps: int = option(LORA_STEPS, "LoRA steps per held-out concept (also the e2gan-from-scratch steps)")
    scratch_steps: int = option(100, "steps for the pix2pix baseline")
    base_steps: int = option(1500, "with --retrain-base")
    crops: int = option(96, "training crops per concept")
    test_crops: int = option(32, "test crops of the held-out photos per concept")
    fid: bool = option(True, "FID when the Inception weights are installed")
    seed: int = option(0, "seed of crops and training")
    rank: int = option(4, "LoRA rank")
    lora_lr: float = option(LORA_LR, "LoRA learning rate")
    base_concepts: list | None = field(default=None, metadata={"help": "the base's concepts (default: the teacher's preset)"})
    held_out: list | None = field(default=None, metadata={"help": "new concepts to adapt to (default: the teacher's preset)"})


def demo_preset(teacher: str) -> dict:
    """What the demo runs for each offline teacher, unless DemoConfig says otherwise."""
    if teacher == "classic":
        return {"base": "zoo:classic-base", "size": 128, "base_concepts": list(BASE_CONCEPTS), "held_out": list(HELD_OUT), "equal_time": False}
    if teacher == "procedural":
        from e2gan.registry import create_teacher

        held = create_teacher("procedural").held_out()  # the first of each kind: a new combination, and an unseen primitive
        return {"base": "zoo:procedural-base", "size": 64, "base_concepts": None, "equal_time": True,
                "held_out": [held["seen-primitives"][0], held["unseen-primitive"][0]]}
    raise ValueError(f"the demo runs the offline teachers 'classic' and 'procedural', not {teacher!r}")
