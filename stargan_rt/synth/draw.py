"""Drawing primitives for the renderer: a face coordinate frame and antialiased, optionally soft, blending.

Shapes are described in face units (x right, y down, origin at the centre of the head, 1 = half the head's
width) and mapped to pixels by a `Frame` (position, size, roll, and a small yaw that shifts features by
their depth, so a face can turn a little). Images are float32 BGR in [0, 1] while drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # fixed-point bits for OpenCV's sub-pixel drawing
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Frame:
    """Where a face sits in an image: centre (cx, cy) and unit in pixels, roll and yaw in radians."""

    cx: float
    cy: float
    unit: float
    roll: float = 0.0
    yaw: float = 0.0

    def px(self, pts: np.ndarray, bump: float = 0.0) -> np.ndarray:
        """Face-unit points (N, 2) -> pixel points (N, 2). Points lie on a head-shaped surface (`bump` higher,
        as the nose), so the features move more than the outline when the face turns."""
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        x, y = pts[:, 0], pts[:, 1]
        if self.yaw:
            x = x * np.cos(self.yaw) + (head_depth(x, y) + bump) * np.sin(self.yaw)
        c, s = np.cos(self.roll), np.sin(self.roll)
        u = self.unit
        return np.stack([self.cx + u * (c * x - s * y), self.cy + u * (s * x + c * y)], axis=1)

    def coords(self, box: "Box") -> tuple[np.ndarray, np.ndarray]:
        """Face-unit coordinates (fx, fy) of the pixels of `box` (yaw ignored: used for shading)."""
        x0, y0, x1, y1 = box
        xs = (np.arange(x0, x1, dtype=np.float32) - self.cx) / self.unit  # pixel centres at integers, as OpenCV
        ys = (np.arange(y0, y1, dtype=np.float32) - self.cy) / self.unit
        c, s = np.float32(np.cos(self.roll)), np.float32(np.sin(self.roll))
        return c * xs[None, :] + s * ys[:, None], -s * xs[None, :] + c * ys[:, None]


def head_depth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.9 * np.sqrt(np.clip(1.0 - (x / 1.05) ** 2 - (y / 1.7) ** 2, 0.0, None))


def bezier(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 16) -> np.ndarray:
    """Quadratic Bezier curve from p0 to p2 with control p1, as (n, 2) points."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c


def through(p0: tuple[float, float], mid: tuple[float, float], p2: tuple[float, float], n: int = 16) -> np.ndarray:
    """Quadratic Bezier from p0 to p2 that passes through `mid` halfway."""
    ctrl = 2 * np.asarray(mid, np.float64) - 0.5 * (np.asarray(p0, np.float64) + np.asarray(p2, np.float64))
    return bezier(p0, tuple(ctrl), p2, n)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40, a0: float = 0.0, a1: float = 2 * np.pi) -> np.ndarray:
    t = np.linspace(a0, a1, n, endpoint=a1 - a0 < 2 * np.pi - 1e-9)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, end-exclusive


@dataclass(frozen=True)
class Patch:
    """An image-aligned array that covers only `box` of the image (a mask or a texture)."""

    data: np.ndarray
    box: Box

    def over(self, box: Box) -> np.ndarray:
        """The patch's values over `box`, zero where the patch does not reach."""
        x0, y0, x1, y1 = box
        if box == self.box:
            return self.data
        out = np.zeros((y1 - y0, x1 - x0) + self.data.shape[2:], self.data.dtype)
        px0, py0, px1, py1 = self.box
        ix0, iy0, ix1, iy1 = max(x0, px0), max(y0, py0), min(x1, px1), min(y1, py1)
        if ix0 < ix1 and iy0 < iy1:
            out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = self.data[iy0 - py0 : iy1 - py0, ix0 - px0 : ix1 - px0]
        return out


def bounds(shape: tuple[int, ...], polys: list[np.ndarray], margin: float = 0.0) -> Box | None:
    """The pixel box around polygons plus a margin, clipped to the image (None when outside)."""
    allp = np.concatenate(polys)
    m = int(np.ceil(margin)) + 2
    x0, y0 = max(int(np.floor(allp[:, 0].min())) - m, 0), max(int(np.floor(allp[:, 1].min())) - m, 0)
    x1, y1 = min(int(np.ceil(allp[:, 0].max())) + m + 1, shape[1]), min(int(np.ceil(allp[:, 1].max())) + m + 1, shape[0])
    return None if x0 >= x1 or y0 >= y1 else (x0, y0, x1, y1)


def shape_mask(shape: tuple[int, ...], polys: list[np.ndarray], *, thickness: float = 0, closed: bool = True,
               blur: float = 0.0, box: Box | None = None) -> Patch:
    """Antialiased coverage in [0, 1] of filled polygons (thickness 0) or polylines, over `box` (default: the
    shapes' own box)."""
    box = box or bounds(shape, polys, 3 * blur + thickness) or (0, 0, 1, 1)
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = [np.round((p - (x0, y0)) * _ONE).astype(np.int32) for p in polys]
    if thickness > 0:
        cv2.polylines(mask, pts, closed, 255, max(1, int(round(thickness))), cv2.LINE_AA, shift=_SHIFT)
    else:
        cv2.fillPoly(mask, pts, 255, cv2.LINE_AA, shift=_SHIFT)
    out: np.ndarray = mask.astype(np.float32) * (1.0 / 255.0)
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return Patch(out, box)


def paint(img: np.ndarray, polys: np.ndarray | list[np.ndarray], colour: np.ndarray | float | Patch, *,
          alpha: float = 1.0, thickness: float = 0, closed: bool = True, blur: float = 0.0,
          clip: Patch | None = None) -> None:
    """Blend `colour` (BGR, or a texture Patch) into `img` in place through the shape of `polys` (pixels).

    thickness > 0 strokes the polylines instead of filling; blur (pixels) softens the edge; `clip` (a coverage
    Patch) limits where paint lands.
    """
    polys = [polys] if isinstance(polys, np.ndarray) else polys
    if not polys or alpha <= 0:
        return
    box = bounds(img.shape, polys, 3 * blur + thickness)
    if box is None:
        return
    a = shape_mask(img.shape, polys, thickness=thickness, closed=closed, blur=blur, box=box).data
    if clip is not None:
        a *= clip.over(box)
    blend(img, Patch(a * alpha if alpha != 1.0 else a, box), colour)


def blend(img: np.ndarray, cover: Patch, colour: np.ndarray | float | Patch) -> None:
    """Blend `colour` (BGR, or a texture Patch) into `img` in place, weighted by a coverage Patch."""
    x0, y0, x1, y1 = cover.box
    target = img[y0:y1, x0:x1]
    col = colour.over(cover.box) if isinstance(colour, Patch) else np.asarray(colour, np.float32)
    step = col - target  # one temporary, updated in place
    step *= cover.data[..., None]
    target += step
