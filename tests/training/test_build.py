"""How a fresh model starts: a table's or (asked for) an image's decoder from the data's marginals,
weights by torch or Glorot's rule; and a table run resumes bit-exactly. What config.json records
of each piece: its resolved name and every option, defaults filled in."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import vaekit
from vaekit.data import load_data
from vaekit.data.tables import TableCodec
from vaekit.data.units import to_model_units
from vaekit.distributions import LIKELIHOODS
from vaekit.distributions.likelihoods.mixed import MixedLikelihood
from vaekit.models import MODELS
from vaekit.nets import NETS
from vaekit.runtime.errors import ConfigError
from vaekit.training import checkpoint as ckpt
from vaekit.training.build import initialise, resolved_options, start_from_marginals


def mixed_table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.6, 0.3, 0.1]),
            "flag": rng.choice([True, False], size=n, p=[0.8, 0.2]),
            "size": rng.normal(10.0, 3.0, n),
            "visits": rng.negative_binomial(2, 0.1, n),
        }
    )


def test_the_decoder_bias_gives_each_column_its_marginal():
    bundle = load_data(mixed_table(), test_fraction=0.0)
    codec = TableCodec.from_dict(bundle.table)
    likelihood = MixedLikelihood(codec.width, codec.blocks)
    bias = likelihood.start_from_marginals(bundle.train)
    by_column = {b["column"]: (b, offset) for b, offset in zip(likelihood.blocks, likelihood.output_offsets, strict=True)}
    frame = bundle.frames[0]

    block, offset = by_column["colour"]
    shares = torch.softmax(bias[offset : offset + block["size"]], 0).numpy()
    order = [str(c) for c in codec.schema.column("colour").categories]
    expected = frame["colour"].value_counts(normalize=True)[order].to_numpy()
    assert np.allclose(shares, expected, atol=0.01)

    block, offset = by_column["flag"]
    assert abs(torch.sigmoid(bias[offset]).item() - frame["flag"].mean()) < 0.01

    block, offset = by_column["size"]
    slots = bundle.train[:, block["slot"]].double()
    assert abs(bias[offset].item() - slots.mean().item()) < 1e-5
    assert abs(likelihood.log_sigma[0].exp().item() - slots.std().item()) < 1e-4

    block, offset = by_column["visits"]
    assert abs(bias[offset].exp().item() - frame["visits"].mean()) < 1e-3 * frame["visits"].mean()


def test_models_without_marginals_are_left_as_built(digits_run):
    model = vaekit.load(digits_run).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    start_from_marginals(model, torch.rand(10, 64))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_table_run_resumes_to_the_same_weights(tmp_path):
    path = tmp_path / "table.csv"
    mixed_table().to_csv(path, index=False)
    options = {"encoder": [16], "latent_dim": 2, "batch_size": 32, "progress": "quiet"}
    vaekit.train(data=str(path), epochs=4, out=tmp_path / "whole", **options)
    vaekit.train(data=str(path), epochs=2, out=tmp_path / "halves", **options)
    vaekit.resume(tmp_path / "halves", epochs=4, progress="quiet")
    whole = load_file(tmp_path / "whole" / "model.safetensors")
    halves = load_file(tmp_path / "halves" / "model.safetensors")
    assert whole.keys() == halves.keys() and all(torch.equal(whole[k], halves[k]) for k in whole)


def built(spec: dict, shape=(1, 8, 8), value_range="unit") -> torch.nn.Module:
    from vaekit.models import DataFacts, create

    torch.manual_seed(0)
    return create({"latent_dim": 3, **spec}, DataFacts(input_shape=shape, value_range=value_range, levels=17))


GLOROT_MODELS = [
    {"name": "vae", "net": {"name": "mlp", "encoder": [16, 12], "normalization": "layer"}},
    {"name": "hvae", "net": {"name": "mlp", "encoder": [16]}, "options": {"upper_latents": [2], "upper_hidden": [[6]]}},
    {"name": "vae", "net": {"name": "conv", "channels": [4, 8]}},
]


@pytest.mark.parametrize("spec", GLOROT_MODELS, ids=["mlp", "hvae", "conv"])
def test_glorot_uniform_draws_every_dense_and_convolution_weight_within_its_bound(spec):
    model = built(spec)
    before = {name: p.clone() for name, p in model.named_parameters()}
    torch.manual_seed(1)
    initialise(model, "glorot-uniform")
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    assert any(isinstance(m, nn.modules.conv._ConvNd) for m in layers) == (spec["net"]["name"] == "conv")
    for layer in layers:
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = layer.weight.detach().abs()
        assert w.max() <= bound and w.max() > 0.5 * bound  # drawn afresh over the whole range
        assert layer.bias is None or not layer.bias.any()
    kept = {name for name, p in model.named_parameters() if torch.equal(p, before[name])}
    drawn = {f"{name}.weight" for name, m in model.named_modules() if m in layers}
    assert not (kept & drawn)
    # what is not a dense or convolution layer keeps its start (layer norm's weights here)
    norms = [f"{name}.{p}" for name, m in model.named_modules() if isinstance(m, nn.LayerNorm) for p in ("weight", "bias")]
    assert bool(norms) == (spec["net"].get("normalization") == "layer")
    assert set(norms) <= kept


def test_glorot_uniform_is_seeded_and_torch_leaves_the_model_as_built():
    a, b = built(GLOROT_MODELS[0]), built(GLOROT_MODELS[0])
    torch.manual_seed(3)
    initialise(a, "glorot-uniform")
    torch.manual_seed(3)
    initialise(b, "glorot-uniform")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = built(GLOROT_MODELS[0])
    before = [p.clone() for p in c.parameters()]
    initialise(c, "torch")
    assert all(torch.equal(p, q) for p, q in zip(before, c.parameters(), strict=True))
    with pytest.raises(ConfigError, match="init must be one of torch, glorot-uniform"):
        initialise(c, "xavier")


def test_a_bernoulli_decoder_starts_from_each_pixels_mean_in_model_units():
    model = built(GLOROT_MODELS[0])
    levels = torch.randint(0, 17, (50, 64), dtype=torch.uint8)
    levels[:, 0] = 0  # a pixel never on
    start_from_marginals(model, levels, "marginals", levels=17)
    bias = model.decoder.layers[-1].bias
    grey = levels.double() / 16
    expected = (grey.sum(0) + 0.5) / 51
    assert torch.allclose(torch.sigmoid(bias.double()), expected, atol=1e-6)
    assert torch.isfinite(bias).all() and bias[0] < -4
    # the same data in model units gives the same start
    again = built(GLOROT_MODELS[0])
    start_from_marginals(again, grey.float(), "marginals")
    assert torch.allclose(again.decoder.layers[-1].bias, bias)


def test_auto_and_init_leave_a_bernoulli_decoder_as_built():
    for mode in ("auto", "init"):
        model = built(GLOROT_MODELS[0])
        before = model.decoder.layers[-1].bias.clone()
        start_from_marginals(model, torch.rand(10, 64), mode)
        assert torch.equal(model.decoder.layers[-1].bias, before)


@pytest.mark.parametrize(
    ("spec", "value_range", "why"),
    [
        ({"name": "vae", "net": {"name": "mlp", "encoder": [8]}}, "real", "this likelihood offers none .*'gaussian'"),
        (GLOROT_MODELS[2], "unit", "its decoder does not end in a dense layer"),
    ],
    ids=["gaussian", "conv"],
)
def test_marginals_on_a_model_that_cannot_take_them_are_refused_with_the_fix(spec, value_range, why):
    model = built(spec, value_range=value_range)
    with pytest.raises(ConfigError, match=f"--output-bias marginals .*{why}.*Use --output-bias auto"):
        start_from_marginals(model, torch.rand(10, 64), "marginals")
    start_from_marginals(model, torch.rand(10, 64), "auto")  # auto leaves it as built


def test_a_run_starts_from_glorot_weights_and_the_pixel_means(tmp_path, monkeypatch):
    from vaekit.training import loop

    seen = {}
    real_init, real_start = loop.initialise, loop.start_from_marginals

    def spy_init(model, scheme):
        real_init(model, scheme)
        seen["first"] = next(model.parameters()).detach().clone()
        seen["scheme"] = scheme

    def spy_start(model, x, mode, levels):
        real_start(model, x, mode, levels)
        seen["bias"] = model.decoder.layers[-1].bias.detach().clone()
        seen["train"] = to_model_units(x, levels)

    monkeypatch.setattr(loop, "initialise", spy_init)
    monkeypatch.setattr(loop, "start_from_marginals", spy_start)
    out = tmp_path / "run"
    vaekit.train(data="digits", encoder=[32], latent_dim=2, epochs=1, batch_size=64, out=out, progress="quiet",
                 init="glorot-uniform", output_bias="marginals")  # fmt: skip
    assert seen["scheme"] == "glorot-uniform"
    w = seen["first"]
    assert w.abs().max() <= math.sqrt(6 / (w.shape[0] + w.shape[1]))
    share = (seen["train"].double().sum(0) + 0.5) / (len(seen["train"]) + 1)
    assert torch.allclose(torch.sigmoid(seen["bias"].double()), share, atol=1e-6)
    config = json.loads((out / "config.json").read_text())
    assert (config["train"]["init"], config["train"]["output_bias"]) == ("glorot-uniform", "marginals")
    # a resumed run keeps its weights: neither start runs again
    seen.clear()
    vaekit.resume(out, epochs=2, progress="quiet")
    assert not seen


def test_the_command_line_refuses_marginals_it_cannot_give_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from vaekit.cli import main

    out = tmp_path / "run"
    args = ["train", "--data", "digits", "--epochs", "1", "--likelihood", "gaussian", "--output-bias", "marginals"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "-q"])
    assert result.exit_code == 2
    assert "--output-bias marginals" in result.output and "Use --output-bias auto" in result.output
    assert not out.exists()


TINY = {"data": "synthetic5", "encoder": [6], "latent_dim": 2, "batch_size": 64, "progress": "quiet"}


@pytest.fixture
def deep_net(monkeypatch):
    """A net registered for the test whose default ``blocks`` sets how many hidden layers it has."""

    def deep(spec, blocks: int = 2, scale: float = math.inf, act: object = torch.tanh):
        return NETS.get_factory("mlp")(spec, encoder=[6] * blocks)

    monkeypatch.setitem(NETS, "deep-test", deep)
    return deep


def test_a_new_run_records_every_piece_with_its_name_and_defaults(tmp_path):
    vaekit.train(**TINY, epochs=1, out=tmp_path / "run")
    model = json.loads((tmp_path / "run/config.json").read_text())["model"]
    assert model["net"] == {"name": "mlp", "encoder": [6], "decoder": None, "activation": "relu", "normalization": "none"}
    # The names left to the defaults are recorded as chosen: the likelihood from the data, the rest from the family.
    assert [model[p]["name"] for p in ("likelihood", "prior", "objective")] == ["gaussian", "normal", "elbo"]
    assert set(LIKELIHOODS.options("gaussian")) <= set(model["likelihood"])
    assert set(MODELS.options("vae")) == set(model["options"])


def test_a_changed_default_leaves_a_recorded_run_as_it_was_trained(tmp_path, monkeypatch, deep_net):
    vaekit.train(**TINY, net="deep-test", epochs=1, out=tmp_path / "run")
    trained = vaekit.load(tmp_path / "run").model.state_dict()
    monkeypatch.setattr(deep_net, "__defaults__", (3, math.inf, torch.tanh))
    reloaded = vaekit.load(tmp_path / "run")
    assert reloaded.config.model.net["blocks"] == 2
    assert all(torch.equal(trained[k], v) for k, v in reloaded.model.state_dict().items())


def test_defaults_json_cannot_hold_are_left_to_the_code(deep_net):
    # A tuple becomes a list; infinity and an object have no exact JSON, so the code's default applies.
    assert resolved_options(NETS, "deep-test", {}) == {"blocks": 2}
    assert list(resolved_options(NETS, "mlp", {"activation": "tanh"})) == ["encoder", "decoder", "activation", "normalization"]
    assert resolved_options(NETS, "mlp", {})["encoder"] == list(NETS.options("mlp")["encoder"])


def _as_written_before_recording(run):
    """Rewrite ``run``'s config.json as vaekit wrote it before recording every piece's options."""
    path = run / "config.json"
    config = json.loads(path.read_text())
    config["model"].update(
        net={"name": "mlp", "encoder": [6]}, likelihood={"name": None}, prior={"name": None}, objective={"name": None}, options={}
    )
    path.write_text(json.dumps(config, indent=2) + "\n")
    return config["model"]


def test_an_old_run_loads_and_resumes_as_before_and_records_its_defaults_with_its_checkpoint(tmp_path):
    vaekit.train(**TINY, epochs=1, out=tmp_path / "recorded")
    shutil.copytree(tmp_path / "recorded", tmp_path / "old")
    old = _as_written_before_recording(tmp_path / "old")
    assert vaekit.load(tmp_path / "old").config.model.net == old["net"]  # loading shows config.json as it is
    before = (tmp_path / "old/config.json").read_bytes()
    vaekit.resume(tmp_path / "old", epochs=1, progress="quiet")  # nothing to train: nothing rewritten
    assert (tmp_path / "old/config.json").read_bytes() == before
    for run in ("recorded", "old"):
        vaekit.resume(tmp_path / run, epochs=2, progress="quiet")
    weights = [ckpt.load_tensors(tmp_path / run / "model.safetensors")[0] for run in ("recorded", "old")]
    assert ckpt.tensors_digest(weights[0]) == ckpt.tensors_digest(weights[1])
    recorded, resumed = (json.loads((tmp_path / run / "config.json").read_text())["model"] for run in ("recorded", "old"))
    assert resumed == recorded and resumed["likelihood"]["name"] == "gaussian" and "activation" in resumed["net"]
