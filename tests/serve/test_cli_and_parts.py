"""`vaekit serve` on the command line, the missing-extra error, and the explorer's parts alone."""

from __future__ import annotations

import base64
import builtins

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the explorer needs the serve extra: pip install 'vaekit[serve]'")

from vaekit.cli import main  # noqa: E402
from vaekit.runtime.errors import DataError  # noqa: E402
from vaekit.serve.latent_map import fit_latent_map  # noqa: E402
from vaekit.serve.uploads import UploadTooLargeError, decode_base64  # noqa: E402


@pytest.fixture
def started(monkeypatch):
    """Record what `vaekit serve` would run instead of blocking on a real server."""
    calls = []
    monkeypatch.setattr("vaekit.serve.run_app", lambda app, host, port: calls.append((app, host, port)))
    return calls


def test_serve_prints_the_address_and_binds_loopback_by_default(digits_run, started):
    result = CliRunner().invoke(main, ["serve", str(digits_run), "--port", "8123"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.output and "warning" not in result.output
    assert started[0][1:] == ("127.0.0.1", 8123)


def test_serve_warns_when_binding_beyond_loopback(digits_run, started):
    result = CliRunner().invoke(main, ["serve", str(digits_run), "--host", "0.0.0.0"], catch_exceptions=False)
    assert result.exit_code == 0 and "warning: listening on 0.0.0.0" in result.output
    assert started[0][1] == "0.0.0.0"


def test_serve_passes_its_limits_to_the_app(digits_run, started):
    from fastapi.testclient import TestClient

    args = ["serve", str(digits_run), "--max-upload-mb", "0.5", "--max-samples", "4", "--which", "best"]
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    limits = TestClient(started[0][0], base_url="http://127.0.0.1:8000").get("/api/info").json()["limits"]
    assert limits["max_upload_bytes"] == 512 * 1024 and limits["max_samples"] == 4


@pytest.mark.parametrize(
    ("host", "allowed", "refused"),
    [
        ("127.0.0.1", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"], ["http://evil.example"]),
        ("0.0.0.0", ["http://127.0.0.1:8000", "http://my-box.lan:8000"], []),
    ],
)
def test_loopback_server_answers_only_to_loopback_host_names(digits_run, started, host, allowed, refused):
    from fastapi.testclient import TestClient

    assert CliRunner().invoke(main, ["serve", str(digits_run), "--host", host], catch_exceptions=False).exit_code == 0
    app = started[0][0]
    for url in allowed:
        assert TestClient(app, base_url=url).get("/api/info").status_code == 200, url
    for url in refused:  # e.g. a page using DNS rebinding to reach 127.0.0.1
        response = TestClient(app, base_url=url).get("/api/info")
        assert response.status_code == 400 and "not served here" in response.json()["error"]


def test_serve_of_a_missing_run_folder_is_a_one_line_error(tmp_path, started):
    result = CliRunner().invoke(main, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "error:" in result.output and not started


@pytest.fixture
def without_fastapi(monkeypatch):
    real_import = builtins.__import__

    def no_fastapi(name, *args, **kwargs):
        if name.split(".")[0] == "fastapi":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fastapi)


def test_missing_serve_extra_names_the_command_that_works_from_a_source_checkout(
    digits_run, without_fastapi, started, monkeypatch
):
    import vaekit.serve

    root = vaekit.serve.source_checkout()
    assert root is not None and (root / "Makefile").is_file()  # the tests run from the checkout
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["serve", str(digits_run)])
    assert result.exit_code == 2 and not started
    assert "`make dev`" in result.output and "install -e '.[serve]'" in result.output
    assert "pip install 'vaekit[serve]'" not in result.output  # PyPI is not where this vaekit comes from


def test_install_hint_names_the_checkouts_pip_or_pypi(tmp_path, monkeypatch):
    from vaekit.serve import install_hint, source_checkout

    checkout = tmp_path / "vaekit-src"
    (checkout / "src" / "vaekit" / "serve").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "vaekit"\n')
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "pip").touch()
    module = checkout / "src" / "vaekit" / "serve" / "__init__.py"
    assert source_checkout(module) == checkout
    monkeypatch.chdir(checkout)
    hint = install_hint(module, executable=str(checkout / ".venv" / "bin" / "python"))
    assert "`make dev`" in hint and "`.venv/bin/pip install -e '.[serve]'`" in hint
    monkeypatch.chdir(tmp_path)
    hint = install_hint(module, executable=str(checkout / ".venv" / "bin" / "python"))
    assert f"`cd {checkout} && make dev`" in hint
    # An installed package (site-packages) has no checkout: PyPI is the place.
    installed = tmp_path / "lib" / "python3.11" / "site-packages" / "vaekit" / "serve" / "__init__.py"
    installed.parent.mkdir(parents=True)
    assert source_checkout(installed) is None
    assert install_hint(installed) == "install it with: pip install 'vaekit[serve]'"


@pytest.mark.parametrize("latent_dim", [1, 2, 5])
def test_latent_map_takes_a_map_point_back_to_a_code_on_the_same_point(latent_dim):
    means = np.random.default_rng(0).normal(size=(200, latent_dim)) * np.arange(1, latent_dim + 1)
    latent_map = fit_latent_map(means, latent_dim)
    assert latent_map.method == ("pca" if latent_dim > 2 else "identity")
    points = np.array([[0.3, -1.2], [2.0, 0.5]])
    if latent_dim == 1:
        points[:, 1] = 0.0  # a one-dimensional latent space has no second axis
    np.testing.assert_allclose(latent_map.to_map(latent_map.to_latent(points)), points, atol=1e-9)


def test_latent_map_without_data_shows_the_first_two_dimensions():
    latent_map = fit_latent_map(None, 4)
    assert latent_map.method == "first-two"
    np.testing.assert_allclose(latent_map.to_latent(np.array([[1.0, 2.0]])), [[1.0, 2.0, 0.0, 0.0]])


def test_base64_uploads_are_checked_for_size_and_form():
    assert decode_base64(base64.b64encode(b"abc").decode(), 10) == b"abc"
    assert decode_base64("data:image/png;base64," + base64.b64encode(b"abc").decode(), 10) == b"abc"
    with pytest.raises(UploadTooLargeError):
        decode_base64(base64.b64encode(b"x" * 11).decode(), 10)
    with pytest.raises(DataError, match="base64"):
        decode_base64("a b c", 10)


def test_explorer_without_test_data_still_serves_with_a_note(digits_run):
    from fastapi.testclient import TestClient

    import vaekit
    from vaekit.serve.app import build_app
    from vaekit.serve.explorer import Explorer
    from vaekit.serve.limits import ServeLimits

    limits = ServeLimits()
    explorer = Explorer(vaekit.load(digits_run), limits, None, None, "the run's test data could not be read")
    client = TestClient(build_app(explorer, limits))
    info = client.get("/api/info").json()
    assert info["slider_order_by"] == "index" and info["data_note"]
    assert client.get("/api/latents").json()["points"] == []
    assert client.post("/api/decode", json={"point": [0.5, 0.5]}).status_code == 200


def test_conditional_models_are_explored_under_a_label(cvae_run):
    import vaekit
    from vaekit.api import resolve_eval_data
    from vaekit.serve.explorer import Explorer
    from vaekit.serve.limits import ServeLimits

    vae = vaekit.load(cvae_run)
    x, labels = resolve_eval_data(vae, None, "test")
    explorer = Explorer(vae, ServeLimits(), x, labels)
    assert explorer.conditional and explorer.num_classes == 10 and explorer.data_note is None
    assert explorer.decode(np.zeros(2, np.float32), 4)["label"] == 4
    with pytest.raises(DataError, match="send label"):
        explorer.decode(np.zeros(2, np.float32))
    # Without labels for the test split a conditional model cannot place it on the map.
    unlabelled = Explorer(vae, ServeLimits(), x, None)
    assert unlabelled.means is None and "labels" in unlabelled.data_note


def test_serve_starts_for_a_conditional_run(cvae_run, started):
    result = CliRunner().invoke(main, ["serve", str(cvae_run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert started and "http://127.0.0.1:8000/" in result.output


def test_deterministic_models_order_sliders_by_variance_and_score_without_kl(digits4_run):
    import torch

    import vaekit
    from vaekit.api import resolve_eval_data
    from vaekit.serve.explorer import Explorer
    from vaekit.serve.limits import ServeLimits

    vae = vaekit.load(digits4_run)
    vae.model.variational = False  # what the plain autoencoder declares
    x, labels = resolve_eval_data(vae, None, "test")
    explorer = Explorer(vae, ServeLimits(), x, labels)
    info = explorer.info()
    assert info["slider_order_by"] == "variance" and "no ELBO" in info["score"]
    variances = vae.encode(x).numpy().var(axis=0)
    assert [s["dim"] for s in info["sliders"]] == list(np.argsort(-variances))
    result = explorer.encode(x[0].numpy())
    with torch.inference_mode():
        mu = vae.encode(x[:1])
        expected = -vae.model.likelihood.log_prob(x[:1], vae.model.decode(mu)).item()
    assert result["anomaly_score"] == pytest.approx(expected, abs=1e-3)
