"""The learning-rate schedule, Adam's epsilon and the time limit of a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vaekit
from vaekit.runtime.errors import ConfigError
from vaekit.training.optim import learning_rate

SMALL = {"data": "digits", "limit": 200, "latent_dim": 2, "epochs": 4, "batch_size": 50, "progress": "quiet"}


@pytest.mark.parametrize(
    ("epoch", "stage"), [(1, 0), (2, 1), (4, 1), (5, 2), (13, 2), (14, 3), (1094, 7), (3280, 7), (5000, 7)]
)
def test_burdas_schedule_has_3_to_the_i_epochs_per_stage(epoch: int, stage: int) -> None:
    assert learning_rate(1e-3, "burda", epoch) == pytest.approx(1e-3 * 10 ** (-stage / 7))
    assert learning_rate(1e-3, "constant", epoch) == 1e-3


def test_burdas_schedule_spans_3280_epochs() -> None:
    rates = [learning_rate(1.0, "burda", e) for e in range(1, 3281)]
    assert sorted(set(rates), reverse=True) == [10 ** (-i / 7) for i in range(8)]
    assert [rates.count(10 ** (-i / 7)) for i in range(8)] == [3**i for i in range(8)]


def test_the_cosine_schedule_falls_from_the_base_rate_towards_zero_over_the_run() -> None:
    rates = [learning_rate(2.0, "cosine", e, 10) for e in range(1, 13)]
    assert rates[0] == 2.0
    assert rates[5] == pytest.approx(1.0)  # halfway: epoch 6 of 10
    assert all(a > b for a, b in zip(rates[:10], rates[1:10], strict=False))
    assert 0 < rates[9] < 0.05 and rates[10] == rates[11] == rates[9]  # past the run: the last rate
    with pytest.raises(ConfigError, match="cosine needs the run's epochs"):
        learning_rate(1.0, "cosine", 1)


def test_the_cosine_schedule_follows_the_runs_epochs(tmp_path: Path) -> None:
    vaekit.train(out=tmp_path / "run", lr_schedule="cosine", **SMALL)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == pytest.approx([learning_rate(1e-3, "cosine", e, 4) for e in (1, 2, 3, 4)])


def test_the_schedule_and_epsilon_reach_the_optimizer(tmp_path: Path) -> None:
    vaekit.train(out=tmp_path / "run", lr_schedule="burda", adam_eps=1e-4, **SMALL)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == pytest.approx([1e-3, 1e-3 * 10 ** (-1 / 7), 1e-3 * 10 ** (-1 / 7),
                                                         1e-3 * 10 ** (-1 / 7)])  # fmt: skip
    trainer = json.loads((tmp_path / "run" / "trainer.json").read_text())
    assert trainer["optimizer"]["param_groups"][0]["eps"] == 1e-4
    assert trainer["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]


def test_adams_decay_rates_reach_the_optimizer_and_change_the_training(tmp_path: Path) -> None:
    vaekit.train(out=tmp_path / "default", **SMALL)
    vaekit.train(out=tmp_path / "run", adam_beta1=0.99, adam_beta2=0.99, **SMALL)
    trainer = json.loads((tmp_path / "run" / "trainer.json").read_text())
    assert trainer["optimizer"]["param_groups"][0]["betas"] == [0.99, 0.99]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["train"]["adam_beta1"], config["train"]["adam_beta2"]) == (0.99, 0.99)
    default, run = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("default", "run"))
    assert not all(torch.equal(default[k], run[k]) for k in default)


def test_a_run_stops_at_its_time_limit_and_resumes_to_the_same_weights(tmp_path: Path) -> None:
    vaekit.train(out=tmp_path / "whole", **SMALL)
    vaekit.train(out=tmp_path / "limited", time_limit=1e-6, **SMALL)
    log = (tmp_path / "limited" / "metrics.jsonl").read_text().splitlines()
    assert len(log) == 1  # stopped after the first epoch, which passed the limit
    assert json.loads((tmp_path / "limited" / "trainer.json").read_text())["epoch"] == 1
    vaekit.resume(tmp_path / "limited", time_limit=0, progress="quiet")
    whole, limited = load_file(str(tmp_path / "whole" / "model.safetensors")), load_file(
        str(tmp_path / "limited" / "model.safetensors"))  # fmt: skip
    assert all(torch.equal(whole[k], limited[k]) for k in whole)
    config = json.loads((tmp_path / "limited" / "config.json").read_text())
    assert config["train"]["time_limit"] is None


@pytest.mark.parametrize(
    ("option", "message"),
    [({"lr_schedule": "linear"}, "lr_schedule must be one of"), ({"adam_eps": 0.0}, "adam_eps must be > 0"),
     ({"time_limit": -1.0}, "time_limit must be > 0"), ({"adam_beta1": 1.0}, r"adam_beta1 must be in \[0, 1\)"),
     ({"adam_beta2": -0.1}, r"adam_beta2 must be in \[0, 1\)")],  # fmt: skip
)
def test_bad_schedule_options_are_refused(tmp_path: Path, option: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        vaekit.train(out=tmp_path / "run", **{**SMALL, **option})
    assert not (tmp_path / "run").exists()
