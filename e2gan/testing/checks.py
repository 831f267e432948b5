"""One ``check_<kind>(factory)`` per hook: the promises ``hookspecs.py`` makes, as assertions."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math

import torch

from e2gan.testing.tiny import perturb_weights, tiny_images, tiny_pairs, tiny_student
from e2gan.testing.tolerance import ATOL, assert_close


def _json_round_trip(obj, what: str):
    assert isinstance(obj, dict), f"{what} must be a dict, got {type(obj).__name__}"
    try:
        again = json.loads(json.dumps(obj))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what} must be JSON-serialisable (it is saved with every pair and model): {exc}") from None
    assert again == obj, f"{what} changes through JSON: {obj!r} -> {again!r}"


def _same_pixels(a, b) -> bool:
    return a.size == b.size and a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


# -- teachers -----------------------------------------------------------------------------------


def check_teacher(factory, prompt: str | None = None, size: int = 32):
    """Settings are JSON; outputs match inputs in count and size; the same prompt and seeds give the
    same pixels (also from a new instance); odd sizes work; grey and RGBA inputs either work or raise a
    ``ValueError`` that says why; the optional ``concepts``/``held_out``/``base_concepts`` agree."""
    teacher = factory()
    _json_round_trip(getattr(teacher, "settings", None), "teacher.settings")
    known = list(teacher.concepts()) if hasattr(teacher, "concepts") else None
    if known is not None:
        assert known and all(isinstance(c, str) and c for c in known), "concepts() must list non-empty prompt strings"
        reserved = [c for group in getattr(teacher, "held_out", dict)().values() for c in group]
        assert set(reserved) <= set(known), f"held_out() names concepts that concepts() does not list: {sorted(set(reserved) - set(known))[:3]}"
        if hasattr(teacher, "base_concepts"):
            pool = list(teacher.base_concepts())
            assert pool and set(pool) <= set(known), "base_concepts() must be a non-empty subset of concepts()"
            assert not set(pool) & set(reserved), "base_concepts() must not contain held-out concepts"
    prompt = prompt or (known[0] if known else None)
    assert prompt, "pass prompt=... for a teacher that lists no concepts()"
    images = tiny_images(3, size, seed=1)
    out = teacher.edit(images, prompt, [1, 2, 3])
    assert len(out) == len(images), f"edit() returned {len(out)} images for {len(images)} inputs"
    assert [o.size for o in out] == [i.size for i in images], "edit() must return images of the input sizes"
    again = factory().edit(images, prompt, [1, 2, 3])
    assert all(_same_pixels(a, b) for a, b in zip(out, again)), "the same prompt and seeds must give the same pixels"
    odd = tiny_images(1, (size + 5, size + 13), seed=2)
    assert factory().edit(odd, prompt, [0])[0].size == odd[0].size, "an odd-sized image must come back at its size"
    for mode in ("L", "RGBA"):
        img = images[0].convert(mode)
        try:
            res = teacher.edit([img], prompt, [0])
        except ValueError:
            continue  # refusing with a reason is fine; the core converts to RGB before teaching anyway
        assert len(res) == 1 and res[0].size == img.size, f"a {mode} input must give one image of its size (or a ValueError)"
    return out


# -- backbones and discriminators ---------------------------------------------------------------


def _text_for(model, batch: int):
    if not getattr(model, "text_conditioned", False):
        return None, None
    dim = getattr(model.config, "text_dim", 64)
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(batch, 5, dtype=torch.bool)
    mask[0, 3:] = False
    return torch.randn(batch, 5, dim, generator=g), mask


def check_backbone(factory, sizes=(32, 48), onnx: bool = True, atol: float = ATOL):
    """A dataclass ``config`` that rebuilds it; forward at two sizes (shape, finite); a safetensors
    round trip gives identical outputs; declared ``lora_targets`` wrap with peft and merge exactly;
    a declared ``feature_module`` exists; ONNX export matches eager (when onnxruntime is installed)."""
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    from e2gan.lora import lora_candidates, paper_targets

    torch.manual_seed(0)
    model = factory().eval()
    assert dataclasses.is_dataclass(getattr(model, "config", None)), "a backbone needs a dataclass `config`"
    clone = factory(**dataclasses.asdict(model.config)).eval()
    assert [(k, v.shape) for k, v in model.state_dict().items()] == [(k, v.shape) for k, v in clone.state_dict().items()], \
        "factory(**asdict(config)) must rebuild the same architecture"
    perturb_weights(model)  # make the output depend on every weight (zero-initialised heads hide bugs)
    for side in sizes:
        x = torch.rand(2, 3, side, side) * 2 - 1
        text, mask = _text_for(model, 2)
        with torch.no_grad():
            y = model(x, text, mask)
        assert y.shape == x.shape, f"forward at {side}x{side} gave {tuple(y.shape)}, not {tuple(x.shape)}"
        assert torch.isfinite(y).all(), f"forward at {side}x{side} gave non-finite values"
    x = torch.rand(2, 3, sizes[0], sizes[0]) * 2 - 1
    text, mask = _text_for(model, 2)
    state = st_load(st_save({k: v.contiguous() for k, v in model.state_dict().items()}))
    clone.load_state_dict(state, strict=True)
    with torch.no_grad():
        ref = model(x, text, mask)
        # bit-exact: the same process, shapes and kernels on weights that a safetensors round trip keeps bit for bit
        assert torch.equal(clone(x, text, mask), ref), "a safetensors round trip must give identical outputs"
    _check_declared(model, x, text, mask)
    if getattr(model, "lora_targets", None):
        _check_lora(model, paper_targets(model), lora_candidates(model), x, text, mask, atol)
    if onnx:
        _check_onnx(model, x, text, mask)
    return model


def _check_declared(model, x, text, mask):
    """Every optional attribute the hook's docstring lists, when the backbone declares it."""
    from e2gan.registry import create_discriminator

    tc = getattr(model, "text_conditioned", False)
    assert isinstance(tc, bool), f"text_conditioned must be a bool, is {tc!r}"
    if tc:
        assert isinstance(getattr(model.config, "text_dim", None), int), "a text_conditioned backbone needs config.text_dim (the encoder's dim)"
    m = getattr(model, "size_multiple", 8)
    assert isinstance(m, int) and not isinstance(m, bool) and m >= 1, f"size_multiple must be a positive int, is {m!r}"
    side = max(x.shape[-2:])
    assert side % m == 0, f"the test sizes must be multiples of size_multiple={m}: pass sizes=... to check_backbone"
    if getattr(model, "feature_module", None):
        model.get_submodule(model.feature_module)
    targets = getattr(model, "lora_targets", None)
    if targets is not None:
        assert isinstance(targets, (tuple, list)) and all(isinstance(t, str) for t in targets), "lora_targets must be a tuple of regexes"
    declared = getattr(model, "default_discriminator", None)
    if declared is not None:
        name, settings = declared
        D = create_discriminator(name, **settings)
        with torch.no_grad():
            score = D(x, x)
        assert torch.isfinite(score).all(), f"the declared default_discriminator {name!r} gives non-finite scores"
    counted = [n for n, mod in model.named_modules() if hasattr(mod, "extra_macs")]
    if counted:
        from e2gan.metrics.macs import count_macs

        assert count_macs(model, x[:1], text if text is None else text[:1], mask if mask is None else mask[:1]) > 0, \
            f"extra_macs of {counted[0]} broke the MAC count"


def _check_lora(model, targets, candidates, x, text, mask, atol):
    from peft import LoraConfig, get_peft_model

    assert targets, "lora_targets match no layer"
    assert set(targets) <= set(candidates)
    wrapped = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, lora_alpha=2, target_modules=targets, init_lora_weights=False))
    wrapped.eval()
    with torch.no_grad():
        lora_out = wrapped(x, text, mask)
        assert not torch.allclose(lora_out, model(x, text, mask)), "LoRA on the declared targets changed nothing"
        merged = wrapped.merge_and_unload()(x, text, mask)
    assert_close(merged, lora_out, f"merging LoRA into {len(targets)} declared targets", atol=atol)


def _check_onnx(model, x, text, mask):
    try:
        import onnxruntime as ort
    except ImportError:
        return
    from e2gan.inference import ConceptModule, size_multiple

    module = ConceptModule(model, None if text is None else text[:1], None if mask is None else mask[:1], size_multiple(model)).eval()
    buf = io.BytesIO()
    torch.onnx.export(module, (x,), buf, dynamo=False, opset_version=17, input_names=["image"], output_names=["edited"],
                      dynamic_axes={"image": {0: "batch"}, "edited": {0: "batch"}})
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(sess.run(None, {"image": x.numpy()})[0])
    with torch.no_grad():
        want = module(x)
    assert_close(got, want, "ONNX Runtime against eager")


def check_discriminator(factory, size: int = 64):
    """Scores ``(source, image)`` pairs: finite, one map per pair, gradients reach every parameter."""
    d = factory()
    src, img = torch.rand(2, 3, size, size) * 2 - 1, torch.rand(2, 3, size, size) * 2 - 1
    out = d(src, img)
    assert out.shape[0] == 2 and torch.isfinite(out).all()
    out.mean().backward()
    missing = [n for n, p in d.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reaches {missing[:3]}"
    return d


# -- text encoders ------------------------------------------------------------------------------


def check_text_encoder(factory):
    """``dim``; JSON ``settings`` that rebuild it; ``encode`` gives (B, T, dim) floats and a (B, T) bool
    mask with at least one token per prompt (also for ""); deterministic across instances."""
    enc = factory()
    assert isinstance(enc.dim, int) and enc.dim > 0
    _json_round_trip(enc.settings, "text_encoder.settings")
    prompts = ["a red car in snow", "watercolor", ""]
    e, m = enc.encode(prompts)
    assert e.dim() == 3 and e.shape[0] == 3 and e.shape[2] == enc.dim, f"embeds must be (B, T, {enc.dim}), got {tuple(e.shape)}"
    assert m.shape == e.shape[:2] and m.dtype == torch.bool, "mask must be a (B, T) bool tensor"
    assert bool(m.any(1).all()), "every prompt (even an empty one) needs at least one unmasked token"
    assert e.is_floating_point() and torch.isfinite(e).all()
    e2, m2 = factory(**enc.settings).encode(prompts)
    assert torch.equal(m, m2) and torch.allclose(e, e2), "factory(**settings) must encode the same way"
    return enc


# -- adaptation strategies ----------------------------------------------------------------------


def _adaptation_setup():
    from e2gan.lora import paper_targets

    student = tiny_student()
    pairs = tiny_pairs(12)
    return student, pairs, paper_targets(student.generator)


def check_scorer(factory, seed: int = 0):
    """A finite float for every given layer; the base's weights unchanged; same seed, same scores."""
    student, pairs, layers = _adaptation_setup()
    before = {k: v.clone() for k, v in student.generator.state_dict().items()}
    scores = factory().score(student, pairs, layers, seed)
    assert set(scores) == set(layers), f"scores must cover exactly the given layers (missing {sorted(set(layers) - set(scores))[:3]})"
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values()), "scores must be finite floats"
    after = student.generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a scorer must not change the base"
    assert factory().score(student, pairs, layers, seed) == scores, "the same seed must give the same scores"
    return scores


def check_searcher(factory, within_budget: bool = True):
    """Ranks (ints >= 0) for a subset of ``ctx.layers``; within ``ctx.budget`` unless the searcher is told
    its rank (``within_budget=False``); the same context gives the same ranks."""
    from e2gan.adapt import SearchContext, budget_of, split_validation

    student, pairs, layers = _adaptation_setup()
    budget = int(0.6 * budget_of(student.generator, layers, 4))
    fit, val = split_validation(pairs)

    def ctx():
        return SearchContext(copy.deepcopy(student), layers, budget, fit, val, trial_steps=2, seed=0)

    c = ctx()
    ranks = factory().search(c)
    assert set(ranks) <= set(layers), f"ranks name layers outside ctx.layers: {sorted(set(ranks) - set(layers))[:3]}"
    assert all(isinstance(r, int) and r >= 0 for r in ranks.values()), "ranks must be ints >= 0"
    assert any(r > 0 for r in ranks.values()), "at least one layer needs a rank"
    if within_budget:
        assert c.cost(ranks) <= budget, f"{c.cost(ranks):,} LoRA weights exceed the budget of {budget:,}"
    assert factory().search(ctx()) == ranks, "the same context and seed must give the same ranks"
    return ranks


def check_data_selector(factory, n: int = 60, count: int = 10):
    """Sorted unique indices in range, ``count`` of them (or all, for a selector that keeps everything);
    the same seed gives the same subset."""
    feats = torch.cat([torch.randn(n // 5, 5) + 10 * torch.eye(5)[i] for i in range(5)])
    sel = factory()
    a = sel.select(feats if getattr(sel, "needs_features", True) else torch.zeros(n, 0), count, 4)
    b = factory().select(feats if getattr(sel, "needs_features", True) else torch.zeros(n, 0), count, 4)
    assert a == b, "the same seed must give the same subset"
    assert a == sorted(set(a)) and all(0 <= i < n for i in a), "indices must be sorted, unique and in range"
    assert len(a) in (count, n), f"selected {len(a)} of {n}; expected {count} (or all)"
    return a


def check_concept_selector(factory, count: int = 5):
    """Prompts from the pool, at most ``count``, no repeats; the same seed gives the same choice;
    ``effects`` is called only with pool prompts."""
    pool = [f"concept {i}" for i in range(30)]
    centres = 10 * torch.eye(5)
    asked = []

    def effects(prompts):
        asked.extend(prompts)
        return torch.stack([centres[pool.index(p) % 5] + 0.1 * torch.randn(5, generator=torch.Generator().manual_seed(pool.index(p)))
                            for p in prompts])

    a = factory().select(pool, count, 3, effects)
    b = factory().select(pool, count, 3, effects)
    assert a == b, "the same seed must give the same concepts"
    assert 1 <= len(a) <= count and len(set(a)) == len(a), f"expected 1..{count} distinct concepts, got {a}"
    assert set(a) <= set(pool) and set(asked) <= set(pool)
    return a


#: the data selectors' check under its earlier name
check_selector = check_data_selector
