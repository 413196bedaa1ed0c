"""Image conversions shared by training, export checks, evaluation and the runtime (numpy + OpenCV).

Frames are uint8 HxWx3 BGR as OpenCV gives them; the generator sees float32 NCHW RGB in [-1, 1].
Training and inference go through the same functions, so what the model saw is what it gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .bundle import Preprocess
from .errors import BadInput


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image, or BadInput naming the file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such image file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise BadInput(f"{path}: not a readable image")
    return img


def write_image(path: str | Path, img: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise BadInput(f"{path}: cannot write an image there (unknown extension or unwritable folder)")


def center_crop(img: np.ndarray, size: int | None) -> np.ndarray:
    """Centre square crop of side `size` (torchvision CenterCrop semantics); None or too large = no crop."""
    if size is None:
        return img
    h, w = img.shape[:2]
    if size > h or size > w:
        size = min(h, w)
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img[top : top + size, left : left + size]


def crop_resize(img: np.ndarray, pre: Preprocess, image_size: int) -> np.ndarray:
    """Source image (any size) -> image_size x image_size, as the model was trained."""
    img = center_crop(img, pre.crop_size)
    if img.shape[0] != image_size or img.shape[1] != image_size:
        interp = cv2.INTER_AREA if img.shape[0] > image_size else cv2.INTER_LINEAR
        img = cv2.resize(img, (image_size, image_size), interpolation=interp)
    return img


def to_tensor(frames_bgr: np.ndarray | Sequence[np.ndarray], pre: Preprocess = Preprocess()) -> np.ndarray:
    """uint8 BGR (N, H, W, 3) or list of HxWx3 -> float32 (N, 3, H, W) in the model's range."""
    batch = np.stack(list(frames_bgr)) if not isinstance(frames_bgr, np.ndarray) else frames_bgr
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise BadInput(f"expected BGR frames of shape (N, H, W, 3), got {batch.shape}")
    x = batch[..., ::-1] if pre.channel_order == "RGB" else batch
    x = x.astype(np.float32) / 255.0
    x = (x - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_frames(x: np.ndarray, pre: Preprocess = Preprocess()) -> np.ndarray:
    """float (N, 3, H, W) in the model's range -> uint8 BGR (N, H, W, 3)."""
    y = x.transpose(0, 2, 3, 1) * np.asarray(pre.std, np.float32) + np.asarray(pre.mean, np.float32)
    y = np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(y[..., ::-1] if pre.channel_order == "RGB" else y)


def make_grid(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str] | None = None, pad: int = 2) -> np.ndarray:
    """Tile equal-sized BGR images row by row (the paper's Figure 2 layout), with optional column titles."""
    if not rows or not rows[0]:
        raise BadInput("nothing to put in a grid")
    h, w = rows[0][0].shape[:2]
    ncols = max(len(r) for r in rows)
    header = 0
    if titles:
        scale = max(0.3, w / 256)
        header = int(22 * scale) + 6
    grid = np.full((header + len(rows) * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            y, x = header + pad + r * (h + pad), pad + c * (w + pad)
            grid[y : y + h, x : x + w] = img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h))
    for c, title in enumerate(titles or ()):
        scale = max(0.3, w / 256)
        text = title if len(title) * 9 * scale < w else title[: max(3, int(w / (9 * scale)))]
        cv2.putText(grid, text, (pad + c * (w + pad) + 2, header - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale * 1.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return grid
