"""What surrounds the person: background, lighting and sensor noise (all fixed by the identity), and whole
scenes of people composed over them (the streaming demo, the whole-frame evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .attributes import Attributes
from .draw import Frame
from .face import Head, draw_face
from .identity import Identity


def background(ident: Identity, w: int, h: int) -> np.ndarray:
    """A float32 BGR background of w x h: gradient, radial glow, clouds or soft vertical bands."""
    rng = np.random.default_rng(ident.detail_seed + 1)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    X, Y = (xs + 0.5) / w - 0.5, (ys + 0.5 - h / 2) / w
    c0, c1, c2 = ident.bg_colours
    if ident.background == 0:  # linear gradient
        t = np.clip((np.cos(ident.bg_angle) * X + np.sin(ident.bg_angle) * Y) / 1.1 + 0.5, 0, 1)
    elif ident.background == 1:  # radial glow around an off-centre point
        ox, oy = rng.uniform(-0.4, 0.4, 2)
        t = np.clip(np.hypot(X - ox, Y - oy) / 0.9, 0, 1)
    elif ident.background == 2:  # clouds: two octaves of smooth noise
        t = np.sum([cv2.resize(rng.random((n, n)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) * a
                    for n, a in ((4, 0.7), (9, 0.3))], axis=0)
        t = np.clip((t - t.min()) / max(float(np.ptp(t)), 1e-6), 0, 1)
    else:  # a wall with soft vertical bands (door frames, curtains)
        edges = np.sort(rng.uniform(-0.5, 0.5, 3))
        t = sum(1 / (1 + np.exp(-(X - e) * 60)) for e in edges) / 3
        t = cv2.GaussianBlur(t.astype(np.float32), (0, 0), w / 200)
    img = c0 + (c1 - c0) * t[..., None]
    img += (c2 - img) * (0.25 * np.clip(Y[..., None] + 0.3, 0, 1))  # a little of the third colour toward the floor
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), max(w / 300, 0.5))
    img *= 1 + 0.03 * fine[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def light(img: np.ndarray, frame: Frame, angle: float, strength: float, tint: np.ndarray, brightness: float) -> None:
    """Directional light across the picture (brighter on one side of the face), colour tint and exposure; in place."""
    h, w = img.shape[:2]
    fx, fy = frame.coords((0, 0, w, h))
    ramp = np.clip(1 + strength * (np.cos(angle) * fx + np.sin(angle) * fy) / 2.5, 0.55, 1.45)
    img *= (ramp * brightness)[..., None] * tint


def noise(shape: tuple[int, int, int], sigma: float, seed: int) -> np.ndarray:
    """Gaussian sensor noise in [0, 255] units."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32) * np.float32(sigma)


@dataclass(frozen=True)
class Placed:
    """One person in a scene: who, showing what, and where (a face frame in the scene's pixels)."""

    identity: Identity
    attrs: Attributes
    frame: Frame


def compose(bg: np.ndarray, people: Sequence[Placed], scene: Identity, light_at: Frame, light_angle: float,
            strength: float, brightness: float, noise_sigma: float, noise_seed: int) -> np.ndarray:
    """A uint8 BGR picture: `people` drawn over a copy of the float background `bg`, lit, with sensor noise.

    The same arguments with other attributes give the same picture except where the attributes differ: the
    ground truth of a translation of the whole scene."""
    img = bg.copy()
    for p in people:
        draw_face(img, p.identity, p.attrs, p.frame)
    light(img, light_at, light_angle, strength, scene.light_tint, brightness)
    out = img * 255.0 + noise(img.shape, noise_sigma, noise_seed)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def head_box(p: Placed) -> np.ndarray:
    """The face outline's bounding box (x0, y0, x1, y1) in scene pixels."""
    outline = p.frame.px(Head.of(p.identity, p.attrs).outline())
    return np.array([*outline.min(0), *outline.max(0)])

