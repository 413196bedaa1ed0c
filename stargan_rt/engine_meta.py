"""TensorRT engine sidecars: what an engine was built for, and the check that it fits this machine.

A serialized TensorRT engine runs only on the GPU model and TensorRT version that built it. Every engine
`generator_fp16.plan` has a sidecar `generator_fp16.plan.json`:

    {"tensorrt_version": "10.13.0.35", "gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0",
     "profile": {"min": 1, "opt": 1, "max": 8}, "onnx_sha256": "...", "onnx": "generator_fp16.onnx",
     "precision": "fp16", "strongly_typed": true, "stargan_rt": {...ModelMeta...}}

Loaders call `check_engine_compatible(read_sidecar(plan))` before deserializing. This module imports
neither torch nor tensorrt, so the runtime can use it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from .atomic import atomic_write_text
from .bundle import METADATA_KEY, ModelMeta
from .errors import BadInput, BadModel, MissingDependency

SIDECAR_SUFFIX = ".json"
REBUILD_HINT = "rebuild it on this machine: stargan-rt export BUNDLE -o DIR --engine --rebuild"


@dataclass(frozen=True)
class BatchProfile:
    """A TensorRT optimisation profile over the batch dimension."""

    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise BadInput(f"batch range must satisfy 1 <= MIN <= OPT <= MAX, got {self.min}:{self.opt}:{self.max}")

    @classmethod
    def parse(cls, text: str) -> "BatchProfile":
        """'MIN:OPT:MAX' (e.g. '1:1:8'), or 'N' for a fixed batch of N."""
        parts = text.strip().split(":")
        if len(parts) not in (1, 3) or not all(re.fullmatch(r"\d+", p.strip()) for p in parts):
            raise BadInput(f"cannot parse batch range {text!r}: expected MIN:OPT:MAX (e.g. 1:1:8) or N")
        values = [int(p) for p in parts]
        return cls(*(values * 3 if len(values) == 1 else values))

    def __str__(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"


@dataclass(frozen=True)
class GpuTarget:
    """What an engine is tied to: the TensorRT version and the GPU model."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "major.minor"


@dataclass(frozen=True)
class EngineSidecar:
    target: GpuTarget
    profile: BatchProfile
    onnx_sha256: str
    onnx: str  # file name of the ONNX the engine was built from
    precision: str
    strongly_typed: bool
    meta: ModelMeta

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self.target),
            "profile": asdict(self.profile),
            "onnx_sha256": self.onnx_sha256,
            "onnx": self.onnx,
            "precision": self.precision,
            "strongly_typed": self.strongly_typed,
            METADATA_KEY: self.meta.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EngineSidecar":
        try:
            return cls(
                target=GpuTarget(str(d["tensorrt_version"]), str(d["gpu_name"]), str(d["compute_capability"])),
                profile=BatchProfile(**{k: int(d["profile"][k]) for k in ("min", "opt", "max")}),
                onnx_sha256=str(d["onnx_sha256"]),
                onnx=str(d.get("onnx", "")),
                precision=str(d.get("precision", "fp16")),
                strongly_typed=bool(d.get("strongly_typed", False)),
                meta=ModelMeta.from_dict(d[METADATA_KEY]),
            )
        except (KeyError, TypeError, ValueError, BadInput) as exc:
            raise BadModel(f"malformed engine sidecar: {exc!r}") from None


def sidecar_path(plan: str | Path) -> Path:
    plan = Path(plan)
    return plan.with_name(plan.name + SIDECAR_SUFFIX)


def write_sidecar(plan: str | Path, sidecar: EngineSidecar) -> Path:
    path = sidecar_path(plan)
    atomic_write_text(path, json.dumps(sidecar.to_dict(), indent=2) + "\n")
    return path


def read_sidecar(plan: str | Path) -> EngineSidecar:
    """The sidecar of an engine file, or BadModel saying why it cannot be used."""
    path = sidecar_path(plan)
    if not path.is_file():
        raise BadModel(f"{plan}: no sidecar {path.name}; without it the engine's GPU and TensorRT version are unknown ({REBUILD_HINT})")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadModel(f"{path}: unreadable engine sidecar ({exc})") from None
    if not isinstance(d, dict):
        raise BadModel(f"{path}: engine sidecar is not a JSON object")
    return EngineSidecar.from_dict(d)


def check_engine_compatible(sidecar: EngineSidecar, current: GpuTarget | None = None) -> None:
    """Refuse an engine built for another GPU model or TensorRT version (BadModel with a clear message).

    `current` defaults to this machine (the installed tensorrt and GPU 0); loaders on another device pass it.
    """
    current = current or current_target()
    built = sidecar.target
    problems = []
    if built.tensorrt_version != current.tensorrt_version:
        problems.append(f"TensorRT {built.tensorrt_version} (this machine has {current.tensorrt_version})")
    if built.compute_capability != current.compute_capability or built.gpu_name != current.gpu_name:
        problems.append(
            f"GPU {built.gpu_name} (compute capability {built.compute_capability}; this machine has "
            f"{current.gpu_name}, {current.compute_capability})"
        )
    if problems:
        raise BadModel(f"this engine was built for {' and '.join(problems)}; {REBUILD_HINT}")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def current_target(device: int = 0) -> GpuTarget:
    """The installed TensorRT version and GPU `device`'s name and compute capability."""
    from ._optional import require

    trt = require("tensorrt", "checking a TensorRT engine")
    name, cc = gpu_identity(device)
    return GpuTarget(str(trt.__version__), name, cc)


def gpu_identity(device: int = 0) -> tuple[str, str]:
    """(name, "major.minor") of a CUDA GPU, through cuda-python, torch or nvidia-smi, whichever is present."""
    try:  # cuda-python (cuda.bindings), what TensorRT's own samples use
        from cuda.bindings import runtime as cudart  # type: ignore[import-not-found]

        err, prop = cudart.cudaGetDeviceProperties(device)
        if int(err) == 0:
            name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
            return name.rstrip("\x00").strip(), f"{prop.major}.{prop.minor}"
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(device)
            return torch.cuda.get_device_name(device), f"{major}.{minor}"
    except ImportError:
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        r = subprocess.run(
            [smi, f"--id={device}", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30,
        )
        if r.returncode == 0 and "," in r.stdout:
            name, cc = r.stdout.strip().splitlines()[0].rsplit(",", 1)
            return name.strip(), cc.strip()
    raise MissingDependency(f"cannot identify CUDA GPU {device}: no cuda-python, CUDA-enabled torch or nvidia-smi found")
