"""The e2gan generator's inference rewrites (plugins/backbones/inference_graph.py) are algebra: the rewritten graph
gives the trained model's output, borders included, in PyTorch and in ONNX Runtime, for every rewrite alone and
together; and they refuse what they cannot rewrite exactly."""

from __future__ import annotations

import pytest
import torch

from e2gan import create_backbone
from e2gan.testing.tolerance import assert_close

pytestmark = pytest.mark.numerics  # run again under other kernels and threads (make test-numerics)

REWRITES = [("coords",), ("head",), ("subpixel",), ("subpixel-2x2",), ("coords", "head", "subpixel")]


def _random_generator(**config):
    torch.manual_seed(0)
    g = create_backbone("e2gan-small", text_dim=16, **config).eval()
    with torch.no_grad():
        for p in g.parameters():  # the zero-initialised head would hide a wrong rewrite of it
            p.copy_(torch.randn_like(p) * 0.2)
    return g


def _inputs(h=40, w=56):
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, h, w, generator=g) * 2 - 1, torch.randn(2, 5, 16, generator=g), torch.ones(2, 5, dtype=torch.bool)


@pytest.mark.parametrize("rewrites", REWRITES, ids="+".join)
@pytest.mark.parametrize("coords", [True, False])
def test_rewrites_are_exact(rewrites, coords):
    g = _random_generator(coords=coords)
    x, t, m = _inputs()
    with torch.no_grad():
        want, got = g(x, t, m), g.for_inference(rewrites)(x, t, m)
    assert want.abs().max() > 0.5, "the test model must not be near the identity"
    assert_close(got, want, f"the {rewrites} rewrites")
    with torch.no_grad():  # a second call leaves what is already rewritten as it is
        assert_close(g.for_inference(rewrites).for_inference(rewrites)(x, t, m), want, "rewritten twice")


def test_subpixel_weight_matches_upsample_then_conv_at_the_borders():
    from plugins.backbones.inference_graph import subpixel_weight

    torch.manual_seed(0)
    w, x = torch.randn(4, 3, 3, 3), torch.randn(1, 3, 5, 7)
    want = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"), w, padding=1)
    got = torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(x, subpixel_weight(w), padding=1), 2)
    assert_close(got, want, "the sub-pixel conv against nearest x2 + conv")


def test_rewritten_graph_exports_to_onnx_and_matches(tmp_path):
    import numpy as np
    import onnxruntime as ort

    from e2gan.inference import ConceptModule
    from e2gan.runtime.export import trace_onnx

    g = _random_generator(coords=True)
    _, t, m = _inputs()
    module = ConceptModule(g.for_inference(), t[:1], m[:1], 8).eval()
    x = torch.rand(1, 3, 37, 45) * 2 - 1
    path = tmp_path / "rewritten.onnx"
    trace_onnx(module, path, size=32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = ConceptModule(g, t[:1], m[:1], 8).eval()(x).numpy()
    got = sess.run(None, {"image": x.numpy()})[0]
    assert_close(got, want, "the rewritten graph in ONNX Runtime against eager")


def test_rewrites_refuse_what_they_cannot_do():
    g = _random_generator()
    with pytest.raises(ValueError, match="unknown rewrite"):
        g.for_inference(("fold",))
    from e2gan.lora import add_lora, base_model, paper_targets
    from e2gan.student import Student

    s = Student.create("e2gan-small", "hashed-words", text_settings={"dim": 16, "max_tokens": 8})
    add_lora(s, paper_targets(s.generator), ranks=2)
    with pytest.raises(ValueError, match="after merging"):
        base_model(s.generator).for_inference()


def test_every_export_and_runtime_gets_the_default_rewrites():
    """concept_module (behind Student.edit, the torch runtime and every export) applies the backbone's measured
    default (coords and head) unless asked not to, with the same output."""
    from e2gan.inference import concept_module
    from e2gan.student import Student

    torch.manual_seed(0)
    s = Student.create("e2gan-small", "hashed-words", text_settings={"dim": 16, "max_tokens": 8}, coords=True)
    with torch.no_grad():
        for p in s.generator.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    fast, plain = concept_module(s, "sepia"), concept_module(s, "sepia", rewrite=False)
    assert getattr(fast.generator, "inference_head", False) and getattr(fast.generator, "inference_coords", False)
    assert not getattr(plain.generator, "inference_head", False)
    assert not hasattr(fast.generator.up1, "kernels") and type(fast.generator.up1).__name__ == "Upsample"
    x = torch.rand(1, 3, 37, 45) * 2 - 1
    with torch.no_grad():
        assert_close(fast(x), plain(x), "the rewritten concept module against the plain one")
