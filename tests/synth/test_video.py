"""The synthetic video: readable back by OpenCV, deterministic, with true face boxes that a detector agrees with."""

import json

import cv2
import numpy as np
import pytest

from stargan_rt.errors import BadInput
from stargan_rt.synth.video import count_frames, video_frames, write_video


@pytest.mark.parametrize("name", ["clip.mp4", "clip.avi"])
def test_written_video_reads_back(tmp_path, name):
    info = write_video(tmp_path / name, seconds=1, size=(160, 120), fps=8, faces=2, progress=False)
    assert count_frames(tmp_path / name) == 8 == info["frames"]
    side = json.loads((tmp_path / (name + ".json")).read_text())
    assert len(side["faces"]) == 2 and all(len(f["boxes"]) == 8 for f in side["faces"])


def test_frames_are_deterministic_and_move():
    a = [f for f, _ in video_frames(seconds=0.5, size=(128, 96), fps=4, seed=1)]
    b = [f for f, _ in video_frames(seconds=0.5, size=(128, 96), fps=4, seed=1)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])


def test_haar_finds_the_face_where_the_boxes_say():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    for frame, boxes in video_frames(seconds=1, size=(320, 240), fps=3):
        found = cascade.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 1.1, 5)
        x0, y0, x1, y1 = boxes[0]
        centres = [(x + w / 2, y + h / 2) for x, y, w, h in found]
        assert any(x0 < cx < x1 and y0 < cy < y1 for cx, cy in centres), f"no detection inside {boxes[0]}: {found}"


def test_bad_requests(tmp_path):
    with pytest.raises(BadInput, match=".mp4"):
        write_video(tmp_path / "clip.gif", seconds=1, progress=False)
    with pytest.raises(BadInput):
        write_video(tmp_path / "clip.mp4", seconds=1, size=(63, 64), progress=False)
    assert not list(tmp_path.iterdir()), "nothing left behind"
