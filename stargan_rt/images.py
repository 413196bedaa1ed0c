"""Image conversions shared by training, export checks, evaluation and the runtime (numpy + OpenCV).

Frames are uint8 HxWx3 BGR as OpenCV gives them; the generator sees float32 NCHW RGB in [-1, 1].
Training and inference go through the same functions, so what the model saw is what it gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .bundle import Preprocess
from .errors import BadInput, BadModel


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image, or BadInput naming the file (missing, unreadable, or cut short)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror})") from None
    problem = truncation(data)
    if problem:
        raise BadInput(f"{path}: {problem}")
    try:
        img = decode_image(data)
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None
    if img is None:
        raise BadInput(f"{path}: not a readable image")
    return img


def decode_image(data: bytes) -> np.ndarray | None:
    """cv2.imdecode of encoded bytes (None when they are no image it knows). An image whose header claims more pixels
    than OpenCV decodes (a decompression bomb, or a damaged header) is BadInput, not OpenCV's assertion."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
            raise BadInput("its header claims more pixels than OpenCV decodes (a damaged or hostile file)") from None
        return None


def try_read_image(path: str | Path) -> np.ndarray | None:
    """read_image, or None for a file that cannot be used (the trainer skips those and counts them)."""
    try:
        return read_image(path)
    except BadInput:
        return None


def truncation(data: bytes) -> str | None:
    """Why an encoded JPEG or PNG is cut short (a partial download or copy), else None. libjpeg would decode the
    start, print a warning of its own and grey out the rest; a truncated PNG just fails to decode."""
    kind = "JPEG" if data[:3] == b"\xff\xd8\xff" else "PNG" if data[:8] == b"\x89PNG\r\n\x1a\n" else None
    if kind is None or (_jpeg_ends(data) if kind == "JPEG" else _png_ends(data)):
        return None
    return f"a truncated {kind} (its end is missing: the file was cut short); copy or download it again"


def _jpeg_ends(data: bytes) -> bool:
    """Whether the JPEG's markers reach its end-of-image marker (data after it, e.g. a motion photo's video, is fine)."""
    i, n = 2, len(data)
    while i + 1 < n:
        if data[i] != 0xFF:
            return True  # not a layout followed here: the decoder judges
        marker = data[i + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill byte, restart, TEM: no length
            i += 1 if marker == 0xFF else 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        while marker == 0xDA and i < n:  # a scan: entropy-coded bytes until the next real marker
            j = data.find(b"\xff", i)
            if j < 0 or j + 1 >= n:
                return False
            follower = data[j + 1]
            if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:  # stuffing, restart, fill
                i = j + (1 if follower == 0xFF else 2)
                continue
            i, marker = j, -1
    return False


def _png_ends(data: bytes) -> bool:
    """Whether the PNG's chunks reach IEND."""
    i, n = 8, len(data)
    while i + 8 <= n:
        length, kind = int.from_bytes(data[i : i + 4], "big"), data[i + 4 : i + 8]
        if kind == b"IEND":
            return True
        i += 12 + length
    return False


def check_image_path(path: str | Path) -> Path:
    """`path` ends in an image extension OpenCV can write, else BadInput."""
    path = Path(path)
    if not path.suffix or not cv2.haveImageWriter(f"x{path.suffix.lower()}"):
        raise BadInput(f"{path}: cannot write an image with the extension {path.suffix or '(none)'}; use .png or .jpg")
    return path


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Encode and write atomically: an existing file is replaced only by a complete one (a full disk fails here)."""
    path = check_image_path(path)
    try:
        ok, encoded = cv2.imencode(path.suffix.lower(), img)
    except cv2.error as exc:
        raise BadInput(f"{path}: cannot encode the image ({exc.err or 'OpenCV error'})") from None
    if not ok:
        raise BadInput(f"{path}: cannot encode the image as {path.suffix}")
    atomic_write_bytes(path, encoded.tobytes())


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
    """float (N, 3, H, W) in the model's range -> uint8 BGR (N, H, W, 3). A NaN or infinite value is refused: it
    would come out as black, silently."""
    if not np.isfinite(x).all():
        raise BadModel("the model's output holds NaN or infinite values (its weights are damaged, or training "
                       "diverged): use another model")
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
