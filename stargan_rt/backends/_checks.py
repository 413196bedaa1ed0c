"""Input checks every backend applies, so that all of them reject the same bad calls the same way."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..bundle import ModelMeta
from ..errors import BadInput, BadModel


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


def io_shapes(meta: ModelMeta) -> dict[str, tuple[int, ...]]:
    """Each stargan-rt input's and output's shape per item, as the model description says."""
    s, c_dim = meta.architecture.image_size, meta.label_dim
    return {"image": (3, s, s), "frames": (s, s, 3), "label": (c_dim,), "translated": (3, s, s),
            "translated_frames": (s, s, 3)}


def check_graph_shapes(path: object, meta: ModelMeta, declared: dict[str, Sequence[object]]) -> None:
    """BadModel when a graph's declared tensor shapes (static dims are ints; dynamic ones anything else) contradict
    its embedded model description, e.g. metadata saying 256 on a graph that takes 128x128 images."""
    want = io_shapes(meta)
    for name, dims in declared.items():
        if name not in want:
            continue
        got = list(dims)[1:]
        expected = want[name]
        static = [(g, e) for g, e in zip(got, expected) if isinstance(g, int) and not isinstance(g, bool) and g >= 0]
        if len(got) != len(expected) or any(g != e for g, e in static):
            shown = "x".join(str(g) if isinstance(g, int) else "?" for g in got)
            raise BadModel(f"{path}: its metadata describes {name} as {'x'.join(map(str, expected))} per item "
                           f"(image_size {meta.architecture.image_size}, {meta.label_dim} labels) but the graph's "
                           f"{name} is {shown}: the metadata does not belong to this graph; export it again")
