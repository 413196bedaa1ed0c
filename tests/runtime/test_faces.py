"""Faces in frames: detection on a real photo, training framing, steady boxes, seamless paste-back."""

from __future__ import annotations

import numpy as np
import pytest

from stargan_rt.bundle import Preprocess
from stargan_rt.errors import BadInput
from stargan_rt.faces import Box, BoxTracker, Region, extract, face_region, make_detector, whole_frame_region
from stargan_rt.faces.detect import HAAR_FRAMING
from stargan_rt.images import crop_resize

# Where the astronaut's face is in scikit-image's 512x512 photo (measured once by eye: forehead to chin).
ASTRONAUT_FACE = Box(176, 65, 96, 96)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the real test photo")
    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # RGB -> BGR


@pytest.mark.parametrize("spec", ["haar", "haar:512"])
def test_haar_finds_the_one_face_in_the_astronaut_photo(astronaut, spec):
    boxes = make_detector(spec).detect(astronaut)
    assert len(boxes) == 1
    assert boxes[0].iou(ASTRONAUT_FACE) > 0.6


def test_the_face_square_covers_hair_to_chin_like_celeba(astronaut):
    (box,) = make_detector("haar").detect(astronaut)
    r = face_region(box, HAAR_FRAMING)
    assert r.w == r.h and 1.7 * box.w <= r.w <= 2.1 * box.w  # CelebA's crop is ~1.9 Haar boxes wide
    cx, cy = box.center
    assert r.y < box.y - 0.4 * box.h  # room for the hair above the face box
    assert r.y + r.h > box.y + box.h  # and the chin below
    assert abs(r.x + r.w / 2 - cx) <= 1


def test_whole_frame_region_matches_the_training_crop_for_celeba_sized_images():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
    pre = Preprocess(crop_size=178)
    r = whole_frame_region(img.shape, pre)
    np.testing.assert_array_equal(extract(img, r, 64), crop_resize(img, pre, 64))


def test_extract_pads_by_replicating_the_border_when_the_square_leaves_the_frame():
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, :20] = 200
    crop = extract(img, Region(-20, 0, 40, 40), 40)  # left half is outside the frame
    assert crop.shape == (40, 40, 3)
    assert (crop[:, :20] == 200).all()  # replicated left border, not black


def test_tracker_smooths_jitter_of_a_still_face():
    rng = np.random.default_rng(2)
    tracker = BoxTracker()
    raw, smooth = [], []
    for i in range(60):
        jitter = rng.normal(0, 3, 2)
        det = Box(100 + jitter[0], 80 + jitter[1], 90, 90)
        (out,) = tracker.update([det], t=i / 30)
        raw.append(det.x)
        smooth.append(out.x)
    assert np.std(np.diff(smooth[10:])) < 0.5 * np.std(np.diff(raw[10:]))


def test_tracker_follows_a_moving_face_without_lagging_far_behind():
    tracker = BoxTracker()
    for i in range(60):
        x = 100 + 6 * i  # 180 px/s at 30 FPS
        (out,) = tracker.update([Box(x, 80, 90, 90)], t=i / 30)
    assert abs(out.x - x) < 12


def test_tracker_keeps_a_face_through_missed_detections_then_drops_it():
    tracker = BoxTracker(max_missed=3)
    tracker.update([Box(10, 10, 50, 50)], t=0.0)
    for i in range(3):
        assert len(tracker.update([], t=(i + 1) / 30)) == 1
    assert tracker.update([], t=5 / 30) == []


def test_each_track_keeps_its_id_so_per_face_state_can_follow_it():
    tracker = BoxTracker()
    ids = set()
    for i in range(5):
        boxes = tracker.update([Box(10 + i, 10, 50, 50), Box(200 - i, 10, 50, 50)], t=i / 30)
        ids |= {b.track for b in boxes}
        assert face_region(boxes[0], make_detector("haar").framing).key == boxes[0].track
    assert len(ids) == 2 and -1 not in ids


def test_tracker_gives_two_faces_two_tracks():
    tracker = BoxTracker()
    for i in range(5):
        boxes = tracker.update([Box(10, 10, 50, 50), Box(200, 10, 60, 60)], t=i / 30)
    assert len(boxes) == 2 and boxes[0].w == pytest.approx(60)  # largest first


def test_unknown_or_incomplete_detector_specs_are_bad_input(tmp_path):
    with pytest.raises(BadInput, match="unknown face detector"):
        make_detector("mtcnn")
    with pytest.raises(BadInput, match="needs its model file"):
        make_detector("yunet")
    with pytest.raises(BadInput, match="no such YuNet model"):
        make_detector(f"yunet:{tmp_path / 'missing.onnx'}")
    with pytest.raises(BadInput, match="detection size"):
        make_detector("haar:big")
    assert make_detector("haar:640").max_side == 640


def test_dlib_detector_when_installed(astronaut):
    pytest.importorskip("dlib", reason="dlib is optional and not installed here")
    boxes = make_detector("dlib").detect(astronaut)
    assert any(b.iou(ASTRONAUT_FACE) > 0.3 for b in boxes)


def test_an_opencv_without_haar_cascades_is_one_clear_line(monkeypatch):
    # OpenCV 5 wheels ship no cascades and no CascadeClassifier (seen on the GPU machine): say so, no AttributeError.
    import cv2

    from stargan_rt.errors import MissingDependency
    from stargan_rt.faces.detect import HaarDetector

    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(MissingDependency, match="no Haar cascades"):
        HaarDetector()
