"""The distillation engine: one training loop for every stage (base, LoRA, from scratch), the batches it draws,
its checkpoints, its processes under ``accelerate``, and what it measures while it trains."""

from e2gan.config import TrainConfig
from e2gan.engine.loop import (
    DEFAULT_DISCRIMINATOR,
    Interrupted,
    discriminator_for,
    lr_factor,
    pick_device,
    train,
)

__all__ = ["DEFAULT_DISCRIMINATOR", "Interrupted", "TrainConfig", "discriminator_for", "lr_factor", "pick_device", "train"]
