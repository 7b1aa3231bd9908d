import torch

import vaekit
from vaekit import fast
from vaekit.fast.denormals import flush_denormal_enabled, flushing_denormals


def test_flushing_is_on_inside_the_block_and_restored_after():
    assert not flush_denormal_enabled()
    with flushing_denormals() as on:
        assert on and flush_denormal_enabled()
        assert torch.tensor([1e-39]).mul(1.0).item() == 0.0  # a subnormal result becomes zero
    assert not flush_denormal_enabled()
    assert torch.tensor([1e-39]).mul(1.0).item() > 0.0


def test_disabled_or_already_on_leaves_the_setting_alone():
    with flushing_denormals(enabled=False) as on:
        assert not on and not flush_denormal_enabled()
    torch.set_flush_denormal(True)
    try:
        with flushing_denormals() as on:
            assert on
        assert flush_denormal_enabled()  # the caller's own setting survives the block
    finally:
        torch.set_flush_denormal(False)


def test_training_flushes_under_fast_auto_only(tmp_path, monkeypatch):
    seen = []
    real = fast.flushing_denormals

    def spy(enabled=True):
        seen.append(enabled)
        return real(enabled)

    monkeypatch.setattr(fast, "flushing_denormals", spy)
    small = {"data": "digits", "encoder": [8], "latent_dim": 2, "batch_size": 256, "epochs": 1, "progress": "quiet"}
    vaekit.train(out=tmp_path / "a", **small)
    vaekit.train(out=tmp_path / "b", fast="off", **small)
    assert seen == [True, False]
    assert not flush_denormal_enabled()
