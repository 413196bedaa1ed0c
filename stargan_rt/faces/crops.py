"""From a face box to the model's input: the training framing and the crop (paste.py puts the result back).

The generator was trained on CelebA's aligned 178x218 faces, centre-cropped to 178x178 and resized (see
images.crop_resize). A detector box covers less than that square (no hair, no chin), so it is grown by its
detector's `Framing` (detect.py documents the factors) into the square the model expects. A square that runs
off the frame is padded by replicating the border, as the photo would continue.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..bundle import Preprocess
from ..images import crop_resize
from .detect import Box, Framing


@dataclass(frozen=True)
class Region:
    """An integer rectangle of a frame (it may extend beyond the frame's edges); `key` names the tracked face
    it frames (-1: none), so per-face state can follow it from frame to frame."""

    x: int
    y: int
    w: int
    h: int
    key: int = -1


def face_region(box: Box, framing: Framing) -> Region:
    """The training-framed square around a detector box."""
    side = max(2, round(framing.scale * box.w))
    cx, cy = box.center
    cy += framing.dy * box.w
    return Region(round(cx - side / 2), round(cy - side / 2), side, side, box.track)


def whole_frame_region(shape: tuple[int, ...], pre: Preprocess) -> Region:
    """For frames that are already face crops: the centre square (CelebA: 178 of 178x218) or the whole frame.

    This is images.crop_resize's framing made independent of resolution: a 356x436 crop maps like a 178x218 one.
    """
    h, w = shape[:2]
    if pre.crop_size is None:
        return Region(0, 0, w, h)
    side = min(h, w)
    return Region(int(round((w - side) / 2.0)), int(round((h - side) / 2.0)), side, side)


def framed_like_training(region: Region, shape: tuple[int, ...], pre: Preprocess) -> bool:
    """Is this image already a face crop in the training framing? (Its one face's square is, nearly, the image's
    own centre square: a CelebA-aligned 178x218 picture, or a model-sized crop.)"""
    own = whole_frame_region(shape, pre)
    ix = max(0, min(region.x + region.w, own.x + own.w) - max(region.x, own.x))
    iy = max(0, min(region.y + region.h, own.y + own.h) - max(region.y, own.y))
    inter = ix * iy
    return inter / (region.w * region.h + own.w * own.h - inter) >= 0.6


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
