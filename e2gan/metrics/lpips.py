"""LPIPS (Zhang et al. 2018, AlexNet variant), computed only when its weights are on this machine.

LPIPS has two sets of weights. Its linear heads ship inside torchmetrics
(``lpips_models/alex.pth``). Its AlexNet backbone is torchvision's ImageNet checkpoint, kept in
``$TORCH_HOME/hub/checkpoints``. e2gan never downloads the backbone during an evaluation. An
online user fetches it once with
``python -c "import torchvision; torchvision.models.alexnet(weights='DEFAULT')"``. Both files are
loaded with ``weights_only=True``, so nothing in them is unpickled as code."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from e2gan.metrics.quality import _unit

FETCH = "python -c \"import torchvision; torchvision.models.alexnet(weights='DEFAULT')\""


def backbone_path() -> Path:
    """Where torchvision keeps (or would keep) the AlexNet ImageNet checkpoint."""
    import torchvision

    url = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def missing_reason() -> str | None:
    """None when LPIPS can run here. Otherwise it says which file is missing and how to fetch it."""
    path = backbone_path()
    if path.is_file():
        return None
    return f"skipped: no LPIPS backbone weights at {path} (fetch them once online: {FETCH})"


def lpips_model():
    """The LPIPS network (AlexNet, torchmetrics' heads), or None if the backbone is not cached."""
    path = backbone_path()
    return _load(str(path)) if path.is_file() else None


@functools.lru_cache(maxsize=2)
def _load(path: str):
    from torchmetrics.functional.image.lpips import _LPIPS

    model = _LPIPS(pretrained=True, net="alex", pnet_rand=True)  # heads from torchmetrics; backbone filled in below
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable AlexNet checkpoint ({exc}); delete it and fetch it again: {FETCH}") from exc
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    slices = {}
    for i in range(1, 6):  # torchmetrics splits alexnet.features into slice1..slice5, keeping the layer indices
        for name, layer in getattr(model.net, f"slice{i}").named_children():
            for param, _ in layer.named_parameters():
                slices[f"slice{i}.{name}.{param}"] = features[f"{name}.{param}"]
    model.net.load_state_dict(slices, strict=True)
    return model.eval()


@torch.no_grad()
def lpips(model, pred: torch.Tensor, target: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Per-image LPIPS distance (lower is closer) of uint8 or [-1, 1] images (B, 3, H, W)."""
    out = []
    for i in range(0, len(pred), batch):
        a = _unit(pred[i : i + batch], torch.float32) * 2 - 1
        b = _unit(target[i : i + batch], torch.float32) * 2 - 1
        out.append(model(a, b).flatten().double())
    return torch.cat(out)
