"""Input checks every backend applies, so that all of them reject the same bad calls the same way."""

from __future__ import annotations

import numpy as np

from ..bundle import ModelMeta
from ..errors import BadInput


def ensure_open(runner: object, handle: object) -> None:
    """Fail clearly when a closed runner is used (rather than crashing inside a freed session or engine)."""
    if handle is None:
        raise RuntimeError(f"{type(runner).__name__} is closed")


def check_labels(c: np.ndarray, n: int, meta: ModelMeta) -> np.ndarray:
    c = np.asarray(c)
    if c.ndim != 2 or c.shape != (n, meta.label_dim):
        raise BadInput(f"labels must have shape ({n}, {meta.label_dim}), got {c.shape}")
    if not np.issubdtype(c.dtype, np.floating) and c.dtype != np.bool_ and not np.issubdtype(c.dtype, np.integer):
        raise BadInput(f"labels must be numbers, got dtype {c.dtype}")
    return np.ascontiguousarray(c, dtype=np.float32)


def check_images(x: np.ndarray, c: np.ndarray, meta: ModelMeta) -> tuple[np.ndarray, np.ndarray]:
    """float (N, 3, S, S) images and (N, c_dim) labels, as contiguous float32."""
    x = np.asarray(x)
    s = meta.architecture.image_size
    if x.ndim != 4 or x.shape[1:] != (3, s, s) or x.shape[0] < 1:
        raise BadInput(f"images must have shape (N, 3, {s}, {s}) with N >= 1, got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise BadInput(f"images for infer() must be floating point in [-1, 1], got dtype {x.dtype} (use infer_frames for uint8)")
    return np.ascontiguousarray(x, dtype=np.float32), check_labels(c, x.shape[0], meta)


def check_frames(frames: np.ndarray, c: np.ndarray, meta: ModelMeta) -> tuple[np.ndarray, np.ndarray]:
    """uint8 BGR (N, S, S, 3) face crops and (N, c_dim) labels."""
    frames = np.asarray(frames)
    s = meta.architecture.image_size
    if frames.ndim != 4 or frames.shape[1:] != (s, s, 3) or frames.shape[0] < 1:
        raise BadInput(f"frames must have shape (N, {s}, {s}, 3) with N >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise BadInput(f"frames must be uint8 BGR, got dtype {frames.dtype}")
    return np.ascontiguousarray(frames), check_labels(c, frames.shape[0], meta)
