"""stargan-rt eval, frames phase: the whole pipeline on full scenes against the true translated frame."""

import hashlib
import json

import numpy as np
import pytest

from stargan_rt.faces import Box, Framing, PasteBack
from stargan_rt.images import read_image
from stargan_rt.translator import Translator
from trainer.evaluate_frames import (border_step, evaluate_frames, frame_scores, markdown, near_face, render_frames,
                                     scene_for, training_region, write_frames_report)

from .conftest import IdentityRunner, PerfectFramesRunner, celeba_meta, eval_people

pytest.importorskip("cv2.data", reason="the frames phase finds faces with OpenCV's Haar detector")


class Oracle:
    """A detector that knows where each scene's face is: its box is the training square itself."""

    name = "oracle"
    framing = Framing(scale=1.0, dy=0.0)

    def __init__(self, fs):
        self.boxes = {}
        for frame, s in zip(fs.inputs, fs.scenes):
            r = training_region(s)
            self.boxes[hashlib.sha1(frame.tobytes()).hexdigest()] = Box(r.x, r.y, r.w, r.h)

    def detect(self, frame):
        return [self.boxes[hashlib.sha1(frame.tobytes()).hexdigest()]]


@pytest.fixture(scope="module")
def frames():
    meta, people = celeba_meta(128), eval_people(3)
    return meta, render_frames(meta, people, seed=3, workers=1)


def test_the_truth_differs_from_the_input_only_near_the_face(frames):
    _, fs = frames
    assert fs.inputs.shape == (3, 480, 640, 3) and len(fs.truths) == len(fs.cases) == 3 * 5
    for k, c in enumerate(fs.cases):
        moved = np.abs(fs.truths[k].astype(int) - fs.inputs[c.person].astype(int)).max(axis=2) > 0
        ys, xs = near_face(fs.scenes[c.person], fs.people[c.person].attrs)  # twice the face box
        width = (xs.stop - xs.start) / 2
        far = np.ones_like(moved)  # above the hair, or beyond the shoulders
        far[max(0, ys.start - 20) :, max(0, int(xs.start - 1.5 * width)) : int(xs.stop + 1.5 * width)] = False
        assert moved.any() == (c.target != fs.people[c.person].attrs), c.title  # setting what is there: no change
        assert not moved[far].any(), c.title


def test_scenes_are_deterministic_and_differ_between_people():
    people = eval_people(2)
    assert scene_for(people[0], 0, seed=3) == scene_for(people[0], 0, seed=3)
    assert scene_for(people[0], 0, seed=3).frame != scene_for(people[1], 1, seed=3).frame


def test_frame_scores_of_doing_nothing_and_of_the_truth():
    rng = np.random.default_rng(0)
    inp = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    truth = inp.copy()
    truth[20:40, 30:50] = 255 - truth[20:40, 30:50]
    near = (slice(0, 60), slice(0, 80))
    idle, right = frame_scores(inp, inp, truth, near), frame_scores(inp, truth, truth, near)
    assert idle["gain"] == 0 and idle["spill"] == 0
    assert right["gain"] > 50 and right["spill"] == 0
    wrong = inp.copy()
    wrong[:10] = 0  # changes pixels the truth leaves alone
    assert frame_scores(inp, wrong, truth, near)["spill"] > 0


def test_a_perfect_model_gains_much_and_spills_nothing(classifier, frames):
    meta, fs = frames
    tr = Translator(IdentityRunner(meta), detector=Oracle(fs))
    perfect = Translator(PerfectFramesRunner(meta, fs, tr), detector=Oracle(fs))
    report, strips = evaluate_frames(perfect, classifier, fs, progress=False)
    s = report["summary"]
    assert s["detected"] == 1.0
    assert s["gain"] > 8.0 and all(c["gain"] > 4.0 for c in report["columns"]), report["columns"]
    assert s["spill"] < 0.3 and s["seam"] < 0.3
    assert s["accuracy"] == s["ceiling"]


def test_a_model_that_changes_nothing_gains_nothing_and_spills_nothing(classifier, frames):
    meta, fs = frames
    for reference in ("model", "input"):
        tr = Translator(IdentityRunner(meta), detector="haar", paste=PasteBack(reference=reference))
        s = evaluate_frames(tr, classifier, fs, progress=False)[0]["summary"]
        assert s["gain"] == 0.0 and s["spill"] == 0.0 and s["seam"] == 0.0, reference


def test_the_report_has_a_table_and_a_strip_per_domain(classifier, frames, tmp_path):
    meta, fs = frames
    tr = Translator(IdentityRunner(meta), detector="haar")
    report, strips = evaluate_frames(tr, classifier, fs, strip_rows=2, progress=False, model_name="idle")
    write_frames_report(report, strips, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["summary"] == report["summary"]
    titles = [c["domain"] for c in report["columns"]]
    assert titles == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "-Male", "Young", "-Young"][: len(titles)]
    assert set(strips) == set(titles) and "| **mean** |" in markdown(report)
    strip = read_image(tmp_path / f"strip_{titles[0]}.png")
    assert strip.shape[1] > 3 * 100  # input | output | truth side by side


def test_border_step_sees_a_seam():
    img = np.full((50, 50, 3), 100, np.uint8)
    from stargan_rt.faces import Region

    r = Region(10, 10, 30, 30)
    assert border_step(img, r) == 0
    img[10:40, 10:40] = 140
    assert border_step(img, r) == pytest.approx(40)
