"""The run config's view of its data: the splits it asks for, and the settings it refuses."""

import shutil

import numpy as np
import pytest
import torch

from vaekit.config import RunConfig, validate
from vaekit.data import DataBundle
from vaekit.data.views import evaluation_view
from vaekit.data.views import make_splits as split_bundle
from vaekit.runtime.errors import ConfigError, DataError
from vaekit.training.run_data import bind_to_data, load_bundle, make_splits


def config(**data):
    cfg = RunConfig()
    for key, value in data.items():
        setattr(cfg.data, key, value)
    cfg.data.val_fraction = 0.2
    return cfg


def test_the_run_splits_with_its_validation_fraction_seed_and_binarisation():
    x = torch.randint(0, 17, (30, 16), dtype=torch.uint8)
    bundle = DataBundle("grey", x[:20], x[20:], (1, 4, 4), "image", "unit", None, None, levels=17)
    cfg = config(binarize="dynamic")
    cfg.train.seed = 3
    splits = make_splits(cfg, bundle)
    plain = split_bundle(bundle, val_fraction=0.2, seed=3, binarize="dynamic")
    assert splits.binarize == "dynamic" and splits.dequantize == "none" and len(splits.val) == 4
    assert torch.equal(splits.val, plain.val)
    assert torch.equal(evaluation_view(splits, "test")[0], evaluation_view(plain, "test")[0])


def test_binding_records_the_data_as_the_model_sees_it():
    cfg = config(name="digits", binarize="static")
    bundle = load_bundle(cfg)
    bind_to_data(cfg, bundle)
    assert cfg.input_shape == [1, 8, 8] and cfg.value_range == "binary" and cfg.levels == 2
    assert cfg.num_classes == 10


@pytest.mark.parametrize(
    ("data", "model", "message"),
    [
        ({"dequantize": "gaussian"}, {}, "dequantize must be none or uniform"),
        ({"dequantize": "uniform", "binarize": "dynamic"}, {"likelihood": {"name": "gaussian"}}, "exclude each other"),
        ({"dequantize": "uniform"}, {}, "continuous likelihood"),
        ({"dequantize": "uniform"}, {"likelihood": {"name": "bernoulli"}}, "continuous likelihood"),
    ],
)
def test_invalid_dequantisation_settings_are_refused(data, model, message):
    cfg = config(**data)
    for key, value in model.items():
        setattr(cfg.model, key, value)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


# A folder of images: the run records its content (config.data_file), and a command that reads
# the run's own data refuses a folder that is not that one (its split is drawn from the images).


def image_folder(folder, n=24, seed=0):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(folder / f"i{i:03d}.png")
    return folder


def bound_to(name):
    """A run config bound to the image folder ``name`` (as training binds it)."""
    cfg = config(name=name)
    bind_to_data(cfg, load_bundle(cfg))
    return cfg


def test_an_image_folder_is_recorded_and_an_unchanged_one_or_an_identical_copy_passes(tmp_path, monkeypatch):
    image_folder(tmp_path / "a" / "grey")
    monkeypatch.chdir(tmp_path / "a")
    cfg = bound_to("grey")
    record = cfg.data_file
    assert record["format"] == "image-folder" and record["images"] == 24 and record["path"] == "grey"
    assert record["read_from"] == str(tmp_path / "a" / "grey")
    bind_to_data(cfg, load_bundle(cfg))  # a resume of the unchanged folder
    assert cfg.data_file == record
    shutil.copytree(tmp_path / "a" / "grey", tmp_path / "b" / "grey")  # new modification times
    monkeypatch.chdir(tmp_path / "b")
    assert load_bundle(cfg).train.shape[0] > 0
    bind_to_data(cfg, load_bundle(cfg))
    assert cfg.data_file["fingerprint"] == record["fingerprint"]


def test_a_resume_fingerprints_the_folder_once(tmp_path, monkeypatch):
    from vaekit.data.disk import folder

    image_folder(tmp_path / "grey")
    monkeypatch.chdir(tmp_path)
    cfg = bound_to("grey")
    record, passes = cfg.data_file, []
    counted = folder.folder_record
    monkeypatch.setattr(folder, "folder_record", lambda name: passes.append(name) or counted(name))
    bind_to_data(cfg, load_bundle(cfg))  # a resume: checked before reading, recorded after
    assert passes == ["grey"] and cfg.data_file == record


def test_an_image_added_to_the_folder_is_refused_with_the_counts_and_the_fix(tmp_path, monkeypatch):
    from PIL import Image

    image_folder(tmp_path / "grey")
    monkeypatch.chdir(tmp_path)
    cfg = bound_to("grey")
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8), mode="L").save(tmp_path / "grey" / "i100.png")
    for check in (lambda: load_bundle(cfg), lambda: bind_to_data(cfg, load_bundle(cfg, lazy=False, hold_out=False))):
        with pytest.raises(DataError, match=r"grey is not the one.*it had 24 image\(s\), it has 25") as caught:
            check()
        assert "put the original images back, or train a new run on this folder (vaekit train --force)" in str(caught.value)
        assert "found it now" not in str(caught.value)  # the same folder, changed


def test_an_image_replaced_in_the_folder_is_refused(tmp_path, monkeypatch):
    from PIL import Image

    image_folder(tmp_path / "grey")
    monkeypatch.chdir(tmp_path)
    cfg = bound_to("grey")
    Image.fromarray(np.full((8, 8), 7, dtype=np.uint8), mode="L").save(tmp_path / "grey" / "i005.png")
    with pytest.raises(DataError, match=r"the same 24 file names, but the content of some images differs"):
        load_bundle(cfg)
    (tmp_path / "grey" / "i005.png").rename(tmp_path / "grey" / "z.png")
    with pytest.raises(DataError, match=r"24 images both times, but their file names differ"):
        load_bundle(cfg)


def test_another_folder_of_the_same_name_elsewhere_is_refused_saying_where_each_was(tmp_path, monkeypatch):
    image_folder(tmp_path / "a" / "grey")
    image_folder(tmp_path / "b" / "grey", seed=1)
    monkeypatch.chdir(tmp_path / "a")
    cfg = bound_to("grey")
    monkeypatch.chdir(tmp_path / "b")
    with pytest.raises(DataError) as caught:
        load_bundle(cfg)
    message = str(caught.value)
    assert f"the run read grey from {tmp_path / 'a' / 'grey'}, and found it now at {tmp_path / 'b' / 'grey'}" in message
    assert "relative path is read from the current directory" in message and "the same 24 file names" in message
    shutil.rmtree(tmp_path / "b" / "grey")
    with pytest.raises(DataError, match=f"not found from here.*read them from {tmp_path / 'a' / 'grey'}"):
        load_bundle(cfg)


def test_evaluate_and_resume_refuse_a_changed_folder_and_a_run_without_a_record_still_works(tmp_path, monkeypatch):
    import json

    import vaekit

    image_folder(tmp_path / "grey")
    monkeypatch.chdir(tmp_path)
    small = {"encoder": [8], "latent_dim": 2, "batch_size": 8, "progress": "quiet", "epochs": 1}
    vaekit.train(data="grey", out=tmp_path / "run", **small)
    before = vaekit.evaluate(tmp_path / "run")
    (tmp_path / "grey" / "i000.png").unlink()
    with pytest.raises(DataError, match=r"it had 24 image\(s\), it has 23"):
        vaekit.evaluate(tmp_path / "run", save=True)
    with pytest.raises(DataError, match=r"it had 24 image\(s\), it has 23"):
        vaekit.resume(tmp_path / "run", epochs=2, progress="quiet")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["epochs"] == 1  # nothing written
    saved["data_file"] = None  # a run trained before folders were recorded
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    assert vaekit.evaluate(tmp_path / "run").keys() == before.keys()
    vaekit.train(data="grey", out=tmp_path / "run", force=True, **small)  # the fix the message gives
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data_file"]["images"] == 23


def test_evaluate_of_a_run_read_in_memory_refuses_its_changed_file(tmp_path):
    import vaekit

    rows = np.random.default_rng(0).random((60, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", rows)
    vaekit.train(data=str(tmp_path / "x.npy"), encoder=[8], latent_dim=2, epochs=1, out=tmp_path / "run", progress="quiet")
    before = vaekit.evaluate(tmp_path / "run", k=0, probe=False)
    assert vaekit.evaluate(tmp_path / "run", k=0, probe=False) == {**before, "seconds": pytest.approx(before["seconds"], abs=60)}
    np.save(tmp_path / "x.npy", rows[::-1].copy())  # the same rows in another order: another split
    with pytest.raises(DataError, match="x.npy changed since this run started"):
        vaekit.evaluate(tmp_path / "run", k=0, probe=False)


def test_a_bundled_dataset_beside_a_same_named_folder_records_its_name_not_the_folder(tmp_path, monkeypatch):
    # --data digits reads the bundled dataset: a folder ./digits here is not where the run read it.
    (tmp_path / "digits").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = config(name="digits", shuffle="blocks")
    bind_to_data(cfg, load_bundle(cfg))
    assert cfg.data_file["format"] == "dataset" and cfg.data_file["read_from"] == "digits"
