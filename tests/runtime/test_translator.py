"""The Translator API: targets by name, crops, training-framed photos, grids, and faces inside frames."""

from __future__ import annotations

import numpy as np
import pytest

from stargan_rt.backends import Runner, open_model
from stargan_rt.errors import BadInput
from stargan_rt.faces import PasteBack
from stargan_rt.translator import Translator

from .conftest import SIZE


class Spy(Runner):
    """A real runner that records the batch size and the labels of every call."""

    name = "spy"

    def __init__(self, inner: Runner):
        self.inner, self.meta, self.calls, self.labels = inner, inner.meta, [], []

    def infer(self, x, c):
        self.calls.append(len(x))
        self.labels.append(np.array(c))
        return self.inner.infer(x, c)

    def infer_frames(self, frames, c):
        self.calls.append(len(frames))
        self.labels.append(np.array(c))
        return self.inner.infer_frames(frames, c)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the real test photo")
    return np.ascontiguousarray(data.astronaut()[..., ::-1])


@pytest.fixture
def spy(tiny_models):
    with open_model(tiny_models["onnx"], "ort-cpu") as runner:
        yield Spy(runner)


def test_targets_by_name_become_label_vectors(spy):
    tr = Translator(spy)
    # domains: Black_Hair, Blond_Hair, Brown_Hair, Male, Young; hair colours exclusive
    np.testing.assert_array_equal(tr.label("Blond_Hair"), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(tr.label("Blond_Hair", source="Black_Hair,Young"), [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(tr.label("+Male,-Young", source="Brown_Hair,Young"), [0, 0, 1, 1, 0])
    np.testing.assert_allclose(tr.label("Male=0.6"), [0, 0, 0, 0.6, 0])
    with pytest.raises(BadInput, match="unknown attribute 'Blonde'.*did you mean Blond_Hair"):
        tr.label("Blonde")


def test_default_source_comes_from_the_translator(spy):
    tr = Translator(spy, source="Black_Hair,Young")
    np.testing.assert_array_equal(tr.label("Male"), [1, 0, 0, 1, 1])


def test_translate_crops_is_one_batched_call_with_the_target_label(spy):
    tr = Translator(spy)
    crops = np.random.default_rng(0).integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8)
    out = tr.translate_crops(crops, "Blond_Hair")
    assert spy.calls == [4]
    expected = spy.inner.infer_frames(crops, np.tile(tr.label("Blond_Hair"), (4, 1)))
    np.testing.assert_array_equal(out, expected)


def test_translate_images_frames_photos_as_in_training(spy):
    tr = Translator(spy)
    photo = np.random.default_rng(1).integers(0, 256, (218, 178, 3), dtype=np.uint8)  # a CelebA-sized face
    out = tr.translate_images([photo, photo], "Male")
    assert out.shape == (2, SIZE, SIZE, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], out[1])


def test_grid_has_the_input_and_one_column_per_domain(spy):
    tr = Translator(spy)
    photos = list(np.random.default_rng(2).integers(0, 256, (2, 218, 178, 3), dtype=np.uint8))
    grid, titles = tr.grid(photos)
    assert titles == ["input", "Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    assert spy.calls == [2 * 5]  # every image x every domain in one call
    assert grid.shape[0] > 2 * SIZE and grid.shape[1] >= 6 * SIZE


def test_grid_flips_binary_attributes_relative_to_the_source(spy):
    tr = Translator(spy, source="Male")
    titles = [t for t, _ in tr.labels.grid(tr.source)]
    assert "-Male" in titles and "Young" in titles


def test_grid_flips_each_images_attributes_relative_to_its_own_source(spy):
    tr = Translator(spy)
    photos = list(np.random.default_rng(3).integers(0, 256, (2, 218, 178, 3), dtype=np.uint8))
    _, titles = tr.grid(photos, sources=["Black_Hair,Male", {"Brown_Hair": 1.0, "Young": 1.0}])
    # the first face is made not male and young, the second male and not young: the columns say so
    assert titles == ["input", "Black_Hair", "Blond_Hair", "Brown_Hair", "+/-Male", "+/-Young"]
    (labels,) = spy.labels  # one call: image 1's five columns, then image 2's
    np.testing.assert_array_equal(labels[3], [1, 0, 0, 0, 0])  # -Male keeps the black hair
    np.testing.assert_array_equal(labels[5 + 3], [0, 0, 1, 1, 1])  # Male keeps brown hair and youth
    np.testing.assert_array_equal(labels[5 + 1], [0, 1, 0, 0, 1])  # a hair colour replaces the other
    with pytest.raises(BadInput, match="1 sets of source attributes for 2 images"):
        tr.grid(photos, sources=["Male"])


def test_translate_images_takes_each_photos_source(spy):
    tr = Translator(spy, source="Young")
    photos = list(np.random.default_rng(4).integers(0, 256, (2, 218, 178, 3), dtype=np.uint8))
    tr.translate_images(photos, "Blond_Hair", sources=[{"Male": 1.0}, None])  # None: the translator's source
    np.testing.assert_array_equal(spy.labels[0], [[0, 1, 0, 1, 0], [0, 1, 0, 0, 1]])


def test_annotated_sources_may_have_two_hair_colours_but_typed_ones_may_not(spy):
    """CelebA labels some faces with two hair colours (and trains on them); a user typing two is a mistake."""
    tr = Translator(spy)
    columns = dict(tr.labels.grid({"Black_Hair": 1.0, "Brown_Hair": 1.0}))
    np.testing.assert_array_equal(columns["Blond_Hair"], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(columns["Male"], [1, 0, 1, 1, 0])
    with pytest.raises(BadInput, match="exclude each other"):
        tr.labels.grid(["Black_Hair", "Brown_Hair"])


def test_the_astronauts_face_is_found_translated_and_pasted_back(spy, astronaut):
    tr = Translator(spy, detector="haar", paste=PasteBack(reference="input"))
    out, regions = tr.translate_frame(astronaut, "Blond_Hair")
    assert len(regions) == 1 and spy.calls == [1]
    r = regions[0]
    inside = out[r.y + r.h // 4 : r.y + 3 * r.h // 4, r.x + r.w // 4 : r.x + 3 * r.w // 4]
    before = astronaut[r.y + r.h // 4 : r.y + 3 * r.h // 4, r.x + r.w // 4 : r.x + 3 * r.w // 4]
    assert np.abs(inside.astype(int) - before.astype(int)).mean() > 10  # the face changed
    outside = np.ones(out.shape[:2], bool)
    outside[max(0, r.y) : r.y + r.h, max(0, r.x) : r.x + r.w] = False
    np.testing.assert_array_equal(out[outside], astronaut[outside])  # the rest of the photo did not


def test_all_faces_of_a_frame_go_through_one_call_with_their_as_is_renderings(spy, astronaut):
    two = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # two astronauts side by side
    tr = Translator(spy, detector="haar")  # the default "model" reference: G(x, target) - G(x, as is)
    _, regions = tr.translate_frame(two, "Male")
    assert len(regions) == 2 and spy.calls == [4]


class Tinted(Runner):
    """A generator with a reconstruction error: it brightens all but the crop's outer eighth by 40 whatever the
    label and, for Blond_Hair, the middle of the crop by 80 more (the attribute change)."""

    name = "tinted"

    def __init__(self, meta):
        self.meta = meta

    def infer_frames(self, frames, c):
        out = frames.astype(float)
        s = frames.shape[1]
        out[:, s // 8 : 7 * s // 8, s // 8 : 7 * s // 8] += 40
        out[:, s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] += 80 * c[:, 1, None, None, None]
        return np.clip(out, 0, 255).astype(np.uint8)

    def infer(self, x, c):
        raise NotImplementedError


def test_the_model_reference_cancels_the_generators_own_error_and_keeps_the_asked_change(spy, astronaut):
    frame = (astronaut // 2).astype(np.uint8)  # room for the tint without clipping
    for reference, tint_seen in (("model", False), ("input", True)):
        tr = Translator(Tinted(spy.meta), detector="haar", paste=PasteBack(reference=reference))
        out, (r,) = tr.translate_frame(frame, "Blond_Hair")
        delta = out.astype(int) - frame.astype(int)
        middle = delta[r.y + 3 * r.h // 8 : r.y + 5 * r.h // 8, r.x + 3 * r.w // 8 : r.x + 5 * r.w // 8]
        margin = delta[r.y + r.h // 6 : r.y + r.h // 5, r.x + r.w // 4 : r.x + 3 * r.w // 4]
        assert middle.mean() > 70  # the asked change comes through either way
        assert (margin.mean() > 20) == tint_seen, reference  # the tint only when measured against the input


def test_a_frame_without_faces_is_returned_unchanged_without_inference(spy):
    tr = Translator(spy, detector="haar")
    blank = np.full((120, 160, 3), 128, np.uint8)
    out, regions = tr.translate_frame(blank, "Male")
    assert regions == [] and spy.calls == []
    np.testing.assert_array_equal(out, blank)


def test_bad_frames_are_bad_input(spy):
    tr = Translator(spy, detector="haar")
    with pytest.raises(BadInput):
        tr.translate_frame(np.zeros((10, 10), np.uint8), "Male")
    with pytest.raises(BadInput):
        tr.translate_frame(np.zeros((10, 10, 3), np.float32), "Male")


def test_detect_every_n_frames_reuses_the_tracked_faces(spy, astronaut, monkeypatch):
    tr = Translator(spy, detector="haar", detect_every=3)
    calls = []
    real = tr.detector.detect
    monkeypatch.setattr(tr.detector, "detect", lambda f: calls.append(1) or real(f))
    for i in range(6):
        _, regions = tr.translate_frame(astronaut, "Male", t=i / 30)
        assert len(regions) == 1
    assert len(calls) == 2


def test_a_joint_model_applies_expressions_with_the_second_datasets_mask():
    from stargan_rt.bundle import Architecture, DomainSet, ModelMeta

    from .conftest import CELEBA_TINY
    from .test_stream import SlowRunner

    rafd = DomainSet("RaFD", "one_hot", ("angry", "happy", "neutral"))
    runner = SlowRunner(0.0)
    runner.meta = ModelMeta(Architecture(image_size=SIZE, c_dim=10, conv_dim=4, repeat_num=1), (CELEBA_TINY, rafd))
    tr = Translator(runner)
    # [5 CelebA | 3 RaFD | mask (CelebA, RaFD)]
    np.testing.assert_array_equal(tr.label("happy"), [0, 0, 0, 0, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(tr.label("Blond_Hair"), [0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    with pytest.raises(BadInput, match="different datasets"):
        tr.label("happy,Male")
    out = tr.translate_crops(np.zeros((2, SIZE, SIZE, 3), np.uint8), "happy")
    assert out.shape == (2, SIZE, SIZE, 3)


def test_on_video_the_pasted_change_follows_a_moving_face(spy, astronaut):
    tr = Translator(Tinted(spy.meta), detector="haar")
    canvas = np.zeros((512, 640, 3), np.uint8)
    centres = []
    shifts = list(range(0, 100, 10))  # 10 px a frame, 300 px/s at 30 FPS
    for i, shift in enumerate(shifts):
        frame = canvas.copy()
        frame[:, shift : shift + 512] = astronaut // 2
        out, regions = tr.translate_frame(frame, "Blond_Hair", t=i / 30)
        assert len(regions) == 1 and regions[0].key == 0  # the same tracked face throughout
        changed = np.abs(out.astype(int) - frame.astype(int)).max(axis=2) > 20
        centres.append(np.nonzero(changed)[1].mean())
    moved = centres[-1] - centres[0]
    assert shifts[-1] - 15 < moved < shifts[-1] + 5, centres  # it moved with the face (the tracker lags a little)
    assert abs(np.diff(centres)[-3:] - 10).max() < 3, centres  # and keeps pace once the face is moving
