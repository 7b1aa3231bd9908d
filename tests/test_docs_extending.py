"""docs/extending.md's worked example runs as written."""

import re
from pathlib import Path

import torch

import vaekit
from vaekit.distributions import LIKELIHOODS, PRIORS
from vaekit.models import MODELS
from vaekit.nets import NETS
from vaekit.objectives import OBJECTIVES, StepLoss

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_the_worked_example_adds_a_likelihood_a_model_and_an_objective_that_train_and_reload(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 6
    namespace = {"run_dir": tmp_path / "run"}
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
        laplace = namespace["LaplaceLikelihood"](3)
        loc, log_scale, x = torch.randn(4, 3), torch.randn(4, 3) * 0.3, torch.randn(4, 3)
        expected = torch.distributions.Laplace(loc, log_scale.exp()).log_prob(x).sum(-1)
        torch.testing.assert_close(laplace.log_prob(x, torch.cat([loc, log_scale], -1)), expected)
        torch.testing.assert_close(laplace.log_prob_terms(x, torch.cat([loc, log_scale], -1)).sum(-1), expected)
        assert MODELS["iwae-vamp"].objective_name == "iwae"
        objective = OBJECTIVES.build("weighted-recon", {"weight": 2.0})
        terms = objective(namespace["reloaded"].model, torch.randn(4, 5))
        assert isinstance(terms, StepLoss) and terms.recon.shape == (4,) and not OBJECTIVES["weighted-recon"].requires_variational
        vaekit.train(
            data="synthetic5", net={"name": "tanh-mlp", "width": 8}, prior={"name": "laplace", "scale": 0.5},
            options={"flow_steps": 1}, latent_dim=2, epochs=1, out=tmp_path / "net-prior", progress="quiet",
        )  # fmt: skip
        assert vaekit.load(tmp_path / "net-prior").model.prior.scale == 0.5
    finally:
        NETS.pop("tanh-mlp", None)
        PRIORS.pop("laplace", None)
        LIKELIHOODS.pop("laplace", None)
        MODELS.pop("iwae-vamp", None)
        OBJECTIVES.pop("weighted-recon", None)
