"""The explorer in a real browser: Debian's chromium driven by Playwright, for every kind of run.

Part of the default suite (`make test` installs Playwright and, as root, chromium: see the
Makefile's `browser-test-deps`). Skipped, with the reason, only when chromium is not installed
(not root: `apt-get install chromium`) or Playwright is missing. No browser is downloaded:
Playwright drives the system's chromium through ``executable_path``.

Each kind of run the explorer accepts (latent dimension 1, 2 and more; images and tables; MLP
and conv nets; a conditional model; a deterministic autoencoder) is trained tiny, served, and
used as a person would: the page must start, draw the map, decode a click and a slider, show an
empty state before the first upload, encode an upload, sample and interpolate. One kind goes
through the real `vaekit serve` command in its own process; the others are served in-process
(uvicorn in a thread), which saves a Python start-up per kind. Each test saves a screenshot in
its temporary folder (`--basetemp DIR` keeps them somewhere known).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import vaekit

pytest.importorskip("fastapi", reason="the explorer needs the serve extra: pip install -e '.[serve]' (make dev)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NO_CHROMIUM = (
    "chromium is not installed (`make test` installs Debian's chromium only when run as root): "
    "`sudo apt-get install chromium` lets this test run"
)
NO_PLAYWRIGHT = "Playwright is not installed: pip install -e '.[browser]' (`make test` does it)"


# ---- the runs: one per kind the explorer accepts, trained tiny ----------------------------


def tiny(tmp_path_factory, name: str, **options) -> Path:
    out = tmp_path_factory.mktemp("runs") / name
    options = {"data": "digits", "encoder": [16], "epochs": 2, "batch_size": 64, **options}
    vaekit.train(out=out, progress="quiet", **options)
    return out


@pytest.fixture(scope="session")
def digits1_run(tmp_path_factory):
    return tiny(tmp_path_factory, "digits1", latent_dim=1)


@pytest.fixture(scope="session")
def conv_run(tmp_path_factory):
    return tiny(tmp_path_factory, "conv", latent_dim=2, net={"name": "conv", "channels": [4, 8], "encoder": [16]})


@pytest.fixture(scope="session")
def table2_run(tmp_path_factory):
    return tiny(tmp_path_factory, "table2", data="synthetic5", latent_dim=2, encoder=[8])


@pytest.fixture(scope="session")
def ae_run(tmp_path_factory):
    return tiny(tmp_path_factory, "ae", model="ae", latent_dim=3)


@pytest.fixture(scope="session")
def copied_run(tmp_path_factory):
    """A table run whose data file is gone, as in a run folder copied from another machine."""
    data = tmp_path_factory.mktemp("data") / "rows.npy"
    np.save(data, np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32))
    out = tiny(tmp_path_factory, "copied", data=str(data), latent_dim=3, encoder=[8], epochs=1)
    data.unlink()
    return out


@dataclass(frozen=True)
class Kind:
    run: str  # the fixture holding the run folder
    image: bool = True
    conditional: bool = False
    cli: bool = False  # served by the `vaekit serve` command in its own process
    data: bool = True  # False: the run's test data cannot be read here (an empty map and a note)


KINDS = {
    "image-latent1-mlp": Kind("digits1_run"),
    "image-latent2-mlp": Kind("digits_run"),
    "image-latent4-mlp-cli": Kind("digits4_run", cli=True),
    "image-latent2-conv": Kind("conv_run"),
    "table-latent2": Kind("table2_run", image=False),
    "table-latent3-seed-preset": Kind("seed_run", image=False),
    "image-cvae-latent2": Kind("cvae_run", conditional=True),
    "image-ae-latent3": Kind("ae_run"),
    "table-latent3-data-gone": Kind("copied_run", image=False, data=False),
}


# ---- servers and the browser --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, alive, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            urllib.request.urlopen(url + "api/info", timeout=2).read()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def serve_in_process(run_dir: Path) -> Iterator[str]:
    """Serve the explorer of ``run_dir`` with uvicorn in a thread of this process; yield its URL."""
    import uvicorn

    from vaekit.serve import LOOPBACK_HOSTS, create_app

    port = free_port()
    app = create_app(run_dir, allowed_hosts=list(LOOPBACK_HOSTS))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, thread.is_alive)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_with_the_command(run_dir: Path) -> Iterator[str]:
    """Run `vaekit serve RUN_DIR` in its own process on a free loopback port; yield its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaekit.cli", "serve", str(run_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            wait_until_up(url, lambda: proc.poll() is None)
        except OSError:
            proc.kill()
            pytest.fail(f"vaekit serve did not start: {proc.stdout.read().decode(errors='replace')}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright, one per module; skips (with the reason) without them."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def zero_png(tmp_path_factory) -> Path:
    """A hand-drawn "0" to upload: light ink on black, larger than the model's input."""
    from PIL import Image, ImageDraw

    path = tmp_path_factory.mktemp("uploads") / "zero.png"
    digit = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(digit).ellipse((16, 8, 48, 56), outline=255, width=7)
    digit.save(path)
    return path


# ---- what the page shows ------------------------------------------------------------------


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def changed(before: bytes, after: bytes) -> bool:
    a, b = pixels(before), pixels(after)
    return a.shape != b.shape or int(np.abs(a - b).sum()) > 0


#: Images on show that did not load (the browser draws them as a broken-image icon and alt text).
BROKEN_IMAGES = """[...document.images]
  .filter((img) => img.checkVisibility() && !(img.complete && img.naturalWidth > 0))
  .map((img) => img.id || img.alt)"""


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_page_starts_and_answers_for_every_kind_of_run(browser, kind, request, zero_png, tmp_path):
    spec = KINDS[kind]
    run_dir = request.getfixturevalue(spec.run)
    serving = serve_with_the_command if spec.cli else serve_in_process
    with serving(run_dir) as url:
        info = json.loads(urllib.request.urlopen(url + "api/info").read())
        latents = json.loads(urllib.request.urlopen(url + "api/latents").read())
        assert info["conditional"] is spec.conditional and (info["kind"] == "image") is spec.image

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            exercise(page, url, info, latents, spec, zero_png)
        finally:
            page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)
            page.close()
    assert not errors, errors


def exercise(page, url: str, info: dict, latents: dict, spec: Kind, zero_png: Path) -> None:
    """Use the page as a person would, checking what it shows at each step."""
    status, readout = page.locator("#status"), page.locator("#z-readout")
    page.goto(url)
    # The page marks the end of its start either way (true, or failed); a run without data shows
    # its note in #status while it is still starting, so a visible status does not mark the end.
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    assert page.locator("body[data-ready=true]").count() == 1, f"the page did not start: {status.text_content()}"
    if spec.data:
        assert status.is_hidden(), status.text_content()
    else:  # the page says why the map is empty
        assert "could not be read" in status.text_content() and latents["points"] == []
        assert "no test data" in page.locator("#map-hint").text_content()

    # The map shows every point it was sent, and says what its axes are.
    view, canvas = page.locator("#decoded-view"), page.locator("#map")
    assert (len(latents["points"]) > 0) is spec.data
    assert canvas.get_attribute("data-points") == str(len(latents["points"]))
    assert f"{latents['total']} test examples" in page.locator("#map-hint").text_content()
    assert len(page.locator("#sliders input[type=range]").all()) == info["latent_dim"]

    # Before the first upload: an empty state, no broken images.
    assert page.locator("#upload-empty").is_visible() and "Nothing encoded yet" in page.locator("#upload-empty").text_content()
    assert page.locator("#upload-result").is_hidden()
    assert page.evaluate(BROKEN_IMAGES) == []

    def wait_for_new_code(old: str) -> None:
        page.wait_for_function("old => document.getElementById('z-readout').textContent !== old", arg=old)

    # A click on the map decodes that point.
    start_view, start_code = view.screenshot(), readout.text_content()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.1)
    wait_for_new_code(start_code)
    clicked_view, clicked_code = view.screenshot(), readout.text_content()
    assert changed(start_view, clicked_view)

    # Moving the most informative dimension's slider changes what is decoded.
    slider = page.locator("#sliders input[type=range]").first
    slider.fill(slider.get_attribute("min"))
    wait_for_new_code(clicked_code)
    slid_view, slid_code = view.screenshot(), readout.text_content()
    assert changed(clicked_view, slid_view)

    # A conditional model: the class picker decodes the same code under another class.
    if spec.conditional:
        assert page.locator("#label-picker").is_visible()
        assert len(page.locator("#label-buttons button").all()) == info["num_classes"]
        page.click("#label-buttons button[data-label='7']")
        wait_for_new_code(slid_code)
        assert readout.text_content().endswith("class 7")
        assert readout.text_content().split(" · ")[0] == slid_code.split(" · ")[0]
        assert changed(slid_view, view.screenshot())
    else:
        assert page.locator("#label-picker").is_hidden()

    # An upload is encoded, its point appears on the map, and the empty state gives way.
    map_before = canvas.screenshot()
    if spec.image:
        page.set_input_files("#file-input", str(zero_png))
    else:
        row = np.round(np.linspace(-1.0, 1.0, info["input_dim"]), 2)
        page.fill("#row-input", ", ".join(str(v) for v in row))
        page.click("#row-button")
    page.wait_for_selector("#map[data-uploads='1']", timeout=15_000)
    assert changed(map_before, canvas.screenshot())
    assert page.locator("#upload-empty").is_hidden() and page.locator("#upload-result").is_visible()
    assert math.isfinite(float(page.locator("#anomaly-score").text_content()))
    if spec.conditional:
        assert page.locator("#score-note").text_content().endswith("encoded as class 7")
    assert page.evaluate(BROKEN_IMAGES) == []

    # The sample button fills the strip; interpolation draws A to B.
    cell = "img.cell" if spec.image else "canvas.cell"
    page.click("#sample-button")
    page.wait_for_selector(f"#sample-strip {cell}")
    assert len(page.locator(f"#sample-strip {cell}").all()) == 8
    if spec.conditional:
        assert readout.text_content().endswith("class 7")
    page.click("#set-a")
    code = readout.text_content()
    box = canvas.bounding_box()  # the layout moves when a note above the map goes away
    page.mouse.click(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.85)
    wait_for_new_code(code)
    page.click("#set-b")
    page.click("#interp-button")
    page.wait_for_selector(f"#interp-strip {cell}")
    assert len(page.locator(f"#interp-strip {cell}").all()) == 10

    assert status.is_hidden(), status.text_content()
    assert page.evaluate(BROKEN_IMAGES) == []


def test_a_typed_table_run_shows_rows_with_column_names(browser, typed_table_run, tmp_path):
    """A run on a CSV with text categories: the page decodes, encodes and downloads rows."""
    with serve_in_process(typed_table_run) as url:
        columns = [c["name"] for c in json.loads(urllib.request.urlopen(url + "api/info").read())["columns"]]
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        try:
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            # The decoded row: one line per column, its name and its value.
            names = page.locator("#decoded-row tbody td:first-child").all_text_contents()
            assert names == columns and page.locator("#decoded-bars").is_hidden()
            assert page.locator("#decoded-row tbody tr").nth(0).locator("td").nth(1).text_content() in ("Adelie", "Chinstrap", "Gentoo")
            assert ",".join(columns) in page.locator("#row-label").text_content()

            # A pasted CSV line is encoded; the row and its reconstruction are shown side by side.
            page.fill("#row-input", "Gentoo,Biscoe,46.1,5010,female,NA")
            page.click("#row-button")
            page.wait_for_selector("#map[data-uploads='1']", timeout=15_000)
            first = page.locator("#upload-rows tbody tr").first.locator("td").all_text_contents()
            assert first[:2] == ["species", "Gentoo"] and first[2] in ("Adelie", "Chinstrap", "Gentoo")
            assert page.locator("#upload-rows tbody tr").last.locator("td").nth(1).text_content() == "missing"

            # A category never seen is refused with the command line's message.
            page.fill("#row-input", "Emperor,Biscoe,46.1,5010,female,NA")
            page.click("#row-button")
            page.wait_for_selector("#status:not([hidden])")
            assert "has a value never seen in training: 'Emperor'" in page.locator("#status").text_content()

            # Download CSV: the header and the decoded row; samples are rows too.
            page.click("#sample-button")
            page.wait_for_selector("#sample-strip tr.cell")
            assert len(page.locator("#sample-strip tr.cell").all()) == 8
            with page.expect_download() as download:
                page.click("#download-button")
            header, row = Path(download.value.path()).read_text().splitlines()
            assert header.split(",") == columns and len(row.split(",")) == len(columns)
        finally:
            page.screenshot(path=str(tmp_path / "typed-table.png"), full_page=True)
            page.close()


def test_a_conditional_typed_table_names_its_classes_by_their_values(browser, conditional_typed_table_run, tmp_path):
    """A run trained with condition_on=["species"]: the class buttons, the readout, the legend and
    the upload's note name the classes by their values (species=Gentoo), not by number."""
    with serve_in_process(conditional_typed_table_run) as url:
        names = json.loads(urllib.request.urlopen(url + "api/info").read())["class_names"]
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        readout = page.locator("#z-readout")
        try:
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            buttons = page.locator("#label-buttons button")
            assert buttons.all_text_contents() == names == ["species=Adelie", "species=Chinstrap", "species=Gentoo"]
            assert readout.text_content().endswith("· class species=Adelie")
            assert "species=Gentoo" in page.locator("#legend").text_content()

            # Picking Gentoo decodes under it: the readout names it and the decoded row is one.
            page.click("#label-buttons button[data-label='2']")
            page.wait_for_function("() => document.getElementById('z-readout').textContent.endsWith('species=Gentoo')")
            assert page.locator("#decoded-row tbody tr").first.locator("td").all_text_contents() == ["species", "Gentoo"]

            # A pasted row is encoded under its own class, named in the score's note.
            page.fill("#row-input", "Chinstrap,Dream,46.1,3800,female,NA")
            page.click("#row-button")
            page.wait_for_selector("#map[data-uploads='1']", timeout=15_000)
            assert page.locator("#score-note").text_content().endswith("encoded as class species=Chinstrap")
            assert page.locator("#label-buttons button.on").text_content() == "species=Chinstrap"
        finally:
            page.screenshot(path=str(tmp_path / "conditional-typed-table.png"), full_page=True)
            page.close()
