"""The model bundle: the one hand-off between training, export and the runtime.

A bundle is a directory holding

    model.json              ModelMeta: architecture, preprocessing, domains, provenance
    generator.safetensors   the generator's state dict (official key layout)
    generator_raw.safetensors  optional: when generator.safetensors holds an exponential moving average of the
                            trained weights (the trainer's default), the raw weights of the same iteration, for
                            comparison; readers that do not know it ignore it

Exported artifacts (ONNX, engines) carry the same `ModelMeta` JSON, so the runtime needs nothing else.
Reading a bundle needs numpy and safetensors only; no torch, no pickle.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .atomic import atomic_directory, recover
from .errors import BadModel

FORMAT = "stargan-rt-model"
FORMAT_VERSION = 2  # 2: architecture.upsample (written only when not the official transpose)
UPSAMPLING = ("transpose", "resize")
META_FILE = "model.json"
WEIGHTS_FILE = "generator.safetensors"
RAW_WEIGHTS_FILE = "generator_raw.safetensors"
# Key under which exported artifacts (ONNX metadata_props, engine sidecars) store ModelMeta JSON.
METADATA_KEY = "stargan_rt"
# What a bundle folder may hold for save_bundle to replace it: its own files and exports kept beside them (the
# embedded default model ships its INT8 ONNX there).
BUNDLE_ENTRIES = (META_FILE, "generator*")
MAX_IMAGE_SIZE = 4096  # a larger claim is a corrupt description, not a model (inputs would be gigabytes)
# Likewise widths and depths far past any StarGAN (official: 64 and 6): building such a network before its weights are
# compared would take minutes and gigabytes.
MAX_CONV_DIM, MAX_REPEAT_NUM = 1024, 64


def _whole(where: str, value: object, low: int, high: int | None = None) -> int:
    """`value` if it is an integer in [low, high], else BadModel naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise BadModel(f"model description: {where} must be a whole number {span}, got {value!r}")
    return value


def _names(where: str, values: object) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) and v.strip() for v in values):  # type: ignore[attr-defined]
        raise BadModel(f"model description: {where} must be a list of non-empty names, got {values!r}")
    return tuple(values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Architecture:
    """Generator hyper-parameters (the official defaults). Weights do not depend on image_size."""

    image_size: int = 128
    c_dim: int = 5
    conv_dim: int = 64
    repeat_num: int = 6
    # G's two up-sampling layers: "transpose" (the official 4x4 stride-2 transposed convolutions) or "resize"
    # (nearest-neighbour x2 then a 3x3 convolution: no checkerboard by construction; StarGAN v2 up-samples so)
    upsample: str = "transpose"

    def __post_init__(self) -> None:
        _whole("architecture.image_size", self.image_size, 4, MAX_IMAGE_SIZE)
        if self.image_size % 4:
            raise BadModel(f"model description: architecture.image_size {self.image_size} must be a multiple of 4 "
                           "(the generator down-samples twice)")
        _whole("architecture.c_dim", self.c_dim, 1)
        _whole("architecture.conv_dim", self.conv_dim, 1, MAX_CONV_DIM)
        _whole("architecture.repeat_num", self.repeat_num, 0, MAX_REPEAT_NUM)
        if self.upsample not in UPSAMPLING:
            raise BadModel(f"model description: architecture.upsample {self.upsample!r} is not one of "
                           f"{', '.join(UPSAMPLING)}")


@dataclass(frozen=True)
class DomainSet:
    """The labels of one dataset, in the order of the label vector.

    kind "multi_label": each domain is an independent 0/1 attribute (CelebA); `exclusive` lists groups of
    which at most one is set (hair colours). kind "one_hot": exactly one domain is set (RaFD expressions).
    """

    name: str
    kind: str
    domains: tuple[str, ...]
    exclusive: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise BadModel(f"model description: a dataset name must be text, got {self.name!r}")
        if self.kind not in ("multi_label", "one_hot"):
            raise BadModel(f"dataset {self.name!r}: unknown label kind {self.kind!r}")
        if not self.domains:
            raise BadModel(f"dataset {self.name!r} has no domains")
        _names(f"dataset {self.name!r} domains", self.domains)
        for group in self.exclusive:
            if not set(_names(f"dataset {self.name!r} exclusive group", group)) <= set(self.domains):
                raise BadModel(f"dataset {self.name!r}: exclusive group {list(group)} names domains it does not have")


@dataclass(frozen=True)
class Preprocess:
    """How a face image becomes the generator's input (the official CelebA transform by default).

    crop_size: side of the centre crop taken from the source image before resizing to image_size
    (178 for CelebA's aligned 178x218 faces; None keeps the whole image, as for RaFD-style crops).
    Pixels are RGB, scaled to [-1, 1] by (x / 255 - mean) / std.
    """

    crop_size: int | None = 178
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    channel_order: str = "RGB"

    def __post_init__(self) -> None:
        if self.crop_size is not None:
            _whole("preprocess.crop_size", self.crop_size, 1, 65536)
        for name in ("mean", "std"):
            v = getattr(self, name)
            ok = len(v) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
            if not ok or (name == "std" and min(v) <= 0):
                raise BadModel(f"model description: preprocess.{name} must be three finite numbers"
                               f"{' above 0' if name == 'std' else ''}, got {list(v)!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise BadModel(f"model description: preprocess.channel_order must be RGB or BGR, got {self.channel_order!r}")


@dataclass(frozen=True)
class ModelMeta:
    """Everything needed to use a generator besides its weights."""

    architecture: Architecture
    datasets: tuple[DomainSet, ...]
    preprocess: Preprocess = Preprocess()
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.datasets:
            raise BadModel("model description lists no datasets")
        names = [d for ds in self.datasets for d in ds.domains]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise BadModel(f"domain names must be unique across datasets; repeated: {sorted(dup)}")
        if self.label_dim != self.architecture.c_dim:
            raise BadModel(
                f"domains need a {self.label_dim}-channel label (domains + mask) "
                f"but the architecture has c_dim={self.architecture.c_dim}"
            )

    @property
    def joint(self) -> bool:
        """Trained on several datasets with the paper's mask vector."""
        return len(self.datasets) > 1

    @property
    def label_dim(self) -> int:
        """[labels of dataset 1 | labels of dataset 2 | ... | one-hot mask] for joint models."""
        return sum(len(ds.domains) for ds in self.datasets) + (len(self.datasets) if self.joint else 0)

    @property
    def domain_names(self) -> tuple[str, ...]:
        return tuple(d for ds in self.datasets for d in ds.domains)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["provenance"] = dict(self.provenance)
        if d["architecture"]["upsample"] == "transpose":  # the official layout reads as before everywhere
            del d["architecture"]["upsample"]
            return {"format": FORMAT, "format_version": 1, **d}
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **d}  # older readers refuse it in one line

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelMeta":
        if d.get("format") != FORMAT:
            raise BadModel(f"not a stargan-rt model description (format={d.get('format')!r})")
        version = d.get("format_version", 0)
        if isinstance(version, bool) or not isinstance(version, int):
            raise BadModel(f"model description: format_version must be a whole number, got {version!r}")
        if version > FORMAT_VERSION:
            raise BadModel(f"model description version {version} is newer than this stargan-rt understands")
        try:
            pre = dict(d.get("preprocess", {}))
            for k in ("mean", "std"):
                if k in pre:
                    pre[k] = tuple(pre[k])
            return cls(
                architecture=Architecture(**d["architecture"]),
                datasets=tuple(
                    DomainSet(
                        name=ds["name"],
                        kind=ds["kind"],
                        domains=tuple(ds["domains"]),
                        exclusive=tuple(tuple(g) for g in ds.get("exclusive", ())),
                    )
                    for ds in d["datasets"]
                ),
                preprocess=Preprocess(**pre),
                provenance=dict(d.get("provenance", {})),
            )
        except KeyError as exc:
            raise BadModel(f"malformed model description: {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise BadModel(f"malformed model description: {exc}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelMeta":
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:  # nesting too deep
            raise BadModel(f"model description is not valid JSON: {exc}") from None
        if not isinstance(d, dict):
            raise BadModel("model description is not a JSON object")
        return cls.from_dict(d)


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / META_FILE).is_file()


def save_bundle(path: str | Path, meta: ModelMeta, state_dict: Mapping[str, np.ndarray],
                raw_state_dict: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write a bundle atomically. `state_dict` maps official key names to numpy arrays; `raw_state_dict`, when
    given, is the raw generator whose moving average `state_dict` is (written to RAW_WEIGHTS_FILE)."""
    from safetensors.numpy import save

    path = Path(path)
    files = {WEIGHTS_FILE: state_dict, **({RAW_WEIGHTS_FILE: raw_state_dict} if raw_state_dict is not None else {})}
    for weights in files.values():  # a damaged model is refused before it can replace a good one
        check_finite(f"{path} not written", weights.items())
    with atomic_directory(path, replaces=BUNDLE_ENTRIES) as tmp:
        for name, weights in files.items():
            arrays = {k: np.ascontiguousarray(v) for k, v in weights.items()}
            # serialised here, written by Python: a full disk is an OSError with its errno, not a SafetensorError
            (tmp / name).write_bytes(save(arrays, metadata={METADATA_KEY: meta.to_json()}))
        (tmp / META_FILE).write_text(meta.to_json() + "\n", encoding="utf-8")
    return path


def load_meta(path: str | Path) -> ModelMeta:
    """The ModelMeta of a bundle directory (or its model.json)."""
    path = Path(path)
    if not path.exists():
        _recover(path if path.name != META_FILE else path.parent)
    meta_file = path / META_FILE if path.is_dir() else path
    if not meta_file.is_file():
        raise BadModel(f"{path}: not a model bundle (no {META_FILE})")
    try:
        text = meta_file.read_bytes()
    except OSError as exc:
        raise BadModel(f"{meta_file}: cannot read ({exc.strerror})") from None
    return ModelMeta.from_json(text)


def has_raw_weights(path: str | Path) -> bool:
    """Whether the bundle also holds the raw generator its weights are a moving average of."""
    return (Path(path) / RAW_WEIGHTS_FILE).is_file()


def load_bundle(path: str | Path, raw: bool = False) -> tuple[ModelMeta, dict[str, np.ndarray]]:
    """Meta and FP32 numpy weights of a bundle directory, checked for a complete, readable file.
    `raw=True` reads the raw generator instead (RAW_WEIGHTS_FILE; see the module docstring)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.exists():
        _recover(path)
    if not path.exists():
        raise BadModel(f"{path}: no such model bundle")
    meta = load_meta(path)
    weights_file = path / (RAW_WEIGHTS_FILE if raw else WEIGHTS_FILE)
    if not weights_file.is_file():
        raise BadModel(f"{path}: bundle has no {weights_file.name}")
    try:
        arrays = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadModel(f"{weights_file}: corrupt or truncated weights ({exc})") from None
    check_finite(weights_file, arrays.items())
    return meta, {k: v.astype(np.float32) if v.dtype != np.int64 else v for k, v in arrays.items()}


def check_finite(where: object, weights: Iterable[tuple[str, np.ndarray]]) -> None:
    """BadModel when weights hold NaN or infinities: such a model gives black or garbage images, never an error."""
    for key, v in weights:
        bad = int(v.size - np.count_nonzero(np.isfinite(v))) if v.dtype.kind == "f" else 0
        if bad:
            raise BadModel(f"{where}: {bad} of the {v.size} weights of {key} are NaN or infinite (training diverged, "
                           "or the file is damaged): use an earlier model")


def _recover(path: Path) -> None:
    """A bundle missing because a save was killed between its two renames comes back (atomic.recover)."""
    try:
        recover(path)
    except OSError:
        pass  # a read-only place: nothing of ours to recover there
