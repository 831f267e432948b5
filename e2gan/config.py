"""The options of training and of the demo, declared once as dataclasses with help text (peft's
``field(metadata={"help": ...})``); the CLI generates its options from them (``e2gan.cli.options_from``).
No torch here: ``e2gan --help`` stays quick."""

from __future__ import annotations

from dataclasses import dataclass, field

#: where models run unless told: a GPU when there is one (training, apply, eval, export, serve, the Python API)
DEFAULT_DEVICE = "auto"
DEVICE_HELP = "cpu, cuda, cuda:1, ... (auto: cuda when available)"

#: the teacher commands use when none is named: offline, the demo's and the tests' default
DEFAULT_TEACHER = "classic"
#: the base new concepts start from when none is named
DEFAULT_BASE = "zoo:classic-base"

#: LoRA fine-tuning's defaults, stated once (the CLI's options, the demo, compare and the benchmarks read them)
LORA_STEPS = 300
LORA_LR = 1e-2  # benchmarks/few_pairs (dev): the paper's layers at rank 4 learn faster at 1e-2 (+0.23 dB over 2e-3 at 300 steps)
LORA_BATCH = 8


def option(default, help: str, **kw):
    """A dataclass field with CLI help."""
    return field(default=default, metadata={"help": help}, **kw)


def bounded(default, low, high):
    """A config field whose value must lie in ``[low, high]``: checked (by :class:`Bounded`) before anything is built."""
    return field(default=default, metadata={"range": (low, high)})


class Bounded:
    """Mixin for config dataclasses (a backbone's, say): every :func:`bounded` field is range-checked when the config
    is made, so a bad ``config.json`` or ``--set`` value is one line naming the key and the range, before a layer is
    allocated (``heads: 0`` divides by zero, ``ngf: 100000`` asks for hundreds of GB)."""

    def __post_init__(self):
        import dataclasses

        for f in dataclasses.fields(self):
            bounds = f.metadata.get("range")
            value = getattr(self, f.name)
            if bounds is None or value is None:
                continue
            low, high = bounds
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{type(self).__name__}: {f.name} is {value!r}; it must be a number from {low} to {high}")


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
    device: str = option(DEFAULT_DEVICE, DEVICE_HELP)
    threads: int | None = option(None, "torch CPU threads (default: torch's)")
    max_seconds: float | None = option(None, "wall-clock budget in seconds: the lr schedule and the end follow the clock")
    checkpoint_every: int | None = option(None, "write a checkpoint every this many steps (and at the end, and on SIGINT/SIGTERM); "
                                                "rerunning the command resumes from the latest valid one")
    keep_checkpoints: int = option(2, "checkpoints kept (the newest)")
    grad_accum: int = option(1, "micro-batches per optimiser step (global batch = batch size x processes x this)")
    mixed_precision: str | None = option(None, "no, bf16 or fp16 (default: accelerate's config, else no)")
    workers: int | None = option(None, "DataLoader workers that decode pairs (default: half the cores, at most 4, when streaming)")


#: how ``e2gan finetune`` trains (``e2gan.adapt.lora_train_config``): L1 only, no GAN loss
LORA_TRAIN = {"steps": LORA_STEPS, "batch_size": LORA_BATCH, "lr": LORA_LR, "gan_weight": 0.0}


def lora_train_config(**overrides) -> TrainConfig:
    """The fine-tuning defaults (:data:`LORA_TRAIN`: L1 only, no GAN loss, lr 1e-2, 300 steps, batch 8), with ``overrides``."""
    return TrainConfig(**{**LORA_TRAIN, **overrides})


@dataclass
class AdaptConfig:
    """Step 3's choices for one new concept: where LoRA goes, its ranks, and which pairs train it. ``e2gan finetune``
    generates its options from these fields and ``e2gan compare`` varies one of them."""

    layers: str = option("paper", "'paper' (the backbone's declared layers), 'all' (every LoRA-able layer: ResNet blocks and stem too), "
                                  "'top-k', 'cumulative', or comma-separated module names")
    scorer: str | None = option(None, "layer-importance scorer (weight-delta, fisher, taylor, random); needed by --layers top-k/cumulative")
    top_k: int = option(8, "with --layers top-k: how many layers")
    threshold: float = option(0.8, "with --layers cumulative: the share of the total importance the layers cover")
    search: str = option("uniform:rank=4", "rank searcher[:key=value,...] (simple, uniform, random, svd-energy, greedy)")
    budget: int | None = option(None, "LoRA weight budget of the search (default: --budget-fraction of uniform rank 4 on the layers)")
    budget_fraction: float = option(0.6, "without --budget: the searchers' budget as a share of uniform rank 4's weights")
    select: str = option("all", "data selector[:key=value,...] (kmeans, random, all)")
    fraction: float | None = option(None, "keep this share of the pairs (with --select)")
    count: int | None = option(None, "keep this many pairs (with --select)")
    trial_steps: int = option(60, "LoRA steps of each rank-search trial")
    train_norms: bool = option(False, "also train the norms' affine weights and every bias (saved in the adapter, where plain peft finds them)")
    rescale: bool = option(False, "while training, scale the convs that feed an instance norm back to a fresh conv's size (the output is "
                                  "unchanged; undone in the adapter): a long-trained base's grown weights otherwise learn slower")
    learn_prompt: bool = option(False, "learn the new prompt's embedding beside LoRA (textual inversion); words the base never saw start at "
                                       "the closest word it knows")


#: named adaptation recipes (``e2gan finetune --preset NAME``): the AdaptConfig and training settings each one sets.
#: ``default`` is the recipe measured best in benchmarks/few_pairs (what AdaptConfig's defaults and LORA_TRAIN are);
#: ``paper`` is the paper's: LoRA rank 4 on the backbone's declared layers, lr 2e-3 (the default before the few-pairs benchmark).
PRESETS = {
    "default": {},
    "paper": {"layers": "paper", "search": "uniform:rank=4", "train_norms": False, "rescale": False, "learn_prompt": False, "lr": 2e-3},
}


def preset(name: str) -> dict:
    """The settings of preset ``name`` on top of the defaults: AdaptConfig fields and TrainConfig fields together."""
    import dataclasses

    if name not in PRESETS:
        raise ValueError(f"no preset {name!r}; the presets are {', '.join(PRESETS)}")
    base = {f.name: f.default for f in dataclasses.fields(AdaptConfig)} | dict(LORA_TRAIN)
    return {**base, **PRESETS[name]}


#: the TrainConfig fields the training commands expose (the rest keep their defaults)
TRAIN_CLI_FIELDS = ("steps", "batch_size", "lr", "lambda_l1", "gan_weight", "crop", "seed", "device", "threads", "checkpoint_every",
                    "keep_checkpoints", "grad_accum", "mixed_precision", "workers", "log_every")

@dataclass
class DemoConfig:
    """``e2gan demo``: the whole pipeline offline on an offline teacher."""

    out: str = option("results", "output folder (report.html, data, adapters, baselines)")
    teacher: str = option(DEFAULT_TEACHER, "an offline teacher (`e2gan plugins` lists them with what each does)")
    size: int | None = option(None, "resolution of the demo's pairs (default: the resolution of the teacher's zoo base)")
    retrain_base: bool = option(False, "train the base inside the demo instead of using the zoo's")
    base: str | None = option(None, "base to adapt from (default: the teacher's zoo base)")
    equal_time: bool | None = option(None, "give e2gan-from-scratch the LoRA run's wall time instead of its steps (default: the "
                                           "teacher's `demo` preset, else off)")
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
    held_out: list | None = field(default=None, metadata={"help": "new concepts to adapt to (default: the first held-out concept of each "
                                                                  "kind the teacher reserves)"})
