"""The explorer's JSON API over tiny trained runs: every endpoint, and every kind of bad input."""

from __future__ import annotations

import base64

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the explorer needs the serve extra: pip install 'vaekit[serve]'")
pytest.importorskip("httpx", reason="the API tests use httpx through FastAPI's TestClient")

import vaekit  # noqa: E402
from vaekit.api import resolve_eval_data  # noqa: E402

from .helpers import make_client, png_base64, png_size  # noqa: E402


@pytest.fixture(scope="module")
def digits4(digits4_run):
    vae = vaekit.load(digits4_run)
    x, labels = resolve_eval_data(vae, None, "test")
    return vae, x, labels


@pytest.fixture(scope="module")
def seed_vae(seed_run):
    return vaekit.load(seed_run)


def as_grey_png(example: np.ndarray, shape=(8, 8)) -> str:
    return png_base64((np.asarray(example).reshape(shape) * 255 + 0.5).astype(np.uint8))


# ---- info and the map ---------------------------------------------------------------------


def test_info_describes_the_model_and_orders_sliders_by_kl(image_client, digits4):
    info = image_client.get("/api/info").json()
    assert info["latent_dim"] == 4 and info["input_shape"] == [1, 8, 8] and info["kind"] == "image"
    assert info["map_method"] == "pca" and info["slider_order_by"] == "kl"
    assert sorted(s["dim"] for s in info["sliders"]) == [0, 1, 2, 3]
    scores = [s["score"] for s in info["sliders"]]
    assert scores == sorted(scores, reverse=True)
    # The scores are the test split's mean KL per dimension.
    vae, x, _ = digits4
    mu, logvar = vae.encode_distribution(x)
    kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean(0).numpy()
    assert [s["dim"] for s in info["sliders"]] == list(np.argsort(-kl))


def test_latents_are_the_pca_of_the_test_means_with_labels(image_client, digits4):
    from sklearn.decomposition import PCA

    vae, x, labels = digits4
    body = image_client.get("/api/latents").json()
    assert body["total"] == len(x) and len(body["points"]) == len(x)
    assert body["labels"] == labels.tolist()
    expected = PCA(n_components=2, svd_solver="full").fit_transform(vae.encode(x).numpy())
    got = np.asarray(body["points"])
    # PCA components are defined up to sign.
    for axis in range(2):
        sign = np.sign(got[:, axis] @ expected[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * expected[:, axis], atol=2e-3)


def test_two_dimensional_latents_are_mapped_as_they_are(digits_run):
    client = make_client(digits_run)
    vae = vaekit.load(digits_run)
    x, _ = resolve_eval_data(vae, None, "test")
    body = client.get("/api/latents").json()
    assert body["method"] == "identity"
    np.testing.assert_allclose(np.asarray(body["points"]), vae.encode(x).numpy(), atol=1e-4)


def test_map_subset_is_capped_at_the_limit(digits_run):
    body = make_client(digits_run, max_map_points=50).get("/api/latents").json()
    assert len(body["points"]) == 50 and len(body["labels"]) == 50 and body["total"] > 50


def test_clicked_map_point_decodes_to_a_code_on_that_point(image_client, digits4):
    vae, _, _ = digits4
    body = image_client.post("/api/decode", json={"point": [0.7, -0.4]}).json()
    np.testing.assert_allclose(body["point"], [0.7, -0.4], atol=1e-4)
    np.testing.assert_allclose(body["values"], vae.decode(np.asarray([body["z"]])).numpy().reshape(-1), atol=1e-4)


# ---- decode, sample, interpolate ----------------------------------------------------------


def test_decode_returns_the_models_decoding_as_png_and_values(image_client, digits4):
    vae, _, _ = digits4
    z = [0.5, -1.0, 0.25, 2.0]
    body = image_client.post("/api/decode", json={"z": z}).json()
    expected = vae.decode(np.asarray([z], dtype=np.float32)).numpy().reshape(-1)
    np.testing.assert_allclose(body["values"], expected, atol=1e-5)
    assert png_size(body["image"]) == (8, 8)
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["image"]))), dtype=np.float32) / 255
    np.testing.assert_allclose(pixels.reshape(-1), expected, atol=1 / 255 + 1e-6)


def test_different_codes_decode_to_different_images(image_client):
    one = image_client.post("/api/decode", json={"z": [-2, 0, 0, 0]}).json()
    two = image_client.post("/api/decode", json={"z": [2, 0, 0, 0]}).json()
    assert one["image"] != two["image"]


def test_table_run_decodes_values_without_an_image(table_client, seed_vae):
    body = table_client.post("/api/decode", json={"z": [0.1, 0.2, 0.3]}).json()
    assert body["image"] is None and len(body["values"]) == 5 and body["row"] is None
    assert table_client.get("/api/info").json()["columns"] is None  # a plain matrix has no table schema
    np.testing.assert_allclose(body["values"], seed_vae.decode(np.asarray([[0.1, 0.2, 0.3]])).numpy()[0], atol=1e-5)


def test_sample_is_reproducible_with_a_seed_and_differs_without(image_client):
    one = image_client.post("/api/sample", json={"n": 5, "seed": 7}).json()
    again = image_client.post("/api/sample", json={"n": 5, "seed": 7}).json()
    other = image_client.post("/api/sample", json={"n": 5, "seed": 8}).json()
    assert len(one["items"]) == 5 and one["seed"] == 7
    assert [i["z"] for i in one["items"]] == [i["z"] for i in again["items"]]
    assert [i["z"] for i in one["items"]] != [i["z"] for i in other["items"]]
    fresh = image_client.post("/api/sample", json={"n": 2}).json()
    assert isinstance(fresh["seed"], int)


def test_sample_temperature_scales_the_draws(image_client):
    cold = image_client.post("/api/sample", json={"n": 32, "seed": 3, "temperature": 0.1}).json()
    warm = image_client.post("/api/sample", json={"n": 32, "seed": 3, "temperature": 1.0}).json()
    np.testing.assert_allclose(
        np.asarray([i["z"] for i in cold["items"]]) * 10, [i["z"] for i in warm["items"]], atol=1e-4
    )


def test_interpolation_runs_from_start_to_end_in_even_steps(image_client):
    start, end = [0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 3.0, 0.5]
    items = image_client.post("/api/interpolate", json={"start": start, "end": end, "steps": 5}).json()["items"]
    z = np.asarray([i["z"] for i in items])
    np.testing.assert_allclose(z, np.linspace(start, end, 5), atol=1e-5)
    assert all(png_size(i["image"]) == (8, 8) for i in items)


# ---- encode ----------------------------------------------------------------------------------


def test_encoding_a_test_image_finds_its_posterior_mean(image_client, digits4):
    vae, x, _ = digits4
    body = image_client.post("/api/encode", json={"image": as_grey_png(x[0].numpy())}).json()
    np.testing.assert_allclose(body["z"], vae.encode(x[:1]).numpy()[0], atol=0.02)
    assert png_size(body["input"]["image"]) == (8, 8) and png_size(body["reconstruction"]["image"]) == (8, 8)
    assert "-ELBO" in body["score"] and "seed" in body["score"]


def test_anomaly_score_is_repeatable_and_higher_for_noise(image_client, digits4):
    _, x, _ = digits4
    digit = {"image": as_grey_png(x[3].numpy())}
    first = image_client.post("/api/encode", json=digit).json()["anomaly_score"]
    assert image_client.post("/api/encode", json=digit).json()["anomaly_score"] == first
    noise = np.random.default_rng(0).integers(0, 256, size=(8, 8), dtype=np.uint8)
    assert image_client.post("/api/encode", json={"image": png_base64(noise)}).json()["anomaly_score"] > first


def test_anomaly_score_is_the_negative_elbo_in_nats_per_example(image_client, digits4):
    import torch

    from vaekit.distributions import kl_standard_normal

    vae, x, _ = digits4
    example = x[5:6]
    score = image_client.post("/api/encode", json={"values": example[0].tolist()}).json()["anomaly_score"]
    # An independent estimate with many more posterior draws: -(E_q log p(x|z) - KL), summed over pixels.
    with torch.no_grad():
        mu, logvar = vae.encode_distribution(example)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(4000, 1, mu.shape[1], generator=torch.Generator().manual_seed(9))
        recon = vae.model.likelihood.log_prob(example, vae.model.decode(z)).mean()
        reference = float(-(recon - kl_standard_normal(mu, logvar).sum()))
    assert score == pytest.approx(reference, abs=0.05 * reference + 1.0)


def test_large_rgb_and_jpeg_uploads_are_resized_to_the_model_input(image_client):
    rgb = np.zeros((120, 90, 3), dtype=np.uint8)
    rgb[30:90, 30:60] = 255
    for fmt in ("PNG", "JPEG"):
        body = image_client.post("/api/encode", json={"image": png_base64(rgb, "RGB", fmt)}).json()
        assert png_size(body["input"]["image"]) == (8, 8)
        assert max(body["input"]["values"]) > 0.5 and min(body["input"]["values"]) < 0.1


def test_data_urls_and_invert_are_understood(image_client):
    white = np.full((8, 8), 255, dtype=np.uint8)
    url = "data:image/png;base64," + png_base64(white)
    plain = image_client.post("/api/encode", json={"image": url}).json()
    inverted = image_client.post("/api/encode", json={"image": url, "invert": True}).json()
    assert min(plain["input"]["values"]) == 1.0 and max(inverted["input"]["values"]) == 0.0


def test_transparent_parts_of_an_upload_count_as_black(image_client):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white, but fully transparent except one pixel
    rgba[0, 0, 3] = 255
    values = image_client.post("/api/encode", json={"image": png_base64(rgba, "RGBA")}).json()["input"]["values"]
    assert values[0] == 1.0 and max(values[1:]) == 0.0


def test_table_row_is_encoded_to_its_posterior_mean(table_client, seed_vae):
    row = [0.3, -1.2, 0.8, 0.0, 2.1]
    body = table_client.post("/api/encode", json={"values": row}).json()
    np.testing.assert_allclose(body["z"], seed_vae.encode(np.asarray([row])).numpy()[0], atol=1e-5)
    assert body["input"]["image"] is None and len(body["reconstruction"]["values"]) == 5
    assert np.isfinite(body["anomaly_score"])


# ---- conditional models: every decode and encode takes a label ------------------------------


@pytest.fixture(scope="module")
def cvae(cvae_run):
    vae = vaekit.load(cvae_run)
    x, labels = resolve_eval_data(vae, None, "test")
    return vae, x, labels


def test_conditional_run_is_served_with_its_classes(cvae_client):
    info = cvae_client.get("/api/info").json()
    assert info["conditional"] is True and info["num_classes"] == 10 and info["model"] == "cvae"
    assert info["map_method"] == "identity" and info["slider_order_by"] == "kl"


def test_unconditional_run_says_it_takes_no_label(image_client):
    info = image_client.get("/api/info").json()
    assert info["conditional"] is False and info["num_classes"] is None and info["class_names"] is None


def test_classes_without_names_stay_numbers(cvae_client, typed_table_client):
    assert cvae_client.get("/api/info").json()["class_names"] is None  # the bundled digits: classes 0..9
    assert typed_table_client.get("/api/info").json()["class_names"] is None  # no condition columns


def test_a_run_on_class_folders_names_its_classes_by_the_folders(tmp_path):
    folder = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for name in ("ant", "moth", "zebra"):
        (folder / name).mkdir(parents=True)
        for i in range(8):
            png = base64.b64decode(png_base64(rng.integers(0, 256, (8, 8), dtype=np.uint8)))
            (folder / name / f"{i}.png").write_bytes(png)
    run = tmp_path / "run"
    vaekit.train(data=str(folder), model="cvae", encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    info = make_client(run).get("/api/info").json()
    assert info["conditional"] and info["num_classes"] == 3 and info["class_names"] == ["ant", "moth", "zebra"]


def test_conditional_map_holds_the_test_means_under_their_own_labels(cvae_client, cvae):
    vae, x, labels = cvae
    body = cvae_client.get("/api/latents").json()
    assert body["labels"] == labels.tolist()
    np.testing.assert_allclose(body["points"], vae.encode(x, labels=labels).numpy(), atol=1e-4)


def test_conditional_decode_is_the_models_decoding_under_the_label(cvae_client, cvae):
    vae = cvae[0]
    z = [0.5, -1.0]
    three = cvae_client.post("/api/decode", json={"z": z, "label": 3}).json()
    seven = cvae_client.post("/api/decode", json={"z": z, "label": 7}).json()
    assert three["label"] == 3 and seven["label"] == 7
    np.testing.assert_allclose(three["values"], vae.decode(np.asarray([z]), labels=3).numpy().reshape(-1), atol=1e-5)
    assert three["image"] != seven["image"]
    clicked = cvae_client.post("/api/decode", json={"point": z, "label": 3}).json()
    assert clicked["values"] == three["values"]


def test_conditional_sample_and_interpolation_decode_under_the_label(cvae_client, cvae):
    vae = cvae[0]
    items = cvae_client.post("/api/sample", json={"n": 4, "seed": 1, "label": 5}).json()["items"]
    assert [i["label"] for i in items] == [5] * 4
    z = np.asarray([i["z"] for i in items], dtype=np.float32)
    np.testing.assert_allclose([i["values"] for i in items], vae.decode(z, labels=5).numpy().reshape(4, -1), atol=1e-5)
    strip = cvae_client.post("/api/interpolate", json={"start": [0, 0], "end": [1, 1], "steps": 3, "label": 2}).json()
    assert [i["label"] for i in strip["items"]] == [2, 2, 2]


def test_conditional_encode_uses_the_label_for_code_and_score(cvae_client, cvae):
    import torch

    from vaekit import objectives

    vae, x, labels = cvae
    example, label = x[0], int(labels[0])
    body = cvae_client.post("/api/encode", json={"image": as_grey_png(example.numpy()), "label": label}).json()
    assert body["label"] == label
    np.testing.assert_allclose(body["z"], vae.encode(x[:1], labels=[label]).numpy()[0], atol=0.02)
    by_values = cvae_client.post("/api/encode", json={"values": example.tolist(), "label": label}).json()
    with torch.inference_mode():
        torch.manual_seed(0)  # the explorer's fixed seed of the score's posterior draws
        out = vae.model(example[None].expand(16, -1), torch.full((16,), label))
        expected = float(-objectives.elbo(out).mean())
    assert by_values["anomaly_score"] == pytest.approx(expected, abs=1e-3)
    other = cvae_client.post("/api/encode", json={"values": example.tolist(), "label": (label + 1) % 10}).json()
    assert other["z"] != by_values["z"]


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/api/decode", {"z": [0, 0]}, "send label, a class number 0..9"),
        ("/api/decode", {"point": [0, 0]}, "send label"),
        ("/api/decode", {"z": [0, 0], "label": 10}, "0..9, got 10"),
        ("/api/decode", {"z": [0, 0], "label": -1}, "label"),
        ("/api/decode", {"z": [0, 0], "label": "3"}, "label"),
        ("/api/decode", {"z": [0, 0], "label": True}, "label"),
        ("/api/decode", {"z": [0, 0], "label": 2.5}, "label"),
        ("/api/sample", {"n": 2}, "send label"),
        ("/api/interpolate", {"start": [0, 0], "end": [1, 1]}, "send label"),
        ("/api/encode", {"values": [0.5] * 64}, "send label"),
        ("/api/encode", {"image": as_grey_png(np.zeros(64))}, "send label"),
    ],
)
def test_conditional_requests_without_a_good_label_are_refused(cvae_client, path, body, named):
    response = cvae_client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert named in response.json()["error"]


# ---- bad input: always a 4xx with a JSON error naming the problem ---------------------------

L4 = [0.0, 0.0, 0.0, 0.0]
BAD_REQUESTS = [
    ("/api/decode", {"z": [0.0, 0.0, 0.0]}, 422, "latent space has 4"),
    ("/api/decode", {"z": [0.0] * 5}, 422, "latent space has 4"),
    ("/api/decode", {"z": []}, 422, "latent space has 4"),
    ("/api/decode", {"z": ["a", 0, 0, 0]}, 422, "z[0]"),
    ("/api/decode", {"z": ["1.5", 0, 0, 0]}, 422, "z[0]"),
    ("/api/decode", {"z": [True, 0, 0, 0]}, 422, "z[0]"),
    ("/api/decode", {"z": [None, 0, 0, 0]}, 422, "z[0]"),
    ("/api/decode", {"z": [[1], 0, 0, 0]}, 422, "z[0]"),
    ("/api/decode", {"z": "0,0,0,0"}, 422, "z"),
    ("/api/decode", {"z": [1e6, 0, 0, 0]}, 422, "within"),
    ("/api/decode", {"z": L4, "point": [0, 0]}, 422, "exactly one"),
    ("/api/decode", {}, 422, "exactly one"),
    ("/api/decode", {"z": L4, "extra": 1}, 422, "extra"),
    ("/api/decode", {"point": [1.0]}, 422, "point"),
    ("/api/decode", {"point": [1e9, 1e9]}, 422, "within"),
    ("/api/decode", [0, 0, 0, 0], 422, "JSON object"),
    ("/api/decode", None, 422, "JSON object"),
    ("/api/sample", {"n": 65}, 422, "between 1 and 64"),
    ("/api/sample", {"n": 0}, 422, "between 1 and 64"),
    ("/api/sample", {"n": 2.5}, 422, "n"),
    ("/api/sample", {"n": "3"}, 422, "n"),
    ("/api/sample", {"temperature": 0}, 422, "temperature"),
    ("/api/sample", {"temperature": 100}, 422, "temperature"),
    ("/api/sample", {"seed": -1}, 422, "seed"),
    ("/api/interpolate", {"start": L4, "end": L4, "steps": 1}, 422, "steps"),
    ("/api/interpolate", {"start": L4, "end": L4, "steps": 33}, 422, "steps"),
    ("/api/interpolate", {"start": L4, "end": [0.0] * 3}, 422, "end"),
    ("/api/interpolate", {"start": L4}, 422, "end"),
    ("/api/encode", {"values": [0.5] * 63}, 422, "64"),
    ("/api/encode", {"values": [0.5] * 63 + ["x"]}, 422, "values[63]"),
    ("/api/encode", {"values": [1e30] * 64}, 422, "values outside [0, 1]"),
    ("/api/encode", {"image": "!!not base64!!"}, 422, "base64"),
    ("/api/encode", {"image": base64.b64encode(b"GIF89a but not really").decode()}, 422, "not an image"),
    ("/api/encode", {"image": base64.b64encode(b"%!PS-Adobe-3.0 EPSF-3.0\n").decode()}, 422, "not an image"),
    ("/api/encode", {"image": ""}, 422, "empty"),
    ("/api/encode", {"image": "data:image/png,abc"}, 422, "base64"),
    ("/api/encode", {"values": L4, "image": "x"}, 422, "exactly one"),
    ("/api/decode", {"z": L4, "label": 1}, 422, "not conditional"),
    ("/api/sample", {"n": 2, "label": 0}, 422, "not conditional"),
    ("/api/interpolate", {"start": L4, "end": L4, "label": 0}, 422, "not conditional"),
    ("/api/encode", {"values": [0.5] * 64, "label": 0}, 422, "not conditional"),
]


@pytest.mark.parametrize(("path", "body", "status", "named"), BAD_REQUESTS)
def test_bad_request_is_a_4xx_json_error_naming_the_problem(image_client, path, body, status, named):
    response = image_client.post(path, json=body)
    assert response.status_code == status, response.text
    assert named.lower() in response.json()["error"].lower()


@pytest.mark.parametrize(
    "text",
    ['{"z": [NaN, 0, 0, 0]}', '{"z": [Infinity, 0, 0, 0]}', '{"z": [-Infinity, 0, 0, 0]}', '{"z": [1e999, 0, 0, 0]}'],
)
def test_nan_and_inf_latents_are_refused(image_client, text):
    response = image_client.post("/api/decode", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "finite" in response.json()["error"]


@pytest.mark.parametrize("text", ["not json", '{"z": [0, 0', "", "\x00\xff"])
def test_malformed_bodies_are_refused(image_client, text):
    response = image_client.post("/api/decode", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]


def test_truncated_png_is_refused_as_damaged(image_client):
    full = base64.b64decode(png_base64(np.full((32, 32), 128, dtype=np.uint8)))
    response = image_client.post("/api/encode", json={"image": base64.b64encode(full[: len(full) // 2]).decode()})
    assert response.status_code == 422 and "image" in response.json()["error"]


def test_image_sent_to_a_table_model_is_refused(table_client):
    response = table_client.post("/api/encode", json={"image": png_base64(np.zeros((8, 8), dtype=np.uint8))})
    assert response.status_code == 422 and "table" in response.json()["error"]


def test_oversized_upload_is_refused_with_413(digits4_run):
    client = make_client(digits4_run, max_upload_bytes=1000)
    noise = np.random.default_rng(1).integers(0, 256, size=(64, 64), dtype=np.uint8)
    image = png_base64(noise)  # about 4 kB of incompressible pixels
    response = client.post("/api/encode", json={"image": image})
    assert response.status_code == 413 and "limit" in response.json()["error"]
    # A body past the request limit is refused before any route reads it, with or without Content-Length.
    big = b'{"values": [' + b"0," * 2_000_000 + b"0]}"
    assert client.post("/api/encode", content=big, headers={"content-type": "application/json"}).status_code == 413
    chunked = client.post("/api/encode", content=iter([big[:50_000], big[50_000:]]))
    assert chunked.status_code == 413 and "limit" in chunked.json()["error"]
    # The app still answers afterwards.
    assert client.post("/api/decode", json={"z": L4}).status_code == 200


def test_image_with_too_many_pixels_is_refused_before_decoding(digits4_run):
    client = make_client(digits4_run, max_image_pixels=100)
    response = client.post("/api/encode", json={"image": png_base64(np.zeros((20, 20), dtype=np.uint8))})
    assert response.status_code == 413 and "pixels" in response.json()["error"]


def test_sample_limit_is_configurable(digits4_run):
    client = make_client(digits4_run, max_samples=3)
    assert client.post("/api/sample", json={"n": 3}).status_code == 200
    assert client.post("/api/sample", json={"n": 4}).status_code == 422
    assert client.get("/api/info").json()["limits"]["max_samples"] == 3


@pytest.mark.parametrize("path", ["/api/decode", "/api/encode", "/api/sample", "/api/interpolate"])
@pytest.mark.parametrize(
    "body", [1, "x", [], {"z": None}, {"values": {}}, {"n": None}, {"start": "a", "end": "b"}, {"image": 5}]
)
def test_no_request_shape_makes_a_server_error(image_client, path, body):
    response = image_client.post(path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]


# ---- routes, page and schema ----------------------------------------------------------------


def test_openapi_schema_documents_every_endpoint(image_client):
    schema = image_client.get("/api/openapi.json").json()
    assert {"/api/info", "/api/latents", "/api/decode", "/api/encode", "/api/sample", "/api/interpolate"} <= set(
        schema["paths"]
    )
    assert "DecodeRequest" in schema["components"]["schemas"]


def test_page_is_served_from_the_package_and_loads_nothing_from_elsewhere(image_client):
    page = image_client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path, kind in (("/explorer.js", "javascript"), ("/explorer.css", "css")):
        response = image_client.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "http://" not in response.text and "https://" not in response.text
    assert "http://" not in page.text and "https://" not in page.text


@pytest.mark.parametrize(
    "path", ["/../pyproject.toml", "/static/../api.py", "/%2e%2e/%2e%2e/etc/passwd", "/explorer.js%2f..", "/index.html"]
)
def test_no_request_path_reaches_the_file_system(image_client, path):
    response = image_client.get(path)
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


def test_wrong_method_is_a_json_405(image_client):
    response = image_client.get("/api/decode")
    assert response.status_code == 405 and response.json()["error"]


# ---- typed tables: rows with column names, in data units ----------------------------------

PENGUIN = {"species": "Gentoo", "island": "Biscoe", "bill_length_mm": 46.1, "body_mass_g": 5010, "sex": "female", "tag": None}
PENGUIN_CSV = "Gentoo,Biscoe,46.1,5010,female,NA"


@pytest.fixture(scope="module")
def typed_vae(typed_table_run):
    return vaekit.load(typed_table_run)


def test_typed_table_info_lists_the_columns_with_their_kinds(typed_table_client):
    columns = typed_table_client.get("/api/info").json()["columns"]
    assert [c["name"] for c in columns] == list(PENGUIN)
    kinds = {c["name"]: c["kind"] for c in columns}
    assert kinds["species"] == "categorical" and kinds["sex"] == "binary" and kinds["body_mass_g"] == "integer"
    assert columns[0]["categories"] == ["Adelie", "Chinstrap", "Gentoo"] and columns[2]["decimals"] == 1


def test_typed_table_decodes_to_a_row_in_data_units(typed_table_client, typed_vae):
    from vaekit import tables

    z = [0.3, -0.5, 1.0]
    body = typed_table_client.post("/api/decode", json={"z": z}).json()
    row = body["row"]
    # The codec's own decoding of the likelihood's mean, as `vaekit decode` writes rows.
    means = typed_vae.decode(np.asarray([z], dtype=np.float32)).numpy()
    expected = tables.codec_of(typed_vae).decode(means, missing=True).iloc[0]
    assert list(row) == list(PENGUIN)
    assert row["species"] == expected["species"] and row["species"] in ("Adelie", "Chinstrap", "Gentoo")
    assert row["bill_length_mm"] == expected["bill_length_mm"] == round(row["bill_length_mm"], 1)
    assert isinstance(row["body_mass_g"], int) and row["body_mass_g"] == expected["body_mass_g"]
    assert row["tag"] is None  # missing in most training rows: decoded as missing


def test_typed_table_samples_and_interpolations_carry_rows(typed_table_client):
    items = typed_table_client.post("/api/sample", json={"n": 3, "seed": 1}).json()["items"]
    items += typed_table_client.post("/api/interpolate", json={"start": [0, 0, 0], "end": [1, 1, 1], "steps": 2}).json()["items"]
    assert all(list(item["row"]) == list(PENGUIN) for item in items)


@pytest.mark.parametrize(
    "body",
    [
        {"row": PENGUIN},
        {"csv": PENGUIN_CSV},
        {"csv": "sex,species,island,bill_length_mm,body_mass_g,tag\nfemale,gentoo,Biscoe,46.1,5010,"},
    ],
    ids=["json-object", "csv-line", "csv-with-header"],
)
def test_typed_table_row_is_encoded_to_its_posterior_mean(typed_table_client, typed_vae, body):
    import pandas as pd

    from vaekit import tables

    result = typed_table_client.post("/api/encode", json=body).json()
    expected = tables.latent_means(typed_vae, pd.DataFrame([PENGUIN]))
    np.testing.assert_allclose(result["z"], expected.to_numpy()[0], atol=1e-5)
    assert result["input"]["row"] == PENGUIN  # "gentoo" read as the category Gentoo, NA as missing
    assert list(result["reconstruction"]["row"]) == list(PENGUIN)
    assert np.isfinite(result["anomaly_score"]) and "data's own units" in result["score"]


def test_typed_table_anomaly_score_is_in_the_datas_units(typed_table_client, typed_vae):
    import pandas as pd
    import torch

    from vaekit import objectives, tables

    codec = tables.codec_of(typed_vae)
    frame = pd.DataFrame([PENGUIN])
    x = torch.as_tensor(codec.encode(frame))
    torch.manual_seed(0)  # the explorer's fixed seed of the score's posterior draws
    with torch.inference_mode():
        neg_elbo = float(-objectives.elbo(typed_vae.model(x.expand(16, -1))).mean())
    score = typed_table_client.post("/api/encode", json={"row": PENGUIN}).json()["anomaly_score"]
    assert score == pytest.approx(neg_elbo - codec.log_jacobian(frame)[0], abs=1e-3)


@pytest.mark.parametrize(
    "row",
    [
        {**PENGUIN, "species": "Emperor"},  # a category never seen
        {**PENGUIN, "colour": "black"},  # a column the model was not trained on
        {k: v for k, v in PENGUIN.items() if k != "sex"},  # a column left out
        {**PENGUIN, "body_mass_g": "heavy"},  # text for a number
    ],
    ids=["unknown-category", "unknown-column", "missing-column", "text-for-a-number"],
)
def test_bad_typed_table_rows_get_the_command_lines_messages(typed_table_client, typed_vae, row):
    import pandas as pd

    from vaekit import tables
    from vaekit.runtime.errors import DataError

    with pytest.raises(DataError) as cli:  # the library call behind `vaekit encode/score` on a table
        tables.latent_means(typed_vae, pd.DataFrame([row]))
    response = typed_table_client.post("/api/encode", json={"row": row})
    assert response.status_code == 422 and response.json()["error"] == f"row: {cli.value}"
    line = ",".join("NA" if v is None else str(v) for v in row.values())
    response = typed_table_client.post("/api/encode", json={"csv": ",".join(row) + "\n" + line})
    assert response.status_code == 422 and response.json()["error"] == f"csv: {cli.value}"


@pytest.mark.parametrize(
    "body, named",
    [
        ({"csv": "Gentoo,Biscoe,46.1"}, "csv: has 3 cells; a row of this table has 6, in the order species, island"),
        ({"csv": PENGUIN_CSV + "\n" + PENGUIN_CSV + "\n" + PENGUIN_CSV}, "csv: send one row"),
        ({"csv": "species,species\nGentoo,Adelie"}, "csv: the header line names 'species' twice"),
        ({"row": {}}, "row: is empty"),
        ({"row": {**PENGUIN, "tag": [1]}}, "row.tag: a cell must be text, a finite number, true/false, or null"),
        ({"values": [1.0] * 6}, "values: this model was trained on the typed table penguins.csv; send row"),
        ({"image": png_base64(np.zeros((8, 8), dtype=np.uint8))}, "send row (column -> value) or csv"),
        ({"row": PENGUIN, "csv": PENGUIN_CSV}, "send exactly one of"),
        ({"row": PENGUIN, "label": 1}, "label: model 'vae' is not conditional"),
    ],
)
def test_typed_table_requests_that_cannot_be_a_row_are_refused(typed_table_client, body, named):
    response = typed_table_client.post("/api/encode", json=body)
    assert response.status_code == 422 and named in response.json()["error"]


@pytest.mark.parametrize("body", [{"row": PENGUIN}, {"csv": PENGUIN_CSV}])
def test_rows_sent_to_a_model_without_a_table_schema_are_refused(table_client, image_client, body):
    field = next(iter(body))
    plain = table_client.post("/api/encode", json=body).json()["error"]
    assert plain.startswith(f"{field}: this model was trained on plain numbers") and "send values" in plain
    assert "send image" in image_client.post("/api/encode", json=body).json()["error"]


def test_conditional_typed_table_decodes_under_the_condition_and_reads_it_from_the_row(conditional_typed_table_run):
    client = make_client(conditional_typed_table_run)
    info = client.get("/api/info").json()
    assert info["conditional"] and info["num_classes"] == 3
    # Its classes are named by their condition values, in class-number order.
    assert info["class_names"] == ["species=Adelie", "species=Chinstrap", "species=Gentoo"]
    species = [client.post("/api/decode", json={"z": [0, 0, 0], "label": k}).json()["row"]["species"] for k in range(3)]
    assert species == ["Adelie", "Chinstrap", "Gentoo"]
    assert client.post("/api/encode", json={"row": PENGUIN}).json()["label"] == 2  # Gentoo, from the row
    refused = client.post("/api/encode", json={"row": PENGUIN, "label": 0}).json()["error"]
    assert refused == "label: the row's condition columns (species=Gentoo) are class 2; send label 2 or none"
