"""A synthetic video for the streaming demo and tests: SynthFaces people moving, turning a little and changing
light over a background, rendered from a seed (deterministic), with the true face box of every frame.

Written with a codec OpenCV's pip wheel writes and reads back (mp4v in .mp4, MJPG in .avi), checked by
reading the file back. A JSON sidecar (FILE.json) lists each face's identity, attributes and per-frame box.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from ..atomic import atomic_path, atomic_write_text
from ..errors import BadInput
from ..stream.sinks import video_problem
from .attributes import sample_attributes
from .draw import Frame
from .identity import identity_seed, make_identity
from .scene import Placed, background, compose, head_box

CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


def _path(t: float, j: int, n_faces: int, w: int, h: int) -> Frame:
    """Face j's frame at time t: a slow figure-of-eight drift, small nods, turns and zoom."""
    base_x = w * (0.5 if n_faces == 1 else 0.28 + 0.44 * j)
    unit = w * (0.1 if n_faces == 1 else 0.075) * (1 + 0.08 * math.sin(2 * math.pi * t / 5.7 + j))
    return Frame(
        cx=base_x + w * 0.06 * math.sin(2 * math.pi * t / 6.1 + 1.3 * j),
        cy=h * 0.47 + h * 0.04 * math.sin(2 * math.pi * t / 3.3 + 0.7 * j),
        unit=unit, roll=0.1 * math.sin(2 * math.pi * t / 3.9 + j), yaw=0.22 * math.sin(2 * math.pi * t / 4.7 + 2 * j),
    )


def video_frames(seconds: float = 6.0, size: tuple[int, int] = (640, 480), fps: float = 25.0, faces: int = 1,
                 seed: int = 0) -> Iterator[tuple[np.ndarray, list[list[float]]]]:
    """(BGR uint8 frame, face boxes [x0, y0, x1, y1]) for each frame of the synthetic clip."""
    w, h = size
    scene = make_identity(identity_seed("video", seed, 0))
    people = [(make_identity(identity_seed("video", seed, 1 + j)),
               sample_attributes(np.random.default_rng([seed, j]), "celeba")) for j in range(faces)]
    bg = background(scene, w, h)
    for k in range(max(1, round(seconds * fps))):
        t = k / fps
        placed = [Placed(ident, attrs, _path(t, j, faces, w, h)) for j, (ident, attrs) in enumerate(people)]
        img = compose(bg, placed, scene, placed[0].frame, scene.light_angle + 2 * math.pi * t / 8, 0.3,
                      1.0 + 0.1 * math.sin(2 * math.pi * t / 3.0), 2.0, seed * 100003 + k)
        yield img, [[round(float(v), 1) for v in head_box(p)] for p in placed]


def write_video(path: str | Path, seconds: float = 6.0, size: tuple[int, int] = (640, 480), fps: float = 25.0,
                faces: int = 1, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Render the clip to `path` (.mp4 or .avi) and its sidecar `path`.json; returns the sidecar's content."""
    from tqdm import tqdm

    path = Path(path)
    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        raise BadInput(f"{path}: video must end in {' or '.join(CODECS)} (codecs OpenCV's wheel can write)")
    if not 0 < seconds <= 600 or not 1 <= fps <= 120 or not 1 <= faces <= 4:
        raise BadInput("video: --seconds must be above 0 and at most 600, --fps from 1 to 120, --faces from 1 to 4")
    w, h = size
    if w < 64 or h < 64 or w % 2 or h % 2:
        raise BadInput(f"video size {w}x{h}: use even sides of at least 64 pixels")
    with atomic_path(path) as tmp_path:
        tmp = str(tmp_path)
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter.fourcc(*codec), fps, (w, h))
        if not writer.isOpened():
            raise BadInput(f"{path}: OpenCV cannot write {codec} video here")
        all_boxes = []
        n = max(1, round(seconds * fps))
        for frame, boxes in tqdm(video_frames(seconds, size, fps, faces, seed), total=n, unit="frame",
                                 desc="rendering video", disable=not progress, dynamic_ncols=True):
            writer.write(frame)
            all_boxes.append(boxes)
        writer.release()
        problem = video_problem(tmp, n)
        if problem:
            raise BadInput(f"{path}: the video written does not read back ({problem}); is the disk full? Or try the "
                           f"other format ({', '.join(CODECS)})")
    info = {
        "fps": fps, "size": [w, h], "frames": n, "seed": seed, "codec": codec,
        "faces": [{"identity": identity_seed("video", seed, 1 + j),
                   "attributes": asdict(sample_attributes(np.random.default_rng([seed, j]), "celeba")),
                   "boxes": [b[j] for b in all_boxes]} for j in range(faces)],
    }
    atomic_write_text(str(path) + ".json", json.dumps(info) + "\n")
    return info


def count_frames(path: str | Path) -> int:
    """Frames OpenCV can decode from a video file (by reading them, not trusting the header)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.isOpened():
            ok, _ = cap.read()
            if not ok:
                break
            n += 1
    finally:
        cap.release()
    return n
