"""The examples an evaluation reads (vaekit.api.eval_data): other data must fit the model."""

import json

import numpy as np
import pytest

import vaekit
from vaekit.runtime.errors import DataError


@pytest.mark.parametrize("options", [{"likelihood": "discretized-logistic"}, {"binarize": "dynamic"}])
def test_evaluate_refuses_grey_levels_that_are_not_the_runs(tmp_path, options):
    from vaekit.data import load_data

    levels = load_data("digits").test.numpy()  # uint8, 0..16
    np.save(tmp_path / "table.npy", levels)  # 2-D: read as values, here 0..16 where [0, 1] is meant
    np.save(tmp_path / "images.npy", levels.reshape(-1, 8, 8))  # uint8 images: read as 8-bit pixels
    np.save(tmp_path / "floats.npy", (levels / 16).astype(np.float32))
    vae = vaekit.train(data="digits", encoder=[8], latent_dim=2, epochs=1, out=tmp_path / "r", progress="quiet", **options)
    for split in (None, "test"):
        with pytest.raises(DataError, match=r"outside \[0, 1\] \(0 .. 16\).*divide its grey levels \(0..16\) by 16"):
            vaekit.evaluate(vae, data=str(tmp_path / "table.npy"), split=split, k=2)
        if "binarize" not in options:  # a binarised run takes any grey levels in [0, 1]
            with pytest.raises(DataError, match=r"8-bit pixels \(0..255\), but this run's data had 17 grey levels"):
                vaekit.evaluate(vae, data=str(tmp_path / "images.npy"), split=split, k=2)
    # the same examples as floats in [0, 1] are the run's own test split
    whole = vaekit.evaluate(vae, data=str(tmp_path / "floats.npy"), k=2)
    assert whole["n_examples"] == len(levels) and whole["nll"] == pytest.approx(vaekit.evaluate(vae, k=2)["nll"], rel=1e-6)


def test_evaluate_reads_image_files_as_8_bit_pixels_and_refuses_an_ambiguous_uint8_array(digits_run, tmp_path):
    from PIL import Image

    from vaekit.data import load_data

    levels = load_data("digits").test.numpy()[:20].reshape(-1, 8, 8)  # uint8, 0..16
    (tmp_path / "images").mkdir()
    for i, image in enumerate(levels):
        Image.fromarray(image * 17).save(tmp_path / "images" / f"{i:03d}.png")
    np.save(tmp_path / "pixels.npy", levels * 17)  # the same 8-bit pixels, as an array
    vae = vaekit.load(digits_run)  # Bernoulli on the digits' 17 levels: its numbers do not depend on them
    assert vaekit.evaluate(vae, data=str(tmp_path / "images"), k=0, probe=False)["n_examples"] == 20
    # an array of uint8 values could be either the run's levels or 8-bit pixels: as `score` does, refused
    with pytest.raises(DataError, match=r"x / 16 if they are the run's levels, x / 255 if they are 8-bit pixels"):
        vaekit.evaluate(vae, data=str(tmp_path / "pixels.npy"), k=0, probe=False)


def test_a_run_whose_own_images_now_read_in_another_shape_is_told_why_and_to_train_again(tmp_path):

    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(6):
        Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
    vaekit.train(data=str(tmp_path / "images"), encoder=[4], latent_dim=2, epochs=1, batch_size=4, out=tmp_path / "r", progress="quiet")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    config["data_file"] = None  # a run trained before folders were recorded
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    for i in range(6):  # the same files, now read as three channels
        Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
    with pytest.raises(DataError, match=r"own data .* now reads as 3 channels of 6x6 pixels .*trained on 1 channel .*train the run again"):
        vaekit.evaluate(tmp_path / "r", k=0, probe=False)


def test_a_run_on_colour_images_takes_grey_ones_as_three_equal_channels(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder in ("colour", "grey", "grey-as-rgb"):
        (tmp_path / folder).mkdir()
    for i in range(6):
        Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).save(tmp_path / "colour" / f"{i}.png")
        grey = Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8))
        grey.save(tmp_path / "grey" / f"{i}.png")
        grey.convert("RGB").save(tmp_path / "grey-as-rgb" / f"{i}.png")
    vae = vaekit.train(data=str(tmp_path / "colour"), encoder=[4], latent_dim=2, epochs=1, batch_size=4, out=tmp_path / "r", progress="quiet")
    grey = vaekit.evaluate(vae, data=str(tmp_path / "grey"), k=0, probe=False)
    as_rgb = vaekit.evaluate(vae, data=str(tmp_path / "grey-as-rgb"), k=0, probe=False)
    assert grey["loss"] == pytest.approx(as_rgb["loss"], rel=1e-6)
