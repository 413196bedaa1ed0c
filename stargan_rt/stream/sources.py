"""Frame sources: a camera index, a video file, an RTSP/HTTP URL, or a folder of images.

A source is *live* when frames arrive on their own clock (a camera, a stream URL, or a file played with
`realtime=True`): the pipeline then keeps only the newest frame and drops the rest, so latency stays bounded.
A file or folder read as fast as possible is not live: every frame is processed, none is dropped (the
reader simply waits for the pipeline), which is what converting a video should do.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator, Protocol

import cv2
import numpy as np

from ..errors import BadInput, plain
from ..images import read_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
MAX_CAMERA = 9999  # OpenCV reads larger indices as a capture API plus an index
# FFmpeg prints its own lines (e.g. "moov atom not found") when OpenCV opens a broken video; we report one line
# ourselves. Read by OpenCV's FFmpeg backend when it first starts, so set before any capture or writer exists.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class Source(Protocol):
    name: str
    live: bool  # frames arrive in real time: drop stale ones rather than queue them
    fps: float  # nominal frame rate (for writers and pacing); 0 when unknown
    total: int | None  # number of frames when known

    def read(self) -> np.ndarray | None:
        """The next uint8 BGR frame, or None at the end."""
        ...

    def close(self) -> None: ...


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs its own warnings when a device or file fails to open; we report one line ourselves."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    old = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(old)


class CaptureSource:
    """cv2.VideoCapture over a camera, a file or a URL; the first frame is read on open to fail early."""

    def __init__(self, target: int | str, name: str, live: bool, realtime: bool = False):
        self.name, self.live = name, live
        if isinstance(target, int) and not 0 <= target <= MAX_CAMERA:
            raise BadInput(f"camera {target} is out of range (cameras are numbered 0, 1, 2, ...)")
        with _quiet_opencv():
            try:
                self.cap = cv2.VideoCapture(target)
                ok, frame = self.cap.read() if self.cap.isOpened() else (False, None)
            except cv2.error:
                self.cap, ok, frame = cv2.VideoCapture(), False, None
        if not ok or frame is None:
            self.cap.release()
            if isinstance(target, int):
                raise BadInput(f"camera {target} cannot be opened (no such device, or it is busy)")
            raise BadInput(f"{name}: cannot read video from it (missing, unsupported format, or unreachable)")
        self._first: np.ndarray | None = frame
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else 0.0
        count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.total = count if count > 0 and not isinstance(target, int) else None
        self.realtime = realtime  # pace a file at its own frame rate, as if it were a camera
        self._t0: float | None = None
        self._n = 0

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            ok, frame = self.cap.read()
            if not ok:
                return None
        if self.realtime and self.fps:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self._n / self.fps
            if due > now:
                time.sleep(due - now)
            self._n += 1
        return frame

    def close(self) -> None:
        self.cap.release()


class ImageFolderSource:
    """The images of a folder in name order. An unreadable one, or one of another size than the first, is left out
    and named in `skipped` (the run then ends with an error), so one bad file does not stop the others."""

    live = False

    def __init__(self, folder: Path, fps: float = 25.0):
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise BadInput(f"{folder}: no images in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.name, self.fps = str(folder), fps
        self.total: int | None = len(self.files)
        self.skipped: list[str] = []
        self._shape: tuple[int, ...] | None = None
        self._i = 0

    def read(self) -> np.ndarray | None:
        while self._i < len(self.files):
            path = self.files[self._i]
            self._i += 1
            try:
                frame = read_image(path)
            except BadInput as exc:
                self.skipped.append(plain(str(exc)))
                continue
            if self._shape is None:
                self._shape = frame.shape
            elif frame.shape != self._shape:
                h, w = self._shape[:2]
                self.skipped.append(f"{path}: {frame.shape[1]}x{frame.shape[0]}, unlike the first frame's {w}x{h}")
                continue
            return frame
        return None

    def close(self) -> None:
        pass


def open_source(spec: str | int, realtime: bool = False) -> Source:
    """A source from a camera index ("0"), a URL (rtsp://, http://...), a video file or an image folder.

    realtime: play a file at its own frame rate and drop frames the pipeline cannot keep up with (as a
    camera would); without it a file is converted frame by frame, as fast as the pipeline goes.
    """
    text = str(spec).strip()
    if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
        return CaptureSource(int(text), f"camera {text}", live=True)
    if "://" in text:
        return CaptureSource(text, text, live=True)
    path = Path(text)
    if path.is_dir():
        return ImageFolderSource(path)
    if not path.is_file():
        raise BadInput(f"{text}: no such video file, image folder or camera")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise BadInput(f"{text} is an image: use `stargan-rt translate` for stills, or give the folder it is in")
    return CaptureSource(str(path), str(path), live=realtime, realtime=realtime)
