"""The renderer: deterministic, every attribute visible, and each attribute changes only what it should."""

import numpy as np
import pytest

from stargan_rt.errors import BadInput
from stargan_rt.synth import (BINARY, EXPRESSIONS, HAIR_COLOURS, RENDERED, Attributes, identity_seed, landmarks,
                              make_identity, render)
from stargan_rt.synth.identity import split_of

PEOPLE = [identity_seed("heldout", 99, i) for i in range(3)]
BASE = [Attributes(hair="Brown_Hair"), Attributes(hair="Black_Hair", male=True, young=False),
        Attributes(hair="Blond_Hair", pale_skin=True, smiling=True)]


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def test_rendering_is_deterministic():
    a = Attributes(hair="Blond_Hair", male=True, eyeglasses=True)
    first = render(PEOPLE[0], a)
    make_identity.cache_clear()  # rebuilt from the seed, not reused
    assert np.array_equal(first, render(PEOPLE[0], a))
    assert not np.array_equal(first, render(PEOPLE[1], a)), "different people must look different"


@pytest.mark.parametrize("size", [(178, 218), (256, 256), (32, 40)])
def test_sizes(size):
    img = render(PEOPLE[0], Attributes(), size)
    assert img.shape == (size[1], size[0], 3) and img.dtype == np.uint8
    assert img.std() > 10, "a picture, not a flat colour"


@pytest.mark.parametrize("person,base", list(zip(PEOPLE, BASE)))
def test_every_domain_visibly_changes_the_picture(person, base):
    img = render(person, base).astype(np.float32)
    box = landmarks(person, base)["box"].astype(int)
    for name in RENDERED:
        other = base.set(name, not base.get(name)) if name in BINARY else base.set(name)
        if other == base:
            continue
        diff = np.abs(render(person, other).astype(np.float32) - img)[box[1] : box[3], box[0] : box[2]]
        assert diff.mean() > 0.8, f"{name} barely shows ({diff.mean():.2f} grey levels over the face)"


@pytest.mark.parametrize("person,base", list(zip(PEOPLE, BASE)))
def test_hair_colour_leaves_the_face_centre_and_background_alone(person, base):
    lm = landmarks(person, base)
    x0, x1 = int(lm["left_eye"][0]), int(lm["right_eye"][0]) + 1  # the eyes, nose and mouth; long hair can
    y0, y1 = int(min(lm["left_eye"][1], lm["right_eye"][1])) - 4, int(lm["mouth"][1]) + 3  # reach the cheeks
    pictures = [render(person, base.set(h)) for h in HAIR_COLOURS]
    for p in pictures[1:]:
        assert np.array_equal(p[y0:y1, x0:x1], pictures[0][y0:y1, x0:x1])
        assert np.array_equal(p[:12], pictures[0][:12]), "the background above the head changed"
        assert changed(p, pictures[0]).sum() > 500, "hair colour must change a large area"


@pytest.mark.parametrize("person,base", list(zip(PEOPLE, BASE)))
def test_glasses_change_only_a_band_around_the_eyes(person, base):
    lm = landmarks(person, base)
    diff = changed(render(person, base.set("Eyeglasses", True)), render(person, base.set("Eyeglasses", False)))
    ys, xs = np.nonzero(diff)
    eye_y = (lm["left_eye"][1] + lm["right_eye"][1]) / 2
    eye_gap = np.hypot(*(lm["right_eye"] - lm["left_eye"]))
    assert len(ys) > 100
    assert np.abs(ys - eye_y).max() < 0.55 * eye_gap, "glasses changed pixels far above or below the eyes"
    assert xs.min() >= lm["box"][0] - 3 and xs.max() <= lm["box"][2] + 3, "glasses changed pixels beside the head"


@pytest.mark.parametrize("name", ["Smiling", "Young", *(e for e in EXPRESSIONS if e != "neutral")])
def test_face_attributes_stay_inside_the_head(name):
    person, base = PEOPLE[0], BASE[0]
    other = base.set(name, not base.get(name)) if name in BINARY else base.set(name)
    diff = changed(render(person, base), render(person, other))
    x0, y0, x1, y1 = landmarks(person, base)["box"]
    outside = diff.copy()
    # Age also dulls the skin of the neck and ears: allow the column below and beside the face.
    outside[int(y0) - 2 : , int(x0) - 8 : int(x1) + 9] = False
    outside[int(y0) - 2 : int(y1) + 3, int(x0) - 3 : int(x1) + 4] = False
    assert diff.any() and not outside.any(), f"{name} changed {outside.sum()} pixels away from the head"


def test_attribute_semantics():
    a = Attributes(hair="Black_Hair", smiling=True)
    assert a.get("Smiling") and a.get("neutral") and a.get("Black_Hair") and not a.get("Blond_Hair")
    b = a.set("Blond_Hair")
    assert b.hair == "Blond_Hair" and b.get("Smiling"), "setting a hair colour keeps the rest"
    sad = a.set("sad")
    assert sad.get("sad") and not sad.get("Smiling"), "an expression sets the mouth"
    assert a.set("happy").get("Smiling")
    assert sorted(a.names()) == sorted(["Black_Hair", "Young", "Smiling", "neutral"])
    with pytest.raises(BadInput):
        a.set("Black_Hair", False)  # which colour instead? the caller must say
    with pytest.raises(BadInput):
        a.set("Wearing_Hat")
    with pytest.raises(BadInput):
        Attributes(hair="Pink_Hair")


def test_identity_ranges_are_disjoint():
    seeds = {split: {identity_seed(split, s, i) for s in range(3) for i in range(50)}
             for split in ("celeba", "rafd", "heldout", "classifier", "video")}
    for a in seeds:
        assert all(split_of(x) == a for x in seeds[a])
        for b in seeds:
            assert a == b or not seeds[a] & seeds[b]


def test_bad_input():
    with pytest.raises(BadInput):
        render("alice", Attributes())
    with pytest.raises(BadInput):
        render(1, Attributes(), (4, 4))
    with pytest.raises(BadInput):
        identity_seed("train", 0, 0)
