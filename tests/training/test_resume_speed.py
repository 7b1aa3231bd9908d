"""A resumed run's first step takes the direct Adam path: it does not import torch's compiler
stack (seconds inside the first resumed epoch's timing), and it ends where an unstopped run does."""

import json
import subprocess
import sys
import textwrap

import torch
from safetensors.torch import load_file

import vaekit

_RUN = dict(data="digits", likelihood="gaussian", encoder=[8], latent_dim=2, batch_size=256, lr_schedule="burda")
_TIMINGS = ("epoch_time_s", "examples_per_s", "epoch_cpu_s")


def _resume_in_a_fresh_process(run_dir, epochs: int) -> bool:
    """Resume ``run_dir`` to ``epochs`` in a new interpreter; return whether it imported torch._dynamo."""
    script = textwrap.dedent(f"""
        import sys
        import vaekit
        vaekit.resume({str(run_dir)!r}, epochs={epochs}, progress="quiet")
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def _metrics(run_dir) -> list[dict]:
    """Return metrics.jsonl's records without their timings."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in row.items() if k not in _TIMINGS} for row in rows]


def _assert_same_tensors(a, b) -> None:
    for name in ("model.safetensors", "trainer.safetensors", "model-best.safetensors"):
        left, right = load_file(a / name), load_file(b / name)
        assert left.keys() == right.keys(), name
        assert all(torch.equal(left[k], right[k]) and left[k].dtype == right[k].dtype for k in left), name


def test_a_resume_never_imports_the_compiler_and_ends_where_an_unstopped_run_does(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    vaekit.train(**_RUN, epochs=3, out=straight, progress="quiet")
    vaekit.train(**_RUN, epochs=1, out=stopped, progress="quiet")
    # Epoch 2 starts the burda schedule's second stage: the loaded state meets a new rate.
    assert not _resume_in_a_fresh_process(stopped, 3)
    _assert_same_tensors(straight, stopped)
    assert _metrics(straight) == _metrics(stopped)
