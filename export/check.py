"""`stargan-rt check A B`: run two artifacts on the same fresh inputs and say whether they agree.

Artifacts load through the runtime (stargan_rt.backends.open_model), so what is checked is what runs.
A bundle runs on PyTorch FP32 (torch-cpu), an .onnx on onnxruntime's CPU provider and an OpenVINO IR (.xml) on
ov-cpu unless another backend is asked for: the reference stays exact. When either artifact takes frames, both are compared on uint8 frames.

Default tolerances follow the lower precision of the two: FP32 max abs error <= 1e-4 (1 grey level on frames),
FP16/bf16 PSNR >= 40 dB, INT8 PSNR >= 30 dB. --atol / --min-psnr replace them.

Inputs are fresh each run: uniform random images and 0/1 labels, except when an INT8 model is involved: it is
calibrated for faces, so it is checked on fresh SynthFaces renders (new people each run) with the official
target labels; noise would only measure how it clips inputs it was never meant for. --images DIR uses real
images from a folder instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stargan_rt.bundle import is_bundle
from stargan_rt.errors import BadInput

from .parity import Diff, diff, random_inputs

TOLERANCES = {  # precision class -> (atol on floats, atol on uint8 frames, min PSNR dB)
    "fp32": (1e-4, 1.0, None),
    "fp16": (None, None, 40.0),
    "int8": (None, None, 30.0),
}


@dataclass(frozen=True)
class CheckResult:
    diff: Diff
    atol: float | None
    min_psnr: float | None
    space: str  # "float" or "frames"
    inputs: str  # what was fed to both

    @property
    def agree(self) -> bool:
        return (self.atol is None or self.diff.max_abs <= self.atol) and (self.min_psnr is None or self.diff.psnr >= self.min_psnr)

    def tolerance(self) -> str:
        parts = ([f"max abs <= {self.atol:g}"] if self.atol is not None else []) + (
            [f"PSNR >= {self.min_psnr:g} dB"] if self.min_psnr is not None else [])
        return " and ".join(parts)


def default_backend(path: Path) -> str:
    if path.is_dir() and is_bundle(path):
        return "torch-cpu"
    if path.suffix.lower() == ".onnx":
        return "ort-cpu"
    if path.suffix.lower() == ".xml":  # an OpenVINO IR
        return "ov-cpu"
    return "auto"


def precision_class(runner: Any) -> str:
    p = str(getattr(runner, "precision", "")).lower() + " " + str(getattr(runner, "name", "")).lower()
    if "int8" in p:
        return "int8"
    if "fp16" in p or "bf16" in p or "tensorrt" in p:
        return "fp16"
    return "fp32"


def compare(a: Any, b: Any, batch: int, atol: float | None, min_psnr: float | None, images: Path | None = None) -> CheckResult:
    """Run runners a and b on the same fresh inputs (random, or real images from a folder)."""
    if batch < 1:
        raise BadInput(f"--batch must be at least 1, got {batch}")
    if atol is not None and not atol >= 0:  # nan compares false with every error: identical models would DISAGREE
        raise BadInput(f"--atol must be a number >= 0, got {atol}")
    if min_psnr is not None and min_psnr != min_psnr:
        raise BadInput("--min-psnr must be a number, got nan")
    if a.meta.architecture.image_size != b.meta.architecture.image_size or a.meta.label_dim != b.meta.label_dim:
        raise BadInput(f"the two artifacts take different inputs: {a.meta.architecture} vs {b.meta.architecture}")
    worst = max(precision_class(a), precision_class(b), key=list(TOLERANCES).index)
    seed = secrets.randbits(32)
    if images is not None:
        from .calibration import folder_samples

        samples = folder_samples(a.meta, images, batch)
        x, c, inputs = samples.x, samples.c, samples.source
    elif worst == "int8":
        from .calibration import synth_samples

        samples = synth_samples(a.meta, batch, seed=seed % 10_000)
        x, c, inputs = samples.x, samples.c, f"{samples.source} (seed {seed % 10_000})"
    else:
        x, c = random_inputs(a.meta, batch, np.random.default_rng(seed))
        inputs = f"random images and labels (seed {seed})"
    space = "frames" if "frames" in (getattr(a, "io", "float"), getattr(b, "io", "float")) else "float"
    float_atol, frames_atol, psnr = TOLERANCES[worst]
    if atol is None and min_psnr is None:
        atol, min_psnr = (frames_atol if space == "frames" else float_atol), psnr
    if space == "frames":
        from stargan_rt.images import to_frames

        frames = to_frames(x, a.meta.preprocess)
        d = diff(a.infer_frames(frames, c), b.infer_frames(frames, c), value_range=255.0)
    else:
        d = diff(a.infer(x, c), b.infer(x, c))
    return CheckResult(d, atol, min_psnr, space, inputs)


def run_check(path_a: Path, path_b: Path, *, batch: int = 2, atol: float | None = None, min_psnr: float | None = None,
              backend_a: str | None = None, backend_b: str | None = None, images: Path | None = None) -> tuple[CheckResult, str, str]:
    from stargan_rt.backends import open_model

    with open_model(path_a, backend_a or default_backend(path_a)) as a, open_model(path_b, backend_b or default_backend(path_b)) as b:
        return compare(a, b, batch, atol, min_psnr, images), a.describe(), b.describe()
