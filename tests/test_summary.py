"""The run summary of `vaekit info` and the report."""

import json

import torch

from vaekit.summary import describe_piece, trainer_state, training_history
from vaekit.training import checkpoint as ckpt


def test_training_history_names_each_span_of_epochs_with_its_step_and_precision():
    records = [{"epoch": 1, "training_step": "fused"}, {"epoch": 2, "training_step": "fused"}]
    records += [{"epoch": e, "training_step": "fused", "precision": "bf16-grad"} for e in (3, 4, 5)]
    records += [{"epoch": 6, "training_step": "autograd", "precision": "fp32"}]
    assert training_history(records) == "fused (epochs 1-2), fused bf16-grad (epochs 3-5), autograd fp32 (epoch 6)"
    assert training_history([]) == ""


def test_describe_piece_lists_the_options_set_after_the_name():
    assert describe_piece({"name": "mlp", "encoder": [64, 32], "decoder": None}) == "mlp encoder=[64, 32]"
    assert describe_piece({"name": "", "beta": 4}) == "beta=4"


def test_the_trainer_state_is_the_checkpoints_whatever_trainer_json_holds(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters())
    state = {"epoch": 3, "step": 30, "best_val_loss": 1.5, "best_epoch": 2}
    (tmp_path / ckpt.TRAINER_JSON).write_text("garbage{{")
    assert trainer_state(tmp_path) == {}  # no checkpoint, no readable copy: nothing known
    ckpt.save_checkpoint(tmp_path, model, optimizer, state)
    for copy in ("garbage{{", json.dumps({**state, "epoch": 2}), None):
        if copy is None:
            (tmp_path / ckpt.TRAINER_JSON).unlink()
        else:
            (tmp_path / ckpt.TRAINER_JSON).write_text(copy)
        assert trainer_state(tmp_path) == state
    (tmp_path / ckpt.TRAINER_FILE).unlink()
    (tmp_path / ckpt.TRAINER_JSON).write_text(json.dumps(state))
    assert trainer_state(tmp_path) == state  # trainer.json alone, as a folder without a checkpoint has it


def test_info_and_the_curves_leave_out_an_epoch_recorded_past_the_checkpoint(tmp_path):
    # A kill between an epoch's metrics line and its checkpoint: the run has not those weights.
    import vaekit
    from vaekit.summary import run_info
    from vaekit.viz import read_metrics

    run = tmp_path / "r"
    vaekit.train(data="digits", encoder=[8], latent_dim=2, epochs=2, out=run, progress="quiet")
    lines = (run / ckpt.METRICS_FILE).read_text().splitlines()
    extra = {**json.loads(lines[-1]), "epoch": 3, "training_step": "autograd"}
    (run / ckpt.METRICS_FILE).write_text("\n".join([*lines, json.dumps(extra)]) + "\n")
    info = run_info(run)
    assert info["epochs_trained"] == 2 and info["training"].endswith("(epochs 1-2)")
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]
