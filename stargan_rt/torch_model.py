"""StarGAN generator and discriminator in PyTorch, with the official layer list and state-dict keys.

Imported lazily (it imports torch): `import stargan_rt` never loads this module.

Inference semantics: every InstanceNorm normalises each image with its own statistics, in train and eval
mode alike. The official test code never calls eval(), and its checkpoints' running statistics give
garbage when used (yunjey/stargan#102). `InstanceNorm` below keeps the running-stat buffers only so that
official checkpoints load strictly; forward never reads them, and ONNX export gives InstanceNormalization.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .bundle import Architecture, ModelMeta, load_bundle
from .errors import BadModel


class InstanceNorm(nn.InstanceNorm2d):
    """InstanceNorm2d(affine, track_running_stats) that always uses per-image statistics."""

    def __init__(self, num_features: int):
        super().__init__(num_features, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):  # type: ignore[no-untyped-def]
        # Checkpoints saved by PyTorch 0.3 (the released ones) have no num_batches_tracked.
        state_dict.setdefault(prefix + "num_batches_tracked", torch.zeros((), dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)


class ResizeConv(nn.Module):
    """x2 nearest-neighbour up-sampling, then a 3x3 convolution: every output pixel sees the same number of kernel
    taps, so there is no checkerboard to unlearn (Odena et al., Distill 2016). 2.25x a transposed layer's FLOPs."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.conv = nn.Conv2d(dim_in, dim_out, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResidualBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            InstanceNorm(dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            InstanceNorm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class Generator(nn.Module):
    """G(x, c): x (N, 3, H, W) in [-1, 1], c (N, c_dim) 0/1 labels -> (N, 3, H, W) in [-1, 1]."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6, upsample: str = "transpose"):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False),
            InstanceNorm(conv_dim),
            nn.ReLU(inplace=True),
        ]
        dim = conv_dim
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), InstanceNorm(dim * 2), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]
        for _ in range(2):  # up-sampling
            up = nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False) if upsample == "transpose" else ResizeConv(dim, dim // 2)
            layers += [up, InstanceNorm(dim // 2), nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.c_dim = c_dim

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # Labels tiled over the image and concatenated after the 3 image channels (exports as Expand + Concat).
        c = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
    """PatchGAN real/fake map (`conv1`) and domain logits (`conv2`), no normalisation."""

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        kernel = image_size // 2**repeat_num
        if kernel < 1:
            raise BadModel(f"image_size {image_size} is too small for a discriminator with repeat_num={repeat_num}")
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, kernel, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).view(h.size(0), -1)


def build_generator(arch: Architecture) -> Generator:
    return Generator(conv_dim=arch.conv_dim, c_dim=arch.c_dim, repeat_num=arch.repeat_num, upsample=arch.upsample)


def load_state(model: nn.Module, state: Mapping[str, np.ndarray | torch.Tensor], what: str) -> None:
    """Strict load with a one-line error naming what does not fit."""
    tensors = {k: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v for k, v in state.items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise BadModel(f"{what} does not fit this architecture: {detail[:400]}") from None


def generator_state_numpy(g: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in g.state_dict().items()}


def load_generator(path: str, device: str | torch.device = "cpu") -> tuple[Generator, ModelMeta]:
    """A bundle's generator, ready for inference (per-image InstanceNorm whatever the mode)."""
    meta, weights = load_bundle(path)
    g = build_generator(meta.architecture)
    load_state(g, weights, f"bundle {path}")
    return g.to(device).eval().requires_grad_(False), meta
