"""How good and how big: quality against the teacher (PSNR, SSIM, FID, KID, LPIPS, CLIP score), paired
statistics with bootstrap intervals, and multiply-accumulate counts."""

from e2gan.metrics.quality import paired_metrics, psnr, ssim
from e2gan.metrics.stats import bootstrap_ci, summarise, verdict

__all__ = ["bootstrap_ci", "paired_metrics", "psnr", "ssim", "summarise", "verdict"]
