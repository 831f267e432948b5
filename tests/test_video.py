"""Video in, video out: H.264 at the input's frame count, rate and size, audio copied; torch and ONNX Runtime
agree; temporal flicker in `eval --video`; `--webcam` without a display says so in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("av")

from e2gan.cli import cli  # noqa: E402
from e2gan.runtime.video import read_frames  # noqa: E402
from e2gan.testing.media import make_clip, probe  # noqa: E402
from e2gan.testing.tiny import tiny_invert_adapter  # noqa: E402
from e2gan.testing.tolerance import assert_pixels_differ, assert_same_pixels  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    tiny_invert_adapter(root, "ad")
    make_clip(root / "clip.mp4", frames=16, width=64, height=48, fps=12)
    return root


@pytest.mark.slow
def test_video_keeps_frames_rate_size_and_audio_and_plays_in_browsers(model):
    res = CliRunner().invoke(cli, ["apply", "--model", str(model / "ad"), "--input", str(model / "clip.mp4"), "--out", str(model / "out.mp4"),
                                   "--batch", "5"])
    assert res.exit_code == 0, res.output
    assert "16 frames at 12 fps, 64x48, audio copied; edited at" in res.output and "FPS" in res.output
    src, out = probe(model / "clip.mp4"), probe(model / "out.mp4")
    assert (out["frames"], out["fps"], out["width"], out["height"]) == (src["frames"], src["fps"], src["width"], src["height"]) == (16, 12.0, 64, 48)
    assert (out["codec"], out["pix_fmt"], out["audio"]) == ("h264", "yuv420p", ["aac"])
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.student import Student

    frames_in, _ = read_frames(model / "clip.mp4")
    frames_out, _ = read_frames(model / "out.mp4")
    want = ConceptRunner(Student.from_pretrained(model / "ad"), "invert")(frames_in)
    to_edit, to_input = (float(np.abs(frames_out.astype(int) - x.astype(int)).mean()) for x in (want, frames_in))
    assert to_edit < 0.5 * to_input, f"the frames are the edit (mean |diff| {to_edit:.2f}), not the input ({to_input:.2f})"


@pytest.mark.numerics
def test_onnx_runtime_gives_the_same_video_and_strength_zero_is_the_base(model):
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.student import Student

    frames, _ = read_frames(model / "clip.mp4")
    student = Student.from_pretrained(model / "ad")
    torch_out = ConceptRunner(student, "invert", "torch", batch=4)(frames)
    onnx_out = ConceptRunner(student, "invert", "onnx", batch=4)(frames)
    assert_same_pixels(onnx_out, torch_out, "ONNX Runtime against torch on a video")
    base_out = ConceptRunner(Student.from_pretrained(model / "base"), "invert")(frames)
    zero = ConceptRunner(student, "invert", strength=0.0)(frames)
    assert_same_pixels(zero, base_out, "strength 0 against the base")
    assert_pixels_differ(torch_out, base_out, "the adapter against the base", levels=1.0)
    res = CliRunner().invoke(cli, ["apply", "--model", str(model / "ad"), "--input", str(model / "clip.mp4"), "--out", str(model / "o2.mp4"),
                                   "--runtime", "onnx"])
    assert res.exit_code == 0 and "(onnx, decode + edit + encode)" in res.output, res.output
    assert probe(model / "o2.mp4")["frames"] == 16


def test_eval_video_reports_temporal_flicker(model):
    out = model / "flicker.json"
    res = CliRunner().invoke(cli, ["eval", "--model", str(model / "ad"), "--video", str(model / "clip.mp4"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = json.loads(out.read_text())
    frames, _ = read_frames(model / "clip.mp4")
    want_in = float(np.abs(frames[1:].astype(np.float32) - frames[:-1].astype(np.float32)).mean())
    assert got["frames"] == 16 and abs(got["input_change"] - want_in) < 1e-3
    assert abs(got["flicker_ratio"] - got["output_change"] / got["input_change"]) < 1e-9 and got["flicker_ratio"] > 0


def test_bad_video_inputs_get_one_line(model, tmp_path, monkeypatch):
    from e2gan.testing.cli import run_cli

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    code, out = run_cli("apply", "--model", model / "ad", "--input", bad, "--out", tmp_path / "o.mp4")
    assert code == 2 and "broken.mp4: not a readable video" in out and "Traceback" not in out
    assert not (tmp_path / "o.mp4").exists()
    code, out = run_cli("apply", "--model", model / "ad", "--input", model / "clip.mp4", "--out", tmp_path / "o.avi")
    assert code == 2 and "ending in .mp4" in out
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, out = run_cli("apply", "--model", model / "ad", "--webcam")
    assert code == 2 and "no display here" in out
    assert len(out.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_2048_px_clip_reaches_its_final_file_through_a_relative_out(model, tmp_path, monkeypatch):
    from e2gan.testing.cli import run_cli

    make_clip(tmp_path / "big.mp4", frames=2, width=2048, height=2048, fps=12)  # above libx264's default level's frame size
    monkeypatch.chdir(tmp_path)
    code, out = run_cli("apply", "--model", model / "ad", "--input", "big.mp4", "--out", "edited.mp4")
    assert code == 0, out
    assert probe(tmp_path / "edited.mp4")["width"] == 2048 and probe(tmp_path / "edited.mp4")["frames"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.mp4", "edited.mp4"]  # no temporary file left


def test_a_writer_that_writes_nothing_leaves_nothing(tmp_path):
    from e2gan.io import atomic_save_file

    with pytest.raises(OSError, match="without writing its temporary file"):
        atomic_save_file(tmp_path / "out.mp4", lambda tmp: None)
    assert list(tmp_path.iterdir()) == []


def test_size_resizes_every_frame_of_a_video_as_it_does_a_photo(model, tmp_path):
    from e2gan.testing.cli import run_cli

    code, out = run_cli("apply", "--model", model / "ad", "--input", model / "clip.mp4", "--out", tmp_path / "small.mp4", "--size", "24")
    assert code == 0, out
    got = probe(tmp_path / "small.mp4")
    assert (got["width"], got["height"], got["frames"]) == (32, 24, 16) and "32x24" in out
