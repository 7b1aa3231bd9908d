"""Sizes that cannot fit are refused before anything is allocated, with the estimate and the
memory available."""

from __future__ import annotations

import pytest
import torch

from vaekit.config import RunConfig
from vaekit.runtime import memory
from vaekit.runtime.errors import ConfigError
from vaekit.training import build


@pytest.fixture
def small_machine(monkeypatch: pytest.MonkeyPatch) -> int:
    """A machine with 1 GiB available."""
    monkeypatch.setattr(memory, "system_available_bytes", lambda: 1 << 30)
    return 1 << 30


def test_available_memory_is_read_from_meminfo(tmp_path, monkeypatch):
    (tmp_path / "meminfo").write_text("MemTotal:       24684084 kB\nMemAvailable:    2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(memory, "CGROUP_FILES", ())
    assert memory.system_available_bytes() == 2048 * 1024
    assert memory.available_bytes("cpu") == 2048 * 1024


def test_a_container_limit_caps_the_available_memory(tmp_path, monkeypatch):
    (tmp_path / "meminfo").write_text("MemAvailable:    4194304 kB\n")
    (tmp_path / "max").write_text("1073741824\n")
    (tmp_path / "current").write_text("73741824\n")
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "meminfo")
    cgroup = (tmp_path / "max", tmp_path / "current", tmp_path / "memory.stat", "inactive_file")
    monkeypatch.setattr(memory, "CGROUP_FILES", (cgroup,))
    assert memory.system_available_bytes() == 1_000_000_000
    # Page cache the kernel can reclaim counts as available, as in docker's and the kubelet's count.
    (tmp_path / "memory.stat").write_text("anon 1000\ninactive_file 50000000\nactive_file 7\n")
    assert memory.system_available_bytes() == 1_050_000_000
    (tmp_path / "max").write_text("max\n")
    assert memory.system_available_bytes() == 4 << 30


def test_the_machine_reports_some_available_memory():
    assert memory.available_bytes("cpu") > 0


@pytest.mark.parametrize("n, text", [(512, "512 B"), (3 << 20, "3.0 MiB"), (int(1.5 * (1 << 40)), "1.5 TiB")])
def test_byte_counts_read_in_binary_units(n, text):
    assert memory.format_bytes(n) == text


def test_require_memory_names_the_estimate_and_what_is_available(small_machine):
    memory.require_memory(1 << 20, "a small thing")
    with pytest.raises(ConfigError, match=r"^a big thing needs about 2.0 GiB of memory, but this machine has 1.0 GiB available; try less$"):
        memory.require_memory(2 << 30, "a big thing", advice="try less")


def digits_config(**model: object) -> RunConfig:
    config = RunConfig()
    config.input_shape, config.value_range, config.levels = [1, 8, 8], "unit", 256
    for key, value in model.items():
        setattr(config.model, key, value)
    return config


def test_the_meta_model_counts_the_parameters_of_the_real_one_and_draws_nothing():
    config = digits_config(latent_dim=3)
    torch.manual_seed(0)
    meta = build.meta_model(config)
    assert all(p.device.type == "meta" for p in meta.parameters())
    real = build.build_model(config)
    assert build.parameter_count(meta) == sum(p.numel() for p in real.parameters())
    torch.manual_seed(0)
    again = build.create(__import__("dataclasses").asdict(config.model), build.data_facts(config))
    assert all(torch.equal(a, b) for a, b in zip(real.state_dict().values(), again.state_dict().values(), strict=True))


def test_activations_grow_with_the_batch():
    config = digits_config()
    meta = build.meta_model(config)
    one, many = build.activation_values(meta, config, 1), build.activation_values(meta, config, 100)
    assert 0 < one < many <= 100 * one


def test_a_model_too_large_to_train_is_refused_before_it_is_built(small_machine):
    config = digits_config(latent_dim=100_000_000)
    with pytest.raises(ConfigError) as info:
        build.check_training_memory(config, torch.device("cpu"))
    message = str(info.value)
    assert "training this model (" in message and "parameters" in message
    assert "needs about" in message and "1.0 GiB available" in message and "--latent" in message
    build.check_training_memory(digits_config(), torch.device("cpu"))  # the usual model fits


def test_building_or_loading_a_model_whose_weights_cannot_fit_is_refused(small_machine):
    with pytest.raises(ConfigError, match=r"the model's [\d,]+ parameters needs about .* 1.0 GiB available"):
        build.build_model(digits_config(net={"name": "mlp", "encoder": [100_000_000]}))


def test_training_a_model_that_cannot_fit_fails_fast_with_the_estimate(tmp_path):
    import vaekit

    with pytest.raises(ConfigError, match=r"needs about [\d.]+ TiB of memory, but this machine has"):
        vaekit.train(data="digits", latent_dim=10**9, epochs=1, out=tmp_path / "r", progress="quiet")



def test_a_cuda_device_reports_its_own_free_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (5 << 30, 10 << 30))
    assert memory.available_bytes("cuda:0") == 5 << 30
    with pytest.raises(ConfigError, match=r"needs about 6.0 GiB of memory, but device cuda:0 has 5.0 GiB available"):
        memory.require_memory(6 << 30, "training", device="cuda:0")


def test_a_batch_whose_activations_cannot_fit_is_refused_after_measuring_them(small_machine):
    config = digits_config()
    config.train.batch_size = 10_000_000
    with pytest.raises(ConfigError, match=r"activation values per batch of 10000000\) needs about .* 1.0 GiB available"):
        build.check_training_memory(config, torch.device("cpu"))


@pytest.mark.parametrize("net", [{"name": "mlp", "encoder": [64, 32]}, {"name": "conv", "channels": [8, 16]}])
def test_the_quick_activation_bound_is_above_the_measured_count(net):
    config = digits_config(net=net)
    meta = build.meta_model(config)
    assert build.activation_values(meta, config, 32) <= build.activation_bound(meta, config, 32)



def test_large_allocations_are_mapped_unless_the_user_chose_a_threshold(monkeypatch):
    import ctypes.util
    import os
    import subprocess
    import sys

    from vaekit.runtime.memory import map_large_allocations

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert map_large_allocations() is False  # the user's own threshold is left alone
    if not ctypes.util.find_library("c"):
        return
    # In a fresh process: the setting lasts for the rest of the process.
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    code = "from vaekit.runtime.memory import map_large_allocations as m; print(m())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"


def test_free_heap_pages_scattered_through_the_heap_are_given_back():
    import subprocess
    import sys

    # In a fresh process: blocks below the mapping threshold carved from the heap, every other
    # one freed, leave whole free pages between live blocks that only a trim gives back.
    code = """
import numpy as np
from pathlib import Path
from vaekit.runtime.memory import map_large_allocations, release_free_heap
def resident():
    return int(next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS")).split()[1])
map_large_allocations()
blocks = [np.ones(16384) for _ in range(2000)]  # 128 KiB each: 250 MiB in all
del blocks[::2]
before = resident()
print(release_free_heap(), (before - resident()) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    trimmed, freed_mib = out.stdout.split()
    if trimmed == "False":
        pytest.skip("not glibc: there is no malloc_trim")
    assert float(freed_mib) > 60, out.stdout
