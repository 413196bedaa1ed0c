"""Frame sinks: a window, a video file, a folder of images, a virtual camera (pyvirtualcam).

Files are written under a temporary name of their own (concurrent runs never share one) and renamed when
complete; a video is read back first (it opens, every frame is there), so an interrupted run or a full disk never
leaves a half-written video where the result should be, nor replaces an earlier one with it. Only the window reads
keys (`poll`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..atomic import Temporary
from ..errors import BadInput, MissingDependency
from ..images import write_image
from ..outputs import check_file, check_folder, refuse_overwriting_inputs
from .sources import _quiet_opencv

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
ESC = 27


class Sink:
    """Where translated frames go. `close` finishes the result; `abort` ends a failed or interrupted run, dropping
    what is not whole (a video file's temporary) and, by default, is `close`."""

    name: str

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def poll(self) -> int | None:
        """A key the user pressed since the last call (windows only), else None."""
        return None

    def close(self) -> None:  # noqa: B027 - nothing to finish for most sinks
        pass

    def abort(self) -> None:
        self.close()


def gui_problem() -> str | None:
    """Why cv2.imshow cannot work here (None when it can): headless OpenCV, or no display."""
    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if gui.upper() in ("", "NONE"):
        return (
            "this OpenCV (opencv-python-headless) has no GUI, so there is no window: "
            "pip uninstall -y opencv-python-headless && pip install 'opencv-python<5', "
            "or write to a file (-o out.mp4) or a virtual camera (--virtual-cam)"
        )
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display to open a window on (DISPLAY is not set); write to a file (-o out.mp4) instead"
    return None


class WindowSink(Sink):
    name = "window"

    def __init__(self, title: str = "stargan-rt"):
        problem = gui_problem()
        if problem:
            raise MissingDependency(problem)
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        self._shown = False

    def write(self, frame: np.ndarray) -> None:
        cv2.imshow(self.title, frame)
        self._shown = True

    def poll(self) -> int | None:
        key = cv2.waitKey(1)
        if self._shown and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return ESC  # the user closed the window
        return None if key < 0 else key & 0xFF

    def close(self) -> None:
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


class VideoFileSink(Sink):
    """A video file (codec by extension), opened on the first frame, read back and renamed into place on close."""

    def __init__(self, path: str | Path, fps: float):
        self.path = check_file(path, "output", VIDEO_CODECS)
        self.name = str(self.path)
        self.fourcc = cv2.VideoWriter.fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
        self.fps = fps if fps > 0 else 25.0
        self.tmp: Temporary | None = None
        self.writer: cv2.VideoWriter | None = None
        self.size = (0, 0)  # (width, height), set by the first frame
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            self.tmp = Temporary(self.path, keep_suffix=True)
            h, w = frame.shape[:2]
            self.size = (w, h)
            with _quiet_opencv():
                self.writer = cv2.VideoWriter(str(self.tmp.path), self.fourcc, self.fps, (w, h))
            if not self.writer.isOpened():
                self.abort()
                raise BadInput(f"{self.path}: cannot write a video there (unwritable folder or codec not available)")
        if (size := (frame.shape[1], frame.shape[0])) != self.size:
            raise BadInput(f"{self.path}: a {size[0]}x{size[1]} frame in a video of {self.size[0]}x{self.size[1]}")
        with _quiet_opencv():  # a failed write (a full disk) logs a line per frame; the read-back reports it once
            self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and put it at `path`, only if it reads back whole (else BadInput, `path` untouched)."""
        if self.writer is None or self.tmp is None:
            return
        with _quiet_opencv():
            self.writer.release()
        self.writer = None
        problem = video_problem(self.tmp.path, self.frames)
        if problem:
            self.tmp.discard()
            kept = f"; the earlier {self.path.name} is kept as it was" if self.path.exists() else ""
            raise BadInput(f"{self.path}: the video written does not read back ({problem}): is the disk full?{kept}")
        self.tmp.commit()

    def abort(self) -> None:
        """A failed run: drop the partial file, leave any earlier result at `path` untouched."""
        if self.writer is not None:
            with _quiet_opencv():
                self.writer.release()
            self.writer = None
        if self.tmp is not None:
            self.tmp.discard()


def video_problem(path: str | Path, frames: int) -> str | None:
    """Why a video file just written does not hold `frames` decodable frames (its index says how many, and the last
    one is decoded), or None when it does."""
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                return "it does not open: the writing was cut short"
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            if n != frames:
                return f"it holds {n} of the {frames} frames written"
            cap.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
            if not cap.read()[0]:
                return "its last frame cannot be decoded"
        finally:
            cap.release()
    return None


class ImageFolderSink(Sink):
    def __init__(self, folder: str | Path, ext: str = ".png"):
        self.folder = Path(folder)
        self.name, self.ext, self.frames = str(self.folder), ext, 0

    def write(self, frame: np.ndarray) -> None:
        write_image(self.folder / f"{self.frames:06d}{self.ext}", frame)
        self.frames += 1


class VirtualCamSink(Sink):
    """A virtual webcam (v4l2loopback, OBS, ...) that video-call apps can pick; opened on the first frame."""

    name = "virtual camera"

    def __init__(self, fps: float):
        from .._optional import require

        self.pyvirtualcam = require("pyvirtualcam", "the virtual camera output")
        self.fps = fps if fps > 0 else 30.0
        self.cam: Any = None

    def write(self, frame: np.ndarray) -> None:
        if self.cam is None:
            h, w = frame.shape[:2]
            try:
                self.cam = self.pyvirtualcam.Camera(w, h, self.fps, fmt=self.pyvirtualcam.PixelFormat.BGR)
            except RuntimeError as exc:  # no backend: v4l2loopback not loaded, OBS not installed
                raise MissingDependency(f"no virtual camera device ({exc})") from None
            self.name = f"virtual camera {self.cam.device}"
        self.cam.send(frame)

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()
            self.cam = None


class TeeSink(Sink):
    """Several sinks at once (e.g. a window and a recording); keys come from the first that has them."""

    def __init__(self, sinks: list[Sink]):
        self.sinks = sinks
        self.name = " + ".join(s.name for s in sinks)

    def write(self, frame: np.ndarray) -> None:
        for s in self.sinks:
            s.write(frame)

    def poll(self) -> int | None:
        keys = [s.poll() for s in self.sinks]
        return next((k for k in keys if k is not None), None)

    def close(self) -> None:
        for s in self.sinks:
            s.close()

    def abort(self) -> None:
        for s in self.sinks:
            s.abort()


def open_sink(spec: str, fps: float = 25.0) -> Sink:
    """"window", "virtualcam", a video file (.mp4, .avi, .mkv, .mov) or a folder (no extension)."""
    if spec == "window":
        return WindowSink()
    if spec in ("virtualcam", "virtual-cam"):
        return VirtualCamSink(fps)
    path = Path(spec)
    if path.suffix.lower() in VIDEO_CODECS:
        return VideoFileSink(path, fps)
    if path.suffix and not path.is_dir():
        raise BadInput(f"{spec}: give a video file ({', '.join(VIDEO_CODECS)}) or a folder for images")
    return ImageFolderSink(check_folder(path, "output"))


def check_sink(spec: str, source: str) -> None:
    """Before any work: the output `spec` names can be written there and is not the `source` itself."""
    if spec in ("window", "virtualcam", "virtual-cam"):
        return
    path = Path(spec)
    if path.suffix.lower() in VIDEO_CODECS:
        check_file(path, "output", VIDEO_CODECS)
    elif path.suffix and not path.is_dir():
        raise BadInput(f"{spec}: give a video file ({', '.join(VIDEO_CODECS)}) or a folder for images")
    else:
        check_folder(path, "output")
    if not source.strip().lstrip("-").isdigit() and "://" not in source:
        refuse_overwriting_inputs([source], [path])
