"""`e2gan serve` in a real headless Chromium (Debian's package, driven by Playwright): upload an image, pick a
concept, edit, and check that an edited image of the right size appears. A missing browser fails the test:
`make test` installs it."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from e2gan.testing.net import free_port
from e2gan.testing.tolerance import assert_pixels_differ, assert_same_pixels

# slow tier: a server subprocess and a real browser
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: what a closed network needs: no background connections, no first-run, no GPU, no sandbox (root in CI)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from e2gan.testing.tiny import tiny_invert_adapter

    root = tmp_path_factory.mktemp("serve")
    tiny_invert_adapter(root)
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "e2gan.cli", "serve", "--port", str(port), "--model", str(root / "invert"),
                             "--model", f"{root / 'invert'}:0.5", "--max-pixels", "1000000", "--max-upload-mb", "1",
                             "--max-video-pixels", "10000", "--max-video-frames", "20"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise AssertionError(f"e2gan serve did not start: {proc.communicate()[0][-3000:]}")
            time.sleep(0.5)
    yield url, root
    proc.terminate()
    proc.wait(timeout=30)


def test_upload_pick_concept_edit_in_a_real_browser(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    url, root = server
    yy, xx = np.mgrid[0:72, 0:88]
    photo = np.stack([xx * 2.5, yy * 3.0, (xx + yy) * 1.5], -1).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        page.locator("#before input[type=file]").set_input_files(str(tmp_path / "photo.png"))
        page.locator("#concept input").click()
        page.get_by_role("option", name=str(root / "invert"), exact=True).click()
        page.locator("#edit").click()
        page.wait_for_selector("#after img", timeout=120_000)
        page.wait_for_function("document.querySelector('#latency') && document.querySelector('#latency').innerText.includes('ms')",
                               timeout=60_000)
        src = page.locator("#after img").get_attribute("src")
        body = page.request.get(src if src.startswith(("http", "data:")) else url.rstrip("/") + "/" + src.lstrip("/")).body()
        latency = page.locator("#latency").inner_text()
        page.screenshot(path=str(ARTIFACTS / "serve.png"), full_page=True)
        browser.close()
    edited = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    assert edited.shape == photo.shape, f"the edited image is {edited.shape}, the upload {photo.shape}"
    assert np.abs(edited.astype(int) - photo.astype(int)).mean() > 5, "the page shows the input, not an edit"
    assert "88x72" in latency and "ms" in latency


def _api(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def test_the_http_api_caps_pixels_before_decoding_and_edits_large_photos_at_their_own_size(server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    url, root = server
    ref = str(root / "invert")
    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")  # 144 megapixels in a few kilobytes
    with pytest.raises(AppError, match="over the limit of 1,000,000"):
        _api(url).predict(handle_file(str(tmp_path / "bomb.png")), ref, 1.0, api_name="/edit_image")
    yy, xx = np.mgrid[0:600, 0:800]
    Image.fromarray(np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)).save(tmp_path / "big.png")
    edited, status = _api(url).predict(handle_file(str(tmp_path / "big.png")), ref, 1.0, api_name="/edit_image")
    assert Image.open(edited).size == (800, 600), "a photo over the working size is edited at its own size"
    assert "downscaled" not in status
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.student import Student

    photo = np.asarray(Image.open(tmp_path / "big.png").convert("RGB"))
    want = ConceptRunner(Student.from_pretrained(root / "invert"), "invert")(photo[None])[0]  # apply's path, at its own size
    assert_same_pixels(np.asarray(Image.open(edited).convert("RGB")), want, "serve against apply's runner at 800x600")


def test_serve_work_size_downscales_a_larger_photo_first(tmp_path):
    from e2gan.runtime.serve import Limits, load_bounded

    Image.new("RGB", (800, 600)).save(tmp_path / "big.png")
    arr, note = load_bounded(tmp_path / "big.png", Limits(work_size=128))
    assert arr.shape[:2] == (96, 128) and "downscaled from 800x600" in note
    arr, note = load_bounded(tmp_path / "big.png", Limits())
    assert arr.shape[:2] == (600, 800) and note == ""


def test_the_http_api_loads_only_the_listed_models_and_refuses_big_uploads(server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    url, root = server
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "small.png")
    # Gradio refuses a value outside the dropdown's choices; e2gan's own check stands behind it (test_runners_load_only_the_listed_models)
    with pytest.raises(AppError, match="not in the list of choices|not one of the concepts this server offers"):
        _api(url).predict(handle_file(str(tmp_path / "small.png")), str(root / "base"), 1.0, api_name="/edit_image")
    noise = np.random.default_rng(0).integers(0, 256, (900, 900, 3), dtype=np.uint8)  # about 2.4 MB as PNG: over --max-upload-mb 1
    Image.fromarray(noise).save(tmp_path / "noise.png")
    assert (tmp_path / "noise.png").stat().st_size > 1_000_000
    with pytest.raises(Exception, match="(?i)maximum|too large|exceeds|size"):
        _api(url).predict(handle_file(str(tmp_path / "noise.png")), str(root / "invert"), 1.0, api_name="/edit_image")


def test_the_http_api_s_model_choice_and_strength_change_the_pixels_as_documented(server, tmp_path):
    """Serve's knobs through its HTTP API: the strength slider at 0.5 equals the concept offered at weight 0.5
    (``--model invert:0.5``), and both differ from the concept at full strength."""
    from gradio_client import handle_file

    from e2gan.testing.tolerance import assert_pixels_differ, assert_same_pixels

    url, root = server
    from e2gan.testing.tiny import tiny_images

    tiny_images(1, (48, 40), seed=9)[0].save(tmp_path / "p.png")
    ref, api = str(root / "invert"), _api(url)

    def edit(model, strength):
        edited, _ = api.predict(handle_file(str(tmp_path / "p.png")), model, strength, api_name="/edit_image")
        return np.asarray(Image.open(edited).convert("RGB"))

    full, half, weighted = edit(ref, 1.0), edit(ref, 0.5), edit(f"{ref}:0.5", 1.0)
    assert_same_pixels(weighted, half, "the concept offered at weight 0.5 against the strength slider at 0.5")
    assert_pixels_differ(half, full, "strength 0.5 against 1")


def test_the_http_api_edits_a_clip_and_refuses_one_over_the_video_caps_by_its_header(server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from e2gan.runtime.video import read_frames
    from e2gan.testing.media import make_clip, probe

    url, root = server
    ref = str(root / "invert")
    make_clip(tmp_path / "ok.mp4", frames=8, width=64, height=48, fps=12)
    result, stats = _api(url).predict(handle_file(str(tmp_path / "ok.mp4")), ref, 1.0, api_name="/edit_clip")
    edited = result["video"] if isinstance(result, dict) else result
    assert probe(edited)["frames"] == 8 and "8 frames" in stats
    before, _ = read_frames(tmp_path / "ok.mp4")
    assert_pixels_differ(read_frames(edited)[0], before, "the served clip against its input")
    make_clip(tmp_path / "wide.mp4", frames=4, width=128, height=96, fps=12)  # 12,288 pixels a frame: over --max-video-pixels 10000
    with pytest.raises(AppError, match="wide.mp4: 128x96 frames .* over this server's cap of 10,000"):
        _api(url).predict(handle_file(str(tmp_path / "wide.mp4")), ref, 1.0, api_name="/edit_clip")
    make_clip(tmp_path / "long.mp4", frames=30, width=64, height=48, fps=12)  # over --max-video-frames 20
    with pytest.raises(AppError, match="long.mp4: 30 frames are over this server's cap of 20"):
        _api(url).predict(handle_file(str(tmp_path / "long.mp4")), ref, 1.0, api_name="/edit_clip")
