"""Numbers that say whether two artifacts compute the same thing: max/mean abs error and PSNR."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stargan_rt.bundle import ModelMeta
from stargan_rt.errors import BadModel


@dataclass(frozen=True)
class Diff:
    """Differences of b from a. PSNR uses the value range of the data (2 for [-1, 1], 255 for uint8)."""

    max_abs: float
    mean_abs: float
    psnr: float  # dB; inf when identical

    def __str__(self) -> str:
        return f"max abs {self.max_abs:.3g}, mean abs {self.mean_abs:.3g}, PSNR {self.psnr:.1f} dB"

    def to_dict(self) -> dict[str, float | None]:
        return {"max_abs": self.max_abs, "mean_abs": self.mean_abs, "psnr_db": self.psnr if math.isfinite(self.psnr) else None}


def diff(a: np.ndarray, b: np.ndarray, value_range: float = 2.0) -> Diff:
    if a.shape != b.shape:
        raise BadModel(f"outputs differ in shape: {a.shape} vs {b.shape}")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    mse = float(np.mean(d**2))
    psnr = math.inf if mse == 0 else 10 * math.log10(value_range**2 / mse)
    return Diff(float(d.max()), float(d.mean()), psnr)


def random_inputs(meta: ModelMeta, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform images in [-1, 1] and random 0/1 labels: fresh inputs for a parity check."""
    s = meta.architecture.image_size
    x = rng.uniform(-1, 1, (n, 3, s, s)).astype(np.float32)
    c = (rng.random((n, meta.label_dim)) < 0.5).astype(np.float32)
    return x, c


def ort_session(model: Any, threads: int | None = None) -> Any:
    """A CPU onnxruntime session for an ONNX ModelProto or path (used to check what was just exported)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
    try:
        return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind types
        raise BadModel(f"onnxruntime cannot load the model: {str(exc).strip().splitlines()[0][:300]}") from None


def run(session: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return session.run(None, feeds)[0]
