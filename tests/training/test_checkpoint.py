import json
import subprocess
import sys

import pytest
import torch

import vaekit
from vaekit.nets import NETS
from vaekit.runtime.errors import CheckpointError
from vaekit.training import checkpoint as ckpt


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))


def test_model_round_trips_exactly(tmp_path):
    model = _model()
    ckpt.save_model(tmp_path / "m.safetensors", model, {"epoch": 3})
    other = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    info = ckpt.load_model_weights(tmp_path / "m.safetensors", other)
    assert info == {"epoch": 3}
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_optimizer_state_round_trips(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 4)).sum().backward()
        opt.step()
    ckpt.save_checkpoint(tmp_path, model, opt, {"epoch": 1, "step": 3})
    model_state, others, state = ckpt.load_checkpoint(tmp_path)
    restored = torch.optim.Adam(_model().parameters(), lr=0.5)
    restored.load_state_dict(ckpt.optimizer_from_flat(others, state["optimizer"]))
    a, b = opt.state_dict(), restored.state_dict()
    assert a["param_groups"][0]["lr"] == b["param_groups"][0]["lr"] == 0.01
    for i in a["state"]:
        for key in a["state"][i]:
            assert torch.equal(a["state"][i][key], b["state"][i][key])
    assert json.loads((tmp_path / "trainer.json").read_text())["step"] == 3


def _corrupt_truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_flip_weight_byte(path):
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_garbage(path):
    path.write_bytes(b"this is not a checkpoint")


def _corrupt_empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (_corrupt_truncate, "truncated or corrupted"),
        (_corrupt_flip_weight_byte, "checksum"),
        (_corrupt_garbage, "truncated or corrupted"),
        (_corrupt_empty, "truncated or corrupted"),
    ],
)
def test_damaged_checkpoint_gives_a_clear_error(tmp_path, corrupt, message):
    path = tmp_path / "m.safetensors"
    ckpt.save_model(path, _model(), {"epoch": 1})
    corrupt(path)
    with pytest.raises(CheckpointError, match=message):
        ckpt.load_model_weights(path, _model())


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.load_model_weights(tmp_path / "nope.safetensors", _model())


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    ckpt.save_model(tmp_path / "m.safetensors", _model(), {})
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_loading_never_unpickles(tmp_path):
    # A pickle disguised as a checkpoint must be refused, not executed.
    import pickle

    (tmp_path / "m.safetensors").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError):
        ckpt.load_model_weights(tmp_path / "m.safetensors", _model())


def test_read_metrics_skips_a_cut_line_and_keeps_epochs_up_to_the_checkpoint(tmp_path):
    path = tmp_path / ckpt.METRICS_FILE
    assert ckpt.read_metrics(path) == []  # no epoch finished yet
    path.write_text('{"epoch": 1, "train_loss": 3.0}\n{"epoch": 2, "train_loss": 2.5}\n{"epoch": 3, "train_lo')
    assert [r["epoch"] for r in ckpt.read_metrics(path)] == [1, 2]
    assert [r["epoch"] for r in ckpt.read_metrics(path, up_to_epoch=1)] == [1]


def test_the_same_tensors_and_metadata_give_the_same_file_bytes_in_any_process(tmp_path):
    # The library orders header metadata at random in each process; the file must not depend on it.
    script = (
        "import sys, torch; from pathlib import Path; from vaekit.training.checkpoint import save_tensors; "
        "save_tensors(Path(sys.argv[1]), {'w': torch.arange(6.0).reshape(2, 3), 'b': torch.ones(2)}, "
        "{k: str(i) for i, k in enumerate('zyxwvutsrq')})"
    )
    files = [tmp_path / f"{i}.safetensors" for i in range(4)]
    for path in files:
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    assert len({path.read_bytes() for path in files}) == 1
    tensors, metadata = ckpt.load_tensors(files[0])
    assert list(metadata) == sorted(metadata) and torch.equal(tensors["w"], torch.arange(6.0).reshape(2, 3))


def test_weights_of_another_architecture_name_the_tensors_and_what_changed(tmp_path):
    ckpt.save_model(tmp_path / "m.safetensors", _model(), {"epoch": 1})
    wider = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2), torch.nn.Linear(2, 2))
    with pytest.raises(CheckpointError) as info:
        ckpt.load_model_weights(tmp_path / "m.safetensors", wider)
    message = str(info.value)
    assert "\n" not in message and "Missing key" not in message
    assert "holds weights of another architecture than the model built from config.json" in message
    assert "3.weight, 3.bias" in message and "0.weight 3x4 saved, 5x4 built" in message
    assert "a piece's default or code has likely changed" in message


@pytest.fixture
def deep_net(monkeypatch):
    """A net registered for the test whose default ``blocks`` sets how many hidden layers it has."""

    def deep(spec, blocks: int = 2):
        return NETS.get_factory("mlp")(spec, encoder=[6] * blocks)

    monkeypatch.setitem(NETS, "deep-test", deep)
    return deep


def test_an_old_run_whose_default_changed_names_the_options_it_did_not_record(tmp_path, monkeypatch, deep_net):
    run = tmp_path / "run"
    vaekit.train(data="synthetic5", net="deep-test", latent_dim=2, epochs=1, out=run, progress="quiet")
    config = json.loads((run / "config.json").read_text())
    config["model"]["net"] = {"name": "deep-test"}  # as written before vaekit recorded the defaults
    (run / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(deep_net, "__defaults__", (3,))
    with pytest.raises(CheckpointError) as loading:
        vaekit.load(run)
    message = str(loading.value)
    assert "model.safetensors holds weights of another architecture" in message
    assert "encoder.body.layers.4.weight" in message
    assert "today's defaults filled in net 'deep-test' (blocks)" in message and '"net": {..., "blocks": VALUE}' in message
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(CheckpointError, match=r"trainer.safetensors holds weights .* net 'deep-test' \(blocks\)"):
        vaekit.resume(run, epochs=2, progress="quiet")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


KILL_AT_FIRST_CHECKPOINT = """
import os, signal, sys
import torch
torch.set_num_threads(1)
import vaekit
from vaekit.training import checkpoint

real = checkpoint.save_tensors
def save_tensors(path, *args, **kwargs):
    if path.name == checkpoint.TRAINER_FILE:  # config.json is rewritten: die before the commit point
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, *args, **kwargs)
checkpoint.save_tensors = save_tensors
vaekit.resume(sys.argv[1], epochs=3, lr=5e-4, progress="quiet")
"""


def _as_written_before_recording(run):
    """Rewrite ``run``'s config.json as vaekit wrote it before recording every piece's options,
    so that a resume with new settings rewrites it with the resolved ones."""
    path = run / ckpt.CONFIG_FILE
    config = json.loads(path.read_text())
    config["model"].update(net={"name": "mlp", "encoder": [16]}, likelihood={"name": None}, prior={"name": None},
                           objective={"name": None}, options={})  # fmt: skip
    path.write_text(json.dumps(config, indent=2) + "\n")


def test_a_resume_killed_between_its_config_and_its_first_checkpoint_loads_and_resumes(tmp_path):
    import shutil

    from click.testing import CliRunner

    from vaekit.cli import main

    run, reference = tmp_path / "killed", tmp_path / "reference"
    vaekit.train(data="digits", encoder=[16], latent_dim=2, batch_size=128, epochs=1, out=run, progress="quiet")
    _as_written_before_recording(run)
    shutil.copytree(run, reference)
    script = tmp_path / "kill.py"
    script.write_text(KILL_AT_FIRST_CHECKPOINT)
    killed = subprocess.run([sys.executable, str(script), str(run)], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    # config.json holds the new settings and the resolved options, the checkpoint still epoch 1.
    config = json.loads((run / ckpt.CONFIG_FILE).read_text())
    assert (config["train"]["epochs"], config["train"]["lr"]) == (3, 5e-4) and "activation" in config["model"]["net"]
    assert ckpt.checkpoint_epoch(run) == 1 and ckpt.read_trainer_json(run)["epoch"] == 1
    # Both describe the same model: it loads, evaluates and is described as trained for 1 epoch.
    assert vaekit.load(run).latent_dim == 2
    for args in (["evaluate", run, "--k", "0", "--no-probe", "-q"], ["info", run]):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    assert "epochs_trained  1" in result.output
    # The next resume goes on from epoch 1 with the new settings, as an uninterrupted one does.
    vaekit.resume(run, progress="quiet")
    vaekit.resume(reference, epochs=3, lr=5e-4, progress="quiet")
    got, want = (ckpt.load_tensors(r / ckpt.TRAINER_FILE)[0] for r in (run, reference))
    assert ckpt.tensors_digest(got) == ckpt.tensors_digest(want)
    assert (run / ckpt.CONFIG_FILE).read_bytes() == (reference / ckpt.CONFIG_FILE).read_bytes()
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
