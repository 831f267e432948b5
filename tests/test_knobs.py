"""Every option that changes pixels does what it says, checked through the user's path (`e2gan apply` in-process, as a
shell runs it, and the public Python API), one row per knob: what the option is, what it must equal, and that it moves
the pixels at all. Pixel comparisons use the shared tolerance (e2gan.testing.tolerance).

Serve's model choice and strength go through its HTTP API in tests/test_serve.py (a server and a browser: slow tier)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from e2gan.student import Student
from e2gan.testing.cli import run_cli
from e2gan.testing.tiny import tiny_images
from e2gan.testing.tolerance import assert_pixels_differ, assert_same_pixels

pytestmark = pytest.mark.numerics  # run again under other kernels and threads (make test-numerics)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A tiny base with two concepts of plainly different looks (colours inverted; mirrored), and a 40x32 photo."""
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import PairTensors
    from e2gan.testing.tiny import tiny_student

    root = tmp_path_factory.mktemp("knobs")
    tiny_student("e2gan-small").save_pretrained(root / "base")
    src = torch.randint(0, 256, (4, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    finetune(str(root / "base"), PairTensors(src, 255 - src, ["invert"] * 4), root / "a", lora_train_config(steps=40, batch_size=4, lr=2e-2),
             progress=False)
    finetune(str(root / "base"), PairTensors(src, src.flip(-1), ["mirror"] * 4), root / "b",
             lora_train_config(steps=40, batch_size=4, lr=2e-2, seed=1), ranks=2, progress=False)
    tiny_images(1, (40, 32), seed=5)[0].save(root / "photo.png")
    return root


def apply(zoo: Path, out: str, *args) -> np.ndarray:
    """``e2gan apply ARGS --input photo.png --out OUT``: the edited photo as an array (``--runtime torch`` and ``--full-res
    direct`` unless ARGS name them: each runtime and mode is held to its own row, an export per call would make the table
    slow, and the references below run the generator on the whole photo)."""
    args = args if "--runtime" in args else (*args, "--runtime", "torch")
    args = args if "--full-res" in args else (*args, "--full-res", "direct")
    code, text = run_cli("apply", *args, "--input", zoo / "photo.png", "--out", zoo / "edits" / out, "--overwrite")
    assert code == 0, text
    return np.asarray(Image.open(zoo / "edits" / out / "photo.png").convert("RGB"))


def peft_mix(zoo: Path, weights: dict[str, float]) -> np.ndarray:
    """peft's own ``add_weighted_adapter`` (cat) of the given adapters on the plain base, run on the photo under adapter
    a's prompt: the reference a mix must equal."""
    from peft import PeftModel

    from e2gan.data.images import u8_to_unit, unit_to_u8

    base = Student.from_pretrained(zoo / "base")
    names = list(weights)
    model = PeftModel.from_pretrained(base.generator, str(zoo / names[0]), adapter_name=names[0])
    for n in names[1:]:
        model.load_adapter(str(zoo / n), adapter_name=n)
    model.add_weighted_adapter(names, list(weights.values()), adapter_name="mix", combination_type="cat")
    model.set_adapter("mix")
    model.eval()
    photo = torch.from_numpy(np.asarray(Image.open(zoo / "photo.png").convert("RGB"))).permute(2, 0, 1)[None]
    x = u8_to_unit(photo)  # 40x32: already a multiple of 8, no padding
    e, m = base.embed(["invert"])
    with torch.no_grad():
        return unit_to_u8(model(x, e, m))[0].permute(1, 2, 0).numpy()


def test_strength_blends_and_equals_the_adapter_weight(zoo):
    full = apply(zoo, "s1", "--model", zoo / "a")
    half = apply(zoo, "s05", "--model", zoo / "a", "--strength", "0.5")
    weighted = apply(zoo, "w05", "--model", f"{zoo / 'a'}:0.5")
    base = apply(zoo, "base", "--model", zoo / "base", "--prompt", "invert")
    assert_same_pixels(weighted, half, "--model a:0.5 against --strength 0.5")
    assert_pixels_differ(half, full, "--strength 0.5 against 1")
    to_base = lambda x: float(np.abs(x.astype(int) - base.astype(int)).mean())  # noqa: E731
    assert 0.3 * to_base(full) < to_base(half) < 0.7 * to_base(full), "strength 0.5 lies halfway between the base and the adapter"
    photo = Image.open(zoo / "photo.png")
    assert_same_pixels(Student.from_pretrained(zoo / "a").edit([photo], "invert", strength=0.5, full_res="direct")[0], half,
                       "Student.edit(strength=0.5)")
    assert_same_pixels(Student.combine([f"{zoo / 'a'}:0.5"]).edit([photo], "invert", full_res="direct")[0], half, "Student.combine(['a:0.5']).edit")


def test_weight_zero_is_the_base_and_strength_zero_too(zoo):
    base = apply(zoo, "base0", "--model", zoo / "base", "--prompt", "invert")
    assert_same_pixels(apply(zoo, "w0", "--model", f"{zoo / 'a'}:0"), base, "--model a:0 against the base")
    assert_same_pixels(apply(zoo, "s0", "--model", zoo / "a", "--strength", "0"), base, "--strength 0 against the base")
    assert_pixels_differ(apply(zoo, "a1", "--model", zoo / "a"), base, "the adapter against the base")


@pytest.mark.parametrize("weights", [{"a": 1.0, "b": 1.0}, {"a": 0.7, "b": 0.5}, {"a": 1.0, "b": -0.5}])
def test_several_adapters_are_peft_s_weighted_combination(zoo, weights):
    args = [x for n, w in weights.items() for x in ("--model", f"{zoo / n}:{w:g}")]
    got = apply(zoo, "mix-" + "-".join(f"{n}{w:g}" for n, w in weights.items()), *args, "--prompt", "invert")
    assert_same_pixels(got, peft_mix(zoo, weights), f"--model {weights} against peft's add_weighted_adapter")
    assert_pixels_differ(got, apply(zoo, "a-alone", "--model", zoo / "a"), "the mix against adapter a alone")


def test_size_resizes_the_short_side_before_editing(zoo):
    got = apply(zoo, "size24", "--model", zoo / "a", "--size", "24")
    assert got.shape == (24, 30, 3)
    photo = Image.open(zoo / "photo.png").convert("RGB").resize((30, 24), Image.LANCZOS)
    want = np.asarray(Student.from_pretrained(zoo / "a").edit([photo], "invert", full_res="direct")[0])
    assert_same_pixels(got, want, "--size 24 against Student.edit on the photo resized to 24 px")


def test_prompt_chooses_what_the_base_does(zoo):
    own = apply(zoo, "p-own", "--model", zoo / "a")
    assert_same_pixels(apply(zoo, "p-same", "--model", zoo / "a", "--prompt", "invert"), own, "--prompt naming the adapter's own prompt")
    assert_pixels_differ(apply(zoo, "p-other", "--model", zoo / "a", "--prompt", "mirror"), own, "--prompt mirror against invert", levels=0.5)


def test_full_res_and_work_size_choose_how_a_photo_larger_than_the_working_size_is_edited(zoo):
    """The photo (40x32) is larger than the adapter's working size (it trained at 32 px): the mode and the working size
    each change the pixels; a working size above the photo edits it whole, as direct does. tests/test_fullres.py
    checks what each mode's pixels are."""
    direct = apply(zoo, "fr-direct", "--model", zoo / "a", "--full-res", "direct")
    guided = apply(zoo, "fr-guided", "--model", zoo / "a", "--full-res", "guided")
    assert_pixels_differ(guided, direct, "guided against direct", levels=0.5)
    assert_same_pixels(apply(zoo, "fr-auto", "--model", zoo / "a", "--full-res", "auto"), guided, "auto (nothing measured) is guided")
    assert_pixels_differ(apply(zoo, "fr-w24", "--model", zoo / "a", "--full-res", "guided", "--work-size", "24"), guided, "--work-size 24", levels=0.5)
    assert_same_pixels(apply(zoo, "fr-w64", "--model", zoo / "a", "--full-res", "guided", "--work-size", "64"), direct,
                       "a working size above the photo's")


@pytest.mark.parametrize("runtime", ["auto", "onnx", pytest.param("openvino", marks=pytest.mark.slow), pytest.param("executorch", marks=pytest.mark.slow)])
def test_every_runtime_gives_the_torch_runtime_s_pixels(zoo, runtime):
    want = apply(zoo, "rt-torch", "--model", zoo / "a", "--runtime", "torch")
    got = apply(zoo, f"rt-{runtime}", "--model", zoo / "a", "--runtime", runtime, "--strength", "1.0")
    assert_same_pixels(got, want, f"--runtime {runtime} against --runtime torch")
    half = apply(zoo, f"rt-{runtime}-half", "--model", f"{zoo / 'a'}:0.5", "--runtime", runtime)
    assert_same_pixels(half, apply(zoo, "rt-torch-half", "--model", zoo / "a", "--strength", "0.5", "--runtime", "torch"),
                       f"--runtime {runtime} at weight 0.5 against torch at strength 0.5")
