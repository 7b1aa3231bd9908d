"""Keeping freed memory in glibc's heap: set once per process under fast="auto" on a CPU, never
where the user or the platform says otherwise, and it removes the page faults of a step's
re-allocations."""

import platform
import subprocess
import sys

import pytest
import torch

from vaekit import fast
from vaekit.fast import malloc

CPU = torch.device("cpu")


@pytest.fixture
def fresh(monkeypatch):
    """A process that has not set the thresholds yet, with mallopt recorded instead of called."""
    calls = []
    malloc.keep_freed_memory.cache_clear()
    monkeypatch.setattr(malloc, "_glibc_mallopt", lambda: lambda param, value: calls.append((param, value)) or 1)
    for name in (*malloc.USER_SETTINGS, malloc.OFF_SWITCH):
        monkeypatch.delenv(name, raising=False)
    yield calls
    malloc.keep_freed_memory.cache_clear()  # the next call asks glibc again, as a fresh process would


def test_auto_on_a_cpu_sets_both_thresholds_once_per_process(fresh):
    assert fast.memory_kept("auto", CPU) is True
    assert fresh == [(-3, malloc.MMAP_THRESHOLD_BYTES), (-1, malloc.TRIM_THRESHOLD_BYTES)]
    assert fast.memory_kept("auto", CPU) is True
    assert len(fresh) == 2  # not set again


@pytest.mark.parametrize("mode, device", [("off", CPU), ("auto", torch.device("cuda"))])
def test_fast_off_or_another_device_leaves_malloc_alone(fresh, mode, device):
    assert fast.memory_kept(mode, device) is False and fresh == []


@pytest.mark.parametrize("name, value", [("VAEKIT_KEEP_FREED_MEMORY", "0"), ("MALLOC_TRIM_THRESHOLD_", "131072"),
                                         ("MALLOC_MMAP_THRESHOLD_", "65536")])  # fmt: skip
def test_the_users_environment_turns_it_off_or_keeps_their_own_thresholds(fresh, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert malloc.keep_freed_memory() is False and fresh == []


def test_another_c_library_or_a_refused_setting_reports_memory_not_kept(fresh, monkeypatch):
    monkeypatch.setattr(malloc, "_glibc_mallopt", lambda: None)
    assert malloc.keep_freed_memory() is False
    malloc.keep_freed_memory.cache_clear()
    monkeypatch.setattr(malloc, "_glibc_mallopt", lambda: lambda param, value: 0)
    assert malloc.keep_freed_memory() is False


REALLOCATE = """
import resource, sys, torch
from vaekit import fast
kept = fast.memory_kept("auto", torch.device("cpu")) if sys.argv[1] == "keep" else False
def step():
    # a k = 50 step's big temporaries: several [1000, 784] float32 tensors, made and freed
    a = torch.ones(1000, 784); b = a + 1.0; c = b * 2.0; d = torch.exp(c)
    return float(d[0, 0])
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_kept_memory_removes_the_page_faults_of_re_allocating_a_steps_tensors():
    env_run = [sys.executable, "-c", REALLOCATE, "keep"]
    kept, faults = subprocess.run(env_run, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert kept == "True"
    # 50 steps x 4 tensors x 766 pages would fault ~150,000 times if each were mapped afresh.
    assert int(faults) < 2_000, faults
