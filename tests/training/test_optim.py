"""The optimizer, the precision contexts and the autograd training step."""

import subprocess
import sys
import textwrap

import pytest
import torch

from vaekit import objectives
from vaekit.fast import DirectAdamStep
from vaekit.objectives.base import StepLoss
from vaekit.runtime.errors import ConfigError
from vaekit.training.optim import autocast_context, make_adam
from vaekit.training.step import AutogradStep

CPU = torch.device("cpu")


class _Regression(torch.nn.Module):
    """A tiny model with an objective-shaped loss: mean squared error as ``StepLoss``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def _objective(model, x, y, step):
    per_example = (model.net(x) - y).pow(2).sum(-1)
    return StepLoss(per_example.mean(), -per_example, torch.zeros_like(per_example))


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 6, generator=g), torch.randn(16, 3, generator=g)


def test_make_adam_asks_for_the_fused_kernel_only_when_told():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert make_adam(params, 1e-3, fused=True).param_groups[0]["fused"]
    assert not make_adam(params, 1e-3).param_groups[0]["fused"]


def test_fp16_autocast_needs_cuda_and_fp32_is_a_no_op():
    with autocast_context("fp32", CPU):
        assert torch.ones(2).dtype == torch.float32
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="bf16"):
            autocast_context("fp16", CPU)
        with pytest.raises(ConfigError, match="bf16"):
            AutogradStep(_Regression(), _objective, torch.optim.SGD(_Regression().parameters(), 0.1), device=CPU, precision="fp16")


@pytest.mark.parametrize("grad_clip", [None, 0.1])
def test_autograd_step_is_backward_clip_and_step_bit_for_bit(grad_clip):
    x, y = _data()
    reference, model = _Regression(), _Regression()
    ref_opt, opt = make_adam(reference.parameters(), 1e-2, fused=True), make_adam(model.parameters(), 1e-2, fused=True)
    step = AutogradStep(model, _objective, opt, device=CPU, grad_clip=grad_clip)
    assert step.name == "autograd" and not step.scaler.is_enabled()
    for i in range(4):
        ref_opt.zero_grad(set_to_none=True)
        loss = objectives.training_loss(_objective, reference, x, y, i).loss
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(reference.parameters(), grad_clip)
        ref_opt.step()
        terms = step(x, y, i)
        assert torch.equal(terms.loss, loss.detach()) and not terms.loss.requires_grad
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), model.parameters(), strict=True))


def test_autograd_step_takes_the_optimizer_step_it_is_given():
    x, y = _data()
    model = _Regression()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    step = AutogradStep(model, _objective, optimizer, device=CPU, optimizer_step=lambda: calls.append(1) or optimizer.step())
    before = [p.detach().clone() for p in model.parameters()]
    step(x, y, 0)
    assert calls == [1]
    assert not any(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def _scaled_step(init_scale: float, grad_clip: float | None, optimizer_step: str) -> AutogradStep:
    """An autograd step with a CPU gradient scaler (fp16's, which runs on CUDA only) and fused Adam."""
    model = _Regression()
    optimizer = make_adam(model.parameters(), 1e-2, fused=True)
    given = DirectAdamStep(optimizer) if optimizer_step == "direct" else None
    step = AutogradStep(model, _objective, optimizer, device=CPU, grad_clip=grad_clip, optimizer_step=given)
    step.scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=2)
    return step


@pytest.mark.parametrize("optimizer_step", ["direct", "torch"])
@pytest.mark.parametrize("grad_clip", [None, 0.1])
def test_a_scaled_step_is_torchs_scaler_loop_bit_for_bit_overflows_included(grad_clip, optimizer_step):
    # 2^127 overflows the scaled loss (targets far off): the first steps are skipped while the scale backs off.
    x, y = _data()
    y = y * 30
    step, reference = _scaled_step(2.0**127, grad_clip, optimizer_step), _Regression()
    ref_opt = make_adam(reference.parameters(), 1e-2, fused=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127, growth_interval=2)
    skipped = 0
    for i in range(12):
        ref_opt.zero_grad(set_to_none=True)
        loss = objectives.training_loss(_objective, reference, x, y, i).loss
        scaler.scale(loss).backward()
        if grad_clip is not None:
            scaler.unscale_(ref_opt)
            torch.nn.utils.clip_grad_norm_(reference.parameters(), grad_clip)
        scale = scaler.get_scale()
        scaler.step(ref_opt)
        scaler.update()
        skipped += scaler.get_scale() < scale
        terms = step(x, y, i)
        assert torch.equal(terms.loss, loss.detach()) and step.scaler.get_scale() == scaler.get_scale()
        assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), step.model.parameters(), strict=True))
    assert 0 < skipped < 12


def test_a_scaled_step_does_not_import_the_compiler():
    # torch's optimizer.step (which GradScaler.step calls) imports torch._dynamo: seconds at start-up.
    script = textwrap.dedent("""
        import sys, torch
        from vaekit.fast import optimizer_step_for
        from vaekit.objectives.base import StepLoss
        from vaekit.training.optim import make_adam
        from vaekit.training.step import AutogradStep
        model = torch.nn.Linear(4, 2)
        optimizer = make_adam(model.parameters(), 1e-2, fused=True)
        objective = lambda m, x, y, s: StepLoss(m(x).pow(2).sum(-1).mean(), torch.zeros(3), torch.zeros(3))
        step = AutogradStep(model, objective, optimizer, device=torch.device("cpu"), optimizer_step=optimizer_step_for(optimizer))
        step.scaler = torch.amp.GradScaler("cpu")
        for i in range(3):
            step(torch.randn(3, 4), None, i)
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 with a gradient scaler runs on CUDA")
def test_fp16_steps_through_the_gradient_scaler_on_cuda():
    cuda = torch.device("cuda")
    x, y = (t.to(cuda) for t in _data())
    model = _Regression().to(cuda)
    optimizer = make_adam(model.parameters(), 1e-2, fused=True)
    unused = []
    step = AutogradStep(
        model, _objective, optimizer, device=cuda, precision="fp16", grad_clip=1.0,
        optimizer_step=lambda: unused.append(1) or optimizer.step(),
    )  # fmt: skip
    assert step.scaler.is_enabled()
    losses, skipped = [], 0
    for i in range(20):
        scale = step.scaler.get_scale()
        losses.append(step(x, y, i).loss.item())
        skipped += step.scaler.get_scale() < scale  # the scale backs off after an overflow
    assert len(unused) == 20 - skipped  # the given step, on the unscaled gradients, where they were finite
    assert losses[-1] < losses[0]


def test_make_adams_methods_behave_as_torchs_and_a_fit_never_imports_the_compiler(tmp_path):
    model = _Regression()
    optimizer = make_adam(model.parameters(), 1e-2, fused=True)
    reference = torch.optim.Adam(_Regression().parameters(), lr=1e-2, fused=True)
    x, y = _data()
    for opt, net in ((optimizer, model), (reference, None)):
        params = opt.param_groups[0]["params"]
        opt.zero_grad(set_to_none=True)
        assert all(p.grad is None for p in params)
        if net is not None:
            _objective(net, x, y, 0).loss.backward()
            opt.step()
    loaded = make_adam(_Regression().parameters(), 1e-2, fused=True)
    loaded.load_state_dict(optimizer.state_dict())
    assert loaded.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    assert [s["exp_avg"] for s in loaded.state.values()][0].equal([s["exp_avg"] for s in optimizer.state.values()][0])
    assert type(optimizer) is torch.optim.Adam
    # The compiler stack takes longer to import than a small table's whole fit; nothing in a
    # fused fit needs it.
    script = textwrap.dedent(f"""
        import sys
        import vaekit
        vaekit.train(data="digits", likelihood="gaussian", encoder=[8], latent_dim=2, epochs=2, batch_size=256,
                     checkpoint_every=1, out={str(tmp_path / "run")!r}, progress="quiet")
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
