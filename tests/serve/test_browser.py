"""The explorer in a real browser: Debian's chromium driven by Playwright against `vaekit serve`.

Slow (starts a server and a browser); run with `make test-slow`, which installs chromium and
Playwright. Skipped when either is missing. No browser is downloaded: Playwright drives the
system's chromium through ``executable_path``.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(digits4_run):
    """Run `vaekit serve` in its own process on a free loopback port; yield its URL."""
    pytest.importorskip("fastapi", reason="needs the serve extra: pip install 'vaekit[serve]'")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaekit.cli", "serve", str(digits4_run), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "api/info", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"vaekit serve did not start: {proc.stdout.read().decode(errors='replace')}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def changed(before: bytes, after: bytes) -> bool:
    a, b = pixels(before), pixels(after)
    return a.shape != b.shape or int(np.abs(a - b).sum()) > 0


def test_map_click_slider_and_upload_change_what_the_page_shows(server, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; `make test-slow` does it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install 'vaekit[browser]'")
    from PIL import Image, ImageDraw

    digit = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(digit).ellipse((16, 8, 48, 56), outline=255, width=7)
    digit.save(tmp_path / "zero.png")

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        decoded, readout, canvas = page.locator("#decoded"), page.locator("#z-readout"), page.locator("#map")

        def wait_for_new_code(old: str) -> None:
            page.wait_for_function("old => document.getElementById('z-readout').textContent !== old", arg=old)

        # A click on the map decodes that point.
        start_image, start_code = decoded.screenshot(), readout.text_content()
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.85, box["y"] + box["height"] * 0.15)
        wait_for_new_code(start_code)
        clicked_image, clicked_code = decoded.screenshot(), readout.text_content()
        assert changed(start_image, clicked_image)

        # Moving the most informative dimension's slider changes the decoded image.
        slider = page.locator("#sliders input[type=range]").first
        low = slider.get_attribute("min")
        slider.fill(low)
        wait_for_new_code(clicked_code)
        assert changed(clicked_image, decoded.screenshot())

        # An uploaded image is encoded and its point appears on the map.
        map_before = canvas.screenshot()
        page.set_input_files("#file-input", str(tmp_path / "zero.png"))
        page.wait_for_selector("#map[data-uploads='1']", timeout=15_000)
        assert changed(map_before, canvas.screenshot())
        assert float(page.locator("#anomaly-score").text_content()) > 0

        # The sample button fills the strip; interpolation draws A to B.
        page.click("#sample-button")
        page.wait_for_selector("#sample-strip img.cell")
        page.click("#set-a")
        page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.8)
        page.wait_for_timeout(300)
        page.click("#set-b")
        page.click("#interp-button")
        page.wait_for_selector("#interp-strip img.cell")
        assert page.locator("#interp-strip img.cell").count() == 10

        assert page.locator("#status").is_hidden(), page.locator("#status").text_content()
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        browser.close()
    assert not errors, errors
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
