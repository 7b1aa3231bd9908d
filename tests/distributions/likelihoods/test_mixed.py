"""The per-column mixed likelihood of tables: each block against torch.distributions, masking,
normalisation, draws, bad blocks, and a VAE built around it from the data's blocks."""

import math

import pytest
import torch
import torch.nn.functional as F

from vaekit.distributions import LIKELIHOODS, MixedLikelihood
from vaekit.models import create
from vaekit.models.build import DataFacts
from vaekit.nets import NetSpec
from vaekit.runtime.errors import ConfigError

# Value slots 0..12, mask slots 13..20 (the two blocks of "amount" share no mask; "species" and
# "colour" are categoricals of one size, "size" of another; blocks are ordered by slot).
BLOCKS = [
    {"column": "species", "kind": "categorical", "slot": 0, "size": 3, "mask": 13},
    {"column": "bill", "kind": "gaussian", "slot": 3, "mask": 14},
    {"column": "female", "kind": "bernoulli", "slot": 4, "mask": 15},
    {"column": "visits", "kind": "negbin", "slot": 5, "mask": 16, "shift": 0.7, "scale": 0.9},
    {"column": "calls", "kind": "poisson", "slot": 6, "mask": 17, "shift": -0.2, "scale": 1.3},
    {"column": "colour", "kind": "categorical", "slot": 7, "size": 3, "mask": 18},
    {"column": "size", "kind": "categorical", "slot": 10, "size": 2, "mask": 19},
    {"column": "amount", "kind": "gaussian", "slot": 12, "mask": 20},
]
DIM = 21


def _likelihood(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    lik = MixedLikelihood(DIM, BLOCKS).to(dtype)
    with torch.no_grad():
        lik.log_sigma.copy_(torch.randn(2) * 0.5)
        lik.log_dispersion.copy_(torch.randn(1))
    return lik


def _slot_of_count(n, block):
    return (torch.log1p(n) - block["shift"]) / block["scale"]


def _rows(batch, seed=1, missing=0.25):
    """Return ``(x, counts)``: valid x-format rows (about ``missing`` of the cells missing, their
    value slots 0) and the count of each count block (dict by block index)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(batch, DIM, dtype=torch.float64)
    counts = {}
    for i, b in enumerate(BLOCKS):
        s = b["slot"]
        if b["kind"] == "categorical":
            x[:, s : s + b["size"]] = F.one_hot(torch.randint(b["size"], (batch,), generator=g), b["size"]).double()
        elif b["kind"] == "gaussian":
            x[:, s] = torch.randn(batch, generator=g, dtype=torch.float64)
        elif b["kind"] == "bernoulli":
            x[:, s] = torch.randint(2, (batch,), generator=g).double()
        else:
            counts[i] = torch.randint(0, 30, (batch,), generator=g).double()
            x[:, s] = _slot_of_count(counts[i], b)
        present = (torch.rand(batch, generator=g) >= missing).double()
        x[:, b["mask"]] = present
        width = b.get("size", 1)
        x[:, s : s + width] *= present[:, None]
    return x, counts


def _expected_blocks(lik, x, params, counts):
    """Return the masked per-block log probabilities ``[..., B, n_blocks]`` through torch.distributions."""
    terms = []
    gaussians = iter(lik.log_sigma)
    dispersion = lik.log_dispersion[0]
    out = 0
    for i, b in enumerate(BLOCKS):
        s, width = b["slot"], b.get("size", 1)
        p = params[..., out : out + width]
        out += width
        if b["kind"] == "categorical":
            term = torch.distributions.OneHotCategorical(logits=p, validate_args=False).log_prob(x[:, s : s + width])
        elif b["kind"] == "gaussian":
            term = torch.distributions.Normal(p[..., 0], next(gaussians).exp()).log_prob(x[:, s])
        elif b["kind"] == "bernoulli":
            term = torch.distributions.Bernoulli(logits=p[..., 0]).log_prob(x[:, s])
        elif b["kind"] == "negbin":
            # torch's NB counts successes before total_count failures with success log-odds
            # `logits`: mean = total_count * exp(logits), so logits = log mu - log r gives mean mu.
            nb = torch.distributions.NegativeBinomial(total_count=dispersion.exp(), logits=p[..., 0] - dispersion)
            term = nb.log_prob(counts[i])
        else:
            term = torch.distributions.Poisson(p[..., 0].exp()).log_prob(counts[i])
        terms.append(term * x[:, b["mask"]])
    return torch.stack(terms, dim=-1)


def test_sizes_and_parameters_follow_the_blocks():
    lik = MixedLikelihood(DIM, BLOCKS)
    assert lik.num_params == 3 + 1 + 1 + 1 + 1 + 3 + 2 + 1
    assert lik.output_offsets == [0, 3, 4, 5, 6, 7, 10, 12]
    assert lik.mask_slots == list(range(13, 21)) and lik.value_width == 13
    assert lik.params_per_dim == 1 and lik.name == "mixed" and lik.exact_for == {"table"}
    # sigma 1 and dispersion 1 to start; only the learned parameters are saved
    assert torch.equal(lik.log_sigma, torch.zeros(2)) and torch.equal(lik.log_dispersion, torch.zeros(1))
    assert set(lik.state_dict()) == {"log_sigma", "log_dispersion"}
    assert LIKELIHOODS["mixed"] is MixedLikelihood


def test_a_kind_without_blocks_has_no_parameter():
    lik = MixedLikelihood(3, [{"column": "c", "kind": "categorical", "slot": 0, "size": 2, "mask": 2}])
    assert lik.log_sigma is None and lik.log_dispersion is None and not list(lik.parameters())


def test_log_prob_is_the_sum_of_the_blocks_torch_distributions():
    lik = _likelihood()
    x, counts = _rows(40)
    params = torch.randn(40, lik.num_params, dtype=torch.float64) * 2
    expected = _expected_blocks(lik, x, params, counts)
    torch.testing.assert_close(lik.log_prob_blocks(x, params), expected)
    torch.testing.assert_close(lik.log_prob(x, params), expected.sum(-1))


def test_leading_sample_dimensions_broadcast():
    lik = _likelihood()
    x, counts = _rows(6)
    params = torch.randn(5, 6, lik.num_params, dtype=torch.float64)
    got = lik.log_prob(x, params)
    assert got.shape == (5, 6) and lik.log_prob_blocks(x, params).shape == (5, 6, len(BLOCKS))
    for k in range(5):
        torch.testing.assert_close(got[k], lik.log_prob(x, params[k]))
    torch.testing.assert_close(got, _expected_blocks(lik, x, params, counts).sum(-1))


def test_missing_cells_contribute_exactly_zero_whatever_their_value_slots_hold():
    lik = _likelihood()
    x, _ = _rows(8, missing=0.0)
    params = torch.randn(8, lik.num_params, dtype=torch.float64, requires_grad=True)
    for b in BLOCKS:
        x[:3, b["mask"]] = 0.0
    garbage = x.clone()
    garbage[0, :13] = math.nan
    garbage[1, :13] = 1e30
    garbage[2, :13] = -7.0
    terms = lik.log_prob_blocks(garbage, params)
    assert torch.equal(terms[:3], torch.zeros(3, len(BLOCKS), dtype=torch.float64))
    torch.testing.assert_close(lik.log_prob(garbage, params), lik.log_prob(x, params))
    lik.log_prob(garbage, params).sum().backward()
    assert torch.isfinite(params.grad).all() and torch.equal(params.grad[:3], torch.zeros(3, lik.num_params).double())
    assert torch.isfinite(lik.log_sigma.grad).all() and torch.isfinite(lik.log_dispersion.grad).all()


def _one_block_masses(lik, block_index, values):
    """Return exp(log_prob) of rows that observe only block ``block_index``, with the given
    value-slot contents ``values`` ``[n, width]``, under one fixed set of decoder outputs."""
    b = BLOCKS[block_index]
    x = torch.zeros(len(values), DIM, dtype=torch.float64)
    x[:, b["slot"] : b["slot"] + b.get("size", 1)] = values
    x[:, b["mask"]] = 1.0
    torch.manual_seed(3)
    params = (torch.randn(lik.num_params, dtype=torch.float64) * 1.5).expand(len(values), -1)
    return lik.log_prob(x, params).exp()


@pytest.mark.parametrize("block_index", [0, 6, 2])
def test_categorical_and_bernoulli_masses_sum_to_one(block_index):
    size = BLOCKS[block_index].get("size", 1)
    values = torch.eye(size, dtype=torch.float64) if size > 1 else torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    total = _one_block_masses(_likelihood(), block_index, values).sum()
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize("block_index", [3, 4])
def test_count_masses_sum_to_one_over_the_counts(block_index):
    lik = _likelihood()
    with torch.no_grad():
        lik.log_dispersion.fill_(math.log(0.5))  # heavy over-dispersion: a long tail
    n = torch.arange(0, 2001, dtype=torch.float64)
    masses = _one_block_masses(lik, block_index, _slot_of_count(n, BLOCKS[block_index])[:, None])
    assert masses.sum().item() == pytest.approx(1.0, abs=1e-9)


def test_mean_is_in_x_format():
    lik = _likelihood()
    params = torch.randn(4, 7, lik.num_params, dtype=torch.float64)
    mean = lik.mean(params)
    assert mean.shape == (4, 7, DIM)
    assert torch.equal(mean[..., 13:], torch.ones(4, 7, 8, dtype=torch.float64))
    torch.testing.assert_close(mean[..., 0:3], params[..., 0:3].softmax(-1))
    torch.testing.assert_close(mean[..., 10:12].sum(-1), torch.ones(4, 7, dtype=torch.float64))
    torch.testing.assert_close(mean[..., 3], params[..., 3])
    torch.testing.assert_close(mean[..., 4], torch.sigmoid(params[..., 4]))
    for slot, out in ((5, 5), (6, 6)):  # the mean count, mapped into slot units
        b = BLOCKS[slot - 2]
        torch.testing.assert_close(torch.expm1(mean[..., slot] * b["scale"] + b["shift"]), params[..., out].exp())


def test_samples_are_valid_draws_in_x_format():
    lik = _likelihood()
    torch.manual_seed(4)
    params = torch.randn(3, 500, lik.num_params, dtype=torch.float64)
    draw = lik.sample(params)
    assert draw.shape == (3, 500, DIM)
    assert torch.equal(draw[..., 13:], torch.ones(3, 500, 8, dtype=torch.float64))
    for b in BLOCKS:
        s, width = b["slot"], b.get("size", 1)
        value = draw[..., s : s + width]
        if b["kind"] == "categorical":
            assert set(value.unique().tolist()) <= {0.0, 1.0} and torch.equal(
                value.sum(-1), torch.ones(3, 500).double()
            )
        elif b["kind"] == "bernoulli":
            assert set(value.unique().tolist()) == {0.0, 1.0}
        elif b["kind"] in ("negbin", "poisson"):
            n = torch.expm1(value * b["scale"] + b["shift"])
            assert (n - n.round()).abs().max() < 1e-6  # decodes to whole counts
            assert (n.round() >= 0).all() and n.max() > 0
    # the drawn rows are scored as valid rows
    assert torch.isfinite(lik.log_prob(draw[0], params[0])).all()


def test_count_draws_have_the_model_mean():
    lik = _likelihood()
    with torch.no_grad():
        lik.log_dispersion.fill_(0.0)
    params = torch.zeros(20000, lik.num_params, dtype=torch.float64)
    params[:, 5] = math.log(4.0)  # negbin mean 4 (variance 4 + 16 with r = 1)
    params[:, 6] = math.log(2.5)  # poisson mean 2.5
    torch.manual_seed(5)
    draw = lik.sample(params)
    for slot, mean, var in ((5, 4.0, 20.0), (6, 2.5, 2.5)):
        b = BLOCKS[slot - 2]
        n = torch.expm1(draw[:, slot] * b["scale"] + b["shift"]).round()
        assert n.mean().item() == pytest.approx(mean, abs=5 * math.sqrt(var / len(n)))


def test_log_sigma_is_clamped_so_a_constant_column_cannot_diverge():
    lik = _likelihood()
    with torch.no_grad():
        lik.log_sigma.fill_(-50.0)
    x, _ = _rows(4, missing=0.0)
    params = torch.randn(4, lik.num_params, dtype=torch.float64)
    params[:, 3] = x[:, 3]  # the mean hits the value exactly
    terms = lik.log_prob_blocks(x, params)
    assert torch.isfinite(terms).all()
    torch.testing.assert_close(terms[:, 1], torch.full((4,), -0.5 * math.log(2 * math.pi) + 7.0, dtype=torch.float64))


def test_wrong_widths_are_refused():
    lik = MixedLikelihood(DIM, BLOCKS)
    with pytest.raises(ValueError, match="num_params"):
        lik.log_prob(torch.zeros(2, DIM), torch.zeros(2, DIM))
    with pytest.raises(ValueError, match="rows of 21 slots"):
        lik.log_prob(torch.zeros(2, DIM - 1), torch.zeros(2, lik.num_params))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "student-t"}, "unknown kind 'student-t'"),
        ({"mask": None}, "lacks the field"),
        ({"slot": 21}, "beyond the 21 slots"),
        ({"slot": 4}, "value slot 4 is also scored by block 1"),
        ({"mask": 4}, "not in the mask area"),
        ({"mask": 21}, "not in the mask area"),
        ({"slot": -1}, "non-negative integer"),
        ({"slot": 3.0}, "non-negative integer"),
    ],
)
def test_bad_blocks_are_refused_with_a_clear_message(change, message):
    blocks = [dict(b) for b in BLOCKS]
    blocks[1].update(change)
    blocks[1] = {k: v for k, v in blocks[1].items() if v is not None}
    with pytest.raises(ValueError, match=message):
        MixedLikelihood(DIM, blocks)


@pytest.mark.parametrize(
    "block, message",
    [
        ({"kind": "categorical", "slot": 0, "mask": 2}, "lacks the field.* size"),
        ({"kind": "categorical", "slot": 0, "size": 0, "mask": 2}, "size must be a positive integer"),
        ({"kind": "negbin", "slot": 0, "mask": 2, "shift": 0.0}, "lacks the field.* scale"),
        ({"kind": "poisson", "slot": 0, "mask": 2, "shift": 0.0, "scale": 0.0}, "scale must be a finite number > 0"),
        ({"kind": "negbin", "slot": 0, "mask": 2, "shift": math.nan, "scale": 1.0}, "shift must be a finite number"),
    ],
)
def test_bad_fields_are_refused(block, message):
    with pytest.raises(ValueError, match=message):
        MixedLikelihood(3, [block])


def test_no_blocks_or_a_bad_dim_is_refused():
    with pytest.raises(ValueError, match="non-empty list"):
        MixedLikelihood(3, [])
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        MixedLikelihood(0, BLOCKS)


def test_it_builds_on_the_meta_device():
    with torch.device("meta"):
        lik = MixedLikelihood(DIM, BLOCKS)
    assert lik.log_sigma.is_meta and lik.num_params == 13


# --- a VAE around it ----------------------------------------------------------------------------


def _table_facts(**kw):
    return DataFacts((DIM,), value_range="real", table_blocks=BLOCKS, **kw)


def test_a_vae_with_the_mixed_likelihood_sizes_its_decoder_by_num_params():
    torch.manual_seed(0)
    spec = {"name": "vae", "latent_dim": 3, "net": {"name": "mlp", "encoder": [16]}, "likelihood": {"name": "mixed"}}
    model = create(spec, _table_facts())
    lik = model.likelihood
    assert isinstance(lik, MixedLikelihood) and lik.num_params == 13
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[0].in_features == DIM and linears[-1].out_features == lik.num_params
    x, _ = _rows(10)
    out = model(x.float())
    assert out.params.shape == (10, 13) and torch.isfinite(out.recon_log_prob).all()
    (-out.recon_log_prob.mean()).backward()
    assert lik.log_sigma.grad is not None and (lik.log_sigma.grad != 0).all()
    assert lik.log_dispersion.grad is not None and (lik.log_dispersion.grad != 0).all()
    assert model.sample(4, mean=False).shape == (4, DIM)


def test_table_blocks_make_mixed_the_default_likelihood():
    model = create({"latent_dim": 2}, _table_facts())
    assert model.likelihood.name == "mixed"
    # Without blocks the defaults are unchanged.
    assert create({"latent_dim": 2}, DataFacts((DIM,), value_range="real")).likelihood.name == "gaussian"


def test_mixed_without_table_blocks_is_refused_with_the_fix():
    with pytest.raises(
        ConfigError, match=r"likelihood 'mixed' needs a table read with its schema \(a .csv/.tsv/.parquet"
    ):
        create({"likelihood": {"name": "mixed"}}, DataFacts((DIM,), value_range="real"))


def test_blocks_are_not_a_user_option():
    with pytest.raises(ConfigError, match="takes no option 'blocks'"):
        create({"likelihood": {"name": "mixed", "blocks": BLOCKS}}, _table_facts())


def test_the_conv_net_refuses_a_table_likelihood():
    with pytest.raises(ConfigError, match="use --net mlp for tables"):
        create({"net": {"name": "conv"}}, _table_facts())


def test_net_spec_sizes_outputs_by_output_dim_else_per_value():
    assert NetSpec((1, 4, 5), 3, 2).decoder_outputs == 40
    assert NetSpec((21,), 3, 1, output_dim=13).decoder_outputs == 13


def test_the_iwae_bound_sizes_its_chunks_by_num_params():
    from vaekit.evaluation.iwae import decoder_outputs, log_likelihood_bound

    torch.manual_seed(0)
    model = create({"latent_dim": 2, "net": {"name": "mlp", "encoder": [8]}}, _table_facts()).double()
    x, _ = _rows(4)
    assert decoder_outputs(model, x) == 13
    noise = torch.randn(30, 4, 2, dtype=torch.float64)
    sizes = []
    small = log_likelihood_bound(model, x, 30, noise=noise, max_chunk_elements=4 * 13 * 7, on_chunk=sizes.append)
    assert max(sizes) <= 7 and sum(sizes) == 30
    torch.testing.assert_close(small, log_likelihood_bound(model, x, 30, noise=noise))
    assert torch.isfinite(small).all()


# --- gradients, and the paths log_prob takes -----------------------------------------------------


def _plain_blocks(lik, x, params):
    """Return the masked per-block terms ``[..., B, n_blocks]`` computed block by block with plain
    autograd ops: the reference for every gradient, x's included (torch.distributions takes none
    through a one-hot value, and scores the count it was given, not the slot's)."""
    terms = []
    log_sigmas = iter(lik.log_sigma.clamp(-7.0, 7.0))
    log_rs = iter(lik.log_dispersion.clamp(-7.0, 7.0))
    for b, out in zip(BLOCKS, lik.output_offsets, strict=True):
        s, width = b["slot"], b.get("size", 1)
        mask = x[:, b["mask"]]
        value = torch.where(mask[:, None] > 0, x[:, s : s + width], 0.0)
        p = params[..., out : out + width]
        if b["kind"] == "categorical":
            term = (value * p).sum(-1) - torch.logsumexp(p, -1)
        elif b["kind"] == "gaussian":
            log_sigma = next(log_sigmas)
            term = -0.5 * (
                math.log(2 * math.pi) + 2 * log_sigma + (value[:, 0] - p[..., 0]) ** 2 * torch.exp(-2 * log_sigma)
            )
        elif b["kind"] == "bernoulli":
            term = value[:, 0] * p[..., 0] - F.softplus(p[..., 0])
        else:
            n = torch.round(torch.expm1(value[:, 0] * b["scale"] + b["shift"])).clamp(min=0.0)
            log_mean = p[..., 0].clamp(-30.0, 30.0)
            if b["kind"] == "poisson":
                term = n * log_mean - torch.exp(log_mean) - torch.lgamma(n + 1)
            else:
                log_r = next(log_rs)
                r, log_total = torch.exp(log_r), torch.logaddexp(log_r, log_mean)
                term = torch.lgamma(n + r) - torch.lgamma(r) - torch.lgamma(n + 1)
                term = term + r * (log_r - log_total) + n * (log_mean - log_total)
        terms.append(term * mask)
    return torch.stack(terms, dim=-1)


def _grads(lik, x, params, blocks_fn):
    """Return the per-block terms from ``blocks_fn(lik, x, params)`` and the gradients of their
    weighted sum by params, x, log sigma and log dispersion."""
    weights = torch.linspace(0.5, 1.5, len(BLOCKS), dtype=torch.float64)
    terms = blocks_fn(lik, x, params)
    (terms * weights).sum().backward()
    grads = [params.grad, x.grad, lik.log_sigma.grad, lik.log_dispersion.grad]
    params.grad = x.grad = lik.log_sigma.grad = lik.log_dispersion.grad = None
    return terms.detach(), grads


def _ours(lik, x, params):
    return lik.log_prob_blocks(x, params)


def _assert_all_close(got, expected):
    for name, a, b in zip(("params", "x", "log_sigma", "log_dispersion"), got, expected, strict=True):
        torch.testing.assert_close(a, b, msg=lambda m, name=name: f"the gradient by {name}: {m}")


@pytest.mark.parametrize("leading", [(), (3,)])
def test_gradients_match_plain_autograd(leading):
    # The backward pass is written out by hand: every gradient (decoder outputs, the value and
    # mask slots, log sigma, log dispersion) against autograd through the plain formulas, which
    # give torch.distributions' terms.
    lik = _likelihood()
    x, counts = _rows(12)
    x.requires_grad_(True)
    params = (torch.randn(*leading, 12, lik.num_params, dtype=torch.float64) * 2).requires_grad_(True)
    got, got_grads = _grads(lik, x, params, _ours)
    expected, expected_grads = _grads(lik, x, params, _plain_blocks)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got, _expected_blocks(lik, x, params, counts).detach())
    _assert_all_close(got_grads, expected_grads)


def test_gradients_pass_at_the_ends_of_the_clamps_and_stop_beyond_them():
    # As clamp() does: a log sigma (or log dispersion, or log mean) exactly at the end of its
    # range still gets its gradient, so that it can move back; one beyond it gets none.
    lik = _likelihood()
    with torch.no_grad():
        lik.log_sigma.copy_(torch.tensor([-7.0, 7.5], dtype=torch.float64))
        lik.log_dispersion.fill_(7.0)
    x, _ = _rows(10, missing=0.0)
    params = torch.randn(10, lik.num_params, dtype=torch.float64)
    params[:5, 5], params[5:, 5] = 30.0, 31.0  # the negbin log mean
    params[:5, 6], params[5:, 6] = -30.0, -31.0  # the poisson log mean
    params.requires_grad_(True)
    x.requires_grad_(True)
    got, got_grads = _grads(lik, x, params, _ours)
    expected, expected_grads = _grads(lik, x, params, _plain_blocks)
    torch.testing.assert_close(got, expected)
    _assert_all_close(got_grads, expected_grads)
    assert got_grads[2][0] != 0 and got_grads[2][1] == 0 and got_grads[3][0] != 0
    assert (got_grads[0][:5, 5:7] != 0).all() and (got_grads[0][5:, 5:7] == 0).all()


def test_extreme_logits_take_the_exact_logsumexp():
    # A logit ~88 nats above its block's mean overflows exp() after the mean shift: log_prob
    # then shifts by each block's maximum, as torch.logsumexp does.
    lik = _likelihood()
    x, counts = _rows(6, missing=0.0)
    params = torch.randn(6, lik.num_params, dtype=torch.float64)
    params[:, 0:3] = torch.tensor([900.0, -900.0, 0.0], dtype=torch.float64)  # species
    params[:, 10:12] = torch.tensor([-5000.0, -5003.0], dtype=torch.float64)  # size: far below 0
    params.requires_grad_(True)
    x.requires_grad_(True)
    got, got_grads = _grads(lik, x, params, _ours)
    expected, expected_grads = _grads(lik, x, params, _plain_blocks)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got, _expected_blocks(lik, x, params, counts).detach())
    _assert_all_close(got_grads, expected_grads)
    assert torch.isfinite(got).all()


def test_the_exact_branch_free_path_gives_the_same_terms_and_gradients(monkeypatch):
    # Off the eager CPU (CUDA, torch.compile) log_prob takes the exact paths that read nothing
    # back: torch.where to zero missing cells, each block's maximum to shift logsumexp.
    from vaekit.distributions.likelihoods import mixed

    lik = _likelihood()
    x, _ = _rows(16)
    x[0, :13] = math.nan  # a missing row whose value slots hold NaN
    x[0, 13:] = 0.0
    params = (torch.randn(2, 16, lik.num_params, dtype=torch.float64) * 3).requires_grad_(True)
    fast = _grads(lik, x.clone().requires_grad_(True), params, _ours)
    monkeypatch.setattr(mixed, "_cpu_eager", lambda tensor: False)
    exact = _grads(lik, x.clone().requires_grad_(True), params, _ours)
    torch.testing.assert_close(fast[0], exact[0])
    _assert_all_close(fast[1], exact[1])
    assert torch.equal(fast[0][:, 0], torch.zeros(2, len(BLOCKS), dtype=torch.float64))


def test_an_observed_nan_still_gives_nan():
    # Only missing cells are cleaned: a NaN in an observed value slot is an error in the data,
    # and the row's log_prob says so.
    lik = _likelihood()
    x, _ = _rows(4, missing=0.0)
    x[1, 3] = math.nan  # bill, observed
    params = torch.randn(4, lik.num_params, dtype=torch.float64)
    got = lik.log_prob(x, params)
    assert torch.isnan(got[1]) and torch.isfinite(got[[0, 2, 3]]).all()


def test_float32_and_bf16_autocast_agree_with_float64():
    lik64 = _likelihood()
    x, _ = _rows(64)
    params = torch.randn(64, lik64.num_params, dtype=torch.float64) * 2
    expected = lik64.log_prob(x, params)
    lik = _likelihood(dtype=torch.float32)
    with torch.no_grad():
        lik.log_sigma.copy_(lik64.log_sigma)
        lik.log_dispersion.copy_(lik64.log_dispersion)
    got = lik.log_prob(x.float(), params.float())
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # bf16 decoder outputs: the likelihood computes in float32 (the data's dtype), its
        # sums over categorical blocks too
        under_autocast = lik.log_prob(x.float(), params.float().bfloat16())
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, lik.log_prob(x.float(), params.float().bfloat16().float()))


def test_no_slopes_are_kept_without_gradients():
    lik = _likelihood()
    x, _ = _rows(8)
    params = torch.randn(8, lik.num_params, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        got = lik.log_prob(x, params)
    assert got.grad_fn is None
    torch.testing.assert_close(got, lik.log_prob(x, params).detach())
