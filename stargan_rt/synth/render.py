"""render(identity, attributes, size) -> a BGR uint8 face picture, deterministic and in any domain.

Layout: the face is centred as in aligned CelebA, scaled by the image width, so the CelebA transform (centre
crop 178 of a 178x218 picture, then resize) keeps the whole face; a RaFD-like 256x256 picture shows exactly
that centre square. Shapes are drawn with antialiasing at >= 320 px wide and area-downsampled, so small
sizes are clean and every size shows the same picture.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import BadInput
from .attributes import Attributes
from .draw import Frame
from .face import Head, draw_face
from .identity import Identity, make_identity
from .scene import background, light, noise

# Bump whenever a change alters any rendered pixel: cached classifiers and recorded numbers depend on it.
RENDERER_VERSION = 3
CELEBA_SIZE = (178, 218)  # aligned CelebA, width x height
RAFD_SIZE = (256, 256)
FACE_UNIT = 0.235  # half the head's width, as a fraction of the picture width
DRAW_WIDTH = 320  # pictures narrower than this are drawn larger and downsampled


def _identity(identity: int | Identity) -> Identity:
    if isinstance(identity, Identity):
        return identity
    if isinstance(identity, (int, np.integer)) and not isinstance(identity, bool):
        return make_identity(int(identity))
    raise BadInput(f"an identity is an integer seed, got {identity!r}")


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(v) for v in size)
    if w < 8 or h < 8 or w > 4096 or h > 4096:
        raise BadInput(f"image size {w}x{h} is out of range (8..4096 pixels a side)")
    return w, h


def face_frame(ident: Identity, w: int, h: int) -> Frame:
    """Where the identity's face sits in a w x h picture (pixel centres at integer coordinates)."""
    return Frame(cx=w * (0.5 + ident.shift[0]) - 0.5, cy=h / 2 + w * ident.shift[1] - 0.5,
                 unit=w * FACE_UNIT * ident.scale, roll=ident.roll, yaw=ident.yaw)


def training_square(frame: Frame) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the square that a training picture of the face at `frame` shows: the centre
    crop of a CelebA-like render, the face at its centre, half the head FACE_UNIT of the side (identity jitter
    of shift and scale aside)."""
    return frame.cx, frame.cy, frame.unit / FACE_UNIT


def _upscaled(frame: Frame, k: int) -> Frame:
    return Frame(cx=(frame.cx + 0.5) * k - 0.5, cy=(frame.cy + 0.5) * k - 0.5, unit=frame.unit * k,
                 roll=frame.roll, yaw=frame.yaw)


def render(identity: int | Identity, attrs: Attributes | None = None, size: tuple[int, int] = CELEBA_SIZE) -> np.ndarray:
    """The picture of `identity` showing `attrs`, as uint8 BGR of shape (height, width, 3)."""
    ident = _identity(identity)
    attrs = attrs or Attributes()
    w, h = _check_size(size)
    k = max(1, math.ceil(DRAW_WIDTH / w))
    img = background(ident, w, h)  # smooth: drawn at the output size
    if k > 1:
        img = cv2.resize(img, (w * k, h * k), interpolation=cv2.INTER_LINEAR)
    frame = face_frame(ident, w, h)
    draw_face(img, ident, attrs, _upscaled(frame, k))
    if k > 1:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    light(img, frame, ident.light_angle, ident.light_strength, ident.light_tint, ident.brightness)
    out = img * 255.0 + noise(img.shape, ident.noise, ident.detail_seed + 2)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def landmarks(identity: int | Identity, attrs: Attributes | None = None,
              size: tuple[int, int] = CELEBA_SIZE) -> dict[str, np.ndarray]:
    """Pixel positions (x, y) of the eyes, nose tip, mouth centre and chin, and the face box (x0, y0, x1, y1)."""
    ident = _identity(identity)
    attrs = attrs or Attributes()
    w, h = _check_size(size)
    f = face_frame(ident, w, h)
    head = Head.of(ident, attrs)
    pts = f.px(np.array([[-ident.eye_x, ident.eye_y], [ident.eye_x, ident.eye_y], [0, ident.nose_y],
                         [0, ident.mouth_y], [0, head.bottom]]))
    outline = f.px(head.outline())
    box = np.array([*outline.min(0), *outline.max(0)])
    return {"left_eye": pts[0], "right_eye": pts[1], "nose": pts[2], "mouth": pts[3], "chin": pts[4], "box": box}
