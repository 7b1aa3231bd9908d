"""Runs of the hierarchical and IAF models: their run folders resume bit-exactly, their options
reach config.json from the command line, and an IWAE k too large for memory is refused."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import vaekit
from vaekit.cli import main
from vaekit.config import RunConfig
from vaekit.runtime.errors import ConfigError
from vaekit.training.build import check_training_memory, importance_samples, meta_model

SMALL = {
    "data": "digits",
    "binarize": "dynamic",
    "encoder": [16],
    "latent_dim": 4,
    "batch_size": 64,
    "progress": "quiet",
}


@pytest.mark.parametrize(
    "model, options",
    [
        ("hvae", {"objective": {"name": "iwae", "k": 3}, "options": {"upper_latents": [2], "flow_steps": 1}}),
        (
            "lvae",
            {
                "objective": {"name": "beta-elbo", "warmup": "linear", "warmup_steps": 30},
                "options": {"upper_latents": [3, 2]},
            },
        ),
        ("vae", {"options": {"flow_steps": 2}}),
    ],
)
def test_a_run_resumed_halfway_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, model, options):
    vaekit.train(model=model, epochs=4, out=tmp_path / "whole", **SMALL, **options)
    vaekit.train(model=model, epochs=2, out=tmp_path / "halves", **SMALL, **options)
    vaekit.resume(tmp_path / "halves", epochs=4, progress="quiet")
    for name in ("model.safetensors", "trainer.safetensors"):
        whole, halves = load_file(tmp_path / "whole" / name), load_file(tmp_path / "halves" / name)
        assert whole.keys() == halves.keys()
        assert all(torch.equal(whole[k], halves[k]) for k in whole), name
    if model == "lvae":  # batch normalisation's running statistics are in the checkpoint too
        assert any(k.endswith("running_mean") for k in whole)
    losses = [
        [json.loads(line)["train_loss"] for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        for run in ("whole", "halves")
    ]
    assert losses[0] == losses[1]
    config = json.loads((tmp_path / "halves" / "config.json").read_text())
    assert {k: config["model"]["options"][k] for k in options["options"]} == options["options"]


def test_the_command_line_spells_the_layers_and_refuses_a_layout_that_does_not_fit(tmp_path):
    tiny = ["--data", "digits", "--encoder", "16", "--latent", "4", "--epochs", "1", "--batch-size", "128", "-q"]
    layers = ["--model", "hvae", "--set", "model.upper_latents=[3,2]", "--set", "model.upper_hidden=[[8,8],[8]]"]
    out = tmp_path / "h"
    result = CliRunner().invoke(
        main, ["train", *tiny, *layers, "--objective", "iwae", "--set", "objective.k=2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    model = json.loads((out / "config.json").read_text())["model"]
    assert {k: model["options"][k] for k in ("upper_latents", "upper_hidden")} == {"upper_latents": [3, 2], "upper_hidden": [[8, 8], [8]]}
    assert model["objective"] == {"name": "iwae", "k": 2}
    bad = ["--model", "hvae", "--set", "model.upper_latents=[3,2]", "--set", "model.upper_hidden=[[8]]"]
    result = CliRunner().invoke(main, ["train", *tiny, *bad, "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0
    assert "model.upper_hidden gives 1 list(s) of hidden widths for 2 upper layer(s)" in result.output
    assert not (tmp_path / "bad").exists()


def _bound_config(k: int) -> RunConfig:
    config = RunConfig()
    config.model.name, config.model.latent_dim = "hvae", 50
    config.model.net = {"name": "mlp", "encoder": [200, 200]}
    config.model.objective = {"name": "iwae", "k": k}
    config.input_shape, config.value_range = [784], "binary"
    config.train.batch_size = 100
    return config


def test_an_iwae_k_whose_activations_cannot_fit_is_refused_naming_k():
    assert importance_samples(_bound_config(7), meta_model(_bound_config(7))) == 7
    check_training_memory(_bound_config(5), torch.device("cpu"))  # fits
    with pytest.raises(ConfigError, match=r"with k = 10000000 importance samples each.*objective\.k"):
        check_training_memory(_bound_config(10_000_000), torch.device("cpu"))


@pytest.mark.parametrize("objective", [{"name": "iwae", "k": 3}, {"name": "elbo"}, {"name": "elbo-k", "k": 2}])
def test_each_layers_kl_is_logged_for_training_and_validation(tmp_path, objective):
    vaekit.train(model="lvae", epochs=2, out=tmp_path / "run", objective=objective,
                 options={"upper_latents": [3, 2]}, **SMALL)  # fmt: skip
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    for record in records:
        assert len(record["train_kl_layers"]) == len(record["val_kl_layers"]) == 3
        assert all(v >= -1e-6 for v in record["val_kl_layers"])  # closed-form KLs for the ladder's layers
        # The layers add up to the KL the loss used (nats per example).
        assert sum(record["val_kl_layers"]) == pytest.approx(record["val_kl"], rel=1e-5, abs=1e-6)


def test_one_latent_layer_logs_no_layer_split(tmp_path):
    vaekit.train(model="vae", epochs=1, out=tmp_path / "run", **SMALL)
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert "train_kl_layers" not in record and "val_kl_layers" not in record
