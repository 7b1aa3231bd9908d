"""Making and reading runs (vaekit.api.runs): build_config's options, load and read_config's errors."""

import re

import numpy as np
import pytest

import vaekit
from vaekit.runtime.errors import CheckpointError, ConfigError, RunFolderError


def test_best_weights_load_too(digits_run):
    assert vaekit.load(digits_run, which="best").sample(1).shape == (1, 1, 8, 8)


def test_loading_a_folder_that_is_not_a_run_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        vaekit.load(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        vaekit.load(tmp_path / "nope")


def test_truncated_config_gives_a_clear_error(digits_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    text = (copy / "config.json").read_text()
    (copy / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        vaekit.load(copy)


def test_unknown_training_option_is_refused():
    with pytest.raises(ConfigError, match=r"unknown training option 'latnet' \(did you mean .*latent_dim=\?\)"):
        vaekit.build_config(latnet=3)


@pytest.mark.parametrize(
    ("key", "meant"),
    [("quiet", "progress='quiet'"), ("learning_rate", "lr="), ("num_epochs", "epochs="), ("batch", "batch_size=")],
)
def test_an_unknown_option_names_the_one_meant(key, meant, tmp_path):
    with pytest.raises(ConfigError, match=f"did you mean {re.escape(meant)}") as refused:
        vaekit.train(data="digits", epochs=1, out=tmp_path / "run", **{key: 1})
    assert "help(vaekit.build_config)" in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_an_unknown_option_like_nothing_known_names_no_guess():
    with pytest.raises(ConfigError) as refused:
        vaekit.build_config(zzzz=1)
    assert "did you mean" not in str(refused.value)


def test_pieces_take_a_name_or_a_mapping_of_their_options():
    cfg = vaekit.build_config(
        model="beta-vae", likelihood="gaussian", objective={"beta": 4.0}, prior={"name": "vamp", "pseudo_inputs": 9},
        net="conv", encoder=[32],
    )  # fmt: skip
    assert cfg.model.likelihood == {"name": "gaussian"}
    assert cfg.model.objective == {"name": None, "beta": 4.0}
    assert cfg.model.prior == {"name": "vamp", "pseudo_inputs": 9}
    assert cfg.model.net == {"name": "conv", "encoder": [32]}


def test_flat_options_of_earlier_versions_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match=r"beta= is deprecated.*objective=\{'beta': 4.0\}"):
        cfg = vaekit.build_config(model="beta-vae", beta=4.0, likelihood="gaussian")
    with pytest.warns(DeprecationWarning, match=r"sigma= is deprecated"):
        cfg = vaekit.build_config(model="beta-vae", objective={"beta": 4.0}, likelihood="gaussian", sigma=0.5)
    assert cfg.model.objective["beta"] == 4.0
    assert cfg.model.likelihood == {"name": "gaussian", "sigma": 0.5}
    with pytest.warns(DeprecationWarning, match="fast='auto'|'off'"):
        assert vaekit.build_config(fused_step=False).train.fast == "off"


def test_preset_refuses_conflicting_architecture():
    with pytest.raises(ConfigError, match="fixes the architecture"):
        vaekit.build_config(preset="seed", latent_dim=7)


def test_paths_may_be_given_as_pathlib_paths(tmp_path):

    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32))
    cfg = vaekit.build_config(data=tmp_path / "rows.npy", data_dir=tmp_path)
    assert cfg.data.name == str(tmp_path / "rows.npy") and cfg.data.data_dir == str(tmp_path)


def test_a_time_limit_of_0_is_no_limit_for_train_as_for_resume():
    assert vaekit.build_config(data="digits", time_limit=0).train.time_limit is None
    assert vaekit.build_config(data="digits", time_limit=5).train.time_limit == 5


def test_a_run_killed_before_its_first_checkpoint_says_so_to_every_command(tmp_path):
    run = tmp_path / "r"
    vaekit.train(data="digits", encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    for name in ("trainer.safetensors", "trainer.json", "model.safetensors", "model-best.safetensors"):
        (run / name).unlink()  # as a kill -9 before the first checkpoint leaves the folder
    said = f"{run} has no checkpoint yet (trainer.safetensors is missing): its training stopped before the first checkpoint"
    for call in (lambda: vaekit.load(run), lambda: vaekit.resume(run, progress="quiet"), lambda: vaekit.evaluate(run, k=2)):
        with pytest.raises(CheckpointError, match=re.escape(said)):
            call()
    with pytest.raises(RunFolderError) as refused:
        vaekit.train(data="digits", encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    assert "vaekit resume" not in str(refused.value) and "--force" in str(refused.value)
