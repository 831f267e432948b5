"""A student = generator + the text encoder its prompts go through, saved diffusers-style:
``config.json`` (backbone name, its config, the text encoder's name and settings) + ``model.safetensors``.
An adapter folder (peft's files + ``e2gan_adapter.json``) loads through the same ``from_pretrained``."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from e2gan.config import DEFAULT_DEVICE
from e2gan.data.images import u8_to_unit, unit_to_u8
from e2gan.files import ADAPTER_META, CONFIG, VERSION, WEIGHTS, read_config  # noqa: F401  (read_config re-exported)
from e2gan.hub.sources import commit_of, portable_ref, resolve, resolve_base
from e2gan.inference import pick_device
from e2gan.io import atomic_save_file, atomic_write_json
from e2gan.registry import create_backbone, create_text_encoder

#: config keys that would make a backbone fetch or unpickle weights: never honoured from a file on disk
_FETCHING_KEYS = {"pretrained": False, "encoder_weights": None}


def _check_types(cfg: dict, path: Path, wrote: str):
    """Each config value against the type of the backbone's default for that key."""
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(create_backbone(cfg["backbone"]).config)}
    for key, value in cfg["config"].items():
        want = defaults.get(key, dataclasses.MISSING)
        if want is dataclasses.MISSING or want is None or value is None:
            continue
        ok = isinstance(value, type(want)) or (isinstance(want, float) and isinstance(value, int) and not isinstance(value, bool))
        if isinstance(want, int) and not isinstance(want, bool) and isinstance(value, bool):
            ok = False
        if not ok:
            raise ValueError(f"{path}: config key {key!r} is {value!r} ({type(value).__name__}) but backbone {cfg['backbone']!r} needs "
                             f"{type(want).__name__} (default {want!r}); fix the value (written by e2gan {wrote})")


#: the largest model a config on disk may describe: weights, and activations of one forward pass at 256 x 256 (what any
#: e2gan backbone needs is far below: the largest shipped, pix2pix-resnet9, has 11.4 M weights and about 0.3 GB of
#: activations there); docs/security.md
MAX_WEIGHTS = 200_000_000
MAX_ACTIVATION_BYTES = 8 * 2**30
#: models with more weights than this also get their activations measured (a forward pass at their smallest size, which
#: costs a second for the largest; smaller ones are held to the weights bound alone)
CHECK_ACTIVATIONS_ABOVE = 20_000_000


def _settings_text(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items() if isinstance(v, (int, float)) and not isinstance(v, bool)) or "its settings"


def check_size(name: str, config: dict, path) -> None:
    """The weights ``config`` describes, counted on PyTorch's meta device (shapes only, nothing allocated), against
    :data:`MAX_WEIGHTS`, with the settings that make it large named."""
    import torch

    try:
        with torch.device("meta"):
            model = create_backbone(name, **config)
    except Exception:  # noqa: BLE001  a backbone that cannot be built on the meta device is built as before
        return
    weights = sum(p.numel() for p in model.parameters())
    if weights > MAX_WEIGHTS:
        raise ValueError(f"{path}: backbone {name!r} with {_settings_text(config)} would have {weights:,} weights "
                         f"({weights * 4 / 2**30:.1f} GB), over the bound of {MAX_WEIGHTS:,}: these settings together are too large; "
                         "lower them (docs/security.md)")


def check_activations(model, name: str, config: dict, path) -> None:
    """The activations of one 256 px image, from a forward pass at the backbone's smallest size scaled by the pixels
    (convolutions grow with them; the attention's token budget keeps it from growing faster), against
    :data:`MAX_ACTIVATION_BYTES`."""
    import torch

    from e2gan.inference import size_multiple

    side = max(8, size_multiple(model))
    total = 0

    def count(_module, _inputs, output):
        nonlocal total
        outs = output if isinstance(output, (tuple, list)) else [output]
        total += sum(o.numel() * o.element_size() for o in outs if isinstance(o, torch.Tensor))

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            dim = getattr(getattr(model, "config", None), "text_dim", None)
            text = (torch.zeros(1, 4, dim), torch.ones(1, 4, dtype=torch.bool)) if dim and getattr(model, "text_conditioned", False) else ()
            was = model.training
            model.eval()(torch.zeros(1, 3, side, side), *text)
            model.train(was)
    except Exception:  # noqa: BLE001  a forward that needs real data: the weights bound still applied
        return
    finally:
        for h in hooks:
            h.remove()
    total = total * max(1.0, (256 / side) ** 2)
    if total > MAX_ACTIVATION_BYTES:
        raise ValueError(f"{path}: backbone {name!r} with {_settings_text(config)} would need about {total / 2**30:.0f} GB of activations "
                         f"for one 256 px image, over the bound of {MAX_ACTIVATION_BYTES / 2**30:.0f} GB: these settings together are too "
                         "large; lower them (docs/security.md)")


def build_backbone(cfg: dict, path: Path):
    """The generator a config describes; unknown keys and bad values are named, with the version that wrote them.
    Keys that would fetch or unpickle weights (a pretrained encoder) are switched off: the weights are in the folder."""
    import re

    wrote = cfg.get("e2gan_version", "an unknown version")
    if not isinstance(cfg.get("config"), dict):
        raise ValueError(f"{path}: 'config' must be an object of backbone settings")
    enc = cfg["config"].get("encoder")
    if isinstance(enc, str) and ":" in enc:
        raise ValueError(f"{path}: encoder {enc!r} names a download source; configs read from disk never fetch weights: name a timm "
                         "architecture (e.g. mobilenetv3_small_100)")
    config = {**cfg["config"], **{k: v for k, v in _FETCHING_KEYS.items() if k in cfg["config"]}}
    cfg = {**cfg, "config": config}
    try:
        _check_types(cfg, path, wrote)
        check_size(cfg["backbone"], cfg["config"], path)
        model = create_backbone(cfg["backbone"], **cfg["config"])
        if sum(p.numel() for p in model.parameters()) > CHECK_ACTIVATIONS_ABOVE:
            check_activations(model, cfg["backbone"], cfg["config"], path)
        return model
    except TypeError as exc:
        m = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if m:
            raise ValueError(f"{path}: config key {m.group(1)!r} is unknown to backbone {cfg['backbone']!r} in this e2gan {VERSION} "
                             f"(the file was written by e2gan {wrote}); upgrade e2gan, or remove the key if it is a mistake") from None
        raise ValueError(f"{path}: a config value does not fit backbone {cfg['backbone']!r} ({exc}); check its type") from None
    except ValueError as exc:
        raise ValueError(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}") from None


class Student:
    def __init__(self, generator, backbone: str, text_encoder=None, text_encoder_name: str | None = None, meta: dict | None = None):
        self.generator = generator
        self.backbone = backbone
        self.text_encoder = text_encoder
        self.text_encoder_name = text_encoder_name
        self.meta = dict(meta or {})
        self._embeds: dict[str, tuple] = {}
        #: the weight its adapter runs at on every path (1: as trained; ``--model a:W`` sets W)
        self.strength = 1.0

    # -- building -------------------------------------------------------------------------
    @classmethod
    def create(cls, backbone: str, text_encoder: str | None = "hashed-words", text_settings: dict | None = None, **config):
        encoder = None
        probe = create_backbone(backbone, **config)
        if getattr(probe, "text_conditioned", False) and text_encoder:
            encoder = create_text_encoder(text_encoder, **(text_settings or {}))
            fields = {f.name for f in dataclasses.fields(probe.config)}
            if "text_dim" in fields and probe.config.text_dim != encoder.dim:
                probe = create_backbone(backbone, **{**config, "text_dim": encoder.dim})
        else:
            text_encoder = None
        return cls(probe, backbone, encoder, text_encoder)

    # -- running --------------------------------------------------------------------------
    def embed(self, prompts: list[str], device=None, strength: float | None = None):
        """Prompt embeddings (cached per prompt; the text encoder is frozen). A prompt whose embedding an adapter
        learned (``e2gan.prompts``) comes from there, blended towards the encoder's at ``strength`` (default: the
        student's own) below 1."""
        if self.text_encoder is None:
            return None, None
        strength = self.strength if strength is None else strength
        learned = getattr(self.generator, "e2gan_prompts", None)  # e2gan.prompts.LearnedPrompts: trainable, never cached
        found = {p: learned.get(p, strength) for p in dict.fromkeys(prompts)} if learned is not None else {}
        missing = [p for p in dict.fromkeys(prompts) if p not in self._embeds and found.get(p) is None]
        if missing:
            e, m = self.text_encoder.encode(missing)
            for i, p in enumerate(missing):
                self._embeds[p] = (e[i], m[i])
        pick = [found.get(p) or self._embeds[p] for p in prompts]
        embeds = torch.stack([e.to(device) for e, _ in pick])
        mask = torch.stack([m.to(device) for _, m in pick])
        return embeds, mask

    @property
    def base_generator(self):
        """The generator without its adapter (the peft wrapper's base model), or the generator itself."""
        from e2gan.lora import base_model

        return base_model(self.generator)

    @property
    def device(self):
        return next(self.generator.parameters()).device

    def __call__(self, images: torch.Tensor, prompt):
        prompts = [prompt] * len(images) if isinstance(prompt, str) else list(prompt)
        embeds, mask = self.embed(prompts, images.device)
        return self.generator(images, embeds, mask)

    @torch.no_grad()
    def predict(self, sources_u8: torch.Tensor, prompts, batch: int = 8) -> torch.Tensor:
        """uint8 (N, 3, H, W) sources -> uint8 outputs, in batches (for metrics and grids); any height and width."""
        from e2gan.inference import run_padded

        self.generator.eval()
        prompts = [prompts] * len(sources_u8) if isinstance(prompts, str) else list(prompts)
        outs = []
        for i in range(0, len(sources_u8), batch):
            x = u8_to_unit(sources_u8[i : i + batch].to(self.device))
            embeds, mask = self.embed(prompts[i : i + batch], x.device)
            outs.append(unit_to_u8(run_padded(self.generator, x, embeds, mask)).cpu())
        return torch.cat(outs)

    @torch.no_grad()
    def edit(self, images, prompt: str, batch_size: int = 8, strength: float = 1.0, full_res: str | None = None, work_size: int | None = None):
        """PIL images (any sizes) -> edited PIL images of the same sizes, through the one inference path
        (``e2gan.inference``: the adapter merged at ``strength``, padded to the backbone's size multiple and cropped
        back), so the pixels are those of ``e2gan apply``, the runtimes and the exports. A photo larger than the working
        size (``work_size``, default: the side the base trained at) is edited there and carried to its own size by
        ``full_res`` (``e2gan.fullres.MODES``; default: what the model's measurements picked, else ``guided``)."""
        from e2gan.fullres import full_resolution
        from e2gan.inference import concept_module, edit_frames, edit_images

        module = full_resolution(self, concept_module(self, prompt, strength).to(self.device), full_res, work_size)
        return edit_images(lambda frames: edit_frames(module, frames, batch_size, self.device), images, batch_size)

    # -- prompts ----------------------------------------------------------------------------
    def vocabulary(self) -> set[str]:
        """The words of every prompt the base trained on (lower case): what its text conditioning has seen."""
        import re

        return {w for p in self.meta.get("prompts") or [] for w in re.findall(r"[\w']+", p.lower())}

    def unseen_words(self, prompt: str) -> dict[str, list[str]]:
        """The words of ``prompt`` that none of the base's training prompts contains, each with the closest words it
        knows (empty when the base records no prompts). A text encoder without semantics (``hashed-words``) gives
        such a word an arbitrary embedding, so the base alone has no idea what it means."""
        import difflib
        import re

        known = self.vocabulary()
        if not known:
            return {}
        return {w: difflib.get_close_matches(w, sorted(known), n=3, cutoff=0.6) for w in dict.fromkeys(re.findall(r"[\w']+", prompt.lower()))
                if w not in known}

    # -- sizes ----------------------------------------------------------------------------
    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.generator.parameters() if p.requires_grad or not trainable_only)

    def fingerprint(self) -> str:
        """SHA-256 of the base weights: an adapter records it and refuses a different base."""
        base = self.base_generator
        h = hashlib.sha256()
        for name, t in sorted(base.state_dict().items()):
            if "lora_" in name:
                continue
            h.update(name.replace("base_layer.", "").encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def config_dict(self) -> dict:
        gen = self.base_generator
        return {
            "backbone": self.backbone,
            "config": dataclasses.asdict(gen.config),
            "text_encoder": None if self.text_encoder is None else {"name": self.text_encoder_name, "settings": self.text_encoder.settings},
            "e2gan_version": VERSION,
            "meta": {**self.meta, **{k: portable_ref(v) for k, v in self.meta.items() if k == "source"}},
        }

    # -- saving / loading -----------------------------------------------------------------
    def save_pretrained(self, folder) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        gen = self.base_generator
        if any("lora_" in n for n, _ in gen.named_parameters()):
            raise ValueError("this student carries a LoRA adapter: save it with save_adapter(), or merge_adapter() first")
        state = {k: v.detach().cpu().contiguous() for k, v in gen.state_dict().items()}
        atomic_save_file(folder / WEIGHTS, lambda p: save_file(state, p, metadata={"format": "pt"}))
        atomic_write_json(folder / CONFIG, self.config_dict())
        return folder

    @classmethod
    def combine(cls, refs, device=DEFAULT_DEVICE, base=None):
        """Several adapters of one base as one model: ``refs`` are ``(ref, weight)`` pairs or ``"ref:weight"`` strings
        (``e2gan.lora.combine_adapters``: peft's weighted combination). The base is the one the adapters name."""
        from e2gan.files import read_adapter_meta
        from e2gan.lora import combine_adapters, parse_weighted

        pairs = [parse_weighted(r) if isinstance(r, str) else (r[0], float(r[1])) for r in refs]
        if not pairs:
            raise ValueError("name at least one adapter to combine")
        folders = [resolve(ref) for ref, _ in pairs]
        for (ref, _), folder in zip(pairs, folders):
            if not (folder / ADAPTER_META).exists():
                raise ValueError(f"{ref} is not an adapter: only adapters (of one base) combine")
        first = read_adapter_meta(folders[0])
        student = cls.from_pretrained(base or first["base"], revision=first.get("base_revision"), device=device)
        return combine_adapters(student, folders, [w for _, w in pairs])

    @classmethod
    def from_pretrained(cls, name_or_path, revision: str | None = None, device=DEFAULT_DEVICE, base=None):
        """Load a base (``config.json`` + ``model.safetensors``) or an adapter folder (its base too)."""
        folder = resolve(name_or_path, revision)
        if (folder / ADAPTER_META).exists():
            from e2gan.files import read_adapter_meta
            from e2gan.lora import load_adapter

            meta = read_adapter_meta(folder)
            base_ref = base or meta["base"]
            base_folder = resolve_base(name_or_path, base_ref, meta.get("base_revision"), given=bool(base))
            if base_folder.resolve() == folder.resolve():
                raise ValueError(f"adapter {folder} names itself as its base ({meta['base']!r}); pass the base it was trained on with --base")
            student = cls.from_pretrained(base_ref, revision=meta.get("base_revision"), device=device)
            student = load_adapter(student, folder)
            student.meta["adapter"]["source"] = str(name_or_path)
            if commit_of(folder):
                student.meta["adapter"]["source_commit"] = commit_of(folder)
            return student
        cfg_path = folder / CONFIG
        if not cfg_path.exists():
            raise FileNotFoundError(f"{folder} has no {CONFIG}: not an e2gan model folder (expected {CONFIG} + {WEIGHTS})")
        if not (folder / WEIGHTS).is_file():
            raise FileNotFoundError(f"{folder} has no {WEIGHTS}; e2gan reads weights only as safetensors (never .bin/.pt pickles)")
        cfg = read_config(cfg_path)
        generator = build_backbone(cfg, cfg_path)
        try:
            state = load_file(str(folder / WEIGHTS))
        except Exception as exc:  # safetensors' own error type: a truncated or corrupt file
            raise ValueError(f"{folder / WEIGHTS} is not a valid safetensors file ({exc}); it may be truncated: copy or download it again") from None
        try:
            missing, unexpected = generator.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shapes that do not fit the config
            first = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc)[:200])
            raise ValueError(f"{folder / WEIGHTS} does not match backbone {cfg['backbone']!r} as {cfg_path.name} configures it ({first}); "
                             "the config and the weights come from different models") from None
        if missing or unexpected:
            raise ValueError(f"{folder / WEIGHTS} does not match backbone {cfg['backbone']!r}: missing {missing[:5]}, unexpected {unexpected[:5]}")
        encoder = None
        te = cfg.get("text_encoder")
        if te:
            encoder = create_text_encoder(te["name"], **te["settings"])
        student = cls(generator.to(pick_device(device)).eval(), cfg["backbone"], encoder, te and te["name"], cfg.get("meta"))
        student.meta["source"] = str(name_or_path)
        if commit_of(folder):
            student.meta["source_commit"] = commit_of(folder)
        return student
