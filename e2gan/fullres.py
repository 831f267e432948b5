"""A photo edited at its own size from a pass at a working size (docs/realtime.md, "Any photo at its own resolution").

The generator runs at the size its base was trained at (a few tens of thousands of pixels); its edit is carried to the
full photo. Running it on the full photo instead (``direct``) costs the pixels times the network and, past the size it
learnt at, changes what its receptive field and coordinate channels mean. The carriers, all linear in the pixels:

- ``guided``: the fast colour-guided filter (He et al. 2013; Wu et al., CVPR 2018): at the working size, the edit is fit
  as a local affine colour map of the photo (a 3x3 matrix and an offset per pixel, over a box of ``radius``), those
  12 coefficients are upsampled and applied to the full photo. Colour and tone edits come through almost exactly
  (HDRNet's idea, without a network to predict the grid); texture edits (pencil lines, emboss) do not.
- ``delta``: the working-size change (output minus input) upsampled and added to the full photo.
- ``bicubic``: the working-size output upsampled.
- ``direct``: the generator on the full photo.

Every step is a torch op on sizes read from the image, so the module exports to ONNX with the photo's size dynamic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("guided", "delta", "bicubic", "direct")
#: the working size when a model records none: a 256 x 256 photo's pixels
DEFAULT_WORK_PIXELS = 256 * 256


def area_matrix(n_out: torch.Tensor, n_in: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(n_out, n_in)``: each output sample the area average of the input samples under it (the exact box
    downscale, for any ratio); sizes as 0-d tensors so that an exported graph keeps them dynamic."""
    k = n_in.to(like.dtype) / n_out.to(like.dtype)
    lo = torch.arange(n_out, device=like.device, dtype=like.dtype)[:, None] * k
    j = torch.arange(n_in, device=like.device, dtype=like.dtype)[None, :]
    overlap = (torch.minimum(j + 1, lo + k) - torch.maximum(j, lo)).clamp_min(0)
    return overlap / k


def working_shape(image: torch.Tensor, pixels: int, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(h, w)`` as 0-d tensors: the photo's aspect at about ``pixels`` pixels (never more than the photo), each a
    multiple of ``multiple`` and at least one."""
    shape = torch._shape_as_tensor(image)[-2:].to(torch.float32)
    scale = torch.sqrt(torch.tensor(float(pixels)) / (shape[0] * shape[1])).clamp(max=1.0)
    sides = torch.floor(shape * scale / multiple).clamp(min=1.0) * multiple
    return sides[0].to(torch.int64), sides[1].to(torch.int64)


def downscale(image: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``image`` (B, C, H, W) box-averaged to ``h`` x ``w`` (two matrix products: exact area weights at any ratio)."""
    shape = torch._shape_as_tensor(image)
    rows, cols = area_matrix(h, shape[-2], image), area_matrix(w, shape[-1], image)
    return torch.matmul(torch.matmul(rows, image), cols.transpose(0, 1))


def box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window, the window cut at the borders (the guided filter's box)."""
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def guided_coefficients(guide: torch.Tensor, target: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """(B, 12, h, w): per pixel, the 3x3 matrix ``A`` (9, row-major: output channel c, input channel a) and offset ``b``
    (3) of the local affine colour map ``target ~ A guide + b`` over a box of ``radius``, regularised by ``eps``
    (the colour guided filter), box-averaged again as the filter does."""
    b, _, h, w = guide.shape
    mean_i, mean_p = box(guide, radius), box(target, radius)
    ii = box((guide[:, :, None] * guide[:, None]).flatten(1, 2), radius).view(b, 3, 3, h, w)
    ip = box((target[:, :, None] * guide[:, None]).flatten(1, 2), radius).view(b, 3, 3, h, w)  # [c, a]: E[p_c I_a]
    cov_ii = ii - mean_i[:, :, None] * mean_i[:, None]
    cov_ip = ip - mean_p[:, :, None] * mean_i[:, None]
    s = cov_ii + eps * torch.eye(3, dtype=guide.dtype, device=guide.device)[None, :, :, None, None]
    # the inverse of the symmetric 3x3 ``s`` by its adjugate (elementwise ops: exportable, unlike linalg.solve)
    a, b_, c = s[:, 0, 0], s[:, 0, 1], s[:, 0, 2]
    d, e, f = s[:, 1, 1], s[:, 1, 2], s[:, 2, 2]
    adj = torch.stack([torch.stack([d * f - e * e, c * e - b_ * f, b_ * e - c * d], 1),
                       torch.stack([c * e - b_ * f, a * f - c * c, b_ * c - a * e], 1),
                       torch.stack([b_ * e - c * d, b_ * c - a * e, a * d - b_ * b_], 1)], 1)
    det = a * adj[:, 0, 0] + b_ * adj[:, 1, 0] + c * adj[:, 2, 0]
    inv = adj / det[:, None, None]
    coef = torch.einsum("bcahw,baehw->bcehw", cov_ip, inv)  # A[c, e] = sum_a cov(p_c, I_a) inv[a, e]
    offset = mean_p - torch.einsum("bcehw,behw->bchw", coef, mean_i)
    return torch.cat([box(coef.flatten(1, 2), radius), box(offset, radius)], 1)


def bilinear_matrix(n_out, n_in: int, like: torch.Tensor) -> torch.Tensor:
    """``(n_out, n_in)``: linear interpolation weights of ``F.interpolate(mode="bilinear", align_corners=False)``
    along one axis, as a matrix (two small products upsample a coefficient map: far cheaper than interpolating its
    12 channels at full size)."""
    src = ((torch.arange(n_out, device=like.device, dtype=like.dtype) + 0.5) * (n_in / n_out) - 0.5).clamp(min=0)
    lo = torch.floor(src)
    frac = (src - lo)[:, None]
    lo = lo.clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    j = torch.arange(n_in, device=like.device, dtype=like.dtype)[None, :]
    return (j == lo[:, None]).to(like.dtype) * (1 - frac) + (j == hi[:, None]).to(like.dtype) * frac


#: rows of the full photo upsampled and edited at a time (eager only): the working set stays in the cache and the
#: memory beside the photo and its edit is a band of rows, not 12 full-size channels
BAND = 64


def apply_coefficients(coefficients: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """The local colour maps upsampled (bilinear) to ``image``'s size and applied to it, a band of rows at a time in a
    (rows, batch, channel, width) layout, so that each band's products run on contiguous memory."""
    b, _, h, w = image.shape
    rows = bilinear_matrix(h, coefficients.shape[-2], image)
    across = torch.matmul(coefficients, bilinear_matrix(w, coefficients.shape[-1], image).transpose(0, 1))  # (B, 12, h', W)
    flat = across.permute(2, 0, 1, 3).reshape(across.shape[2], -1)  # (h', B * 12 * W): one product per band
    rows_first = image.permute(2, 0, 1, 3)  # (H, B, 3, W)
    step = h if torch.jit.is_tracing() else BAND
    out = []
    for r in range(0, h, step):
        up = torch.matmul(rows[r:r + step], flat).view(-1, b, 4, 3, w)  # (band, B, [A_c0..A_c2 for c = 0..2; b], W)
        band = rows_first[r:r + step].contiguous()
        edited = (up[:, :, :3] * band[:, :, None]).sum(3)
        out.append(edited + up[:, :, 3])
    return (torch.cat(out, 0) if len(out) > 1 else out[0]).permute(1, 2, 0, 3)


class FullResolution(nn.Module):
    """``image -> edited image`` at the image's own size: ``concept`` (any module from [-1, 1] images of any size to
    their edits, e.g. a :class:`~e2gan.inference.ConceptModule`) run at about ``work_pixels`` pixels, its edit carried
    to full size by ``mode`` (:data:`MODES`). A photo no larger than the working size is edited as it is, in any mode."""

    def __init__(self, concept: nn.Module, mode: str = "guided", work_pixels: int = DEFAULT_WORK_PIXELS, radius: int = 2,
                 eps: float = 1e-4, multiple: int = 8):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"--full-res {mode!r}: use one of {', '.join(MODES)}")
        self.concept, self.mode, self.work_pixels = concept, mode, int(work_pixels)
        self.radius, self.eps, self.multiple = int(radius), float(eps), int(multiple)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        small_enough = not torch.jit.is_tracing() and image.shape[-2] * image.shape[-1] <= self.work_pixels  # (an export always carries)
        if self.mode == "direct" or small_enough:
            return self.concept(image)
        h, w = working_shape(image, self.work_pixels, self.multiple)
        small = downscale(image, h, w)
        edited = torch.as_tensor(self.concept(small))  # a runtime's callable may hand back its own array type
        if self.mode == "bicubic":
            return F.interpolate(edited, size=image.shape[-2:], mode="bicubic", align_corners=False)
        if self.mode == "delta":
            return image + F.interpolate(edited - small, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return apply_coefficients(guided_coefficients(small, edited, self.radius, self.eps), image)


def training_side(pairs, cfg) -> int | None:
    """The side a model trains at: its crop, else the pairs' resize, else the pairs' own side."""
    side = getattr(cfg, "crop", None) or getattr(cfg, "size", None)
    if side:
        return int(side)
    sources = getattr(pairs, "sources", None)
    return int(sources.shape[-1]) if sources is not None and sources.ndim == 4 else None


def _zoo_resolution(ref) -> int | None:
    if not isinstance(ref, str) or not ref.startswith("zoo:"):
        return None
    from e2gan.hub.zoo import catalogue

    entry = catalogue().get("bases", {}).get(ref[4:]) or {}
    return entry.get("resolution")


def work_pixels(student) -> tuple[int, str]:
    """``(pixels, why)``: the working size of ``student``'s full-resolution modes, the pixels of the square its base
    trained at (recorded at training, or the zoo catalogue's resolution), else a 256 x 256 photo's."""
    meta = student.meta
    side = meta.get("resolution") or (meta.get("adapter") or {}).get("resolution")
    if side:
        return int(side) ** 2, f"{side} px, the side it trained at"
    side = _zoo_resolution(meta.get("source")) or _zoo_resolution((meta.get("adapter") or {}).get("base"))
    if side:
        return int(side) ** 2, f"{side} px, its base's resolution in the zoo's catalogue"
    return DEFAULT_WORK_PIXELS, "256 px (the model records no training size)"


def default_mode(student) -> tuple[str, str]:
    """``(mode, why)``: the full-resolution mode ``student``'s own measurements picked (``full_res`` in its adapter
    record or its zoo entry, written by ``e2gan eval --full-res`` and ``benchmarks/fullres``), else ``guided``."""
    adapter = student.meta.get("adapter") or {}
    picked = adapter.get("full_res") or student.meta.get("full_res")
    source = adapter.get("source") or student.meta.get("source")
    if not picked and isinstance(source, str) and source.startswith("zoo:"):
        from e2gan.hub.zoo import catalogue

        cat = catalogue()
        entry = cat.get("concepts", {}).get(source[4:]) or cat.get("bases", {}).get(source[4:]) or {}
        picked = entry.get("full_res")
    if isinstance(picked, dict) and picked.get("mode") in MODES:
        return picked["mode"], f"its measurements pick it ({picked.get('why', 'at ' + str(picked.get('size', '?')) + ' px')})"
    return "guided", "the default (no measurement recorded for this model)"


def full_resolution(student, concept: nn.Module, mode: str | None = None, work: int | None = None) -> FullResolution:
    """``concept`` (the student's concept module, or a runtime's) wrapped for photos at their own size: ``mode`` None
    is the student's default (:func:`default_mode`), ``work`` None its working side (:func:`work_pixels`)."""
    from e2gan.inference import size_multiple

    mode = mode or default_mode(student)[0]
    pixels = work * work if work else work_pixels(student)[0]
    return FullResolution(concept, mode, pixels, multiple=size_multiple(student.generator)).eval()
