"""A Triton Inference Server model repository: the float ONNX (onnxruntime), the frames ONNX and, where built,
the TensorRT plan, each with a config.pbtxt whose names and dims match the model, and dynamic batching.

    REPO/stargan/config.pbtxt          platform onnxruntime_onnx, 1/model.onnx
    REPO/stargan_frames/config.pbtxt   uint8 frames in and out, 1/model.onnx
    REPO/stargan_trt/config.pbtxt      platform tensorrt_plan, 1/model.plan (Triton's TensorRT must match the sidecar's)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stargan_rt.atomic import atomic_directory
from stargan_rt.bundle import ModelMeta
from stargan_rt.engine_meta import BatchProfile, sidecar_path

QUEUE_DELAY_US = 1000  # how long Triton may hold a request to batch it with others


def _tensor(name: str, dtype: str, dims: tuple[int, ...]) -> str:
    return f'  {{ name: "{name}" data_type: {dtype} dims: [ {", ".join(map(str, dims))} ] }}'


def config_pbtxt(name: str, platform: str, meta: ModelMeta, profile: BatchProfile, *, frames: bool = False, gpu: bool = False) -> str:
    """The text-format ModelConfig of one model (batch dimension implicit: max_batch_size > 0)."""
    s, c = meta.architecture.image_size, meta.label_dim
    if frames:
        inputs = [_tensor("frames", "TYPE_UINT8", (s, s, 3)), _tensor("label", "TYPE_FP32", (c,))]
        outputs = [_tensor("translated_frames", "TYPE_UINT8", (s, s, 3))]
    else:
        inputs = [_tensor("image", "TYPE_FP32", (3, s, s)), _tensor("label", "TYPE_FP32", (c,))]
        outputs = [_tensor("translated", "TYPE_FP32", (3, s, s))]
    preferred = f"\n  preferred_batch_size: [ {profile.opt} ]" if profile.opt > 1 else ""
    lines = [
        f'name: "{name}"',
        f'platform: "{platform}"',
        f"max_batch_size: {profile.max}",
        "input [\n" + ",\n".join(inputs) + "\n]",
        "output [\n" + ",\n".join(outputs) + "\n]",
        f"dynamic_batching {{{preferred}\n  max_queue_delay_microseconds: {QUEUE_DELAY_US}\n}}",
    ]
    if gpu:
        lines.append("instance_group [ { kind: KIND_GPU count: 1 } ]")
    return "\n".join(lines) + "\n"


def write_repository(repo: Path, onnx_path: Path, meta: ModelMeta, profile: BatchProfile, *,
                     plan: Path | None = None, frames_onnx: Path | None = None) -> Path:
    """Write (atomically) a model repository for the exported artifacts."""
    models = [("stargan", "onnxruntime_onnx", onnx_path, "model.onnx", False)]
    if frames_onnx is not None:
        models.append(("stargan_frames", "onnxruntime_onnx", frames_onnx, "model.onnx", True))
    if plan is not None:
        models.append(("stargan_trt", "tensorrt_plan", plan, "model.plan", False))
    from .pipeline import TRITON_ENTRIES

    with atomic_directory(repo, replaces=TRITON_ENTRIES) as tmp:
        for name, platform, src, filename, frames in models:
            (tmp / name / "1").mkdir(parents=True)
            shutil.copyfile(src, tmp / name / "1" / filename)
            gpu = platform == "tensorrt_plan"
            if gpu and sidecar_path(src).is_file():  # what GPU / TensorRT the plan needs, beside it
                shutil.copyfile(sidecar_path(src), tmp / name / "1" / sidecar_path(filename).name)
            (tmp / name / "config.pbtxt").write_text(config_pbtxt(name, platform, meta, profile, frames=frames, gpu=gpu))
    return repo
