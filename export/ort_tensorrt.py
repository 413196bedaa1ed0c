"""onnxruntime's TensorRT execution provider: FP16 engines for users with onnxruntime-gpu but no TensorRT package.

onnxruntime builds the engine itself from the FP32 ONNX (trt_fp16_enable: weak typing, TensorRT keeps
InstanceNormalization in FP32) and caches it, with a timing cache, in a folder. `warm_cache` builds that cache
at export time with one run per profile shape, so the first real frame does not wait minutes. The cache is
keyed by onnxruntime on model, TensorRT version and GPU; drop the folder when any of them changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from stargan_rt.bundle import ModelMeta
from stargan_rt.engine_meta import BatchProfile
from stargan_rt.errors import BadModel, MissingDependency

PROVIDER = "TensorrtExecutionProvider"


def provider_options(meta: ModelMeta, profile: BatchProfile, cache_dir: Path, *, fp16: bool = True, device: int = 0) -> dict[str, Any]:
    """TensorRT EP options: FP16, engine + timing cache in `cache_dir`, a batch profile over the float model's inputs."""
    s, c = meta.architecture.image_size, meta.label_dim

    def shapes(n: int) -> str:
        return f"image:{n}x3x{s}x{s},label:{n}x{c}"

    return {
        "device_id": device,
        "trt_fp16_enable": fp16,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache_dir),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(cache_dir),
        "trt_builder_optimization_level": 3,
        "trt_profile_min_shapes": shapes(profile.min),
        "trt_profile_opt_shapes": shapes(profile.opt),
        "trt_profile_max_shapes": shapes(profile.max),
    }


def warm_cache(onnx_path: Path, meta: ModelMeta, profile: BatchProfile, cache_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Build onnxruntime's TensorRT engine cache for `onnx_path` (the FP32 float model) by running it once."""
    import onnxruntime as ort

    if PROVIDER not in ort.get_available_providers():
        raise MissingDependency(
            f"--ort-tensorrt needs onnxruntime-gpu with the TensorRT execution provider (this onnxruntime has "
            f"{', '.join(ort.get_available_providers())})"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    options = provider_options(meta, profile, cache_dir)
    log(f"building onnxruntime TensorRT EP engine cache in {cache_dir} (batch {profile}; minutes)")
    session = ort.InferenceSession(str(onnx_path), providers=[(PROVIDER, options), "CPUExecutionProvider"])
    if session.get_providers()[0] != PROVIDER:
        raise MissingDependency(f"onnxruntime could not start the TensorRT EP (it uses {session.get_providers()[0]})")
    s = meta.architecture.image_size
    for n in sorted({profile.min, profile.opt, profile.max}):
        out = session.run(None, {"image": np.zeros((n, 3, s, s), np.float32), "label": np.zeros((n, meta.label_dim), np.float32)})[0]
        if not np.isfinite(out).all():
            raise BadModel(f"the TensorRT EP engine gives non-finite outputs at batch {n}")
    return cache_dir
