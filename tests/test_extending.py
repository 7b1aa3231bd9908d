"""A piece with an option, added in a module of its own, trains without any other file changing."""

import importlib
import json
import sys
import textwrap

import pytest

import vaekit
from vaekit.distributions import LIKELIHOODS
from vaekit.runtime.errors import ConfigError

MODULE = '''
import torch

from vaekit.distributions.likelihoods import Likelihood, register_likelihood


@register_likelihood("scaled-gaussian")
class ScaledGaussian(Likelihood):
    """A Gaussian with a fixed standard deviation, its option."""

    exact_for = frozenset({"real"})

    def __init__(self, dim: int, scale: float = 1.0) -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.dim, self.scale = dim, float(scale)

    def log_prob(self, x, params):
        return torch.distributions.Normal(params, self.scale).log_prob(x).sum(-1)

    def mean(self, params):
        return params

    def sample(self, params):
        return params + self.scale * torch.randn_like(params)
'''


@pytest.fixture
def plugin(tmp_path):
    (tmp_path / "my_pieces.py").write_text(textwrap.dedent(MODULE))
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("my_pieces")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_pieces", None)
        LIKELIHOODS.pop("scaled-gaussian", None)


def _train(out, **likelihood):
    return vaekit.train(
        data="synthetic5", likelihood={"name": "scaled-gaussian", **likelihood}, encoder=[8], latent_dim=2,
        epochs=1, out=out, progress="quiet",
    )  # fmt: skip


def test_a_likelihood_with_an_option_in_its_own_module_trains_and_reloads_with_that_option(plugin, tmp_path):
    vae = _train(tmp_path / "run", scale=0.5)
    assert type(vae.model.likelihood).__name__ == "ScaledGaussian" and vae.model.likelihood.scale == 0.5
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["likelihood"]
    assert saved == {"name": "scaled-gaussian", "scale": 0.5}
    assert vaekit.load(tmp_path / "run").model.likelihood.scale == 0.5


def test_the_new_pieces_options_are_checked_by_its_own_constructor(plugin, tmp_path):
    with pytest.raises(ConfigError, match="takes no option 'sigma'; its options are: scale"):
        _train(tmp_path / "a", sigma=0.5)
    with pytest.raises(ConfigError, match="scale must be > 0"):
        _train(tmp_path / "b", scale=0.0)


# --- mistakes made while extending: each a ConfigError naming the fix, as early as possible ---


def _model(likelihood=None, name="vae"):
    """A small model for data of 5 real values, built through the registries."""
    from vaekit.models import DataFacts, create

    spec = {"name": name, "latent_dim": 2, "net": {"name": "mlp", "encoder": [8]}, "likelihood": likelihood or {}}
    return create(spec, DataFacts(input_shape=(5,), value_range="real"))


def _gaussian_base():
    from vaekit.distributions import Likelihood

    class UnitGaussian(Likelihood):
        exact_for = frozenset({"real"})

        def __init__(self, dim: int) -> None:
            super().__init__()
            self.dim = dim

        def log_prob(self, x, params):
            return (-0.5 * (x - params) ** 2).sum(-1)

        def mean(self, params):
            return params

        def sample(self, params):
            return params

    return UnitGaussian


def test_an_objective_without_requires_variational_needs_the_posterior_by_default(registries):
    from types import SimpleNamespace

    from vaekit.objectives import create_objective, register_objective

    @register_objective("bare")
    class Bare:
        def __call__(self, model, x, y=None, step=0): ...

    assert isinstance(create_objective({"name": "bare"}, SimpleNamespace(variational=True)), Bare)
    deterministic = SimpleNamespace(variational=False, registry_name="ae")
    with pytest.raises(ConfigError, match="model 'ae' is deterministic.*sets requires_variational = False"):
        create_objective({"name": "bare"}, deterministic)


def test_an_objective_that_returns_a_bare_tensor_is_refused_naming_step_loss(registries):
    import torch

    from vaekit.objectives import model_args, register_objective, training_loss

    @register_objective("tensor-loss")
    class TensorLoss:
        def __call__(self, model, x, y=None, step=0):
            return -model(x, *model_args(model, y)).recon_log_prob.mean()

    with pytest.raises(ConfigError, match=r"'tensor-loss' returned a Tensor, not a StepLoss.*StepLoss\(loss, recon, kl\)"):
        training_loss(TensorLoss(), _model(), torch.randn(4, 5))


def test_a_likelihood_whose_init_takes_no_dim_is_refused_when_it_registers(registries):
    from vaekit.distributions import Likelihood, register_likelihood

    with pytest.raises(ConfigError, match=r"NoDim.__init__ takes no dim.*def __init__\(self, dim, <your options"):

        @register_likelihood("no-dim")
        class NoDim(Likelihood):
            def __init__(self, scale: float = 1.0) -> None:
                super().__init__()

    assert "no-dim" not in LIKELIHOODS


def test_an_option_without_a_default_that_is_not_given_names_the_option_and_how_to_set_it(registries):
    from vaekit.distributions import register_likelihood

    @register_likelihood("needs-alpha")
    class NeedsAlpha(_gaussian_base()):
        def __init__(self, dim: int, alpha: float) -> None:
            super().__init__(dim)
            self.alpha = alpha

    with pytest.raises(ConfigError, match=r"needs option 'alpha'.*--set likelihood.alpha=\.\.\..*'alpha': \.\.\."):
        _model({"name": "needs-alpha"})
    assert _model({"name": "needs-alpha", "alpha": 2.0}).likelihood.alpha == 2.0


def test_a_type_error_inside_a_pieces_init_is_a_config_error_naming_the_piece_chained_to_it(registries):
    from vaekit.distributions import register_likelihood

    @register_likelihood("adds-one")
    class AddsOne(_gaussian_base()):
        def __init__(self, dim: int, scale=1.0) -> None:
            super().__init__(dim)
            self.scale = scale + 1

    with pytest.raises(ConfigError, match=r"likelihood 'adds-one': can only concatenate.*test_extending.py") as info:
        _model({"name": "adds-one", "scale": "x"})
    assert isinstance(info.value.__cause__, TypeError)  # the piece's own traceback is kept


def test_a_model_that_does_not_subclass_vae_is_refused_when_it_registers(registries):
    from torch import nn

    from vaekit.models import register

    with pytest.raises(ConfigError, match=r"does not subclass vaekit's VAE.*from vaekit.models import VAE"):

        @register("not-a-vae")
        class P(nn.Module):
            prior_name = "normal"

    assert "not-a-vae" not in registries["model"]


@pytest.mark.parametrize("objective", ["elbo", "beta-elbo", "reconstruction", "iwae"])
@pytest.mark.parametrize("batch", [4, 5])  # 5 = D: a [B, D] log_prob broadcasts silently there
def test_a_log_prob_not_summed_over_the_features_is_refused_by_the_objective(registries, objective, batch):
    import torch

    from vaekit.distributions import register_likelihood
    from vaekit.objectives import OBJECTIVES, training_loss

    @register_likelihood("unsummed")
    class Unsummed(_gaussian_base()):
        def log_prob(self, x, params):
            return -0.5 * (x - params) ** 2

    model = _model({"name": "unsummed"})
    with pytest.raises(ConfigError, match=r"likelihood 'unsummed': log_prob returned shape .* one value per example \(\[B\]"):
        training_loss(OBJECTIVES.build(objective), model, torch.randn(batch, 5))


@pytest.mark.parametrize("kind", ["likelihood", "model", "objective", "prior", "net"])
def test_a_register_decorator_without_its_name_is_refused_showing_the_right_form(registries, kind):
    decorator = "register" if kind == "model" else f"register_{kind}"
    register = registries[kind].register
    size = len(registries[kind])
    with pytest.raises(ConfigError, match=rf'got class Piece: write @{decorator}\("name"\)'):

        @register
        class Piece: ...

    for name in (None, ""):
        with pytest.raises(ConfigError, match=rf'@{decorator}\("name"\)'):
            register(name)
    assert len(registries[kind]) == size


CELL = '''
from vaekit.distributions import Likelihood, register_likelihood


@register_likelihood("lap2")
class A(Likelihood):
    def __init__(self, dim: int) -> None:
        super().__init__()

    def log_prob(self, x, params):
        return -(x - params).abs().sum(-1)

    def mean(self, params):
        return params

    def sample(self, params):
        return params
'''


def test_a_notebook_cell_run_again_replaces_its_piece_but_another_class_cannot_take_the_name(registries):
    first, second = {"__name__": "__main__"}, {"__name__": "__main__"}
    exec(CELL, first)
    exec(CELL, second)  # the same cell again: same module and qualified name
    assert LIKELIHOODS["lap2"] is second["A"] is not first["A"]
    other = {"__name__": "__main__"}
    with pytest.raises(ConfigError, match=r"'lap2' is already registered by __main__.A; register __main__.B under another name"):
        exec(CELL.replace("class A", "class B"), other)
    assert LIKELIHOODS["lap2"] is second["A"]


def test_loading_a_run_whose_piece_is_not_imported_says_to_import_its_module(plugin, tmp_path):
    _train(tmp_path / "run", scale=0.5)
    LIKELIHOODS.pop("scaled-gaussian")  # as in a new process that has not imported my_pieces
    expected = (
        rf"the run in {tmp_path / 'run'} uses a likelihood named 'scaled-gaussian', which is not registered in this "
        r"process: import the module that registers it first .*from vaekit.cli import main.*registered here are .*gaussian"
    )
    with pytest.raises(ConfigError, match=expected):
        vaekit.load(tmp_path / "run")
    with pytest.raises(ConfigError, match=expected):
        vaekit.resume(tmp_path / "run", epochs=2, progress="quiet")
    with pytest.raises(ConfigError, match=r"^unknown likelihood 'scaled-gaussian' \(did you mean 'gaussian'\?\); choose one of"):
        _train(tmp_path / "new")  # a new run's unknown name is a typo, said as before


def test_explaining_scores_with_a_likelihood_without_per_feature_terms_names_log_prob_terms(plugin, tmp_path):
    import numpy as np

    vae = _train(tmp_path / "run")
    assert vae.score(np.zeros((3, 5), dtype=np.float32)).shape == (3,)
    with pytest.raises(ConfigError, match=r"'scaled-gaussian' likelihood does not give per-feature terms.*log_prob_terms"):
        vae.explain(np.zeros((3, 5), dtype=np.float32))


def test_a_deprecated_flat_keyword_warns_at_the_users_call_so_python_shows_it(tmp_path):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vaekit.train(data="synthetic5", model="beta-vae", beta=4, encoder=[8], latent_dim=2, epochs=1,
                     out=tmp_path / "run", progress="quiet")  # fmt: skip
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning) and "beta=" in str(w.message)]
    assert len(deprecations) == 1 and "objective" in str(deprecations[0].message)
    assert deprecations[0].filename == __file__


# --- a prior, a likelihood: methods vaekit calls are checked when the piece registers ------------


def test_a_prior_without_kl_is_refused_naming_kl_and_the_base_class_that_gives_one(registries):
    import torch
    from torch import nn

    from vaekit.distributions import register_prior

    with pytest.raises(ConfigError, match=r"prior 'mog': MixturePrior does not define kl, which vaekit calls: define kl\(self, mu, logvar, z\) -> \(kl \[B\], kl_per_dim \[B, L\]\) nats; or subclass vaekit.distributions.Prior"):

        @register_prior("mog")
        class MixturePrior(nn.Module):
            def __init__(self, latent_dim: int) -> None:
                super().__init__()

            def log_prob(self, z):
                return -0.5 * z.pow(2).sum(-1)

            def sample(self, n, device="cpu", temperature=1.0):
                return torch.randn(n, 2)

    assert "mog" not in registries["prior"]


def test_a_prior_subclass_needs_only_log_prob_and_sample_and_trains(registries, tmp_path):
    import torch

    from vaekit.distributions import Prior, register_prior

    with pytest.raises(ConfigError, match=r"prior 'half': Half does not define sample, which vaekit calls: define sample\(self, n, device='cpu', temperature=1.0\)"):

        @register_prior("half")
        class Half(Prior):
            def log_prob(self, z):
                return -0.5 * z.pow(2).sum(-1)

    @register_prior("unit")
    class Unit(Prior):
        def log_prob(self, z):
            return -0.5 * (z.pow(2) + 1.8378770664093453).sum(-1)

        def sample(self, n, device="cpu", temperature=1.0):
            return temperature * torch.randn(n, self.latent_dim, device=device)

    vae = vaekit.train(data="synthetic5", prior="unit", encoder=[8], latent_dim=2, epochs=1, out=tmp_path / "r", progress="quiet")
    assert type(vae.model.prior) is Unit and vae.model.prior.latent_dim == 2


def test_a_prior_kl_of_another_signature_is_refused(registries):
    from vaekit.distributions import Prior, register_prior

    with pytest.raises(ConfigError, match=r"Bad.kl cannot be called as kl\(mu, logvar, z\)"):

        @register_prior("bad-kl")
        class Bad(Prior):
            def log_prob(self, z): ...

            def sample(self, n, device="cpu", temperature=1.0): ...

            def kl(self, mu, logvar): ...


@pytest.mark.parametrize("missing", ["mean", "sample", "log_prob"])
def test_a_likelihood_without_a_method_vaekit_calls_is_refused_when_it_registers(registries, missing):
    from vaekit.distributions import Likelihood

    cls = type("Partial", (_gaussian_base(),), {missing: getattr(Likelihood, missing)})  # left to the base class
    with pytest.raises(ConfigError, match=rf"likelihood 'partial': Partial does not define {missing}, which vaekit calls: define {missing}\(self, "):
        LIKELIHOODS.register("partial")(cls)


def test_a_likelihood_left_at_one_parameter_per_dimension_is_refused_naming_params_per_dim(registries):
    from vaekit.distributions import Likelihood, register_likelihood

    @register_likelihood("two-params")
    class TwoParams(Likelihood):  # forgets params_per_dim = 2
        exact_for = frozenset({"real"})

        def __init__(self, dim: int) -> None:
            super().__init__()

        def log_prob(self, x, params):
            loc, log_scale = self.split_params(params)
            return (-log_scale - (x - loc).abs() * (-log_scale).exp()).sum(-1)

        def mean(self, params):
            return self.split_params(params)[0]

        def sample(self, params):
            return self.split_params(params)[0]

    with pytest.raises(ConfigError, match=r"likelihood 'two-params': log_prob could not split its parameters \(not enough values to unpack.*its params_per_dim is 1.*set params_per_dim"):
        _model({"name": "two-params"})
    with pytest.raises(ConfigError, match=r"params_per_dim is 0; set it to the number of decoder outputs"):
        register_likelihood("zero-params")(type("Zero", (TwoParams,), {"params_per_dim": 0}))


def test_the_base_methods_say_which_method_to_define():
    from vaekit.distributions import Likelihood, Prior

    with pytest.raises(NotImplementedError, match=r"the 'Likelihood' likelihood does not define mean: define mean\(self, params\)"):
        Likelihood().mean(None)
    with pytest.raises(NotImplementedError, match=r"the 'Prior' prior does not define log_prob: define log_prob\(self, z\)"):
        Prior(2).log_prob(None)


# --- a class moved from a notebook cell to a module; info without the plugin ---------------------


def test_a_class_moved_from_a_notebook_cell_to_a_module_replaces_it_with_a_warning(registries):
    from vaekit.runtime.errors import VaekitWarning

    cell = {"__name__": "__main__"}
    exec(CELL, cell)
    module = {"__name__": "my_pieces"}
    with pytest.warns(VaekitWarning, match=r"likelihood 'lap2': my_pieces.A replaces __main__.A, registered earlier from __main__"):
        exec(CELL, module)
    assert LIKELIHOODS["lap2"] is module["A"]
    with pytest.raises(ConfigError, match=r"already registered by my_pieces.A; register my_pieces.B under another name"):
        exec(CELL.replace("class A", "class B"), {"__name__": "my_pieces"})
    other = {"__name__": "__main__"}
    exec(CELL.replace("lap2", "lap3"), other)
    with pytest.raises(ConfigError, match=r"a class defined in a notebook or script holds its name until the kernel"):
        exec(CELL.replace("lap2", "lap3").replace("class A", "class B"), {"__name__": "__main__"})


def test_info_reads_a_run_whose_plugin_is_not_imported_and_says_which_piece(plugin, tmp_path):
    from vaekit.summary import run_info

    _train(tmp_path / "run", scale=0.5)
    with_plugin = run_info(tmp_path / "run")
    LIKELIHOODS.pop("scaled-gaussian")  # as in a new process that has not imported my_pieces
    info = run_info(tmp_path / "run")
    assert info["likelihood"] == "scaled-gaussian scale=0.5" and info["prior"] == "normal"
    assert info["not_imported"].startswith("likelihood 'scaled-gaussian': this process has not imported")
    assert "parameters" not in info
    for key in ("epochs_trained", "steps", "best_epoch", "best_loss", "optimizer", "files", "latent_dim"):
        assert info[key] == with_plugin[key], key


def test_a_family_that_passes_kwargs_on_takes_its_bases_options(registries, tmp_path):
    from vaekit.models import VAE, register

    @register("kwargs-vae")
    class KwargsVAE(VAE):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    assert registries["model"].options("kwargs-vae")["flow_steps"] == 0
    vae = vaekit.train(data="digits", model="kwargs-vae", options={"flow_steps": 1}, encoder=[8], latent_dim=2,
                       epochs=1, out=tmp_path / "run", progress="quiet")  # fmt: skip
    assert vae.model.flow is not None and vae.config.model.options["flow_steps"] == 1
    with pytest.raises(ConfigError, match=r"model 'kwargs-vae' takes no option 'blocks'"):
        vaekit.train(data="digits", model="kwargs-vae", options={"blocks": 2}, epochs=1, out=tmp_path / "r2", progress="quiet")
