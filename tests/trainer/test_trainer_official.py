"""Official checkpoints import strictly, and our generator computes what the official one does.

The reference below is written from the documented layer list (shared/notes/stargan-reference.md), independently
of stargan_rt.torch_model: plain nn.Sequential, nn.InstanceNorm2d(affine=True, track_running_stats=True), run in
train mode as the official test code does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from stargan_rt.bundle import load_meta
from stargan_rt.cli import main
from stargan_rt.torch_model import Generator, load_generator


class RefResidual(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class RefGenerator(nn.Module):
    def __init__(self, conv_dim: int, c_dim: int, repeat_num: int):
        super().__init__()

        def norm(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=True, track_running_stats=True)

        d = conv_dim
        layers = [nn.Conv2d(3 + c_dim, d, 7, 1, 3, bias=False), norm(d), nn.ReLU(inplace=True),
                  nn.Conv2d(d, 2 * d, 4, 2, 1, bias=False), norm(2 * d), nn.ReLU(inplace=True),
                  nn.Conv2d(2 * d, 4 * d, 4, 2, 1, bias=False), norm(4 * d), nn.ReLU(inplace=True)]
        layers += [RefResidual(4 * d) for _ in range(repeat_num)]
        layers += [nn.ConvTranspose2d(4 * d, 2 * d, 4, 2, 1, bias=False), norm(2 * d), nn.ReLU(inplace=True),
                   nn.ConvTranspose2d(2 * d, d, 4, 2, 1, bias=False), norm(d), nn.ReLU(inplace=True),
                   nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


def make_reference(c_dim: int = 5, conv_dim: int = 8, repeat_num: int = 2) -> RefGenerator:
    """A reference G with non-trivial affine parameters and running statistics (as a trained one has)."""
    torch.manual_seed(0)
    ref = RefGenerator(conv_dim, c_dim, repeat_num)
    for m in ref.modules():
        if isinstance(m, nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
            m.running_mean.uniform_(-2, 2)
            m.running_var.uniform_(0.1, 4)
            m.num_batches_tracked.fill_(200000)
    return ref.train()


def import_ckpt(tmp_path: Path, state: dict, name: str, *extra: str, legacy: bool = False) -> tuple[int, Path]:
    ckpt = tmp_path / f"{name}-G.ckpt"
    torch.save(state, ckpt, _use_new_zipfile_serialization=not legacy)
    out = tmp_path / f"{name}-bundle"
    rc = main(["import-official", str(ckpt), "--image-size", "32", "-o", str(out), *extra])
    return rc, out


def test_full_size_key_layout_and_parameter_count_match_the_official_generator() -> None:
    ours, ref = Generator(64, 5, 6), RefGenerator(64, 5, 6)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert len(ref.state_dict()) == 103  # 86 without the 17 num_batches_tracked of PyTorch >= 0.4
    assert sum(p.numel() for p in ours.parameters()) == 8_430_528
    for k, v in ref.state_dict().items():
        assert ours.state_dict()[k].shape == v.shape, k


@pytest.mark.parametrize("variant", ["with_num_batches_tracked", "without_num_batches_tracked", "legacy_format"])
def test_official_checkpoint_imports_strictly_and_matches_the_reference(tmp_path: Path, variant: str) -> None:
    ref = make_reference()
    state = ref.state_dict()
    if variant != "with_num_batches_tracked":  # PyTorch 0.3 checkpoints have no num_batches_tracked
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    rc, out = import_ckpt(tmp_path, state, variant, legacy=variant == "legacy_format")
    assert rc == 0
    meta = load_meta(out)
    assert meta.domain_names == ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    assert meta.datasets[0].exclusive == (("Black_Hair", "Blond_Hair", "Brown_Hair"),)
    assert (meta.architecture.conv_dim, meta.architecture.c_dim, meta.architecture.repeat_num) == (8, 5, 2)
    assert meta.architecture.image_size == 32 and meta.preprocess.crop_size == 178

    g, _ = load_generator(str(out))
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    c = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 1, 1]], dtype=torch.float32)
    with torch.no_grad():
        expected = ref.train()(x, c)
        assert torch.allclose(g.eval()(x, c), expected, atol=1e-5)  # load_generator's mode
        assert torch.allclose(g.train()(x, c), expected, atol=1e-5)
        # The trap avoided: the reference in eval mode uses the running statistics and computes something else.
        assert (ref.eval()(x, c) - expected).abs().max() > 0.1


def test_joint_official_checkpoint_imports_with_the_mask_layout(tmp_path: Path) -> None:
    rc, out = import_ckpt(tmp_path, make_reference(c_dim=15).state_dict(), "joint", "--dataset", "both")
    assert rc == 0
    meta = load_meta(out)
    assert meta.joint and meta.architecture.c_dim == 15 and len(meta.domain_names) == 13


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_truncated_or_garbage_checkpoint_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.ckpt"
    torch.save(make_reference().state_dict(), good)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    for bad in (truncated, garbage, tmp_path / "missing.ckpt"):
        assert main(["import-official", str(bad), "-o", str(tmp_path / "b")]) == 2
        assert str(bad) in one_error_line(capsys)
    assert not (tmp_path / "b").exists()


def test_wrong_attribute_count_or_discriminator_checkpoint_gives_one_line(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = import_ckpt(tmp_path, make_reference().state_dict(), "four", "--attrs", "Black_Hair,Blond_Hair,Male,Young")
    assert rc == 2 and "5 label channels" in one_error_line(capsys) and not out.exists()
    d_state = {"main.0.weight": torch.zeros(64, 3, 4, 4), "conv1.weight": torch.zeros(1, 2048, 3, 3)}
    rc, _ = import_ckpt(tmp_path, d_state, "disc")
    assert rc == 2 and "discriminator" in one_error_line(capsys)
    shrunk = {k: v[..., :2] if k == "main.3.weight" else v for k, v in make_reference().state_dict().items()}
    rc, _ = import_ckpt(tmp_path, shrunk, "shape")
    assert rc == 2 and "does not fit" in one_error_line(capsys)


class Payload:
    """Unpickling this would create a file: a checkpoint must never be unpickled as arbitrary objects."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_checkpoint_with_arbitrary_objects_is_refused_unexecuted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil-G.ckpt"
    torch.save({"main.0.weight": torch.zeros(8, 8, 7, 7), "x": Payload(marker)}, ckpt)
    assert main(["import-official", str(ckpt), "-o", str(tmp_path / "b")]) == 2
    one_error_line(capsys)
    assert not marker.exists()
