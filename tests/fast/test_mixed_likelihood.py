"""The fast paths leave a table's mixed likelihood alone: under ``fast="auto"`` it gets no fused
step or NLL chunk, and trains through the plain autograd step."""

import torch

from vaekit import fast, objectives
from vaekit.fast.fused_chunk import fused_chunk_unsupported
from vaekit.fast.fused_step import fused_step_unsupported
from vaekit.models import create
from vaekit.models.build import DataFacts
from vaekit.training.step import AutogradStep

BLOCKS = [
    {"column": "species", "kind": "categorical", "slot": 0, "size": 3, "mask": 6},
    {"column": "bill", "kind": "gaussian", "slot": 3, "mask": 7},
    {"column": "female", "kind": "bernoulli", "slot": 4, "mask": 8},
    {"column": "visits", "kind": "negbin", "slot": 5, "mask": 9, "shift": 1.0, "scale": 0.5},
]


def _rows(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(n, 10)
    x[:, 0:3] = torch.nn.functional.one_hot(torch.randint(3, (n,), generator=g), 3).float()
    x[:, 3] = torch.randn(n, generator=g)
    x[:, 4] = torch.randint(2, (n,), generator=g).float()
    x[:, 5] = (torch.log1p(torch.randint(0, 9, (n,), generator=g).float()) - 1.0) / 0.5
    x[:, 6:] = 1.0
    return x


def test_the_mixed_likelihood_trains_through_the_plain_path_under_auto():
    torch.manual_seed(0)
    facts = DataFacts((10,), value_range="real", table_blocks=BLOCKS)
    model = create({"latent_dim": 2, "net": {"name": "mlp", "encoder": [16]}}, facts)
    objective = objectives.create_objective(None, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    assert "likelihood MixedLikelihood" in fused_step_unsupported(model, objective)
    assert "likelihood MixedLikelihood" in fused_chunk_unsupported(model)
    assert fast.training_step_for(model, objective, optimizer, mode="auto") is None
    assert fast.nll_chunk_for(model, lambda *a: None, mode="auto") is None
    step = AutogradStep(
        model, objective, optimizer, device=torch.device("cpu"), optimizer_step=fast.optimizer_step_for(optimizer)
    )
    x = _rows(64)
    sigma_before = model.likelihood.log_sigma.detach().clone()
    losses = [step(x, None, i).loss.item() for i in range(60)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert not torch.equal(model.likelihood.log_sigma.detach(), sigma_before)
