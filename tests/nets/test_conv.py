import pytest
import torch

from vaekit.nets import MLP, ConvDecoder, ConvEncoder, NetSpec, create_nets
from vaekit.nets.conv import downsampled_sizes


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 7, 5), (2, 9, 1)])
def test_conv_nets_fit_images_of_any_size(shape):
    torch.manual_seed(0)
    spec = NetSpec(shape, latent_dim=3, params_per_dim=2)
    encoder, decoder = create_nets("conv", spec, encoder=[16], decoder=[16], channels=[4, 8])
    x = torch.rand(5, spec.input_dim)
    mu, logvar = encoder(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert decoder(mu).shape == (5, 2 * spec.input_dim)
    assert decoder(torch.randn(4, 5, 3)).shape == (4, 5, 2 * spec.input_dim)


def test_conv_decoder_retraces_the_encoder_sizes_stage_by_stage():
    encoder = ConvEncoder((1, 28, 28), [4, 8, 8], [], latent_dim=2)
    decoder = ConvDecoder(2, (1, 28, 28), [4, 8, 8], [])
    assert downsampled_sizes(28, 3) == [28, 14, 7, 4]
    maps = encoder.convs(torch.rand(1, 1, 28, 28))
    assert maps.shape[-2:] == (4, 4)
    sizes = []
    h = decoder.project(decoder.body(torch.randn(1, 2))).reshape(1, *decoder.start_shape)
    for layer in decoder.deconvs:
        h = layer(h)
        if isinstance(layer, torch.nn.ConvTranspose2d):
            sizes.append(h.shape[-1])
    assert sizes == [7, 14, 28]


def test_conv_net_refuses_tables():
    with pytest.raises(ValueError, match="images"):
        create_nets("conv", NetSpec((5,), 2, 1), encoder=[4])


@pytest.mark.parametrize("normalization, layer", [("batch", torch.nn.BatchNorm1d), ("layer", torch.nn.LayerNorm)])
def test_mlp_normalisation_is_configurable_and_handles_sample_dimensions(normalization, layer):
    net = MLP(6, [5, 4, 3], out_features=2, activation="elu", normalization=normalization)
    assert sum(isinstance(m, layer) for m in net.modules()) == 3
    assert net(torch.randn(7, 9, 6)).shape == (7, 9, 2)


def test_conditioned_nets_append_the_condition_to_their_inputs():
    spec = NetSpec((1, 4, 4), 2, 1, cond_dim=3)
    for name in ("mlp", "conv"):
        encoder, decoder = create_nets(name, spec, encoder=[8])
        x, z = torch.rand(2, 16), torch.randn(2, 2)
        a, b = torch.eye(3)[:2], torch.eye(3)[1:]
        assert not torch.equal(encoder(x, a)[0], encoder(x, b)[0])
        assert not torch.equal(decoder(z, a), decoder(z, b))
