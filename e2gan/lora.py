"""Step 3, Adapt: LoRA through peft on a frozen base; adapters are plain peft folders.

The paper puts LoRA on the down-sampling layers, the DS, the transformer block, the US and the
up-sampling layers, and none on the ResNet blocks; each backbone declares its own version of that
placement as ``lora_targets`` (regexes over module names), which ``paper_targets`` reads. ``rank_pattern`` gives per-layer ranks (a later search fills it).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from e2gan.files import (  # noqa: F401  (read_adapter_meta re-exported)
    ADAPTER_CONFIG,
    ADAPTER_META,
    ADAPTER_WEIGHTS,
    VERSION,
    read_adapter_meta,
)
from e2gan.io import atomic_write_json

LORA_TYPES = (nn.Conv2d, nn.Linear)


def base_model(model: nn.Module) -> nn.Module:
    """The plain backbone under a peft wrapper (the model itself when it carries no adapter)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def lora_candidates(model: nn.Module) -> list[str]:
    """Every module peft can wrap (Conv2d, Linear), by name: the layers scorers rank."""
    return [n for n, m in model.named_modules() if isinstance(m, LORA_TYPES) and not n.endswith("base_layer") and "lora_" not in n]


def paper_targets(model: nn.Module) -> list[str]:
    """The layers the backbone declares for LoRA (its ``lora_targets``: regexes over module names)."""
    base = base_model(model)
    patterns = getattr(base, "lora_targets", None)
    if not patterns:
        raise ValueError(f"backbone {type(base).__name__} declares no lora_targets; pass the target layers explicitly "
                         f"(--layers name1,name2; candidates: {', '.join(lora_candidates(base)[:8])}, ...)")
    names = [n for n in lora_candidates(model) if any(re.fullmatch(p, n) for p in patterns)]
    if not names:
        raise ValueError(f"the lora_targets of {type(base).__name__} match none of its LoRA-able layers; pass target layers explicitly")
    return names


def lora_params(model: nn.Module, name: str, rank: int) -> int:
    """Trainable weights LoRA of ``rank`` adds on module ``name``."""
    m = model.get_submodule(name)
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return rank * (m.in_channels // m.groups * kh * kw + m.out_channels)
    return rank * (m.in_features + m.out_features)


def norm_modules(model: nn.Module) -> list[str]:
    """Names of the norms with learnable affine weights (instance, layer, group, batch norms)."""
    kinds = (nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)
    return [n for n, m in base_model(model).named_modules() if isinstance(m, kinds) and any(True for _ in m.parameters(recurse=False))]


def add_lora(student, targets: list[str], ranks: int | dict[str, int] = 4, alpha_ratio: float = 1.0, dropout: float = 0.0,
             train_norms: bool = False):
    """Freeze the base and wrap ``targets`` with LoRA; ``ranks`` is one rank or a per-layer dict. ``train_norms``: the
    norms' affine weights (peft ``modules_to_save``) and every bias (peft ``bias="all"``) train too, and are saved in
    the adapter, where plain peft finds them."""
    from peft import LoraConfig, get_peft_model

    base = student.generator
    rank_pattern = ranks if isinstance(ranks, dict) else {t: int(ranks) for t in targets}
    missing = [t for t in targets if t not in rank_pattern]
    if missing:
        raise ValueError(f"no rank given for layers {missing}")
    r0 = max(rank_pattern.values())
    # keys anchored with ^...$ so 'down1.0' never matches e.g. 'x.down1.0'
    config = LoraConfig(
        r=r0, lora_alpha=alpha_ratio * r0, lora_dropout=dropout, target_modules=list(targets),
        rank_pattern={f"^{re.escape(k)}$": v for k, v in rank_pattern.items()},
        alpha_pattern={f"^{re.escape(k)}$": alpha_ratio * v for k, v in rank_pattern.items()},
        bias="all" if train_norms else "none", modules_to_save=norm_modules(base) if train_norms else None,
    )
    for p in base.parameters():
        p.requires_grad_(False)
    student.generator = get_peft_model(base, config)
    match_padding(student.generator)
    student.meta["lora"] = {"targets": list(targets), "ranks": rank_pattern, "alpha_ratio": alpha_ratio, "train_norms": bool(train_norms)}
    return student


def match_padding(model: nn.Module) -> int:
    """peft builds LoRA's ``lora_A`` conv with zero padding whatever the wrapped conv uses. For a base
    with reflect padding that makes the adapter differ from its merged weights at the borders; giving
    ``lora_A`` the base conv's padding mode makes ``W x + B(A x)`` equal ``(W + BA) x`` exactly.
    (Plain peft, which does not do this, matches exactly on zero-padded bases, the default.)"""
    fixed = 0
    for m in model.modules():
        base = getattr(m, "base_layer", None)
        if isinstance(base, nn.Conv2d) and hasattr(m, "lora_A"):
            for a in m.lora_A.values():
                if a.padding_mode != base.padding_mode:
                    a.padding_mode = base.padding_mode
                    a._reversed_padding_repeated_twice = base._reversed_padding_repeated_twice
                    fixed += 1
    return fixed


def save_adapter(student, folder, base_ref: str, meta: dict | None = None) -> Path:
    """peft's ``adapter_config.json`` + ``adapter_model.safetensors``, plus ``e2gan_adapter.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    student.generator.save_pretrained(str(folder), safe_serialization=True)
    from e2gan.io import follow_umask

    follow_umask(folder / ADAPTER_WEIGHTS, folder / ADAPTER_CONFIG, folder / "README.md")  # safetensors writes 0600
    info = {
        "base": str(base_ref),
        "base_fingerprint": student.meta.get("base_fingerprint") or student.fingerprint(),
        "backbone": student.backbone,
        "text_encoder": student.config_dict()["text_encoder"],
        "e2gan_version": VERSION,
        **(meta or {}),
    }
    from e2gan.prompts import save as save_prompts

    save_prompts(student, folder)
    atomic_write_json(folder / ADAPTER_META, info)
    from e2gan.hub.card import write_local_card

    write_local_card(folder)  # e2gan's card, not peft's empty template
    return folder


def load_adapter(student, folder, check_fingerprint: bool = True):
    """Attach an adapter folder to a loaded base student (checking it was trained on that base)."""
    from peft import PeftModel

    folder = Path(folder)
    meta = read_adapter_meta(folder)
    if check_fingerprint and meta.get("base_fingerprint"):
        have = student.fingerprint()
        if have != meta["base_fingerprint"]:
            raise ValueError(
                f"adapter {folder} was trained on base {meta['base']} (fingerprint {meta['base_fingerprint'][:12]}), "
                f"but the given base has fingerprint {have[:12]}; pass the base it was trained on"
            )
    student.meta["base_fingerprint"] = meta.get("base_fingerprint")
    try:
        student.generator = PeftModel.from_pretrained(student.generator, str(folder)).eval()
    except Exception as exc:  # noqa: BLE001  peft and safetensors fail deep inside (a KeyError on a weight name, "header too large")
        from e2gan.settings import shorten

        raise ValueError(f"{folder / ADAPTER_WEIGHTS} could not be loaded onto its base ({type(exc).__name__}: {shorten(exc, 200)}): the file is "
                         "corrupt, or its adapter_config.json names layers or modules the base does not have; copy the adapter "
                         "again") from None
    match_padding(student.generator)
    from e2gan.prompts import load as load_prompts

    load_prompts(student, folder)
    student.meta["adapter"] = {k: v for k, v in meta.items() if k != "text_encoder"}
    student.meta["prompt"] = meta.get("prompt")
    return student


#: what an adapter's weight in a mix may be (``--model a:W``): negative subtracts the concept, as peft's
#: ``add_weighted_adapter`` does
WEIGHTS = (-2.0, 2.0)


def parse_weighted(spec: str) -> tuple[str, float]:
    """``"adapter:0.7"`` -> ``("adapter", 0.7)``; a reference without a weight (``zoo:NAME``, ``org/name@rev``) has weight 1."""
    ref, sep, tail = str(spec).rpartition(":")
    if sep and ref:
        try:
            return ref, float(tail)
        except ValueError:
            pass
    return str(spec), 1.0


def combine_adapters(student, folders: list, weights: list[float]):
    """Several adapters of one base as one (peft's ``add_weighted_adapter``, ``cat``: the weight deltas are summed exactly,
    ``sum(w_i * B_i A_i)``), active as adapter ``combined``. One adapter at weight ``w`` is that adapter at strength
    ``w``. ``student`` is the base, loaded; each adapter's record must name it (same fingerprint)."""
    from peft import PeftModel

    for w in weights:
        if not WEIGHTS[0] <= float(w) <= WEIGHTS[1]:
            raise ValueError(f"adapter weight {w}: use a value from {WEIGHTS[0]:g} to {WEIGHTS[1]:g} (1 is the adapter as trained, 0 leaves it "
                             "out, a negative weight subtracts it)")
    if len(folders) == 1:  # one adapter at weight w is that adapter at strength w, on every path (Student.strength)
        load_adapter(student, folders[0])
        student.strength = float(weights[0])
        set_strength(student.generator, student.strength, WEIGHTS)
        return student
    have = student.fingerprint()
    metas = []
    for i, folder in enumerate(folders):
        meta = read_adapter_meta(folder)
        if meta["base_fingerprint"] != have:
            raise ValueError(f"adapter {folder} was trained on another base ({meta['base']}, fingerprint {meta['base_fingerprint'][:12]}) than "
                             f"{folders[0]}'s ({have[:12]}): adapters combine only on the base they share")
        metas.append(meta)
        try:
            if i == 0:
                student.generator = PeftModel.from_pretrained(student.generator, str(folder), adapter_name="a0")
            else:
                student.generator.load_adapter(str(folder), adapter_name=f"a{i}")
        except Exception as exc:  # noqa: BLE001  as load_adapter: peft fails deep inside on a bad file
            raise ValueError(f"{Path(folder) / ADAPTER_WEIGHTS} could not be loaded onto its base ({type(exc).__name__}: {exc})") from None
    names = [f"a{i}" for i in range(len(folders))]
    student.generator.add_weighted_adapter(names, list(map(float, weights)), adapter_name="combined", combination_type="cat")
    student.generator.set_adapter("combined")
    student.generator.eval()
    match_padding(student.generator)
    lead = max(range(len(metas)), key=lambda i: weights[i])
    student.meta["base_fingerprint"] = have
    student.meta["adapter"] = {**{k: v for k, v in metas[lead].items() if k != "text_encoder"},
                               "combined": [{"source": str(f), "weight": float(w), "prompt": m.get("prompt")} for f, w, m in zip(folders, weights, metas)]}
    student.meta["prompt"] = metas[lead].get("prompt")  # the heaviest adapter's prompt conditions the base (--prompt chooses another)
    from e2gan.prompts import load as load_prompts

    load_prompts(student, folders[lead])  # and its learned prompt embedding, if it has one
    return student


def merge_adapter(student):
    """Fold LoRA into the weights (exact up to float rounding) for export or plain inference."""
    student.generator = student.generator.merge_and_unload()
    return student


@torch.no_grad()
def adapter_bytes(folder) -> int:
    return (Path(folder) / ADAPTER_WEIGHTS).stat().st_size


def set_strength(model: nn.Module, strength: float, limits: tuple[float, float] = (0.0, 2.0)) -> int:
    """Scale every active LoRA layer's effect with peft's own ``set_scale``: 0 is the base alone, 1 the adapter as trained
    (values in between blend, above 1 exaggerate; a negative weight in a mix subtracts). Absolute, not cumulative: the
    scale is set from the layer's ``lora_alpha / r`` each time, so a copy or a second call never compounds it. Returns how
    many layers were scaled (0: the model has no adapter)."""
    from peft.tuners.lora import LoraLayer

    lo, hi = limits
    if not lo <= strength <= hi:
        raise ValueError(f"--strength {strength}: use a value from 0 (the base alone) to 1 (the adapter as trained), at most {hi:g}"
                         if lo == 0 else f"adapter weight {strength}: use a value from {lo:g} to {hi:g} (1 is the adapter as trained)")
    n = 0
    for m in model.modules():
        if isinstance(m, LoraLayer):
            for name in m.active_adapters:
                m.set_scale(name, strength)
            n += 1
    return n
