"""The run summary of `vaekit info` and the report."""

from vaekit.summary import describe_piece, training_history


def test_training_history_names_each_span_of_epochs_with_its_step_and_precision():
    records = [{"epoch": 1, "training_step": "fused"}, {"epoch": 2, "training_step": "fused"}]
    records += [{"epoch": e, "training_step": "fused", "precision": "bf16-grad"} for e in (3, 4, 5)]
    records += [{"epoch": 6, "training_step": "autograd", "precision": "fp32"}]
    assert training_history(records) == "fused (epochs 1-2), fused bf16-grad (epochs 3-5), autograd fp32 (epoch 6)"
    assert training_history([]) == ""


def test_describe_piece_lists_the_options_set_after_the_name():
    assert describe_piece({"name": "mlp", "encoder": [64, 32], "decoder": None}) == "mlp encoder=[64, 32]"
    assert describe_piece({"name": "", "beta": 4}) == "beta=4"
