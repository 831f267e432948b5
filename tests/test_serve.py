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
    proc = subprocess.Popen([sys.executable, "-m", "e2gan.cli", "serve", "--port", str(port), "--model", str(root / "invert")],
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
        page.get_by_role("option", name=str(root / "invert")).click()
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
