"""The backward's matmuls: exact in the tensors' own dtype, and within bfloat16's rounding under
``--precision bf16-grad``, which changes the gradients only, never the loss."""

import json

import pytest
import torch
from click.testing import CliRunner

import vaekit
from vaekit import fast
from vaekit.cli import main
from vaekit.fast import dense_passes
from vaekit.fast.dense_passes import GRAD_DTYPES, backward_mm, kept_draws, layer_grad_dtype, rows_of_saved, sum_draws
from vaekit.fast.fused_hierarchy import FusedHierarchyStep
from vaekit.fast.fused_step import FusedVAEStep
from vaekit.runtime.errors import ConfigError

from .small_models import small_model
from .test_fused_hierarchy import hierarchy

NATIVE_BF16 = fast.bf16_matmul_native(torch.device("cpu"))
needs_bf16 = pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no AVX512-BF16 or AMX")
SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 64, "binarize": "dynamic", "progress": "quiet"}


def _relative_error(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got.double() - ref.double()).norm() / ref.double().norm())


@pytest.fixture
def every_layer_low(monkeypatch):
    """Round every layer's backward matmuls under bf16-grad, however small (tests' models are)."""
    monkeypatch.setattr(dense_passes, "LOW_PRECISION_MIN_FLOPS", 0)


@pytest.mark.parametrize("alpha", [1.0, -0.25])
@pytest.mark.parametrize("into_out", [False, True])
def test_backward_mm_is_blas_in_the_own_dtype_and_close_in_bfloat16(alpha, into_out):
    torch.manual_seed(0)
    a, b = torch.randn(30, 70), torch.randn(70, 40)
    exact = alpha * (a.double() @ b.double())
    same = backward_mm(a, b, None, out=torch.full((30, 40), float("nan")) if into_out else None, alpha=alpha)
    assert same.dtype == torch.float32 and _relative_error(same, exact) < 1e-6
    low = backward_mm(a, b, torch.bfloat16, out=torch.full((30, 40), float("nan")) if into_out else None, alpha=alpha)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    # Rounded factors and a rounded product: about 2^-8 of the size, and not the float32 result.
    assert 1e-4 < _relative_error(low, exact) < 2**-6
    # A factor already in bfloat16 is used as it is.
    assert torch.equal(backward_mm(a.bfloat16(), b, torch.bfloat16, alpha=alpha), low)


def test_backward_mm_keeps_the_weight_dtype_of_a_float64_model():
    a, b = torch.randn(5, 6, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    assert backward_mm(a, b, torch.bfloat16).dtype == torch.float64
    assert backward_mm(a, b, None).dtype == torch.float64


def test_only_layers_large_enough_read_bfloat16():
    weight = torch.empty(784, 200)  # 2 x rows x 156,800 operations per matmul
    assert layer_grad_dtype(torch.bfloat16, 1000, weight) == torch.bfloat16
    assert layer_grad_dtype(torch.bfloat16, 20, weight) is None  # 6.3 million: conversions would dominate
    assert layer_grad_dtype(None, 1000, weight) is None


def _grads(step, model, x):
    for p in model.parameters():
        p.grad = None
    torch.manual_seed(1)
    terms = step(x)
    return terms, {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize(
    "build, step_class",
    [
        (lambda: small_model(likelihood="bernoulli", activation="tanh", dtype=torch.float32), FusedVAEStep),
        (lambda: small_model(likelihood="bernoulli", objective={"name": "iwae", "k": 5}, dtype=torch.float32), FusedVAEStep),
        (lambda: hierarchy({"name": "iwae", "k": 5}), FusedHierarchyStep),
        (lambda: hierarchy({"name": "elbo"}, upper=(4, 2)), FusedHierarchyStep),
    ],
    ids=["vae-elbo", "vae-iwae-5", "hvae-iwae-5", "hvae3-elbo"],
)
def test_bf16_grad_keeps_the_loss_and_rounds_only_the_gradients(every_layer_low, build, step_class):
    model, objective = build()
    model = model.float()
    x = torch.bernoulli(torch.rand(64, 20))
    ref, ref_grads = _grads(step_class(model, objective), model, x)
    got, got_grads = _grads(step_class(model, objective, GRAD_DTYPES["bf16-grad"]), model, x)
    # The forward pass is float32 either way, so the loss and its terms are the same numbers.
    assert torch.equal(got.loss, ref.loss) and torch.equal(got.recon, ref.recon) and torch.equal(got.kl, ref.kl)
    flat_ref = torch.cat([g.flatten() for g in ref_grads.values()])
    flat_got = torch.cat([got_grads[name].flatten() for name in ref_grads])
    assert 0 < _relative_error(flat_got, flat_ref) < 0.02
    for name, ref_grad in ref_grads.items():
        if ref_grad.norm() > 0:
            assert _relative_error(got_grads[name], ref_grad) < 0.05, name


def test_bf16_grad_leaves_layers_below_the_threshold_exact():
    # 64 rows through 20-wide layers: every matmul is far below the threshold, so the same gradients.
    model, objective = small_model(likelihood="bernoulli", objective={"name": "iwae", "k": 5}, dtype=torch.float32)
    x = torch.bernoulli(torch.rand(64, 20))
    _, ref_grads = _grads(FusedVAEStep(model, objective), model, x)
    _, got_grads = _grads(FusedVAEStep(model, objective, GRAD_DTYPES["bf16-grad"]), model, x)
    assert all(torch.equal(got_grads[name], ref_grads[name]) for name in ref_grads)


@needs_bf16
def test_bf16_grad_trains_through_the_fused_step_and_resume_can_switch_to_it(every_layer_low, tmp_path):
    runs = {}
    for precision in ("fp32", "bf16-grad"):
        vaekit.train(epochs=3, precision=precision, out=tmp_path / precision, **SMALL)
        runs[precision] = [json.loads(x) for x in (tmp_path / precision / "metrics.jsonl").read_text().splitlines()]
    assert {r["training_step"] for records in runs.values() for r in records} == {"fused"}
    # Same data, draws and start: the first batch's loss agrees, and training goes on as fp32's does.
    first = {p: records[0]["train_loss"] for p, records in runs.items()}
    last = {p: records[-1]["val_loss"] for p, records in runs.items()}
    assert first["bf16-grad"] != first["fp32"] and abs(first["bf16-grad"] - first["fp32"]) < 0.5
    assert abs(last["bf16-grad"] - last["fp32"]) < 0.05 * abs(last["fp32"])
    assert json.loads((tmp_path / "bf16-grad" / "config.json").read_text())["train"]["precision"] == "bf16-grad"

    result = CliRunner().invoke(main, ["resume", str(tmp_path / "fp32"), "--epochs", "4", "--precision", "bf16-grad", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "fp32" / "config.json").read_text())["train"]["precision"] == "bf16-grad"
    records = [json.loads(x) for x in (tmp_path / "fp32" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4] and records[-1]["training_step"] == "fused"
    assert [r["precision"] for r in records] == ["fp32"] * 3 + ["bf16-grad"]


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"fast": "off"}, "--fast off trains through autograd"),
        ({"likelihood": "gaussian"}, "the fused step cannot train this run (likelihood"),
        ({"compile": True}, "--compile"),
    ],
)
def test_bf16_grad_where_the_fused_step_cannot_run_is_refused_naming_the_fix(tmp_path, options, reason):
    run = {**SMALL, **options}
    if "likelihood" in options:
        run.pop("binarize")
    with pytest.raises(ConfigError) as caught:
        vaekit.train(epochs=1, precision="bf16-grad", out=tmp_path / "r", **run)
    assert reason in str(caught.value) and "use --precision fp32" in str(caught.value)
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_bf16_grad_on_a_cpu_without_bfloat16_matmuls_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fast, "bf16_matmul_native", lambda device: False)
    with pytest.raises(ConfigError, match="no bfloat16 matmul instructions"):
        vaekit.train(epochs=1, precision="bf16-grad", out=tmp_path / "r", **SMALL)


def test_resume_refuses_an_unknown_precision_and_leaves_the_config(tmp_path):
    vaekit.train(epochs=1, out=tmp_path / "r", **SMALL)
    before = (tmp_path / "r" / "config.json").read_text()
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "r"), "--precision", "bf8", "-q"])
    assert result.exit_code != 0 and "bf16-grad" in result.output
    assert (tmp_path / "r" / "config.json").read_text() == before


def test_kept_draws_keep_heavy_draws_and_give_light_ones_weight_w_or_nothing(monkeypatch):
    monkeypatch.setattr(dense_passes, "KEPT_ROW_SHAPES", 10**9)  # no padding rows
    weights = torch.tensor([[0.7, 0.2], [0.3, 0.8]], dtype=torch.float64) / 2  # [k=2, B=2] over B
    for min_weight in (0.0, 0.2):  # off, and no draw light
        rows, c = kept_draws(weights, 2, min_weight)
        assert rows is None and torch.equal(c, weights.reshape(-1))
    torch.manual_seed(0)
    seen = set()
    for trial in range(50):
        rows, c = kept_draws(weights, 2, 0.25, seed=0, step=trial)  # draw 0 of example 1, weight 0.2, is light
        full = torch.zeros(4, dtype=torch.float64)
        full[slice(None) if rows is None else rows] = c
        assert full[[0, 2, 3]].tolist() == weights.reshape(-1)[[0, 2, 3]].tolist()
        assert full[1].item() in (0.0, 0.25 / 2)
        seen.add(full[1].item())
        if full[1] == 0:
            assert rows.tolist() == [0, 2, 3]  # a light draw that loses gets no backward
    assert seen == {0.0, 0.25 / 2}


def test_kept_draws_are_unbiased_and_padded_to_a_few_row_counts():
    torch.manual_seed(0)
    k, batch, min_weight = 50, 20, 1e-2
    weights = (torch.softmax(torch.randn(k, batch, dtype=torch.float64) * 4, 0) / batch).reshape(-1)
    granule = -(-k * batch // dense_passes.KEPT_ROW_SHAPES)
    total, counts, trials = torch.zeros_like(weights), set(), 4000
    for trial in range(trials):
        rows, c = kept_draws(weights.view(k, batch), batch, min_weight, seed=0, step=trial)
        full = torch.zeros_like(weights)
        full[slice(None) if rows is None else rows] = c
        total += full
        if rows is not None:
            assert len(rows) % granule == 0 and torch.equal(rows, rows.sort().values)
            counts.add(len(rows))
    heavy = weights >= min_weight / batch
    assert torch.allclose(total[heavy] / trials, weights[heavy], rtol=1e-12, atol=0)
    # A light draw weighs W / B with probability w / W: on average its own w. Checked over all
    # of them, and one by one where the wins are many enough for the normal approximation.
    light, floor = weights[~heavy], min_weight / batch
    mean, variance = total[~heavy] / trials, light * (floor - light) / trials
    assert abs(float(mean.sum() - light.sum())) <= 5 * float(variance.sum().sqrt())
    many = light / floor * trials >= 50
    assert many.sum() > 10 and ((mean - light).abs()[many] <= 5 * variance[many].sqrt()).all()
    assert 1 <= len(counts) <= dense_passes.KEPT_ROW_SHAPES


def test_sum_draws_adds_each_examples_draws():
    per_draw = torch.arange(8.0).view(4, 2)  # rows of [k=2, B=2] draws
    assert torch.equal(sum_draws(per_draw, 2, 2, None), per_draw.view(2, 2, 2).sum(0))
    kept = torch.tensor([0, 2, 3])
    assert sum_draws(per_draw[kept], 2, 2, kept).tolist() == [[0 + 4, 1 + 5], [6, 7]]


def test_rows_of_saved_gathers_what_the_backward_reads_once():
    model, _ = small_model(activation="tanh", encoder=(6,), decoder=(5, 4))
    layers = fast.dense.mlp_layers(model.decoder)
    z = torch.randn(7, 3, dtype=torch.float64)
    _, saved = dense_passes.forward_layers(layers, dense_passes.in_place_forwards(layers), z)
    rows = torch.tensor([1, 4, 6])
    kept = rows_of_saved(layers, saved, rows)
    for layer, (h, a, out), (got_h, got_a, got_out) in zip(layers, saved, kept, strict=True):
        assert torch.equal(got_h, h[rows])
        if layer.activation_grad is None:
            assert got_a is None and got_out is None  # a linear layer's backward reads neither
        else:
            assert torch.equal(got_out, out[rows]) and torch.equal(got_a, a[rows])
    assert kept[1][0] is kept[0][2]  # a layer's output is the next one's input: gathered once


def test_min_backward_weight_trains_resumes_and_is_logged(tmp_path):
    run = {**SMALL, "model": "iwae", "objective": "iwae"}
    vaekit.train(epochs=2, min_backward_weight=1e-3, out=tmp_path / "r", **run)
    records = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["training_step"], r["min_backward_weight"]) for r in records] == [("fused", 1e-3)] * 2
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "r"), "--epochs", "3", "--min-backward-weight", "0", "-q"])
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["min_backward_weight"] for r in records] == [1e-3, 1e-3, 0.0]
    assert vaekit.run_info(tmp_path / "r")["training"] == "fused fp32 min-backward-weight 0.001 (epochs 1-2), fused fp32 (epoch 3)"
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "r"), "--epochs", "4", "--min-backward-weight", "1", "-q"])
    assert result.exit_code != 0 and "must be in [0, 1)" in result.output
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["min_backward_weight"] == 0.0


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"model": "vae"}, "objective is ELBOObjective"),
        ({"model": "iwae", "objective": "elbo-k"}, "objective is MultiSampleELBOObjective"),
        ({"model": "iwae", "objective": "iwae", "fast": "off"}, "--fast off trains through autograd"),
        ({"model": "iwae", "objective": "iwae", "compile": True}, "--compile"),
    ],
)
def test_min_backward_weight_where_it_cannot_apply_is_refused_naming_the_fix(tmp_path, options, reason):
    with pytest.raises(ConfigError) as caught:
        vaekit.train(epochs=1, min_backward_weight=1e-3, out=tmp_path / "r", **{**SMALL, **options})
    assert reason in str(caught.value) and "use --min-backward-weight 0" in str(caught.value)
    assert not (tmp_path / "r").exists() or not (tmp_path / "r" / "model.safetensors").exists()


def test_a_process_of_a_distributed_step_draws_its_rows_roulette_as_one_process_would():
    from vaekit.runtime.batch_shard import rows_of_batch

    whole = dense_passes.roulette_uniforms(torch.empty(5, 7), 3, 11)  # [k, B] as one process draws it
    assert torch.equal(whole.reshape(-1), dense_passes.roulette_uniforms(torch.empty(35), 3, 11))
    for start, stop in ((0, 3), (3, 7)):
        with rows_of_batch(7, start, stop):
            assert torch.equal(dense_passes.roulette_uniforms(torch.empty(5, stop - start), 3, 11), whole[:, start:stop])
            assert torch.equal(dense_passes.roulette_uniforms(torch.empty(5, 7), 3, 11), whole)  # not a share


def test_the_roulette_leaves_the_runs_noise_as_it_was_and_repeats_per_seed_and_step():
    model, objective = small_model(likelihood="bernoulli", objective={"name": "iwae", "k": 8})
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    after = {}
    for min_weight in (0.0, 0.12):
        torch.manual_seed(1)
        FusedVAEStep(model, objective, min_backward_weight=min_weight)(x, 5)
        after[min_weight] = torch.rand(3)  # the global stream goes on as it would have
    assert torch.equal(after[0.0], after[0.12])
    like = torch.empty(100, dtype=torch.float64)
    assert torch.equal(dense_passes.roulette_uniforms(like, 3, 7), dense_passes.roulette_uniforms(like, 3, 7))
    assert not torch.equal(dense_passes.roulette_uniforms(like, 3, 7), dense_passes.roulette_uniforms(like, 3, 8))
    assert not torch.equal(dense_passes.roulette_uniforms(like, 3, 7), dense_passes.roulette_uniforms(like, 4, 7))
