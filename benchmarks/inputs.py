"""Inputs the benchmarks feed the models: face crops and face videos, made here without any download.

SynthFaces (stargan_rt.synth, the project's renderer) is used when it is there and gives what is needed;
otherwise a simple face is drawn with OpenCV (skin ellipse, hair, eyes, brows, nose, mouth) that OpenCV's Haar
cascade detects, so the streaming pipeline has faces to find either way. Each function says which it used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np


def draw_face(img: np.ndarray, cx: int, cy: int, s: int, rng: np.random.Generator) -> None:
    """A frontal cartoon face of height ~1.1 s centred at (cx, cy), drawn in place."""
    skin = tuple(int(v) for v in rng.integers([120, 150, 190], [150, 180, 230]))
    hair = tuple(int(v) for v in rng.integers([20, 30, 40], [60, 90, 140]))
    w = max(1, int(0.03 * s))
    cv2.ellipse(img, (cx, cy - int(0.35 * s)), (int(0.5 * s), int(0.45 * s)), 0, 180, 360, hair, -1, cv2.LINE_AA)
    cv2.ellipse(img, (cx, cy), (int(0.42 * s), int(0.55 * s)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    for side in (-1, 1):
        ex, ey = cx + side * int(0.18 * s), cy - int(0.1 * s)
        cv2.ellipse(img, (ex, ey), (int(0.09 * s), int(0.045 * s)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(img, (ex, ey), int(0.04 * s), (40, 30, 20), -1, cv2.LINE_AA)
        cv2.line(img, (ex - int(0.1 * s), ey - int(0.09 * s)), (ex + int(0.1 * s), ey - int(0.1 * s)), hair, w, cv2.LINE_AA)
    nose = tuple(int(v * 0.8) for v in skin)
    cv2.line(img, (cx, cy - int(0.05 * s)), (cx - int(0.04 * s), cy + int(0.15 * s)), nose, max(1, w // 2 + 1), cv2.LINE_AA)
    cv2.ellipse(img, (cx, cy + int(0.28 * s)), (int(0.15 * s), int(0.05 * s)), 0, 0, 180, (60, 60, 170), w, cv2.LINE_AA)


def background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth, non-uniform background (detectors and encoders behave differently on flat colour)."""
    noise = rng.integers(40, 160, (h, w, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), max(2.0, min(h, w) / 30))


_RENDERS: dict[tuple[int, int], np.ndarray] = {}  # (identity, seed) -> SynthFaces render, reused across sizes


def synth_crops(n: int, size: int, seed: int = 0) -> np.ndarray | None:
    """n SynthFaces people (held-out identities) framed as CelebA training images, or None without SynthFaces."""
    try:
        from stargan_rt.synth import CELEBA_SIZE, identity_seed, render, sample_attributes
    except ImportError:
        return None
    from stargan_rt.bundle import Preprocess
    from stargan_rt.images import crop_resize

    crops = []
    for i in range(n):
        if (i, seed) not in _RENDERS:
            attrs = sample_attributes(np.random.default_rng([seed, i]), "celeba")
            _RENDERS[(i, seed)] = render(identity_seed("heldout", 7000 + seed, i), attrs, CELEBA_SIZE)
        crops.append(crop_resize(_RENDERS[(i, seed)], Preprocess(), size))
    return np.stack(crops)


def face_crops(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n different face crops, uint8 BGR (n, size, size, 3): SynthFaces when available, else drawn faces."""
    synth = synth_crops(n, size, seed)
    return synth if synth is not None else drawn_crops(n, size, seed)


def crops_source() -> str:
    try:
        import stargan_rt.synth  # noqa: F401
    except ImportError:
        return "faces drawn with OpenCV"
    return "SynthFaces renders (held-out identities), CelebA framing"


def drawn_crops(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n different drawn face crops, uint8 BGR (n, size, size, 3)."""
    rng = np.random.default_rng(seed)
    crops = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        img = background(size, size, rng)
        draw_face(img, size // 2 + int(rng.integers(-size // 16, size // 16 + 1)), int(size * 0.55), int(size * 0.62), rng)
        crops[i] = img
    return crops


def face_inputs(n: int, size: int, c_dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs: float32 (n, 3, size, size) in [-1, 1] (RGB) and 0/1 labels (n, c_dim)."""
    from stargan_rt.images import to_tensor

    x = to_tensor(face_crops(n, size, seed))
    c = np.random.default_rng(seed + 1).integers(0, 2, (n, c_dim)).astype(np.float32)
    return x, c


def _layout(faces: int) -> tuple[int, int]:
    cols = int(np.ceil(np.sqrt(faces)))
    return cols, int(np.ceil(faces / cols))


def face_video(path: str | Path, *, frames: int, faces: int, width: int = 640, height: int = 480,
               fps: float = 30.0, seed: int = 0, source: str = "auto") -> tuple[Path, str]:
    """A video of `faces` moving people and what made it.

    source "synth" (or "auto" where SynthFaces is installed): one SynthFaces clip (a person moving, turning,
    changing light) per tile of a grid, so any number of faces fits in the frame. "drawn" (or "auto" without
    SynthFaces): faces drawn with OpenCV, which the Haar detector finds in every frame.
    """
    path = Path(path)
    if source not in ("auto", "synth", "drawn"):
        raise ValueError(f"unknown video source {source!r}")
    drawn = lambda why: (  # noqa: E731
        write_face_video(path, frames=frames, faces=faces, width=width, height=height, fps=fps, seed=seed), f"drawn faces{why}")
    if source == "drawn":
        return drawn("")
    try:
        from stargan_rt.synth.video import video_frames
    except ImportError as exc:
        if source == "synth":
            raise
        return drawn(f" (no SynthFaces: {exc})")
    cols, rows = _layout(faces)
    tw, th = width // cols, height // rows
    clips = [video_frames(frames / fps, (tw, th), fps, faces=1, seed=seed + j) for j in range(faces)]
    canvas = background(height, width, np.random.default_rng(seed))
    _write(path, fps, width, height, (_mosaic(canvas, [next(c)[0] for c in clips], cols, tw, th) for _ in range(frames)))
    return path, "SynthFaces clips" + (f", {cols}x{rows} grid" if faces > 1 else "")


def _mosaic(canvas: np.ndarray, tiles: list[np.ndarray], cols: int, tw: int, th: int) -> np.ndarray:
    out = canvas.copy()
    for j, tile in enumerate(tiles):
        y, x = (j // cols) * th, (j % cols) * tw
        out[y : y + th, x : x + tw] = tile
    return out


def _write(path: Path, fps: float, width: int, height: int, frames: Iterator[np.ndarray]) -> None:
    """MJPG .avi (OpenCV's wheels can always write it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write a video at {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def write_face_video(path: str | Path, *, frames: int, faces: int, width: int = 640, height: int = 480,
                     fps: float = 30.0, seed: int = 0) -> Path:
    """An MJPG .avi of `faces` drawn faces drifting over a background."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    bg = background(height, width, rng)
    cols, rows = _layout(faces)
    s = int(min(width / cols, height / rows) * 0.55)
    centres = [((2 * (i % cols) + 1) * width // (2 * cols), (2 * (i // cols) + 1) * height // (2 * rows)) for i in range(faces)]

    def frame(t: int) -> np.ndarray:
        img = bg.copy()
        for i, (cx, cy) in enumerate(centres):
            dx = int(0.08 * s * np.sin(2 * np.pi * (t / 60 + i / faces)))
            dy = int(0.05 * s * np.cos(2 * np.pi * (t / 90 + i / faces)))
            draw_face(img, cx + dx, cy + dy, s, np.random.default_rng(seed + 10 + i))  # same person every frame
        return img

    _write(path, fps, width, height, (frame(t) for t in range(frames)))
    return path
