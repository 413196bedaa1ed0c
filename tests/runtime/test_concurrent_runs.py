"""Two runs writing the same output at once: each writes its own temporary file, neither fails, and what is left is
one whole, readable result (the later rename wins); no temporary file is left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def _video(path: Path, frames: int = 60) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (96, 72))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8))
    writer.release()
    return path


def test_two_video_runs_into_one_file_at_once_both_succeed_and_leave_one_whole_video(tiny_models, tmp_path):
    source = _video(tmp_path / "in.avi")
    out = tmp_path / "conc.avi"
    argv = [sys.executable, "-m", "stargan_rt.cli", "video", str(source), str(out), "-t", "Male",
            "-m", str(tiny_models["onnx"]), "-b", "ort-cpu", "-d", "none"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(r.wait(timeout=300), *r.communicate()) for r in runs]
    for rc, stdout, stderr in results:
        assert rc == 0 and "Traceback" not in stderr, stdout + stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conc.avi", "in.avi"]  # no .conc.*.partial.avi left
    cap = cv2.VideoCapture(str(out))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == 60
