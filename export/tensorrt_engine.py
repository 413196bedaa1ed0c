"""FP16 ONNX -> TensorRT engine (.plan) with its sidecar, through the TensorRT Python API of either product.

One builder for TensorRT and TensorRT for RTX (stargan_rt.engine_meta.PRODUCTS): both parse the same ONNX into
the same network with the same batch profile. Where they differ, one small function each:
- TensorRT builds on this GPU for this GPU; a persistent timing cache (tied to GPU and version, its file name
  carries both) makes rebuilds fast. TensorRT >= 10.12 builds a strongly typed network from the FP16 ONNX (FP16
  compute, InstanceNormalization in FP32 as the ONNX says); older TensorRT 10 builds the FP32 ONNX with
  BuilderFlag.FP16 (weak typing keeps InstanceNormalization in FP32 itself).
- TensorRT for RTX builds ahead of time, with no GPU, for the compute capabilities asked for (default: every
  one from Ampere up that the library names; "current": this GPU's). Strongly typed only, so always the FP16
  ONNX. No timing cache: there it is a no-op that makes the builder look for a GPU.
Never a silent FP32 engine: there is no fallback path.

The shared code is type-checked with mypy against tensorrt-stubs (the datacenter API); the RTX-only calls are
typed Any, and run for real in CI (tensorrt-rtx-cu13 installs and builds on a CPU-only machine).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from stargan_rt.atomic import atomic_write_bytes
from stargan_rt.bundle import ModelMeta
from stargan_rt.engine_meta import TENSORRT, BatchProfile, EngineSidecar, GpuTarget, Product, file_sha256, find_product, gpu_identity
from stargan_rt.errors import BadInput, BadModel, MissingDependency

if TYPE_CHECKING:
    import tensorrt

STRONGLY_TYPED_SINCE = (10, 12)  # BuilderFlag.FP16 deprecated in 10.12, removed in 11
DEFAULT_WORKSPACE = 2 << 30
PORTABLE, CURRENT = "portable", "current"  # --compute-capabilities words
PORTABLE_FROM = 80  # Ampere: TensorRT for RTX's own default covers 8.0 and later (Turing needs an engine of its own)
PURPOSE = "building a TensorRT engine (--engine)"


def require_tensorrt(product: str = "auto") -> str:
    """The version of the real TensorRT (either product), or MissingDependency (its stubs alone import as empty)."""
    p = find_product(product)
    return str(p.load(PURPOSE).__version__)


def version_tuple(version: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        raise MissingDependency(f"cannot read the TensorRT version {version!r}")
    return int(m.group(1)), int(m.group(2))


def uses_strong_typing(version: str) -> bool:
    """Whether this (datacenter) TensorRT builds from the FP16 ONNX as a strongly typed network (else FP32 ONNX + FP16 flag)."""
    major_minor = version_tuple(version)
    if major_minor < (10, 0):
        raise MissingDependency(f"TensorRT {version} is too old: stargan-rt needs TensorRT 10 or newer")
    return major_minor >= STRONGLY_TYPED_SINCE


def builds_from_fp16_onnx(product: str = "auto") -> bool:
    """Whether the engine is built from the FP16 ONNX (strongly typed) rather than the FP32 one + the FP16 flag."""
    p = find_product(product)
    return p.ahead_of_time or uses_strong_typing(require_tensorrt(p.name))


@dataclass(frozen=True)
class EngineBuild:
    plan: bytes
    sidecar: EngineSidecar
    seconds: float


def parse_capabilities(text: str) -> tuple[str, ...]:
    """--compute-capabilities: 'portable', 'current', or a list like '8.6,8.9,12.0'."""
    words = tuple(w.strip().lower() for w in text.split(",") if w.strip())
    if words in ((PORTABLE,), (CURRENT,)):
        return words
    if not words or not all(re.fullmatch(r"\d+\.\d", w) for w in words):
        raise BadInput(f"cannot parse compute capabilities {text!r}: expected portable, current or a list like 8.6,8.9")
    return words


def build_target(product: Product, capabilities: tuple[str, ...] = (PORTABLE,), device: int = 0) -> GpuTarget:
    """What an engine built now would be tied to (recorded in its sidecar; compared to decide on a rebuild)."""
    version = str(product.load(PURPOSE).__version__)
    if not product.ahead_of_time:
        if capabilities not in ((PORTABLE,), (CURRENT,)):
            raise BadInput(f"{product.title} builds for the GPU it runs on; --compute-capabilities is for TensorRT for RTX")
        name, cc = gpu_identity(device)
        return GpuTarget(product.name, version, (cc,), name)
    if capabilities == (CURRENT,):
        return GpuTarget(product.name, version, (gpu_identity(device)[1],))
    offered = _rtx_capabilities(product.load(PURPOSE))
    if capabilities == (PORTABLE,):
        return GpuTarget(product.name, version, tuple(cc for cc, sm in offered.items() if int(sm) >= PORTABLE_FROM))
    unknown = [cc for cc in capabilities if cc not in offered]
    if unknown:
        raise BadInput(f"{product.title} {version} cannot build for compute capability {', '.join(unknown)} "
                       f"(it offers {', '.join(offered)}, or current)")
    return GpuTarget(product.name, version, capabilities)


def timing_cache_path(cache_dir: Path, target: GpuTarget) -> Path:
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", target.gpu_name).strip("-")
    return cache_dir / f"timing-trt{target.version}-{gpu}-sm{target.compute_capabilities[0]}.cache"


def build_engine(
    onnx_path: Path,
    meta: ModelMeta,
    profile: BatchProfile,
    timing_cache_dir: Path,
    *,
    product: str = "auto",
    capabilities: tuple[str, ...] = (PORTABLE,),
    workspace: int = DEFAULT_WORKSPACE,
    device: int = 0,
    log: Callable[[str], None] = print,
) -> EngineBuild:
    """Build a serialized FP16 engine from `onnx_path` (the FP16 ONNX, or the FP32 one on TensorRT < 10.12)."""
    chosen = find_product(product)
    if TYPE_CHECKING:
        import tensorrt as trt  # the shared API, as tensorrt-stubs types it
    else:
        trt = chosen.load(PURPOSE)
    target = build_target(chosen, capabilities, device)
    strong = chosen.ahead_of_time or uses_strong_typing(target.version)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strong else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes(), str(onnx_path)):
        errors = "; ".join(" ".join(str(parser.get_error(i)).split()) for i in range(parser.num_errors))
        raise BadModel(f"{chosen.title} cannot parse {onnx_path.name}: {errors[:500]}")

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

    if chosen.ahead_of_time:
        finish = _set_rtx_capabilities(trt, config, capabilities, target)
    else:
        finish = _use_timing_cache(config, timing_cache_path(timing_cache_dir, target))

    log(f"building {target.title} engine from {onnx_path.name} for {target.gpus()}, "
        f"{'strongly typed' if strong else 'FP16 flag'}, batch {profile}")
    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - t0
    if plan is None:
        raise BadModel(f"{chosen.title} could not build the engine from {onnx_path.name} (see its log above)")
    finish()

    sidecar = EngineSidecar(
        target=target, profile=profile, onnx_sha256=file_sha256(onnx_path), onnx=onnx_path.name,
        precision="fp16", strongly_typed=strong, meta=meta,
    )
    return EngineBuild(bytes(plan), sidecar, seconds)


# --- where the products differ ------------------------------------------------------------------------------------

def _use_timing_cache(config: tensorrt.IBuilderConfig, cache_file: Path) -> Callable[[], None]:
    """TensorRT: start from the saved timing cache; the returned function saves it after the build."""
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        raise BadModel(f"{TENSORRT.title} rejected the timing cache {cache_file}; delete it and rebuild")
    return lambda: atomic_write_bytes(cache_file, bytes(config.get_timing_cache().serialize()))


def _rtx_capabilities(trt: Any) -> dict[str, str]:
    """TensorRT for RTX's compute capabilities, "8.9" -> "89" (the ComputeCapability.SM89 member)."""
    members = [n for n in dir(trt.ComputeCapability) if re.fullmatch(r"SM\d+", n)]
    return {f"{int(n[2:]) // 10}.{int(n[2:]) % 10}": n[2:] for n in sorted(members, key=lambda n: int(n[2:]))}


def _set_rtx_capabilities(trt: Any, config: Any, capabilities: tuple[str, ...], target: GpuTarget) -> Callable[[], None]:
    """TensorRT for RTX: the compute capabilities to build for, ahead of time (CURRENT: this GPU's)."""
    members = ["CURRENT"] if capabilities == (CURRENT,) else [f"SM{_rtx_capabilities(trt)[cc]}" for cc in target.compute_capabilities]
    config.num_compute_capabilities = len(members)
    for i, m in enumerate(members):
        if not config.set_compute_capability(getattr(trt.ComputeCapability, m), i):
            raise BadModel(f"TensorRT for RTX refused compute capability {m} (as number {i + 1} of {len(members)})")
    return lambda: None
