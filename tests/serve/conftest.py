"""Serving tests: the embedded default model (a real generator, no torch), SynthFaces scenes as the photos,
stand-in runners where a test must control time (a gate to hold a request in flight, a fixed delay)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from stargan_rt.backends import Runner
from stargan_rt.synth.video import video_frames

REPO = Path(__file__).resolve().parents[2]
STARGAN_RT = [sys.executable, "-m", "stargan_rt"]


def scene(seconds: float = 0.04, size: tuple[int, int] = (640, 480), seed: int = 0) -> list[tuple[np.ndarray, list]]:
    """SynthFaces video frames (BGR) with their true face boxes."""
    return list(video_frames(seconds=seconds, size=size, fps=25.0, faces=1, seed=seed))


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="session")
def photo() -> tuple[np.ndarray, bytes, list[float]]:
    """(frame, its JPEG, the face box [x0, y0, x1, y1]) of one 640x480 SynthFaces scene."""
    frame, boxes = scene()[0]
    return frame, jpeg(frame), boxes[0]


class DelayRunner(Runner):
    """Wraps a real runner; each call first waits `delay` seconds (a slow GPU, a big model) or for `gate`."""

    name = "delay"

    def __init__(self, inner: Runner, delay: float = 0.0, gate: threading.Event | None = None):
        self.inner, self.meta, self.delay, self.gate = inner, inner.meta, delay, gate
        self.calls = 0
        self.entered = threading.Event()

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self.inner.infer(x, c)

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        time.sleep(self.delay)
        return self.inner.infer_frames(frames, c)

    def describe(self) -> str:
        return f"delay {self.delay:g}s over {self.inner.describe()}"


@pytest.fixture(scope="session")
def default_runner() -> Runner:
    from stargan_rt.backends import open_model
    from stargan_rt.default_model import default_model_path

    return open_model(default_model_path(), "auto")


class ServerProcess:
    """`stargan-rt serve` in a subprocess on 127.0.0.1 (a free port), stopped with SIGINT like Ctrl-C."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen([*STARGAN_RT, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"serving (http://[\d.]+:\d+)/", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = m.group(1)

    def stop(self) -> tuple[int, str]:
        import signal

        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err
