"""DirectAdamStep takes the same steps as Adam.step, bit for bit, and falls back where it must."""

import copy

import pytest
import torch

from vaekit import fast
from vaekit.fast import adam, kernels
from vaekit.fast.adam import DirectAdamStep


def _net_and_data():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    return net, torch.randn(16, 6), torch.randn(16, 3)


def _adam(net, fused=True):
    return torch.optim.Adam(net.parameters(), lr=1e-2, fused=fused or None)


def _train(net, x, y, step, steps=6):
    for i in range(steps):
        for p in net.parameters():
            p.grad = None
        torch.nn.functional.mse_loss(net(x[i % 2 :: 2]), y[i % 2 :: 2]).backward()
        step()


def _direct_and_reference(fused=True, steps=6):
    """Return ((params, state_dict), ...) after training with optimizer.step, then DirectAdamStep."""
    results = []
    for direct in (False, True):
        net, x, y = _net_and_data()
        optimizer = _adam(net, fused)
        _train(net, x, y, DirectAdamStep(optimizer) if direct else optimizer.step, steps)
        results.append(([p.detach().clone() for p in net.parameters()], optimizer.state_dict()))
    return results


def _assert_same(results):
    (ref_params, ref_state), (params, state) = results
    assert all(torch.equal(a, b) for a, b in zip(ref_params, params, strict=True))
    for ref, got in zip(ref_state["state"].values(), state["state"].values(), strict=True):
        assert all(torch.equal(ref[key], got[key]) for key in ("step", "exp_avg", "exp_avg_sq"))


@pytest.mark.parametrize("fused", [True, False])
def test_steps_are_bit_identical_to_optimizer_step(fused):
    _assert_same(_direct_and_reference(fused))


def test_without_the_private_kernels_it_takes_the_public_functional_adam_with_identical_results(monkeypatch):
    calls = []
    functional = adam.functional_adam
    monkeypatch.setattr(adam, "functional_adam", lambda *a, **k: calls.append(1) or functional(*a, **k))
    monkeypatch.setattr(kernels, "private_kernels_available", lambda: False)
    results = _direct_and_reference(fused=True)
    _assert_same(results)
    assert len(calls) == 5  # every step after the first (which is optimizer.step's)


def _count_adam_steps(monkeypatch) -> list[int]:
    """Return the list that gets a 1 for every call of ``torch.optim.Adam.step`` from now on."""
    calls = []
    original = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    return calls


def test_reloaded_state_is_adopted_and_missing_gradients_go_through_optimizer_step(monkeypatch):
    net, x, y = _net_and_data()
    optimizer = _adam(net)
    direct = DirectAdamStep(optimizer)
    _train(net, x, y, direct, steps=2)
    calls = _count_adam_steps(monkeypatch)
    _train(net, x, y, direct, steps=2)
    assert calls == []  # the kernel itself, once the state exists
    optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # new state tensors, as on resume
    _train(net, x, y, direct, steps=1)
    assert calls == []  # adopted: Adam.step's first call imports torch's compiler stack
    assert optimizer.state[net[0].weight]["exp_avg"] is direct._state[1][0]
    net[2].bias.grad = None
    direct()
    assert calls == [1]


def _resumed(fused, direct, state_dict, weights, steps=4):
    """Return (params, state_dict) after loading ``weights`` and ``state_dict`` into a fresh net
    and Adam, as a resume does, and taking ``steps`` steps with DirectAdamStep or optimizer.step."""
    net, x, y = _net_and_data()
    net.load_state_dict(weights)
    optimizer = _adam(net, fused)
    optimizer.load_state_dict(copy.deepcopy(state_dict))
    _train(net, x, y, DirectAdamStep(optimizer) if direct else optimizer.step, steps)
    return [p.detach().clone() for p in net.parameters()], optimizer.state_dict()


def _stopped_run(fused, steps=3):
    """Return (weights, optimizer state dict) after ``steps`` steps of optimizer.step."""
    net, x, y = _net_and_data()
    optimizer = _adam(net, fused)
    _train(net, x, y, optimizer.step, steps)
    return copy.deepcopy(net.state_dict()), copy.deepcopy(optimizer.state_dict())


@pytest.mark.parametrize("fused", [True, False])
def test_a_loaded_state_takes_the_direct_path_from_the_first_step_bit_identically(monkeypatch, fused):
    weights, state_dict = _stopped_run(fused)
    reference = _resumed(fused, False, state_dict, weights)
    calls = _count_adam_steps(monkeypatch)
    got = _resumed(fused, True, state_dict, weights)
    assert calls == []
    _assert_same((reference, got))
    assert [int(s["step"]) for s in got[1]["state"].values()] == [7] * 4


def test_a_loaded_state_without_the_private_kernels_takes_the_functional_form(monkeypatch):
    weights, state_dict = _stopped_run(True)
    reference = _resumed(True, False, state_dict, weights)
    monkeypatch.setattr(kernels, "private_kernels_available", lambda: False)
    calls = _count_adam_steps(monkeypatch)
    _assert_same((reference, _resumed(True, True, state_dict, weights)))
    assert calls == []


def _drop_one_state(state_dict):
    del state_dict["state"][3]  # a parameter that had no gradient before the stop: Adam starts it


def _drop_one_key(state_dict):
    del state_dict["state"][1]["exp_avg_sq"]  # not Adam's state: Adam.step raises


@pytest.mark.parametrize("damage", [_drop_one_state, _drop_one_key])
def test_a_loaded_state_that_does_not_fit_goes_through_optimizer_step(monkeypatch, damage):
    weights, state_dict = _stopped_run(True)
    damage(state_dict)
    outcomes, counts = [], []
    for direct in (False, True):
        calls = _count_adam_steps(monkeypatch)
        try:
            outcomes.append(_resumed(True, direct, state_dict, weights))
        except KeyError as exc:
            outcomes.append(repr(exc))
        counts.append(len(calls))
    if isinstance(outcomes[0], str):
        assert outcomes[0] == outcomes[1] and counts == [1, 1]
    else:
        _assert_same(outcomes)
        assert counts == [4, 1]  # the first step starts the missing state; the direct path then adopts it


def _train_two_dtypes(net, x, y, step, steps):
    for _ in range(steps):
        for p in net.parameters():
            p.grad = None
        out = net[2](net[1](net[0](x)).double())
        torch.nn.functional.mse_loss(out, y.double()).backward()
        step()


def test_a_loaded_state_of_two_dtypes_takes_the_functional_form_bit_identically(monkeypatch):
    outcomes = []
    for direct in (False, True):
        net, x, y = _net_and_data()
        net[2].double()
        optimizer = _adam(net)
        _train_two_dtypes(net, x, y, optimizer.step, 2)
        optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        calls = _count_adam_steps(monkeypatch)
        _train_two_dtypes(net, x, y, DirectAdamStep(optimizer) if direct else optimizer.step, 3)
        assert len(calls) == (0 if direct else 3)
        outcomes.append(([p.detach().clone() for p in net.parameters()], optimizer.state_dict()))
    _assert_same(outcomes)


def test_fused_steps_call_the_kernel_itself_and_tensor_hyperparameters_take_the_functional_form(monkeypatch):
    net, x, y = _net_and_data()
    optimizer = _adam(net)
    direct = DirectAdamStep(optimizer)
    calls = []
    functional = adam.functional_adam
    monkeypatch.setattr(adam, "functional_adam", lambda *a, **k: calls.append(1) or functional(*a, **k))
    _train(net, x, y, direct, steps=3)
    assert calls == []
    assert all(int(s["step"]) == 3 for s in optimizer.state.values())
    optimizer.param_groups[0]["lr"] = torch.tensor(1e-2)
    _train(net, x, y, direct, steps=1)
    assert calls == [1]


def test_step_counts_share_one_tensor_and_stay_per_parameter_through_fallback_steps():
    results = []
    for direct in (False, True):
        net, x, y = _net_and_data()
        optimizer = _adam(net)
        step = DirectAdamStep(optimizer) if direct else optimizer.step
        _train(net, x, y, step, steps=3)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(net(x), y).backward()
        net[2].bias.grad = None  # Adam.step skips it: its count stays behind the others'
        step()
        _train(net, x, y, step, steps=2)
        results.append((net, optimizer))
    (ref_net, ref_opt), (net, opt) = results
    counts = [int(s["step"]) for s in opt.state.values()]
    assert counts == [int(s["step"]) for s in ref_opt.state.values()] == [6, 6, 6, 5]
    assert len({s["step"].untyped_storage().data_ptr() for s in opt.state.values()}) == 1
    assert all(torch.equal(a, b) for a, b in zip(ref_net.parameters(), net.parameters(), strict=True))


def test_the_shortcut_and_the_fused_kernel_are_chosen_only_under_auto():
    net, _, _ = _net_and_data()
    optimizer = _adam(net)
    assert isinstance(fast.optimizer_step_for(optimizer, "auto"), DirectAdamStep)
    assert fast.optimizer_step_for(optimizer, "off") == optimizer.step
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    assert fast.optimizer_step_for(sgd, "auto") == sgd.step
    cpu = torch.device("cpu")
    assert fast.fused_adam("auto", cpu) and not fast.fused_adam("off", cpu)
    assert not fast.fused_adam("auto", torch.device("meta"))


def test_the_first_fused_step_starts_adams_state_itself_and_never_calls_optimizer_step(monkeypatch):
    calls = []
    original = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    net, x, y = _net_and_data()
    optimizer = _adam(net)
    _train(net, x, y, DirectAdamStep(optimizer), steps=3)
    assert calls == []
    assert all(int(s["step"]) == 3 and s["step"].dtype == torch.float32 for s in optimizer.state.values())


def test_a_parameter_without_a_gradient_on_the_first_step_leaves_it_to_optimizer_step():
    results = []
    for direct in (False, True):
        net, x, y = _net_and_data()
        optimizer = _adam(net)
        step = DirectAdamStep(optimizer) if direct else optimizer.step
        torch.nn.functional.mse_loss(net(x), y).backward()
        net[0].bias.grad = None  # Adam.step gives it no state yet; starting the state must not either
        step()
        _train(net, x, y, step, steps=2)
        results.append(([p.detach().clone() for p in net.parameters()], optimizer.state_dict()))
    _assert_same(results)


def test_amsgrad_and_other_adam_variants_take_their_first_step_through_adam(monkeypatch):
    results = []
    for direct in (False, True):
        net, x, y = _net_and_data()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True, amsgrad=True)
        _train(net, x, y, DirectAdamStep(optimizer) if direct else optimizer.step, steps=3)
        results.append(([p.detach().clone() for p in net.parameters()], optimizer.state_dict()))
    (ref, _), (got, state) = results
    assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True))
    assert all("max_exp_avg_sq" in s for s in state["state"].values())
