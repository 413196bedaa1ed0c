"""Turn an official StarGAN generator checkpoint (yunjey/stargan `*-G.ckpt`) into a model bundle.

The checkpoint is a state dict saved by torch.save (PyTorch 0.3 for the released ones, so possibly without
`num_batches_tracked`). It is read with torch.load(weights_only=True): tensors only, never arbitrary objects.
The architecture (conv_dim, c_dim, repeat_num) is read from the weights' shapes and must fit strictly.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Mapping, Sequence

import torch

from stargan_rt.bundle import MAX_IMAGE_SIZE, Architecture, DomainSet, Preprocess, save_bundle
from stargan_rt.errors import BadInput, BadModel
from stargan_rt.torch_model import Generator, generator_state_numpy, load_state

from .checkpoint import load_tensors
from .meta import RAFD_EXPRESSIONS, build_meta, celeba_domains, label_dim, rafd_domains

DATASETS = ("celeba", "rafd", "both")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, or a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such checkpoint file")
    state = load_tensors(path, "generator checkpoint (*-G.ckpt)")
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in state.items()):
        raise BadModel(f"{path}: expected a generator state dict (names -> tensors), found {type(state).__name__}")
    return dict(state)


def infer_architecture(state: Mapping[str, torch.Tensor], path: str | Path) -> tuple[int, int, int]:
    """(conv_dim, c_dim, repeat_num) from the official key layout."""
    if "conv1.weight" in state or "conv2.weight" in state:
        raise BadModel(f"{path}: this is a discriminator checkpoint (it has D's conv1/conv2 heads): give the *-G.ckpt")
    first = state.get("main.0.weight")
    if first is None or first.dim() != 4:
        raise BadModel(f"{path}: not a StarGAN generator state dict (no main.0.weight)")
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"main\.(\d+)\.main\.0\.weight$", k))}
    return int(first.shape[0]), int(first.shape[1]) - 3, len(blocks)


def import_official(ckpt: str | Path, out: str | Path, attrs: Sequence[str], image_size: int = 128,
                    dataset: str = "celeba", rafd_classes: Sequence[str] = RAFD_EXPRESSIONS,
                    command: str | None = None) -> Path:
    """Write a bundle for an official generator checkpoint; the label layout must match its c_dim."""
    if dataset not in DATASETS:
        raise BadInput(f"dataset {dataset!r}: use one of {', '.join(DATASETS)}")
    if dataset in ("celeba", "both"):
        _check_celeba_attrs(attrs)
    try:
        Architecture(image_size=image_size)
    except BadModel:
        raise BadInput(f"--image-size {image_size}: a multiple of 4 from 4 to {MAX_IMAGE_SIZE}, the size it was "
                       "trained at (128 for the released models)") from None
    state = read_state_dict(ckpt)
    conv_dim, c_dim, repeat_num = infer_architecture(state, ckpt)
    sets: list[DomainSet] = []
    if dataset in ("celeba", "both"):
        sets.append(celeba_domains(attrs))
    if dataset in ("rafd", "both"):
        sets.append(rafd_domains(rafd_classes))
    if label_dim(sets) != c_dim:
        raise BadInput(f"{ckpt}: the generator takes {c_dim} label channels, but {dataset} with "
                       f"{', '.join(d for s in sets for d in s.domains)} makes {label_dim(sets)}"
                       + ("" if dataset == "both" else "; check --attrs (same names, same order as in training)"))
    g = Generator(conv_dim, c_dim, repeat_num)
    load_state(g, state, f"checkpoint {ckpt}")
    preprocess = Preprocess(crop_size=178 if dataset != "rafd" else None)
    provenance = {
        "imported_from": str(Path(ckpt).resolve()),
        "sha256": hashlib.sha256(Path(ckpt).read_bytes()).hexdigest(),
        "source": "official StarGAN implementation (github.com/yunjey/stargan)",
        "command": command,
        "num_batches_tracked_in_source": any(k.endswith("num_batches_tracked") for k in state),
    }
    meta = build_meta(sets, image_size, conv_dim, repeat_num, preprocess, provenance)
    return save_bundle(out, meta, generator_state_numpy(g))


def _check_celeba_attrs(attrs: Sequence[str]) -> None:
    """The official models were trained on CelebA attributes: a name outside its 40 would make an unusable bundle."""
    from stargan_rt.synth.attributes import CELEBA_ATTRIBUTES

    if not attrs:
        raise BadInput("--attrs: give the CelebA attributes the model was trained on, in order")
    for a in attrs:
        if a not in CELEBA_ATTRIBUTES:
            close = difflib.get_close_matches(a, CELEBA_ATTRIBUTES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"--attrs: {a!r} is not a CelebA attribute{hint}; CelebA has {', '.join(CELEBA_ATTRIBUTES)}")
    if len(set(attrs)) != len(attrs):
        raise BadInput(f"--attrs repeats an attribute: {', '.join(attrs)}")
