"""TensorRT engine sidecars: which product built an engine, for which GPUs, and the check that it fits this machine.

Two NVIDIA products build and run the engines (`PRODUCTS`), told apart by what their modules provide:
- "tensorrt": TensorRT, module `tensorrt`. Builds on the GPU it targets and tunes for that GPU model, so an
  engine runs on that model only. (`tensorrt-stubs` alone makes `import tensorrt` succeed as an empty
  namespace: a real TensorRT is recognised by its Builder.)
- "tensorrt-rtx": TensorRT for RTX, module `tensorrt_rtx` (pip install tensorrt-rtx-cu13). Builds ahead of time,
  with no GPU, for a list of compute capabilities, strongly typed networks only; kernels are compiled just in
  time on the GPU that runs the engine. An engine runs on any GPU of a listed capability.

Every engine `generator_fp16.plan` has a sidecar `generator_fp16.plan.json`:

    {"product": "tensorrt-rtx", "tensorrt_version": "1.7.1.116", "compute_capabilities": ["8.0", "8.6", "8.9", "12.0"],
     "gpu_name": "", "profile": {"min": 1, "opt": 1, "max": 8}, "onnx_sha256": "...", "onnx": "generator_fp16.onnx",
     "precision": "fp16", "strongly_typed": true, "stargan_rt": {...ModelMeta...}}

(`gpu_name` is the GPU model a TensorRT engine was built on; "" for an engine that any GPU of its capabilities
runs.) Sidecars written before products were recorded (`compute_capability`, no `product`) read as TensorRT.
Loaders call `engine_product(sidecar)` (product installed, same version: no GPU needed) and then
`check_engine_compatible(sidecar, current)` with this machine's GPU. This module imports neither torch nor
tensorrt, so the runtime can use it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from .atomic import atomic_write_text
from .bundle import METADATA_KEY, ModelMeta
from .argtypes import MAX_BATCH
from .errors import BadInput, BadModel, MissingDependency


@dataclass(frozen=True)
class Product:
    name: str  # as sidecars record it
    module: str
    title: str
    ahead_of_time: bool  # builds with no GPU for listed compute capabilities; strongly typed networks only

    def load(self, purpose: str) -> ModuleType:
        from ._optional import require

        return require(self.module, purpose)

    def installed_version(self) -> str | None:
        from ._optional import available

        return str(self.load("-").__version__) if available(self.module) else None


TENSORRT = Product("tensorrt", "tensorrt", "TensorRT", ahead_of_time=False)
TENSORRT_RTX = Product("tensorrt-rtx", "tensorrt_rtx", "TensorRT for RTX", ahead_of_time=True)
PRODUCTS = {p.name: p for p in (TENSORRT, TENSORRT_RTX)}


def find_product(name: str = "auto") -> Product:
    """The product called `name`, or for "auto" the first one installed (TensorRT first: it tunes for this GPU)."""
    if name != "auto":
        if name not in PRODUCTS:
            raise BadInput(f"unknown TensorRT product {name!r}; choose from auto, {', '.join(PRODUCTS)}")
        return PRODUCTS[name]
    for p in PRODUCTS.values():
        if p.installed_version() is not None:
            return p
    TENSORRT_RTX.load("building or running a TensorRT engine")  # raises MissingDependency with the install hint
    raise AssertionError("unreachable")


SIDECAR_SUFFIX = ".json"
REBUILD_HINT = "rebuild it: stargan-rt export BUNDLE -o DIR --engine --rebuild"


@dataclass(frozen=True)
class BatchProfile:
    """A TensorRT optimisation profile over the batch dimension."""

    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max <= MAX_BATCH:
            raise BadInput(f"batch range must satisfy 1 <= MIN <= OPT <= MAX <= {MAX_BATCH}, "
                           f"got {self.min}:{self.opt}:{self.max}")

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
    """What an engine is tied to (or, for this machine, what it offers): product, version and GPUs."""

    product: str  # a PRODUCTS key
    version: str
    compute_capabilities: tuple[str, ...]  # "major.minor" each; this machine: its GPU's one
    gpu_name: str = ""  # the one GPU model a TensorRT engine runs on; "": any GPU of those capabilities

    @property
    def title(self) -> str:
        return f"{PRODUCTS[self.product].title if self.product in PRODUCTS else self.product} {self.version}"

    def gpus(self) -> str:
        ccs = ", ".join(self.compute_capabilities)
        return f"{self.gpu_name} (compute capability {ccs})" if self.gpu_name else f"compute capability {ccs}"


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
        t = self.target
        return {
            "product": t.product,
            "tensorrt_version": t.version,
            "compute_capabilities": list(t.compute_capabilities),
            "gpu_name": t.gpu_name,
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
            ccs = d["compute_capabilities"] if "compute_capabilities" in d else [d["compute_capability"]]
            if isinstance(ccs, str) or not ccs:
                raise ValueError(f"compute_capabilities must be a non-empty list, got {ccs!r}")
            return cls(
                target=GpuTarget(str(d.get("product", TENSORRT.name)), str(d["tensorrt_version"]), tuple(map(str, ccs)),
                                 str(d.get("gpu_name") or "")),
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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadModel(f"{path}: unreadable engine sidecar ({exc})") from None
    if not isinstance(d, dict):
        raise BadModel(f"{path}: engine sidecar is not a JSON object")
    return EngineSidecar.from_dict(d)


def engine_product(sidecar: EngineSidecar) -> ModuleType:
    """The installed module of the product that built this engine, if it is the same version (no GPU needed)."""
    built = sidecar.target
    if built.product not in PRODUCTS:
        raise BadModel(f"this engine was built with an unknown product {built.product!r}; {REBUILD_HINT}")
    product = PRODUCTS[built.product]
    here = product.installed_version()
    if here is None:
        product.load(f"this engine (built with {built.title})")  # MissingDependency naming what to install
    if here != built.version:
        raise BadModel(f"this engine was built with {built.title} (this machine has {product.title} {here}); {REBUILD_HINT}")
    return product.load("-")


def check_engine_compatible(sidecar: EngineSidecar, current: GpuTarget | None = None) -> None:
    """Refuse an engine built by another product or version, or for other GPUs (BadModel, one line).

    `current` defaults to this machine (the sidecar's product as installed here, and GPU 0).
    """
    built = sidecar.target
    current = current or current_target(product=built.product)
    problems = []
    if (built.product, built.version) != (current.product, current.version):
        problems.append(f"{built.title} (this machine has {current.title})")
    (cc,) = current.compute_capabilities
    if cc not in built.compute_capabilities or (built.gpu_name and built.gpu_name != current.gpu_name):
        problems.append(f"GPU {built.gpus()}; this machine has {current.gpu_name} ({cc})")
    if problems:
        raise BadModel(f"this engine was built for {' and '.join(problems)}; {REBUILD_HINT}")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def current_target(device: int = 0, product: str = "tensorrt") -> GpuTarget:
    """The installed `product`'s version and GPU `device`'s name and compute capability."""
    p = PRODUCTS[product]
    version = str(p.load("checking a TensorRT engine").__version__)
    name, cc = gpu_identity(device)
    return GpuTarget(p.name, version, (cc,), name)


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
