"""Each net pair the registry builds is called once on a dummy batch, and one that breaks the
contract (docs/extending.md) is refused naming the net and the fix."""

import pytest
import torch
from torch import nn

from vaekit.nets import NetSpec, create_nets, register_net
from vaekit.runtime.errors import ConfigError

SPEC = NetSpec(input_shape=(5,), latent_dim=2, params_per_dim=2)
COND_SPEC = NetSpec(input_shape=(5,), latent_dim=2, params_per_dim=2, cond_dim=3)


@pytest.fixture
def nets(registries):
    """The net registry's decorator, with whatever a test registers removed after it."""
    return register_net


class Encoder(nn.Module):
    """A correct encoder: (mu, logvar), each [B, L], taking the condition."""

    def __init__(self, spec: NetSpec, latent_dim: int | None = None) -> None:
        super().__init__()
        self.f = nn.Linear(spec.input_dim + spec.cond_dim, 2 * (latent_dim or spec.latent_dim))

    def forward(self, x, cond=None):
        return self.f(x if cond is None else torch.cat([x, cond], -1)).chunk(2, -1)


class Decoder(nn.Module):
    """A decoder of ``outputs`` values that reads the condition through ``use``."""

    def __init__(self, spec: NetSpec, use: str = "concat", outputs: int | None = None) -> None:
        super().__init__()
        self.use = use
        self.f = nn.Linear(spec.latent_dim, outputs or spec.decoder_outputs)
        self.cond = nn.Linear(max(spec.cond_dim, 1), outputs or spec.decoder_outputs, bias=False)
        self.table = nn.Embedding(max(spec.cond_dim, 1), outputs or spec.decoder_outputs)
        if use == "zero-init":
            nn.init.zeros_(self.cond.weight)

    def forward(self, z, cond=None):
        out = self.f(z)
        if cond is None or self.use == "ignore":
            return out
        if self.use == "index":  # no gradient reaches cond, but the output changes with it
            return out + self.table(cond.argmax(-1))
        return out + self.cond(cond)


def _register(nets, encoder=Encoder, **decoder):
    nets("probe-test")(lambda spec: (encoder(spec), Decoder(spec, **decoder)))


def test_a_builder_that_returns_one_module_is_refused_naming_the_pair(nets):
    nets("one")(lambda spec: nn.Linear(spec.input_dim, spec.latent_dim))
    with pytest.raises(ConfigError, match=r"net 'one' returned a Linear, not an \(encoder, decoder\) pair: end the builder with `return encoder, decoder`"):
        create_nets("one", SPEC)


def test_an_encoder_whose_forward_takes_no_condition_is_refused_naming_the_call(nets):
    class NoCond(nn.Module):
        def __init__(self, spec):
            super().__init__()
            self.f = nn.Linear(spec.input_dim, 2 * spec.latent_dim)

        def forward(self, x):
            return self.f(x).chunk(2, -1)

    _register(nets, encoder=NoCond)
    with pytest.raises(ConfigError, match=r"its encoder \(NoCond\) failed when called as vaekit calls it, encoder\(x, cond\).*TypeError.*define forward\(self, x, cond=None\)") as caught:
        create_nets("probe-test", SPEC)
    assert isinstance(caught.value.__cause__, TypeError)  # Python users see their own traceback too


def test_mu_and_logvar_of_the_wrong_shape_are_refused_naming_the_shape(nets):
    _register(nets, encoder=lambda spec: Encoder(spec, latent_dim=3))
    with pytest.raises(ConfigError, match=r"its encoder returned tuple of 2 \(a tensor \[2, 3\], a tensor \[2, 3\]\).*\(mu, logvar\), each a tensor \[2, 2\]"):
        create_nets("probe-test", SPEC)


def test_a_decoder_output_of_the_wrong_width_is_refused_naming_spec_decoder_outputs(nets):
    _register(nets, outputs=5)
    with pytest.raises(ConfigError, match=r"its decoder returned a tensor \[2, 5\].*one tensor \[2, 10\].*spec.decoder_outputs"):
        create_nets("probe-test", SPEC)


def test_a_conditional_models_decoder_that_ignores_the_condition_is_refused(nets):
    _register(nets, use="ignore")
    create_nets("probe-test", SPEC)  # unconditional: nothing to ignore
    with pytest.raises(ConfigError, match=r"its decoder ignores the condition.*spec.cond_dim = 3.*torch.cat\(\[z, cond\], -1\)"):
        create_nets("probe-test", COND_SPEC)


@pytest.mark.parametrize("use", ["concat", "zero-init", "index"])
def test_a_decoder_that_reads_the_condition_passes_even_without_a_gradient_or_a_change_at_first(nets, use):
    _register(nets, use=use)
    encoder, decoder = create_nets("probe-test", COND_SPEC)
    assert isinstance(decoder, Decoder)


def test_the_check_leaves_the_nets_modes_their_statistics_and_the_random_numbers_as_they_were():
    from vaekit.nets.checks import check_net_pair

    encoder, decoder = create_nets("mlp", COND_SPEC, encoder=[4], normalization="batch")  # checked once here
    assert encoder.training and decoder.training
    norms = [m for m in [*encoder.modules(), *decoder.modules()] if isinstance(m, nn.BatchNorm1d)]
    assert norms and all(int(m.num_batches_tracked) == 0 for m in norms)
    before = torch.get_rng_state()
    check_net_pair("mlp", (encoder, decoder), COND_SPEC)
    assert torch.equal(torch.get_rng_state(), before)  # a seeded run draws the same numbers as without it


def test_a_conditional_model_is_sized_on_the_meta_device() -> None:
    from vaekit.api.runs import build_config
    from vaekit.training.build import meta_model
    from vaekit.training.run_data import bind_to_data, load_bundle

    cfg = build_config(None, data="digits", model="cvae", net="conv")
    bind_to_data(cfg, load_bundle(cfg))
    assert meta_model(cfg) is not None  # the memory estimate and the diagram need it
