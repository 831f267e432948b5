"""One inference path: Student.edit, Student.predict, the torch runtime (which video and the web page use) and
ONNX Runtime give the same pixels for a photo whose sides are no multiple of anything, for every backbone.

"The same" is up to float rounding (``e2gan.testing.tolerance``: kernels differ by batch shape, token count, runtime,
thread count and CPU); before this module, Student.edit resized where the runtime padded, and outputs differed
everywhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from e2gan import list_backbones
from e2gan.inference import pad_to_multiple, size_multiple
from e2gan.runtime.runner import ConceptRunner
from e2gan.student import Student
from e2gan.testing import tiny_images
from e2gan.testing.tolerance import assert_same_pixels

pytestmark = pytest.mark.numerics  # run again under other kernels and threads (make test-numerics)

#: backbones that take seconds per pass at their size multiple (256 px and up) or to export
HEAVY = {"pix2pix-unet256", "comodgan", "pix2pix-resnet9"}


def _perturbed(name: str) -> Student:
    """A random student of backbone ``name`` whose output depends on its weights and stays in range."""
    from e2gan.testing.tiny import perturb_weights

    torch.manual_seed(0)
    s = Student.create(name, "hashed-words", text_settings={"dim": 16, "max_tokens": 8})
    perturb_weights(s.generator)
    s.generator.eval()
    return s


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in list_backbones()])
def test_every_path_gives_the_same_pixels_on_a_101x77_photo(name):
    photo = tiny_images(1, (101, 77), seed=3)[0]
    student = _perturbed(name)
    edited = np.asarray(student.edit([photo], "warm tint")[0])
    assert edited.shape == (77, 101, 3)
    src = torch.from_numpy(np.asarray(photo)).permute(2, 0, 1)[None]
    predicted = student.predict(src, "warm tint")[0].permute(1, 2, 0).numpy()
    assert_same_pixels(predicted, edited, "Student.predict against Student.edit")
    frames = np.stack([np.asarray(photo)] * 2)
    runner = ConceptRunner(student, "warm tint", "torch", batch=2)
    assert_same_pixels(runner(frames)[1], edited, "the torch runtime (video, serve) against Student.edit")
    assert_same_pixels(runner.edit_images([photo])[0], edited, "one image through the runtime against Student.edit")
    assert_same_pixels(ConceptRunner(student, "warm tint", "onnx")(frames[:1])[0], edited, "ONNX Runtime against Student.edit")


def test_an_adapter_gives_the_same_pixels_through_edit_and_the_runtime(tmp_path):
    from e2gan.testing.tiny import tiny_invert_adapter

    student = Student.from_pretrained(tiny_invert_adapter(tmp_path))
    photo = tiny_images(1, (101, 77), seed=4)[0]
    edited = np.asarray(student.edit([photo], "invert", full_res="direct")[0])
    assert_same_pixels(ConceptRunner(student, "invert", full_res="direct")(np.asarray(photo)[None])[0], edited, "the torch runtime against Student.edit")
    # predict runs the unmerged adapter: the same function, rounded differently
    src = torch.from_numpy(np.asarray(photo)).permute(2, 0, 1)[None]
    assert_same_pixels(student.predict(src, "invert")[0].permute(1, 2, 0).numpy(), edited, "the unmerged adapter against the merged one")


def test_padding_replicates_the_edges_and_follows_the_declared_multiple():
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    y = pad_to_multiple(x, 4)
    assert y.shape == (2, 3, 8, 8) and torch.equal(y[..., :5, :7], x)
    assert torch.equal(y[..., 7], y[..., 6]) and torch.equal(y[..., 7, :], y[..., 4, :])
    assert size_multiple(Student.create("pix2pix-unet256").generator) == 256
    assert size_multiple(Student.create("e2gan-small").generator) == 8
