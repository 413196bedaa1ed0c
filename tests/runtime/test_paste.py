"""Paste-back: the model's change goes into the full-resolution frame; everything it does not change stays."""

from __future__ import annotations

import numpy as np
import pytest

from stargan_rt.faces import PasteBack, Region
from stargan_rt.faces.paste import edge_ramp, noise_floor
from trainer.evaluate_frames import border_step

S = 32  # model resolution of these tests


def photo(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A textured picture (smooth gradient + fine noise), so that resampling it would show."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    base = np.stack([60 + xs * 0.8, 90 + ys * 0.6, 120 + 0 * xs], axis=2)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def disc(value: float, radius: float = 0.3) -> np.ndarray:
    """A crop-sized change: `value` grey levels inside a centred disc, 0 elsewhere."""
    ys, xs = np.mgrid[0:S, 0:S] + 0.5
    inside = np.hypot(xs - S / 2, ys - S / 2) < radius * S
    return np.where(inside[..., None], value, 0.0) * np.ones(3)


def run(paste: PasteBack, frame: np.ndarray, region: Region, change: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    ref = np.full((S, S, 3), 100, np.uint8) if ref is None else ref
    face = np.clip(ref.astype(float) + change, 0, 255).astype(np.uint8)
    out = frame.copy()
    paste(out, region, ref, face)
    return out


def test_where_the_model_changes_nothing_the_frame_keeps_every_pixel():
    frame = photo()
    ref = np.random.default_rng(3).integers(0, 256, (S, S, 3), dtype=np.uint8)
    for reference in ("model", "input"):
        out = run(PasteBack(reference=reference), frame, Region(40, 20, 70, 70), np.zeros((S, S, 3)), ref)
        np.testing.assert_array_equal(out, frame)


def test_a_change_is_added_at_full_resolution_and_only_inside_the_square():
    frame, region = photo(), Region(40, 20, 70, 70)
    out = run(PasteBack(), frame, region, disc(80))
    delta = out.astype(int) - frame.astype(int)
    centre = delta[region.y + 30 : region.y + 40, region.x + 30 : region.x + 40]
    assert abs(centre.mean() - 80) < 3  # the change itself, not a resampled copy of the face
    assert np.abs(np.diff(centre, axis=1)).max() <= 2  # the photo's texture stays: the change is smooth there
    outside = np.ones(frame.shape[:2], bool)
    outside[region.y : region.y + region.h, region.x : region.x + region.w] = False
    np.testing.assert_array_equal(out[outside], frame[outside])


def test_no_seam_even_when_the_change_reaches_the_edge_of_the_square():
    frame, region = photo(), Region(40, 20, 70, 70)
    out = run(PasteBack(), frame, region, np.full((S, S, 3), 90.0))  # changes every pixel of the crop
    assert border_step(out, region) <= 1.05 * border_step(frame, region) + 0.5


def test_a_square_that_runs_off_the_frame_is_clipped():
    frame, region = photo(), Region(120, -20, 70, 70)
    out = run(PasteBack(), frame, region, disc(80, 0.45))
    assert (out[:, :120] == frame[:, :120]).all() and (out[50:] == frame[50:]).all()
    assert (out.astype(int) - frame.astype(int))[:40, 130:].max() > 40


def test_the_model_noise_in_the_outer_ring_is_not_pasted_but_the_change_inside_is():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 10, (S, S, 3))  # an imperfect generator changes everything a little
    frame, region = photo(), Region(40, 20, 64, 64)
    out = run(PasteBack(), frame, region, noise + disc(90))
    delta = np.abs(out.astype(int) - frame.astype(int)).max(axis=2)
    ring = np.ones((64, 64), bool)
    ring[6:-6, 6:-6] = False
    inside = delta[region.y : region.y + 64, region.x : region.x + 64]
    assert inside[ring].mean() < 2  # the noise floor keeps background and clothes as they were
    assert inside[27:37, 27:37].mean() > 60  # the real change (90 grey levels) comes through


def test_the_noise_floor_reads_the_outer_ring_only():
    mag = np.zeros((S, S))
    mag[8:-8, 8:-8] = 100  # a big change in the middle
    assert noise_floor(mag) == 0
    mag[:2] = 7
    mag[-2:] = 7
    mag[:, :2] = 7
    mag[:, -2:] = 7
    assert noise_floor(mag) == 7


def test_the_edge_ramp_is_one_inside_and_fades_to_zero_at_the_edges():
    m = edge_ramp(50, 0.2)
    assert m[25, 25] == 1.0 and m[0, 0] < 0.02 and m[25, 0] < 0.02
    assert np.all(np.diff(m[25, :25]) >= 0)


def test_on_video_the_weight_of_a_tracked_face_is_steadier_than_each_frames():
    rng = np.random.default_rng(5)
    steady, raw = PasteBack(memory=0.6), PasteBack(memory=0.0)
    ref = np.full((S, S, 3), 100, np.uint8)
    w_steady, w_raw = [], []
    for _ in range(30):
        change = disc(40 + rng.normal(0, 12), 0.3 + rng.normal(0, 0.04))  # a change that wobbles frame to frame
        face = np.clip(ref + change, 0, 255).astype(np.uint8)
        w_steady.append(steady.change(ref, face, key=7)[1])
        w_raw.append(raw.change(ref, face, key=7)[1])
    flicker = lambda ws: np.mean([np.abs(a - b).mean() for a, b in zip(ws[1:], ws[:-1])])  # noqa: E731
    assert flicker(w_steady) < 0.6 * flicker(w_raw)


def test_weights_belong_to_their_track_and_are_forgotten_with_it():
    paste = PasteBack(memory=0.9)
    ref = np.full((S, S, 3), 100, np.uint8)
    big = np.clip(ref + disc(90), 0, 255).astype(np.uint8)
    paste.change(ref, big, key=1)
    _, other = paste.change(ref, ref, key=2)  # another face, unchanged: not pulled toward face 1's weight
    assert other.max() == 0
    paste.forget({2})
    _, again = paste.change(ref, ref, key=1)  # face 1 seen anew: no memory of its old weight
    assert again.max() == 0


def test_an_unknown_reference_is_refused():
    with pytest.raises(ValueError):
        PasteBack(reference="square")
