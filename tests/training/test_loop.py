import dataclasses
import errno
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import vaekit
from vaekit import objectives
from vaekit.fast.fused_step import FusedVAEStep
from vaekit.runtime import atomic
from vaekit.runtime.errors import CheckpointError, DiskFullError, RunFolderError, TrainingDivergedError
from vaekit.training import checkpoint as ckpt
from vaekit.training import loop
from vaekit.training.build import build_model
from vaekit.viz import write_run_pictures

SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 128, "progress": "quiet"}


def test_training_lowers_test_neg_elbo_beyond_what_untrained_models_reach(tmp_path):
    trained = vaekit.train(epochs=8, out=tmp_path / "t", **SMALL)
    after = vaekit.evaluate(trained, probe=False)["loss"]
    untrained = []
    for seed in range(3):
        cfg = vaekit.build_config(**{k: v for k, v in SMALL.items() if k != "progress"}, seed=seed)
        cfg.input_shape, cfg.value_range = trained.config.input_shape, trained.config.value_range
        torch.manual_seed(seed)
        fresh = vaekit.TrainedVAE(build_model(cfg), cfg)
        untrained.append(vaekit.evaluate(fresh, probe=False)["loss"])
    # 64 Bernoulli pixels at p=0.5 cost 44.4 nats; 8 epochs must get well below every random init.
    assert after < min(untrained) - 5.0, (after, untrained)


def float_bundle_as_before(bundle):
    """``bundle`` (uint8 grey levels) as the readers returned it before they kept uint8:
    float32 copies divided by levels - 1 in numpy."""
    parts = {}
    for part in ("train", "test"):
        x = getattr(bundle, part).numpy().astype(np.float32)
        x /= bundle.levels - 1
        parts[part] = torch.from_numpy(x)
    return dataclasses.replace(bundle, **parts)


def logged_values(run_dir):
    """The metrics of a run's epochs, without the timings."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in ("examples_per_s", "epoch_time_s", "epoch_cpu_s")} for x in lines]


@pytest.mark.parametrize(
    "options",
    [
        {"likelihood": "bernoulli"},
        {"likelihood": "bernoulli", "binarize": "dynamic", "data_loading": "streaming"},
        {"likelihood": "bernoulli", "binarize": "static"},
        {"likelihood": "gaussian", "dequantize": "uniform"},
    ],
    ids=["grey", "dynamic-streaming", "static", "dequantize"],
)
def test_uint8_data_train_to_the_weights_float_data_gave(tmp_path, monkeypatch, options):
    # The batches fed to the model (and the validation and preview data) must be bit for bit
    # what they were when the readers returned float32: same losses, weights and pictures.
    from vaekit.training import loop

    write_run_pictures(vaekit.train(epochs=2, out=tmp_path / "uint8", **options, **SMALL))
    assert loop.load_bundle(vaekit.load(tmp_path / "uint8").config).train.dtype == torch.uint8
    original = loop.load_bundle
    monkeypatch.setattr(loop, "load_bundle", lambda config, frame=None: float_bundle_as_before(original(config, frame)))
    write_run_pictures(vaekit.train(epochs=2, out=tmp_path / "float", **options, **SMALL))
    runs = {name: tmp_path / name for name in ("uint8", "float")}
    assert logged_values(runs["uint8"]) == logged_values(runs["float"])
    a, _ = ckpt.load_tensors(runs["uint8"] / "model.safetensors")
    b, _ = ckpt.load_tensors(runs["float"] / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    picture = "reconstructions.png"
    assert (runs["uint8"] / picture).read_bytes() == (runs["float"] / picture).read_bytes()


def test_metrics_log_has_one_line_per_epoch_with_the_terms(tmp_path):
    vaekit.train(epochs=3, out=tmp_path / "r", **SMALL)
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    for r in lines:
        assert r["train_loss"] == pytest.approx(-r["train_elbo"])
        assert r["train_elbo"] == pytest.approx(r["train_recon"] - r["train_kl"], rel=1e-6)
        assert {"val_loss", "val_kl", "examples_per_s"} <= set(r)


@pytest.mark.parametrize("on_host", [True, False])
def test_epoch_sums_add_batch_weighted_losses_and_per_example_terms(on_host):
    from vaekit.training.loop import EpochSums

    sums = EpochSums(torch.device("cpu"), on_host=on_host)
    sums.add(torch.tensor(2.5), torch.tensor([-1.0, -2.0, -3.0]), torch.tensor([0.5, 0.25, 0.25]), 3)
    sums.add(torch.tensor(4.0), torch.tensor([-8.0]), torch.tensor([1.0]), 1)
    assert sums.values() == [11.5, -14.0, 2.0]


def test_run_folder_holds_the_designed_files(tmp_path):
    write_run_pictures(vaekit.train(epochs=1, out=tmp_path / "r", **SMALL))
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "model-best.safetensors",
        "trainer.safetensors",
        "trainer.json",
        "metrics.jsonl",
        "samples.png",
        "reconstructions.png",
    } <= names
    assert not [n for n in names if n.endswith(".tmp")]


def test_the_best_weights_are_written_with_each_checkpoint_and_are_the_best_epochs(tmp_path, monkeypatch):
    writes = []
    save = ckpt.save_model_tensors
    monkeypatch.setattr(ckpt, "save_model_tensors", lambda path, *a: writes.append(path.name) or save(path, *a))
    options = {**SMALL, "val_fraction": 0.2, "seed": 3}
    vaekit.train(epochs=5, checkpoint_every=2, out=tmp_path / "r", **options)
    # at epochs 2, 4 and 5, not at every improvement
    assert [name for name in writes if name == "model-best.safetensors"] == ["model-best.safetensors"] * 3
    trainer = json.loads((tmp_path / "r" / "trainer.json").read_text())
    tensors, info = ckpt.load_tensors(tmp_path / "r" / "model-best.safetensors")
    assert json.loads(info["epoch"]) == trainer["best_epoch"]
    vaekit.train(epochs=trainer["best_epoch"], out=tmp_path / "b", **options)
    at_best, _ = ckpt.load_tensors(tmp_path / "b" / "model.safetensors")
    assert tensors.keys() == at_best.keys() and all(torch.equal(tensors[k], at_best[k]) for k in tensors)


def test_refuses_to_overwrite_a_non_empty_run_folder_without_force(tmp_path):
    out = tmp_path / "r"
    vaekit.train(epochs=1, out=out, **SMALL)
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(RunFolderError, match="--force"):
        vaekit.train(epochs=1, seed=5, out=out, **SMALL)
    assert (out / "model.safetensors").read_bytes() == before
    vaekit.train(epochs=1, seed=5, out=out, force=True, **SMALL)
    assert (out / "model.safetensors").read_bytes() != before


@pytest.mark.parametrize("fast", ["auto", "off"])
def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, fast):
    calls = {"n": 0}

    def poison(real):
        def poisoned(*args, **kwargs):
            calls["n"] += 1
            terms = real(*args, **kwargs)
            if calls["n"] == 15:
                terms.loss = terms.loss * float("nan")
            return terms

        return poisoned

    # Both step paths: the fused step (auto: SMALL's MLP VAE qualifies) and the autograd objective (off).
    monkeypatch.setattr(objectives, "training_loss", poison(objectives.training_loss))
    monkeypatch.setattr(FusedVAEStep, "__call__", poison(FusedVAEStep.__call__))
    out = tmp_path / "r"
    with pytest.raises(TrainingDivergedError, match="step 15"):
        vaekit.train(epochs=3, out=out, fast=fast, **SMALL)
    state = json.loads((out / "trainer.json").read_text())
    assert state["epoch"] == 1  # 11 steps per epoch: the epoch-1 checkpoint is the last good one
    vaekit.load(out)  # and it still loads


RUNNER = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    import vaekit
    from vaekit.fast.fused_step import FusedTrainingStep
    from vaekit.training import checkpoint
    from vaekit.training.step import AutogradStep

    run, mode, kill_at, step_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    # fused: the fused step; autograd: the plain path; autograd-auto: autograd with the Adam shortcut
    options = {"fused": {}, "autograd": {"fast": "off"}, "autograd-auto": {"likelihood": "gaussian"}}[step_path]

    def killer(module, name):
        real, calls = getattr(module, name), [0]
        def wrapped(*a, **k):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a, **k)
        setattr(module, name, wrapped)

    if mode == "mid-epoch":
        killer(FusedTrainingStep, "__call__")  # once per step, whichever step runs
        killer(AutogradStep, "__call__")
    elif mode == "mid-checkpoint":
        killer(checkpoint, "atomic_write_text")   # trainer.json, after trainer.safetensors is committed
    if mode == "resume":
        vaekit.resume(run, progress="quiet")
    else:
        vaekit.train(data="digits", encoder=[16], latent_dim=2, epochs=4, batch_size=128,
                     out=run, progress="quiet", **options)
    """
)


def _run(tmp_path, *args):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    "mode, kill_at, step_path",
    [
        ("mid-epoch", 27, "fused"),
        ("mid-epoch", 27, "autograd"),
        ("mid-epoch", 27, "autograd-auto"),
        ("mid-checkpoint", 2, "fused"),
    ],
)
def test_resume_after_kill_matches_uninterrupted_run_bit_for_bit(tmp_path, mode, kill_at, step_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(tmp_path, reference, "none", 0, step_path).returncode == 0
    crashed = _run(tmp_path, killed, mode, kill_at, step_path)
    assert crashed.returncode == -9, crashed.stderr
    resumed = _run(tmp_path, killed, "resume", 0, step_path)
    assert resumed.returncode == 0, resumed.stderr

    ref_tensors, _ = ckpt.load_tensors(reference / "trainer.safetensors")
    got_tensors, _ = ckpt.load_tensors(killed / "trainer.safetensors")
    assert ref_tensors.keys() == got_tensors.keys()
    for name in ref_tensors:
        assert torch.equal(ref_tensors[name], got_tensors[name]), name
    ref_model, ref_meta = ckpt.load_tensors(reference / "model.safetensors")
    got_model, got_meta = ckpt.load_tensors(killed / "model.safetensors")
    # Each run has its own random identity; the resumed run keeps the killed one's.
    assert got_meta.pop("run_id") == json.dumps(json.loads((killed / "trainer.json").read_text())["run_id"])
    assert ref_meta.pop("run_id") != json.dumps(None)
    assert ref_meta == got_meta  # includes the SHA-256 of every weight
    assert all(torch.equal(ref_model[k], got_model[k]) for k in ref_model)
    ref_metrics = [json.loads(x) for x in (reference / "metrics.jsonl").read_text().splitlines()]
    got_metrics = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [m["train_loss"] for m in got_metrics] == [m["train_loss"] for m in ref_metrics]


@pytest.mark.parametrize("every", [1, 4])
def test_divergence_check_names_the_first_bad_step_read_at_once_or_deferred(every):
    from vaekit.training.loop import DivergenceCheck

    check = DivergenceCheck(torch.device("cpu"), every=every)
    losses = [1.0, 2.0, float("nan"), float("inf"), 3.0, 4.0]
    seen = []
    with pytest.raises(TrainingDivergedError, match="step 3 \\(epoch 2\\).*epoch 1\\)"):
        for step, loss in enumerate(losses, start=1):
            seen.append(step)
            check(torch.tensor(loss), step, epoch=2, checkpoint_epoch=1, end_of_epoch=step == len(losses))
    assert seen[-1] == (3 if every == 1 else 4)  # deferred: read at the next multiple of `every`


def test_deferred_divergence_check_reads_at_the_end_of_an_epoch():
    from vaekit.training.loop import DivergenceCheck

    check = DivergenceCheck(torch.device("cpu"), every=50)
    check(torch.tensor(float("nan")), 7, epoch=1, checkpoint_epoch=0, end_of_epoch=False)
    with pytest.raises(TrainingDivergedError, match="step 7"):
        check(torch.tensor(1.0), 8, epoch=1, checkpoint_epoch=0, end_of_epoch=True)


def test_batch_noise_is_drawn_on_the_batch_device():
    from vaekit.training.loop import epoch_generator, noise_generator

    shuffle = epoch_generator(3, 2)
    # On a CPU the shuffling generator goes on drawing the noise: runs repeat bit for bit.
    assert noise_generator(3, 2, torch.device("cpu"), shuffle) is shuffle
    if torch.cuda.is_available():
        cuda = torch.device("cuda")
        g = noise_generator(3, 2, cuda, shuffle)
        assert g.device.type == "cuda"
        x = torch.rand(4, 5, device=cuda)
        assert torch.equal(torch.bernoulli(x, generator=g), torch.bernoulli(x, generator=noise_generator(3, 2, cuda, shuffle)))


def test_dequantisation_draws_its_noise_on_the_generators_device():
    from vaekit.data.views import dequantize_uniform

    x = torch.randint(0, 17, (6, 10)).float() / 16
    a = dequantize_uniform(x, 17, torch.Generator().manual_seed(5))
    assert torch.equal(a, dequantize_uniform(x, 17, torch.Generator().manual_seed(5)))
    assert ((a * 17).floor() == torch.round(x * 16)).all()  # the noise stays inside each level's bin
    if torch.cuda.is_available():
        g = torch.Generator(device="cuda").manual_seed(5)
        assert dequantize_uniform(x.cuda(), 17, g).device.type == "cuda"


@pytest.mark.parametrize(
    "options, option",
    [
        ({"net": {"name": "mlp", "encoder": [7], "normalization": "batch"}}, "net.normalization=layer"),
        ({"model": "lvae", "options": {"upper_latents": [2]}}, "model.normalization=none"),  # the ladder's own batch norm
    ],
)
def test_batch_norm_with_a_last_batch_of_one_is_refused_before_training(tmp_path, options, option):
    from vaekit.runtime.errors import ConfigError

    base = {"data": "digits", "limit": 150, "latent_dim": 2, "encoder": [7], "epochs": 1, "progress": "quiet"}
    with pytest.raises(ConfigError, match=f"last batch of one example \\(135 training examples.*--set {option}"):
        vaekit.train(out=tmp_path / "r", batch_size=67, **base, **options)
    assert not (tmp_path / "r" / ckpt.MODEL_FILE).exists()
    vaekit.train(out=tmp_path / "ok", batch_size=68, **base, **options)  # a last batch of 67 trains


@pytest.mark.parametrize("fast", ["off", "auto"])
def test_training_inside_no_grad_trains_as_outside(tmp_path, fast):
    options = {**SMALL, "epochs": 1, "limit": 200, "fast": fast}
    with torch.no_grad():
        inside = vaekit.train(out=tmp_path / "inside", **options)
    outside = vaekit.train(out=tmp_path / "outside", **options)
    for p, q in zip(inside.model.parameters(), outside.model.parameters(), strict=True):
        assert torch.equal(p, q)


# --- a run's identity, and the files a checkpoint's writes can leave behind ---------------------


def fingerprint(folder):
    """Each file of ``folder`` with the SHA-256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def full_disk_at(monkeypatch, name, write=1):
    """Make the ``write``-th atomic write of the file ``name`` fail with ENOSPC (a full disk)."""
    real, writes = atomic.tempfile.mkstemp, [0]

    def mkstemp(*args, **kwargs):
        if kwargs.get("prefix") == f".{name}.":
            writes[0] += 1
            if writes[0] == write:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


def best_file_epoch(run):
    """The epoch in ``model-best.safetensors``' metadata."""
    return json.loads(ckpt.load_tensors(run / "model-best.safetensors")[1]["epoch"])


def test_resume_refuses_another_runs_checkpoint_before_writing_anything(tmp_path):
    vaekit.train(epochs=2, out=tmp_path / "run", **SMALL)
    vaekit.train(epochs=1, seed=3, out=tmp_path / "other", **SMALL)
    shutil.copy(tmp_path / "other" / "trainer.safetensors", tmp_path / "run" / "trainer.safetensors")
    before = fingerprint(tmp_path / "run")
    with pytest.raises(CheckpointError, match="belongs to another run .* copy the other run's whole folder"):
        vaekit.resume(tmp_path / "run", epochs=3, progress="quiet")
    assert fingerprint(tmp_path / "run") == before


def test_a_copied_run_folder_resumes_and_a_checkpoint_without_an_identity_is_accepted(tmp_path):
    vaekit.train(epochs=1, out=tmp_path / "run", **SMALL)
    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    vaekit.resume(tmp_path / "copy", epochs=2, progress="quiet")
    assert json.loads((tmp_path / "copy" / "trainer.json").read_text())["epoch"] == 2
    # A checkpoint written before runs had an identity: trainer.safetensors without a run id.
    tensors, meta = ckpt.load_tensors(tmp_path / "run" / "trainer.safetensors")
    state = json.loads(meta["trainer_json"])
    del state["run_id"]
    ckpt.save_tensors(tmp_path / "run" / "trainer.safetensors", tensors, {"trainer_json": json.dumps(state)})
    vaekit.resume(tmp_path / "run", epochs=2, progress="quiet")
    assert json.loads((tmp_path / "run" / "trainer.json").read_text())["epoch"] == 2


def test_resume_rewrites_a_trainer_json_left_behind_or_damaged(tmp_path):
    from vaekit.summary import run_info

    run = tmp_path / "run"
    vaekit.train(epochs=2, out=run, **SMALL)
    good = (run / "trainer.json").read_text()
    stale = {**json.loads(good), "epoch": 1}
    for damage in (json.dumps(stale), "garbage{{"):
        (run / "trainer.json").write_text(damage)
        info = run_info(run)  # the committed checkpoint's state, not the damaged copy's
        assert (info["epochs_trained"], info["best_epoch"]) == (2, json.loads(good)["best_epoch"])
        vaekit.resume(run, progress="quiet")  # already trained: nothing to train, the copy repaired
        assert (run / "trainer.json").read_text() == good


def test_the_best_weights_are_written_only_after_the_checkpoint_commits(tmp_path, monkeypatch):
    # trainer.safetensors of epoch 2 fails: model-best must still be the committed best epoch's.
    run = tmp_path / "run"
    full_disk_at(monkeypatch, "trainer.safetensors", write=2)
    with pytest.raises(DiskFullError, match="epoch 1"):
        vaekit.train(epochs=3, out=run, **SMALL)
    assert best_file_epoch(run) == ckpt.checkpoint_state(run)["best_epoch"] == 1


def test_resume_rewrites_best_weights_whose_write_failed_after_the_commit(tmp_path, monkeypatch):
    run, whole = tmp_path / "run", tmp_path / "whole"
    vaekit.train(epochs=2, out=whole, **SMALL)
    full_disk_at(monkeypatch, "model-best.safetensors", write=2)
    with pytest.raises(DiskFullError, match="epoch 2\\) is intact: free some space, then `vaekit resume"):
        vaekit.train(epochs=2, out=run, **SMALL)
    assert best_file_epoch(run) == 1 and ckpt.checkpoint_state(run)["best_epoch"] == 2
    monkeypatch.undo()
    vaekit.resume(run, progress="quiet")
    assert best_file_epoch(run) == 2
    got, want = (ckpt.load_tensors(r / "model-best.safetensors")[0] for r in (run, whole))
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_best_weights_of_an_epoch_before_the_checkpoint_travel_in_it(tmp_path, monkeypatch):
    # Validation losses that make epoch 2 the best, checkpointed only at epoch 3.
    losses = iter([5.0, 2.0, 4.0, 5.0, 2.0, 4.0])
    monkeypatch.setattr(loop, "validate", lambda run: {"val_loss": next(losses)})
    options = {**SMALL, "checkpoint_every": 3}
    vaekit.train(epochs=3, out=tmp_path / "whole", **options)
    full_disk_at(monkeypatch, "model-best.safetensors", write=1)
    with pytest.raises(DiskFullError):
        vaekit.train(epochs=3, out=tmp_path / "run", **options)
    assert not (tmp_path / "run" / "model-best.safetensors").exists()
    monkeypatch.undo()
    vaekit.resume(tmp_path / "run", progress="quiet")
    got, info = ckpt.load_tensors(tmp_path / "run" / "model-best.safetensors")
    want, want_info = ckpt.load_tensors(tmp_path / "whole" / "model-best.safetensors")
    assert json.loads(info["epoch"]) == json.loads(info["step"]) // 11 == 2
    assert {k: info[k] for k in ("epoch", "step", "val_loss", "sha256")} == {
        k: want_info[k] for k in ("epoch", "step", "val_loss", "sha256")
    }


@pytest.mark.parametrize("failing", ["model.safetensors", "trainer.safetensors"])
def test_a_resume_that_fails_on_a_full_disk_leaves_config_json_as_it_was(tmp_path, monkeypatch, failing):
    # model.safetensors: rewritten when the resume starts; trainer.safetensors: its first checkpoint.
    run = tmp_path / "run"
    vaekit.train(epochs=1, out=run, **SMALL)
    before = (run / "config.json").read_bytes()
    full_disk_at(monkeypatch, failing, write=1)
    with pytest.raises(DiskFullError) as failed:
        vaekit.resume(run, epochs=3, lr=5e-4, progress="quiet")
    assert (run / "config.json").read_bytes() == before
    assert f"free some space, then `vaekit resume {run}` with the new settings again" in str(failed.value)
    monkeypatch.undo()
    vaekit.resume(run, epochs=3, lr=5e-4, progress="quiet")
    config = json.loads((run / "config.json").read_text())
    assert (config["train"]["epochs"], config["train"]["lr"]) == (3, 5e-4)


def test_epoch_lines_name_a_dequantised_runs_density_terms_and_give_the_discrete_offset(tmp_path, capsys):
    options = {**SMALL, "progress": "lines", "likelihood": "gaussian", "dequantize": "uniform", "epochs": 1}
    vaekit.train(out=tmp_path / "r", **options)
    err = capsys.readouterr().err
    offset = 64 * math.log(17)  # digits: D = 64 pixels of 17 grey levels
    assert f"D log(levels) = {offset:.2f} nats lower" in err
    epoch_line = next(line for line in err.splitlines() if line.startswith("epoch 1/1"))
    assert "train_density_elbo=" in epoch_line and "val_density_loss=" in epoch_line
    assert "train_elbo=" not in epoch_line and " val_loss=" not in epoch_line
    record = logged_values(tmp_path / "r")  # metrics.jsonl keeps its keys (old runs and plots read them)
    assert "train_elbo" in record[0] and "val_loss" in record[0]


def test_epoch_line_names_leave_an_exact_likelihood_of_undequantised_data_alone():
    assert loop.epoch_line_names(True, "none", 64, 17) == ({}, None)
    assert loop.epoch_line_names(False, "none", 64, 17) == ({"train_elbo": "train_recon-kl"}, None)
