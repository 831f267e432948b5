"""Any photo at its own resolution (docs/realtime.md): attention with a bounded token budget that changes nothing at the
sizes the bases trained at, and the full-resolution modes (a working-size pass carried to the photo's size) through
the public API, the command line and an ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from e2gan.fullres import FullResolution, apply_coefficients, area_matrix, downscale, guided_coefficients, working_shape
from e2gan.metrics.quality import psnr
from e2gan.testing.cli import run_cli
from e2gan.testing.tiny import tiny_images, tiny_invert_adapter
from e2gan.testing.tolerance import assert_close, assert_same_pixels

pytestmark = pytest.mark.numerics


def _attention_block():
    from e2gan_plugins.backbones.layers import TransformerBlock

    torch.manual_seed(0)
    return TransformerBlock(16, 8, heads=2).eval()


def _unpooled(block, x, text):
    """The block as it was before the token budget: self-attention over every token."""
    b, c, h, w = x.shape
    t = x.flatten(2).transpose(1, 2)
    t = t + block.self_attn(block.norm1(t))
    t = t + block.cross_attn(block.norm2(t), text)
    t = t + block.ff(block.norm3(t))
    return t.transpose(1, 2).reshape(b, c, h, w)


@pytest.mark.parametrize("grid", [(8, 8), (16, 12), (32, 32)])
def test_the_token_budget_changes_nothing_up_to_256_px(grid):
    block, text = _attention_block(), torch.randn(2, 3, 8)
    x = torch.randn(2, 16, *grid)
    with torch.no_grad():
        assert torch.equal(block(x, text), _unpooled(block, x, text)), "bit-exact: the pooling matrices are the identity here"


def test_above_256_px_keys_are_pooled_to_the_budget_and_match_average_pooling():
    from e2gan_plugins.backbones.layers import KV_GRID, pooled_tokens

    x = torch.randn(1, 5, 64, 96)  # a 64 x 96 token grid: a 512 x 768 image at 1/8
    pooled = pooled_tokens(x.flatten(2).transpose(1, 2), 64, 96)
    assert pooled.shape == (1, KV_GRID * KV_GRID, 5)
    want = torch.nn.functional.avg_pool2d(x, (2, 3)).flatten(2).transpose(1, 2)
    assert_close(pooled, want, "pooled keys against average pooling")


def test_a_local_affine_colour_map_is_carried_exactly_and_the_downscale_keeps_the_mean():
    g = torch.rand(1, 3, 40, 56) * 2 - 1
    m, b = torch.tensor([[0.4, 0.3, 0.1], [0.2, 0.5, 0.1], [0.1, 0.2, 0.3]]), torch.tensor([0.1, -0.2, 0.05])
    target = torch.einsum("ca,bahw->bchw", m, g) + b[None, :, None, None]
    assert_close(apply_coefficients(guided_coefficients(g, target, 2, 1e-6), g), target, "an affine colour map", atol=1e-4)
    assert torch.allclose(area_matrix(torch.tensor(7), torch.tensor(23), g).sum(1), torch.ones(7))
    h, w = working_shape(torch.zeros(1, 3, 3000, 4000), 64 * 64, 8)
    assert (int(h), int(w)) == (48, 72) or (int(h) * int(w) <= 64 * 64 and int(h) % 8 == 0 and int(w) % 8 == 0)
    x = torch.rand(1, 3, 300, 400)
    assert_close(downscale(x, h, w).mean(), x.mean(), "the box downscale keeps the mean", atol=1e-3)


@pytest.fixture(scope="module")
def invert(tmp_path_factory):
    """A tiny adapter that inverts colours (an affine colour map, so the guided mode can carry it exactly), a 160x120
    photo and the teacher's edit of it at full size."""
    root = tmp_path_factory.mktemp("fullres")
    tiny_invert_adapter(root)
    photo = tiny_images(1, (160, 120), seed=11)[0]
    photo.save(root / "photo.png")
    return root, photo, 255 - np.asarray(photo)


def _psnr(a, b) -> float:
    return float(psnr(torch.from_numpy(np.asarray(a)).permute(2, 0, 1)[None], torch.from_numpy(np.asarray(b)).permute(2, 0, 1)[None]))


def test_modes_through_the_python_api_carry_the_edit_to_full_size(invert):
    from e2gan.student import Student

    root, photo, teacher = invert
    student = Student.from_pretrained(root / "invert")
    got = {m: np.asarray(student.edit([photo], "invert", full_res=m, work_size=32)[0]) for m in ("guided", "delta", "bicubic", "direct")}
    assert all(g.shape == (120, 160, 3) for g in got.values())
    assert len({g.tobytes() for g in got.values()}) == 4, "each mode gives its own pixels"
    small = photo.resize((32, 24))
    assert_same_pixels(student.edit([small], "invert", full_res="guided", work_size=32)[0], student.edit([small], "invert", full_res="direct")[0],
                       "a photo no larger than the working size is edited as it is, in any mode")


@pytest.mark.parametrize("edit", ["channels swapped, curved", "warm tone"])
def test_guided_carries_a_colour_edit_with_the_photo_s_own_detail(edit):
    """A per-pixel colour map (what colour and tone concepts are) computed at 32x24 and carried to 320x240 comes out close
    to the same map applied at full size, and much closer than the small edit upscaled."""
    maps = {"channels swapped, curved": lambda x: torch.tanh(1.5 * x.flip(1)),
            "warm tone": lambda x: (x * torch.tensor([1.1, 1.0, 0.8])[None, :, None, None] + 0.05).clamp(-1, 1)}
    f = maps[edit]
    photo = torch.from_numpy(np.asarray(tiny_images(1, (320, 240), seed=3)[0])).permute(2, 0, 1)[None].float() / 127.5 - 1
    photo = photo + 0.1 * torch.sin(torch.arange(320.0) / 1.7)[None, None, None, :]  # fine detail a 32 px pass cannot hold
    want = f(photo)
    with torch.no_grad():
        got = {m: FullResolution(f, m, 32 * 24).eval()(photo) for m in ("guided", "bicubic")}
    score = {m: float(psnr(g.clamp(-1, 1), want)) for m, g in got.items()}
    assert score["guided"] > 30 and score["guided"] > score["bicubic"] + 5, score


def test_apply_says_which_mode_and_full_res_changes_the_pixels(invert):
    root, _, teacher = invert
    outs = {}
    for mode in ("guided", "direct"):
        code, text = run_cli("apply", "--model", root / "invert", "--input", root / "photo.png", "--out", root / f"out-{mode}", "--runtime",
                             "torch", "--full-res", mode, "--work-size", "32")
        assert code == 0, text
        assert f"larger than the working size (32 px): {mode} (asked for)" in text
        outs[mode] = np.asarray(Image.open(root / f"out-{mode}" / "photo.png").convert("RGB"))
    assert float(np.abs(outs["guided"].astype(int) - outs["direct"].astype(int)).mean()) > 0.5


def test_the_onnx_runtime_gives_the_torch_pixels_in_guided_mode(invert):
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.student import Student

    root, photo, _ = invert
    student = Student.from_pretrained(root / "invert")
    frames = np.asarray(photo)[None]
    want = ConceptRunner(student, "invert", "torch", full_res="guided", work_size=32)(frames)
    assert_same_pixels(ConceptRunner(student, "invert", "onnx", full_res="guided", work_size=32)(frames), want, "ONNX Runtime, guided")


def test_a_guided_export_keeps_the_photo_size_dynamic(invert, tmp_path):
    from e2gan.fullres import full_resolution
    from e2gan.inference import concept_module
    from e2gan.runtime.export import onnx_session
    from e2gan.student import Student

    root, _, _ = invert
    code, text = run_cli("export", "--model", root / "invert", "--format", "onnx", "--full-res", "guided", "--work-size", "32",
                         "--out", tmp_path / "guided.onnx")
    assert code == 0, text
    student = Student.from_pretrained(root / "invert")
    module = full_resolution(student, concept_module(student, "invert"), "guided", 32)
    session = onnx_session(tmp_path / "guided.onnx", 2)
    for h, w in [(120, 160), (97, 203)]:
        x = torch.rand(1, 3, h, w) * 2 - 1
        with torch.no_grad():
            assert_close(session.run(None, {"image": x.numpy()})[0], module(x), f"the guided export at {h}x{w}")


def test_eval_measures_every_mode_at_the_pairs_size_and_says_which_to_use(tiny_data, tmp_path):
    import json

    code, text = run_cli("finetune", "--base", "zoo:classic-base", "--data", tiny_data, "--prompt", "sepia", "--steps", "2", "--batch-size", "2",
                         "--out", tmp_path / "ad")
    assert code == 0, text
    code, text = run_cli("eval", "--model", tmp_path / "ad", "--data", tiny_data, "--full-res", "all", "--work-size", "16", "--no-lpips",
                         "--out", tmp_path / "m.json")
    assert code == 0, text
    assert "at 32x32 (working size 16 px): guided psnr=" in text and "-> use --full-res" in text
    got = json.loads((tmp_path / "m.json").read_text())["full_res"]["sepia"]
    assert set(got["psnr"]) == {"guided", "delta", "bicubic", "direct"} and got["pick"] == max(got["psnr"], key=got["psnr"].get)
