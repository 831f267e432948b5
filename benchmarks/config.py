"""What ``make bench`` measures, as one dataclass: the quick CPU default and the paper's protocol.

The default finishes in about 20 minutes on a 2-core CPU by using reduced resolutions and few steps;
``--full`` is the protocol of the paper (256x256, longer training, three seeds), meant for a GPU."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace


@dataclass
class BenchConfig:
    size: int = field(default=64, metadata={"help": "resolution of the ablations (bases, LoRA ranks, data)"})
    steps: int = field(default=150, metadata={"help": "LoRA steps per ablation run"})
    seeds: tuple[int, ...] = field(default=(0, 1), metadata={"help": "training seeds of every ablation run (quality is the mean, with the min-max over seeds)"})
    fractions: tuple[float, ...] = field(default=(0.1, 0.2, 0.5), metadata={"help": "data ablation: share of the pairs each selector keeps"})
    trial_steps: int = field(default=40, metadata={"help": "training steps per trial of the searched ranks"})
    crops: int = field(default=96, metadata={"help": "training pairs per concept"})
    test_crops: int = field(default=24, metadata={"help": "held-out test pairs per concept"})
    cost_size: int = field(default=128, metadata={"help": "resolution of the training-cost table"})
    cost_steps: int = field(default=200, metadata={"help": "LoRA and full fine-tune steps in the training-cost table"})
    p2p_steps: int = field(default=100, metadata={"help": "pix2pix-from-scratch steps in the training-cost table (batch 4)"})
    infer_size: int = field(default=256, metadata={"help": "resolution of the inference timing (the targets are at 256)"})
    rounds: int = field(default=7, metadata={"help": "interleaved timing rounds per model"})
    block: int = field(default=5, metadata={"help": "back-to-back timed calls per model and round (after one untimed call)"})
    threads: int = field(default=2, metadata={"help": "CPU threads for inference timing"})
    infer_backbones: tuple[str, ...] = field(default=("e2gan-small", "e2gan", "e2gan-large", "pix2pix-resnet9", "pix2pix-unet256", "comodgan"),
                                             metadata={"help": "backbones in the inference table (pix2pix-resnet9 is the reference)"})
    sections: tuple[str, ...] = field(default=("inference", "training", "bases", "ablations", "teacher"))

    def describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self) if f.name != "sections")


# The paper's protocol: 256x256 everywhere, training long enough for pix2pix to converge, three seeds.
FULL = BenchConfig(size=256, steps=1000, trial_steps=200, seeds=(0, 1, 2), crops=512, test_crops=64, cost_size=256, cost_steps=1000,
                   p2p_steps=5000, rounds=20)


def full(**overrides) -> BenchConfig:
    return replace(FULL, **overrides)
