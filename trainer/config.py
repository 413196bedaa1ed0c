"""TrainConfig: every training option in one dataclass, with the official StarGAN defaults.

The command-line options are generated from the fields (`add_arguments`), so each option is written once.
No torch here: the CLI builds its parser without importing torch.
"""

from __future__ import annotations

import argparse
import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from stargan_rt.argtypes import MAX_BATCH, finite_float, whole
from stargan_rt.bundle import MAX_CONV_DIM, MAX_IMAGE_SIZE, MAX_REPEAT_NUM, UPSAMPLING
from stargan_rt.errors import BadInput

CELEBA_DEFAULT_ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def opt(default: Any, help: str, **argparse_kwargs: Any) -> Any:
    """A dataclass field carrying its command-line help."""
    return field(default=default, metadata={"help": help, **argparse_kwargs})


@dataclass(frozen=True)
class TrainConfig:
    # data
    data: tuple[str, ...] = opt((), "dataset(s) as [FORMAT:]PATH, FORMAT one of celeba, rafd, custom (detected when "
                                    "omitted); two datasets train one joint model with the mask vector", metavar="SPEC")
    attrs: tuple[str, ...] = opt((), "attributes of multi-label datasets, by name (default: CelebA's official five, or "
                                     "every column of a custom CSV)", metavar="NAME")
    image_size: int = opt(128, "side of the square images the model sees")
    celeba_crop_size: int | None = opt(178, "centre crop of CelebA images before resizing ('none' = no crop)")
    rafd_crop_size: int | None = opt(None, "centre crop of RaFD images before resizing ('none' = whole image)")
    custom_crop_size: int | None = opt(None, "centre crop of custom-CSV images before resizing ('none' = whole image)")
    celeba_test_count: int | None = opt(None, "images held out for test, or auto: the official split's 1999 (an "
                                              "official off-by-one), a tenth of a list of fewer than 19,990",
                                        type=lambda t: _count_or_auto(t), metavar="N|auto")
    # model
    g_conv_dim: int = opt(64, "channels of G's first convolution")
    d_conv_dim: int = opt(64, "channels of D's first convolution")
    g_repeat_num: int = opt(6, "residual blocks in G")
    g_upsample: str = opt("transpose", "G's two up-sampling layers: transpose (the official 4x4 stride-2 transposed "
                                       "convolutions) or resize (nearest x2, then a 3x3 convolution: no checkerboard "
                                       "by construction, 2.25x those layers' FLOPs; not the official layout)",
                          choices=UPSAMPLING)
    d_repeat_num: int = opt(6, "stride-2 convolutions in D (image_size must be divisible by 2**d_repeat_num)")
    # losses
    lambda_cls: float = opt(1.0, "weight of the domain classification loss")
    lambda_rec: float = opt(10.0, "weight of the L1 reconstruction loss")
    lambda_gp: float = opt(10.0, "weight of the gradient penalty")
    # optimisation
    batch_size: int = opt(16, "images per step (per process under torchrun)")
    num_iters: int = opt(200000, "training iterations")
    num_iters_decay: int = opt(100000, "the learning rates fall linearly to 0 over these last iterations")
    lr_update_step: int = opt(1000, "the decaying learning rates are updated every this many iterations")
    g_lr: float = opt(1e-4, "generator learning rate")
    d_lr: float = opt(1e-4, "discriminator learning rate")
    n_critic: int = opt(5, "D steps per G step")
    beta1: float = opt(0.5, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    ema_decay: float = opt(0.999, "decay of the moving average of G's weights that samples, the bundle and export use "
                                  "(0 = none: the raw G); the first updates use min(decay, (1 + n) / (10 + n))")
    # speed: none of these changes what is computed (the bench checks the losses agree with the eager loop's)
    data_on_device: bool = opt(False, "keep the decoded dataset on the training device and cut batches there (no "
                                      "loader, no per-step copies; implies --cache-in-memory)")
    adam: str = opt("default", "Adam implementation: default (PyTorch's choice), foreach or fused",
                    choices=("default", "foreach", "fused"))
    compile: str = opt("none", "torch.compile G (g), or G and D (gd: D's gradient-penalty pass stays eager, compiled "
                               "autograd has no double backward)", choices=("none", "g", "gd"))
    cuda_graphs: bool = opt(False, "capture the whole D step and G step (forwards, penalty, backwards, Adam) as two "
                                   "CUDA graphs and replay them (one CUDA process)")
    # run
    out: str = opt("runs/stargan", "output folder: checkpoint/, bundle/, samples/, metrics.jsonl, tb/", metavar="DIR")
    resume: bool = opt(False, "continue the run saved in --out (its options, overridden by those given now)")
    seed: int = opt(1234, "random seed (data order, flips, target labels, initial weights)")
    device: str = opt("auto", "cpu, cuda, cuda:N or auto", metavar="DEVICE")
    amp: str = opt("none", "mixed precision: none or bf16 (autocast)", choices=("none", "bf16"))
    channels_last: bool = opt(False, "channels-last memory format (faster convolutions on recent GPUs)")
    workers: int = opt(2, "data loader worker processes (0 = load in the training process)")
    cache_in_memory: bool = opt(False, "decode and crop every image once, before training (small datasets, fast GPUs)")
    log_every: int = opt(10, "iterations between logged losses (and NaN checks)")
    sample_every: int = opt(1000, "iterations between sample grids (0 = only at the end)")
    save_every: int = opt(10000, "iterations between checkpoints and bundles (0 = only at the end)")
    num_samples: int = opt(8, "rows (fixed input images) of each sample grid")
    max_minutes: float | None = opt(None, "stop cleanly, saving checkpoint and bundle, once this much time has passed")
    tensorboard: bool = opt(True, "write TensorBoard scalars and images to OUT/tb when tensorboard is installed")

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):  # nan or inf in any number would train nothing sensible (Adam refuses a nan rate)
            value = getattr(self, f.name)
            if hints[f.name] in (float, float | None) and value is not None and not math.isfinite(value):
                raise BadInput(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")
        for name in ("g_lr", "d_lr"):
            if getattr(self, name) <= 0:
                raise BadInput(f"--{name.replace('_', '-')} must be above 0, got {getattr(self, name)}")
        for name in ("lambda_cls", "lambda_rec", "lambda_gp"):
            if getattr(self, name) < 0:
                raise BadInput(f"--{name.replace('_', '-')} cannot be negative, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise BadInput(f"--{name} must be at least 0 and below 1, got {getattr(self, name)}")
        if self.num_iters < 1:
            raise BadInput("--num-iters must be at least 1 (0 would write an untrained model)")
        for name in ("image_size", "g_conv_dim", "d_conv_dim", "batch_size", "n_critic", "lr_update_step"):
            if getattr(self, name) < 1:
                raise BadInput(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("g_repeat_num", "num_iters_decay", "workers", "celeba_test_count", "log_every",
                     "sample_every", "save_every", "num_samples"):
            if (getattr(self, name) or 0) < 0:
                raise BadInput(f"--{name.replace('_', '-')} cannot be negative")
        for name, most in (("image_size", MAX_IMAGE_SIZE), ("g_conv_dim", MAX_CONV_DIM), ("d_conv_dim", MAX_CONV_DIM),
                           ("g_repeat_num", MAX_REPEAT_NUM), ("batch_size", MAX_BATCH)):  # what a bundle may describe: refused now, not at the end
            if getattr(self, name) > most:
                raise BadInput(f"--{name.replace('_', '-')} must be at most {most}, got {getattr(self, name)}")
        if self.image_size % 4:
            raise BadInput(f"--image-size {self.image_size}: must be a multiple of 4 (G down-samples twice)")
        if self.d_repeat_num < 1 or self.image_size % 2**self.d_repeat_num:
            raise BadInput(f"--image-size {self.image_size} must be divisible by 2**d_repeat_num "
                           f"({2**self.d_repeat_num}); lower --d-repeat-num")
        if not 0 <= self.ema_decay < 1:
            raise BadInput(f"--ema-decay {self.ema_decay}: must be at least 0 and below 1 (0 = no moving average)")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise BadInput("--max-minutes must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {k: tuple(v) if _is_tuple(hints[k]) else v for k, v in d.items() if k in known}
        return cls(**kwargs)


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple


def _count_or_auto(text: str) -> int | None:
    if text.lower() == "auto":
        return None
    return whole(text)


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "no", "0") else whole(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else finite_float(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field. Options not given stay absent from the namespace (see `from_args`)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        tp = hints[f.name]
        meta = dict(f.metadata)
        help_text = meta.pop("help")
        default = f.default if f.default is not MISSING else None
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "dest": f.name, **meta}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif _is_tuple(tp):
            kwargs["nargs"] = "+"
        elif tp == (int | None):
            kwargs.setdefault("type", _optional_int)
        elif tp == (float | None):
            kwargs["type"] = _optional_float
        else:
            kwargs["type"] = {int: whole, float: finite_float}.get(tp, tp)
        if default != ():
            help_text += f" (default: {'none' if default is None else default})"
        parser.add_argument(f"--{f.name.replace('_', '-')}", help=help_text, **kwargs)


# What the checkpoint's weights are shaped by: a resumed run keeps them
ARCHITECTURE = ("image_size", "g_conv_dim", "d_conv_dim", "g_repeat_num", "d_repeat_num", "g_upsample")


def from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """`base` (the defaults, or a resumed run's config) with the options given on the command line."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    for name in ("data", "attrs"):  # accept "A,B C" as well as "A B C"
        if name in given:
            given[name] = tuple(p.strip() for v in given[name] for p in v.split(",") if p.strip())
    cfg = replace(base or TrainConfig(), **given)
    if base is not None:
        changed = [f"--{n.replace('_', '-')} {getattr(cfg, n)} (the run has {getattr(base, n)})" for n in ARCHITECTURE
                   if getattr(cfg, n) != getattr(base, n)]
        if changed:
            raise BadInput(f"a resumed run keeps its architecture: {', '.join(changed)}; train it into a new --out")
    return cfg
