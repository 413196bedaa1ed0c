"""From a face box to the model's input and back: training framing, crop, feathered paste.

The generator was trained on CelebA's aligned 178x218 faces, centre-cropped to 178x178 and resized (see
images.crop_resize). A detector box covers less than that square (no hair, no chin), so it is grown by its
detector's `Framing` (detect.py documents the factors) into the square the model expects. A square that runs
off the frame is padded by replicating the border, as the photo would continue.

Pasting back blends the translated square into the frame through a feathered mask (a smooth ramp to zero at
the square's edge), so no seam shows. Pixels outside the square are never written.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ..bundle import Preprocess
from ..images import crop_resize
from .detect import Box, Framing


@dataclass(frozen=True)
class Region:
    """An integer rectangle of a frame (it may extend beyond the frame's edges)."""

    x: int
    y: int
    w: int
    h: int


def face_region(box: Box, framing: Framing) -> Region:
    """The training-framed square around a detector box."""
    side = max(2, round(framing.scale * box.w))
    cx, cy = box.center
    cy += framing.dy * box.w
    return Region(round(cx - side / 2), round(cy - side / 2), side, side)


def whole_frame_region(shape: tuple[int, ...], pre: Preprocess) -> Region:
    """For frames that are already face crops: the centre square (CelebA: 178 of 178x218) or the whole frame.

    This is images.crop_resize's framing made independent of resolution: a 356x436 crop maps like a 178x218 one.
    """
    h, w = shape[:2]
    if pre.crop_size is None:
        return Region(0, 0, w, h)
    side = min(h, w)
    return Region(int(round((w - side) / 2.0)), int(round((h - side) / 2.0)), side, side)


def extract(frame: np.ndarray, region: Region, size: int) -> np.ndarray:
    """The region as a size x size uint8 BGR crop (border-replicated where it leaves the frame)."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = region.x, region.y, region.x + region.w, region.y + region.h
    patch = frame[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    pad = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    if any(pad):
        patch = cv2.copyMakeBorder(patch, *pad, borderType=cv2.BORDER_REPLICATE)
    # Same resize rule as training (INTER_AREA down, linear up), without a second centre crop.
    return crop_resize(patch, Preprocess(crop_size=None), size)


@functools.lru_cache(maxsize=32)
def feather_mask(w: int, h: int, feather: float) -> np.ndarray:
    """(h, w) float32 weights: 1 inside, a smoothstep ramp to ~0 over `feather` x side at the edges."""
    ramp = max(1.0, feather * min(w, h))
    dx = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5)
    dy = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5)
    d = np.minimum(dy[:, None], dx[None, :]) / ramp
    m = np.clip(d, 0.0, 1.0)
    m = m * m * (3 - 2 * m)
    return m.astype(np.float32)


@functools.lru_cache(maxsize=32)
def _feather_pair(w: int, h: int, feather: float) -> tuple[np.ndarray, np.ndarray]:
    m = feather_mask(w, h, feather)
    return m, 1.0 - m


def paste(frame: np.ndarray, region: Region, face: np.ndarray, feather: float = 0.12) -> None:
    """Blend a translated square `face` into `frame` (in place) over `region`, feathered at its edges."""
    h, w = frame.shape[:2]
    x0, y0 = max(0, region.x), max(0, region.y)
    x1, y1 = min(w, region.x + region.w), min(h, region.y + region.h)
    if x1 <= x0 or y1 <= y0:
        return
    interp = cv2.INTER_AREA if face.shape[0] > region.h else cv2.INTER_LINEAR
    big = cv2.resize(face, (region.w, region.h), interpolation=interp)
    sub = (slice(y0 - region.y, y1 - region.y), slice(x0 - region.x, x1 - region.x))
    m, inv = _feather_pair(region.w, region.h, feather)
    # face * m + frame * (1 - m), in OpenCV's fused uint8 kernel (6x faster than the numpy float version)
    frame[y0:y1, x0:x1] = cv2.blendLinear(
        np.ascontiguousarray(big[sub]), np.ascontiguousarray(frame[y0:y1, x0:x1]),
        np.ascontiguousarray(m[sub]), np.ascontiguousarray(inv[sub]),
    )

