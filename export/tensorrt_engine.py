"""FP16 ONNX -> TensorRT engine (.plan) with its sidecar, through the TensorRT Python API.

TensorRT >= 10.12: a strongly typed network built from the FP16 ONNX (FP16 compute, InstanceNormalization in
FP32 as the ONNX says). Older TensorRT 10: the FP32 ONNX with BuilderFlag.FP16 (weak typing; TensorRT keeps
InstanceNormalization in FP32 itself). Never a silent FP32 engine: there is no fallback path.

One optimisation profile over the batch dimension (--batch MIN:OPT:MAX). A persistent timing cache makes
rebuilds fast; it is tied to the GPU and TensorRT version, so its file name carries both.

TensorRT is imported lazily (it cannot be installed on the development machines); this module is
type-checked with mypy against tensorrt-stubs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stargan_rt._optional import require
from stargan_rt.atomic import atomic_write_bytes
from stargan_rt.bundle import ModelMeta
from stargan_rt.engine_meta import BatchProfile, EngineSidecar, GpuTarget, file_sha256, gpu_identity
from stargan_rt.errors import BadModel, MissingDependency

STRONGLY_TYPED_SINCE = (10, 12)  # BuilderFlag.FP16 deprecated in 10.12, removed in 11
DEFAULT_WORKSPACE = 2 << 30


def require_tensorrt() -> str:
    """The version of the real TensorRT, or MissingDependency (its type stubs alone import as an empty package)."""
    return str(require("tensorrt", "building a TensorRT engine (--engine)").__version__)


def version_tuple(version: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        raise MissingDependency(f"cannot read the TensorRT version {version!r}")
    return int(m.group(1)), int(m.group(2))


def uses_strong_typing(version: str) -> bool:
    """Whether this TensorRT builds from the FP16 ONNX as a strongly typed network (else FP32 ONNX + FP16 flag)."""
    major_minor = version_tuple(version)
    if major_minor < (10, 0):
        raise MissingDependency(f"TensorRT {version} is too old: stargan-rt needs TensorRT 10 or newer")
    return major_minor >= STRONGLY_TYPED_SINCE


@dataclass(frozen=True)
class EngineBuild:
    plan: bytes
    sidecar: EngineSidecar


def timing_cache_path(cache_dir: Path, target: GpuTarget) -> Path:
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", target.gpu_name).strip("-")
    return cache_dir / f"timing-trt{target.tensorrt_version}-{gpu}-sm{target.compute_capability}.cache"


def build_engine(
    onnx_path: Path,
    meta: ModelMeta,
    profile: BatchProfile,
    timing_cache_dir: Path,
    *,
    workspace: int = DEFAULT_WORKSPACE,
    device: int = 0,
    log: Callable[[str], None] = print,
) -> EngineBuild:
    """Build a serialized FP16 engine from `onnx_path` (the FP16 ONNX, or the FP32 one on TensorRT < 10.12)."""
    require_tensorrt()
    import tensorrt as trt  # typed by tensorrt-stubs

    name, cc = gpu_identity(device)
    target = GpuTarget(str(trt.__version__), name, cc)
    strong = uses_strong_typing(target.tensorrt_version)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strong else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes(), str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BadModel(f"TensorRT cannot parse {onnx_path.name}: {errors[:500]}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    if not strong:
        config.set_flag(trt.BuilderFlag.FP16)

    opt = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        rest = [tensor.shape[j] for j in range(1, len(tensor.shape))]  # all but the batch dimension
        opt.set_shape(tensor.name, trt.Dims([profile.min, *rest]), trt.Dims([profile.opt, *rest]), trt.Dims([profile.max, *rest]))
    config.add_optimization_profile(opt)

    cache_file = timing_cache_path(timing_cache_dir, target)
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        raise BadModel(f"TensorRT rejected the timing cache {cache_file}; delete it and rebuild")

    log(f"building TensorRT {target.tensorrt_version} engine for {name} (sm {cc}), "
        f"{'strongly typed from FP16 ONNX' if strong else 'FP16 flag'}, batch {profile} (minutes)")
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BadModel("TensorRT could not build the engine (see its log above)")
    atomic_write_bytes(cache_file, bytes(config.get_timing_cache().serialize()))

    sidecar = EngineSidecar(
        target=target, profile=profile, onnx_sha256=file_sha256(onnx_path), onnx=onnx_path.name,
        precision="fp16", strongly_typed=strong, meta=meta,
    )
    return EngineBuild(bytes(plan), sidecar)
