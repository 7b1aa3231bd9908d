"""Training from disk (``--data-loading disk``): the weights the in-memory path gives for the
same seed and order, bit for bit; resume after a kill; refusals of what cannot stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner

import vaekit
from vaekit.cli import main
from vaekit.config import RunConfig, validate
from vaekit.data.disk import RowView, parquet_footer
from vaekit.runtime.errors import ConfigError, DataError
from vaekit.training import build
from vaekit.training import checkpoint as ckpt
from vaekit.training.batches import DiskRows, ExamplesDataset, read_rows

SMALL = {"encoder": [16], "latent_dim": 3, "batch_size": 32, "progress": "quiet"}


def weights(run) -> dict[str, torch.Tensor]:
    return ckpt.load_tensors(run / "model.safetensors")[0]


def metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def same_training(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    for ma, mb in zip(metrics(a), metrics(b), strict=True):
        for key in ("train_loss", "val_loss", "val_elbo"):
            assert ma.get(key) == mb.get(key), key


def write_table(path, n=400, groups=50, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "k": rng.integers(0, 4, n), "species": rng.choice(["a", "b", "c"], n),
        "amount": rng.exponential(size=n).round(2), "id": [f"row-{i}" for i in range(n)],
    })  # fmt: skip
    frame.loc[[5, 77], "x"] = np.nan  # an identifier (ignored, and not even read from disk) and missing cells
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=groups)
    return path


@pytest.mark.parametrize(
    "kind, options",
    [
        ("real", {}),
        ("real", {"shuffle": "blocks", "shuffle_window": 2}),  # whole blocks read, in memory the same order
        ("images", {"binarize": "dynamic"}),
        ("images", {"likelihood": "gaussian", "dequantize": "uniform"}),
    ],
)
def test_a_memory_mapped_npy_trains_the_weights_the_in_memory_path_gives(tmp_path, kind, options):
    rng = np.random.default_rng(0)
    # 4,000 rows of 8 values: under the block shuffle, blocks of block_rows_for(8) = 65,536 rows would
    # make one block; 4,000 rows of 1,024 values make 2 blocks of 2,048 rows
    shape = (4000, 1024) if options.get("shuffle") == "blocks" else (300, 8)
    array = rng.normal(size=shape).astype(np.float32) if kind == "real" else rng.integers(0, 256, (300, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "a.npy", array)
    runs = {}
    for mode in ("memory", "disk"):
        runs[mode] = tmp_path / mode
        vaekit.train(data=tmp_path / "a.npy", data_loading=mode, epochs=2, out=runs[mode], **SMALL, **options)
    same_training(runs["memory"], runs["disk"])  # torch.equal: the same batches, the same full permutation
    disk, memory = (json.loads((runs[m] / "config.json").read_text())["data_file"] for m in ("disk", "memory"))
    assert disk["format"] == "npy"
    # recorded in memory too: a resume refuses a changed file whichever way it is read
    assert memory["fingerprint"] == disk["fingerprint"]


@pytest.mark.parametrize("condition_on, lean_footer", [(None, False), (["species"], False), (["species"], True)])
def test_parquet_read_by_row_groups_trains_the_weights_memory_gives_with_the_block_shuffle(
    tmp_path, monkeypatch, condition_on, lean_footer
):
    path = write_table(tmp_path / "t.parquet")
    if lean_footer:  # the footer held one row group at a time, as a large file's is
        monkeypatch.setattr(parquet_footer, "LEAN_FOOTER_BYTES", 0)
    runs = {}
    extra = {"model": "cvae", "condition_on": condition_on} if condition_on else {}
    for mode, shuffle in (("memory", "blocks"), ("disk", "auto")):
        runs[mode] = tmp_path / mode
        vaekit.train(data=path, data_loading=mode, shuffle=shuffle, shuffle_window=2, epochs=2, out=runs[mode],
                     **SMALL, **extra)  # fmt: skip
    same_training(runs["memory"], runs["disk"])
    config = json.loads((runs["disk"] / "config.json").read_text())
    assert config["data_file"]["row_groups"] == 8 and config["data"]["shuffle_window"] == 2
    assert {c["name"]: c["kind"] for c in config["table"]["schema"]["columns"]}["id"] == "ignore"
    assert config["data_file"] == {**json.loads((runs["memory"] / "config.json").read_text())["data_file"]}


def test_a_csv_on_disk_trains_as_in_memory_through_its_parquet_copy(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    write_table(tmp_path / "t.parquet")
    pd.read_parquet(tmp_path / "t.parquet").to_csv(tmp_path / "t.csv", index=False)
    runs = {}
    for mode, shuffle in (("memory", "blocks"), ("disk", "auto")):
        runs[mode] = tmp_path / mode
        vaekit.train(data=tmp_path / "t.csv", data_loading=mode, shuffle=shuffle, epochs=1, out=runs[mode], **SMALL)
    same_training(runs["memory"], runs["disk"])
    assert "converted" in capsys.readouterr().err


def test_the_block_shuffle_in_memory_changes_the_order_not_the_data(tmp_path):
    path = write_table(tmp_path / "t.parquet")
    full = vaekit.train(data=path, epochs=1, out=tmp_path / "full", **SMALL)
    blocks = vaekit.train(data=path, shuffle="blocks", epochs=1, out=tmp_path / "blocks", **SMALL)
    assert full.config.table == blocks.config.table
    assert metrics(tmp_path / "full")[0]["train_loss"] != metrics(tmp_path / "blocks")[0]["train_loss"]


RUNNER = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    import vaekit
    from vaekit.training.step import AutogradStep
    from vaekit.fast.fused_step import FusedTrainingStep

    run, data, mode, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "mid-epoch":
        for cls in (FusedTrainingStep, AutogradStep):
            real, calls = cls.__call__, [0]
            def wrapped(*a, _real=real, **k):
                calls[0] += 1
                if calls[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return _real(*a, **k)
            cls.__call__ = wrapped
    if mode == "resume":
        vaekit.resume(run, progress="quiet")
    else:
        vaekit.train(data=data, data_loading="disk", shuffle_window=2, encoder=[16], latent_dim=3, epochs=3,
                     batch_size=32, out=run, progress="quiet")
    """
)


@pytest.mark.parametrize("suffix", ["npy", "parquet"])
def test_a_disk_run_resumed_after_kill_matches_an_uninterrupted_one_bit_for_bit(tmp_path, suffix):
    data = tmp_path / f"data.{suffix}"
    if suffix == "npy":
        np.save(data, np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32))
    else:
        write_table(data)
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    def run(*args):
        return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True)

    assert run(tmp_path / "reference", data, "none", 0).returncode == 0
    crashed = run(tmp_path / "killed", data, "mid-epoch", 12)  # in epoch 2 (8-9 steps an epoch)
    assert crashed.returncode == -9, crashed.stderr
    resumed = run(tmp_path / "killed", data, "resume", 0)
    assert resumed.returncode == 0, resumed.stderr
    ref, got = ckpt.load_tensors(tmp_path / "reference" / "trainer.safetensors")[0], ckpt.load_tensors(
        tmp_path / "killed" / "trainer.safetensors"
    )[0]
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    assert [m["train_loss"] for m in metrics(tmp_path / "killed")] == [m["train_loss"] for m in metrics(tmp_path / "reference")]


@pytest.mark.parametrize("loading", ["disk", "memory"])
def test_resume_refuses_a_changed_data_file(tmp_path, loading):
    data = tmp_path / "a.npy"
    np.save(data, np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32))
    vaekit.train(data=data, data_loading=loading, epochs=1, out=tmp_path / "r", **SMALL)
    np.save(data, np.random.default_rng(1).normal(size=(200, 5)).astype(np.float32))
    with pytest.raises(DataError, match=r"a\.npy changed since this run started.*put the original file back"):
        vaekit.resume(tmp_path / "r", epochs=2, progress="quiet")
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["epochs"] == 1  # nothing written


def test_what_cannot_be_read_from_disk_is_refused_before_training(tmp_path):
    path = write_table(tmp_path / "t.parquet")
    with pytest.raises(ConfigError, match="a full shuffle would decode a row group for every row; use --shuffle blocks"):
        vaekit.train(data=path, data_loading="disk", shuffle="full", epochs=1, out=tmp_path / "a", **SMALL)
    np.save(tmp_path / "a.npy", np.zeros((20, 4, 4), dtype=np.uint8))
    with pytest.raises(ConfigError, match="--binarize static draws the whole training set"):
        vaekit.train(data=tmp_path / "a.npy", data_loading="disk", binarize="static", epochs=1, out=tmp_path / "b", **SMALL)
    with pytest.raises(DataError, match="fits in memory"):
        vaekit.train(data="digits", data_loading="disk", epochs=1, out=tmp_path / "c", **SMALL)
    with pytest.raises(DataError, match="not a DataFrame held in memory"):
        vaekit.train(data=pd.read_parquet(path), data_loading="disk", epochs=1, out=tmp_path / "d", **SMALL)
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_config_values_of_the_disk_options_are_checked():
    for section, key, value, message in [
        ("train", "data_loading", "tape", "data_loading must be one of memory, streaming, disk"),
        ("data", "shuffle", "random", "shuffle must be one of auto, full, blocks"),
        ("data", "shuffle_window", 0, "shuffle_window must be >= 1"),
    ]:
        config = RunConfig()
        setattr(getattr(config, section), key, value)
        with pytest.raises(ConfigError, match=message):
            validate(config)


def test_the_cli_offers_disk_loading_and_the_shuffle_options():
    out = CliRunner().invoke(main, ["train", "--help"], terminal_width=200).output
    assert "[memory|streaming|disk]" in out and "--shuffle [auto|full|blocks]" in out and "--shuffle-window" in out


def test_read_rows_reads_any_positions_from_every_kind_of_training_data(tmp_path):
    array = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", array)
    from vaekit.data.disk import NpyRows

    rows = np.random.default_rng(1).permutation(40)
    view = RowView(NpyRows(tmp_path / "a.npy"), rows)
    x = torch.from_numpy(array[rows])
    labels = torch.arange(40)
    index = torch.tensor([7, 0, 39, 7])
    sources = [(x, labels), ExamplesDataset(x, labels), DiskRows(view, torch.device("cpu"), labelled=False)]
    for source in sources:
        got, y = read_rows(source, index)
        assert torch.equal(got, x[index])
        assert y is None if isinstance(source, DiskRows) else torch.equal(y, labels[index])


def test_marginals_come_from_a_bounded_sample_the_same_in_memory_and_on_disk(tmp_path, monkeypatch):
    path = write_table(tmp_path / "t.parquet", n=600)
    monkeypatch.setattr(build, "MARGINAL_VALUES", 1000)  # fewer rows than the split holds
    seen = []
    real = build.start_from_marginals

    def spy(model, x, *args):
        seen.append(type(x))
        return real(model, x, *args)

    monkeypatch.setattr("vaekit.training.loop.start_from_marginals", spy)
    runs = {}
    for mode in ("memory", "disk"):
        runs[mode] = tmp_path / mode
        vaekit.train(data=path, data_loading=mode, shuffle="blocks", epochs=1, out=runs[mode], **SMALL)
    assert seen == [torch.Tensor, RowView]
    same_training(runs["memory"], runs["disk"])


def test_evaluate_and_the_end_of_run_summary_read_a_disk_split_in_blocks(tmp_path, monkeypatch):
    from vaekit.evaluation import report

    np.save(tmp_path / "a.npy", np.random.default_rng(0).normal(size=(500, 6)).astype(np.float32))
    memory = vaekit.train(data=tmp_path / "a.npy", epochs=1, out=tmp_path / "m", **SMALL)
    disk = vaekit.train(data=tmp_path / "a.npy", data_loading="disk", epochs=1, out=tmp_path / "d", **SMALL)
    assert isinstance(disk.test_splits.test, RowView)
    monkeypatch.setattr(report, "EVAL_BLOCK_VALUES", 6 * 1000)  # one block of 1,000 rows: the whole test split
    a, b = vaekit.evaluate(memory, k=20, probe=False), vaekit.evaluate(disk, k=20, probe=False)
    assert a["nll"] == b["nll"] and a["elbo"] == b["elbo"] and a["active_units"] == b["active_units"]
    monkeypatch.setattr(report, "EVAL_BLOCK_VALUES", 6)  # blocks of one posterior batch (1,000 rows)
    loaded = vaekit.evaluate(tmp_path / "d", k=0)
    assert loaded["elbo"] == a["elbo"] and loaded["n_examples"] == 100
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "d"), "--epochs", "2", "-q"])
    assert result.exit_code == 0 and "test ELBO" in result.output, result.output


def test_a_disk_split_evaluated_over_several_blocks_keeps_no_codes_and_counts_the_same_active_units(
    tmp_path, monkeypatch
):
    from vaekit.evaluation import report
    from vaekit.evaluation.diagnostics import ColumnMoments

    np.save(tmp_path / "a.npy", np.random.default_rng(1).normal(size=(12_000, 6)).astype(np.float32))
    memory = vaekit.train(data=tmp_path / "a.npy", epochs=1, out=tmp_path / "m", **SMALL)
    disk = vaekit.train(data=tmp_path / "a.npy", data_loading="disk", epochs=1, out=tmp_path / "d", **SMALL)
    passes = []
    real_pass = report._posterior_pass_blocks
    monkeypatch.setattr(report, "_posterior_pass_blocks", lambda *a, **k: passes.append(real_pass(*a, **k)) or passes[-1])
    monkeypatch.setattr(report, "EVAL_BLOCK_VALUES", 6)  # blocks of one posterior batch: 1,000 rows each
    a, b = vaekit.evaluate(memory, k=0, probe=False), vaekit.evaluate(disk, k=0, probe=False)
    assert isinstance(passes[1]["mu"], ColumnMoments) and passes[1]["mu"].n == b["n_examples"] > 1000
    # nor numbers per example: the ELBO's terms are running moments too
    assert not {"recon", "kl", "sq_err"} & passes[1].keys() and passes[1]["terms"]["elbo"].n == b["n_examples"]
    assert b["posterior_mean_variance"] == pytest.approx(a["posterior_mean_variance"], rel=1e-6)
    assert a["active_units"] == b["active_units"]
    for key in ("elbo", "elbo_stderr", "recon", "kl", "recon_mse"):
        assert b[key] == pytest.approx(a[key], rel=1e-6), key
    assert b["kl_per_dim"] == pytest.approx(a["kl_per_dim"], rel=1e-6)


def test_a_hierarchical_model_on_a_disk_split_reports_its_layers_as_in_memory(tmp_path, monkeypatch):
    from vaekit.evaluation import report

    np.save(tmp_path / "a.npy", np.random.default_rng(2).normal(size=(6000, 6)).astype(np.float32))
    options = {**SMALL, "model": "hvae", "latent_dim": 4, "options": {"upper_latents": [2]}}
    memory = vaekit.train(data=tmp_path / "a.npy", epochs=1, out=tmp_path / "m", **options)
    disk = vaekit.train(data=tmp_path / "a.npy", data_loading="disk", epochs=1, out=tmp_path / "d", **options)
    monkeypatch.setattr(report, "EVAL_BLOCK_VALUES", 6)  # blocks of one posterior batch: 1,000 rows each
    a, b = vaekit.evaluate(memory, k=0, probe=False), vaekit.evaluate(disk, k=0, probe=False)
    assert b["n_examples"] == 1200 and a["active_units_per_layer"] == b["active_units_per_layer"]
    for key in ("kl_per_layer", "elbo", "elbo_stderr"):
        assert b[key] == pytest.approx(a[key], rel=1e-6), key


def test_a_tables_training_split_on_disk_is_evaluated_in_file_order(tmp_path, monkeypatch):
    from vaekit.data.disk import ParquetRows
    from vaekit.data.views import EvaluationExamples

    path = write_table(tmp_path / "t.parquet")
    vae = vaekit.train(data=path, data_loading="disk", epochs=1, out=tmp_path / "d", **SMALL)
    decoded = []
    real = ParquetRows.decode_group

    def counting(self, group, columns=None):
        decoded.append(group)
        return real(self, group, columns)

    monkeypatch.setattr(ParquetRows, "decode_group", counting)
    report = vaekit.evaluate(vae, split="train", k=0)
    assert report["n_examples"] == 288  # 400 rows, 80 for testing, 32 of the rest for validation
    assert decoded == sorted(decoded)  # front to back: each row group decoded once
    splits = vaekit.api.eval_data.eval_splits(vae, None, "train")
    rows = EvaluationExamples(splits, "train").splits.train.rows
    assert torch.equal(rows, rows.sort().values)
