"""Metrics against reference implementations on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from e2gan.metrics.macs import count_macs
from e2gan.metrics.quality import frechet_distance, psnr, ssim


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (3, 3, 48, 40), generator=g, dtype=torch.uint8)
    noise = torch.randint(-30, 31, a.shape, generator=g)
    b = (a.int() + noise).clamp(0, 255).to(torch.uint8)
    return a, b


def test_psnr_matches_skimage(pair):
    a, b = pair
    ours = psnr(a, b)
    for i in range(len(a)):
        ref = peak_signal_noise_ratio(a[i].numpy(), b[i].numpy(), data_range=255)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-6)


def test_ssim_matches_skimage(pair):
    a, b = pair
    ours = ssim(a, b)
    for i in range(len(a)):
        ref = structural_similarity(a[i].permute(1, 2, 0).numpy(), b[i].permute(1, 2, 0).numpy(), channel_axis=2, data_range=255,
                                    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-4)


def test_float_and_uint8_inputs_agree(pair):
    a, b = pair
    fa, fb = a.float() / 127.5 - 1, b.float() / 127.5 - 1
    assert torch.allclose(psnr(a, b), psnr(fa, fb), atol=1e-4)
    assert torch.allclose(ssim(a, b), ssim(fa, fb), atol=1e-5)


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    f1 = rng.standard_normal((300, 16))
    f2 = rng.standard_normal((250, 16)) @ rng.standard_normal((16, 16)) * 0.5 + 0.3
    mu1, mu2 = f1.mean(0), f2.mean(0)
    c1, c2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(c1 @ c2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean)
    assert frechet_distance(torch.from_numpy(f1), torch.from_numpy(f2)) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(torch.from_numpy(f1), torch.from_numpy(f1)) == pytest.approx(0, abs=1e-6)


def test_macs_count_attention_and_linear():
    from e2gan_plugins.backbones.layers import Attention

    attn = Attention(32, 16, heads=4)
    x, ctx = torch.zeros(1, 10, 32), torch.zeros(1, 7, 16)
    linear = 10 * 32 * 32 * 2 + 7 * 16 * 32 * 2  # q, out; k, v
    assert count_macs(attn, x, ctx) == linear + 2 * 10 * 7 * 32


def test_kid_single_subset_matches_the_formula():
    from e2gan.metrics.quality import kernel_inception_distance

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 8)), rng.standard_normal((40, 8)) + 0.5
    k = lambda a, b: (a @ b.T / 8 + 1) ** 3  # noqa: E731
    m = 40
    ref = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1)) + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1)) - 2 * k(x, y).mean())
    mean, std = kernel_inception_distance(torch.from_numpy(x), torch.from_numpy(y), subsets=1, subset_size=40)
    assert mean == pytest.approx(ref, rel=1e-9) and std == 0.0


def test_frechet_distance_matches_torchmetrics_fid_on_the_same_features():
    """torchmetrics' FID with a custom feature network: the same features give the same distance."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Features(torch.nn.Module):  # a fixed projection stands in for Inception: only the distance is compared
        num_features = 12

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3 * 8 * 8, 12)
            torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

        def forward(self, x):
            return self.proj(x.float().flatten(1) / 255)

    net = Features()
    g = torch.Generator().manual_seed(2)
    real = torch.randint(0, 256, (200, 3, 8, 8), generator=g, dtype=torch.uint8)
    fake = (real.int() // 2 + torch.randint(0, 120, real.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    fid = FrechetInceptionDistance(feature=net)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    with torch.no_grad():
        ours = frechet_distance(net(fake).double(), net(real).double())
    assert ours == pytest.approx(float(fid.compute()), rel=1e-4)
