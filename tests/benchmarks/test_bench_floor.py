"""The floor's cost model: MACs and parameters computed from the layer list match what PyTorch counts."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.floor import generator_cost, generator_layers
from stargan_rt.bundle import Architecture
from stargan_rt.torch_model import build_generator


def counted_macs(arch: Architecture, size: int) -> int:
    """FLOPs torch.utils.flop_counter counts for one image (on the meta device: shapes only, no arithmetic) / 2."""
    with torch.device("meta"):
        g = build_generator(arch)
        x, c = torch.empty(1, 3, size, size), torch.empty(1, arch.c_dim)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        g(x, c)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "arch,size",
    [
        (Architecture(), 128),  # the official generator
        (Architecture(), 256),
        (Architecture(c_dim=15, conv_dim=16, repeat_num=2), 64),  # joint-dataset label width, smaller net
        (Architecture(conv_dim=4, repeat_num=1), 32),
        (Architecture(conv_dim=16, upsample="resize"), 128),  # nearest x2 + 3x3 conv instead of transposed convs
    ],
)
def test_analytic_macs_equal_the_flop_counter(arch, size):
    assert generator_cost(arch, size).macs == counted_macs(arch, size)


def test_official_cost_is_the_published_figure():
    cost = generator_cost(Architecture(), 128)
    assert round(cost.macs / 1e9, 2) == 9.96
    assert round(generator_cost(Architecture(), 256).macs / 1e9, 1) == 39.8
    assert cost.params == 8_430_528  # the reference notes' parameter count for c_dim 5


@pytest.mark.parametrize("arch", [Architecture(), Architecture(c_dim=8, conv_dim=8, repeat_num=3),
                                  Architecture(conv_dim=8, upsample="resize")])
def test_parameter_count_matches_the_module(arch):
    g = build_generator(arch)
    assert generator_cost(arch, 64).params == sum(p.numel() for p in g.parameters())


def test_layer_list_follows_the_official_shapes():
    layers = generator_layers(Architecture(), 128)
    convs = [lay for lay in layers if lay.kind in ("conv", "convT")]
    assert len(convs) == 3 + 2 * 6 + 2 + 1
    assert (convs[0].c_in, convs[0].c_out, convs[0].k, convs[0].h_out) == (8, 64, 7, 128)
    assert (convs[2].c_out, convs[2].h_out) == (256, 32)  # after two stride-2 convolutions
    assert (convs[-1].c_out, convs[-1].h_out) == (3, 128)
    assert sum(lay.kind == "norm" for lay in layers) == 2 * 6 + 5


def test_bytes_per_image_share_weights_across_the_batch():
    cost = generator_cost(Architecture(), 128)
    one, many = cost.bytes_per_image(4, 1), cost.bytes_per_image(4, 64)
    assert one - many == pytest.approx(cost.params * 4 * (1 - 1 / 64))
    assert cost.bytes_per_image(2, 1) == pytest.approx(one / 2)
