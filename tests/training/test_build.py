"""A table model starts from its columns' marginals, and a table run resumes bit-exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

import vaekit
from vaekit.data import load_data
from vaekit.data.tables import TableCodec
from vaekit.distributions.likelihoods.mixed import MixedLikelihood
from vaekit.training.build import start_from_marginals


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
