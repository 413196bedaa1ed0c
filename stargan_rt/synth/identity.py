"""A SynthFaces identity: everything about a picture that its attributes do not decide, drawn from one seed.

Face geometry, skin tone, eye colour, both hairstyles (the one drawn when female, the one drawn when male),
hair shade, glasses frame, clothing, background, lighting, pose and the noise pattern all come from the seed,
so `render(seed, attributes)` shows the same person, in the same picture, in any domain.

Identities of the different uses never overlap: `identity_seed(split, seed, i)` keeps each split in its own
range (training sets, the RaFD-like set, the evaluation's held-out people, the classifier's training people).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import BadInput

SPLITS = {"celeba": 0, "rafd": 1, "heldout": 2, "classifier": 3, "video": 4, "scene": 5}
_SPLIT_STRIDE = 10**12
_SEED_STRIDE = 10**8


def identity_seed(split: str, seed: int, i: int) -> int:
    """The identity seed of person `i` of a dataset generated with `seed` for `split` (disjoint ranges)."""
    if split not in SPLITS:
        raise BadInput(f"unknown identity split {split!r}; use one of {', '.join(SPLITS)}")
    if not 0 <= seed < _SPLIT_STRIDE // _SEED_STRIDE or not 0 <= i < _SEED_STRIDE:
        raise BadInput(f"seed must be in [0, {_SPLIT_STRIDE // _SEED_STRIDE}) and at most {_SEED_STRIDE} people per set")
    return SPLITS[split] * _SPLIT_STRIDE + seed * _SEED_STRIDE + i


def split_of(identity: int) -> str:
    """Which split an identity seed belongs to."""
    index = identity // _SPLIT_STRIDE
    for name, k in SPLITS.items():
        if k == index:
            return name
    return "custom"


def _rgb(r: float, g: float, b: float) -> np.ndarray:
    return np.array([b, g, r], np.float32) / 255.0  # stored BGR in [0, 1], written as RGB for readability


# Skin tones from light to dark (RGB); an identity interpolates between neighbours.
SKIN_TONES = [_rgb(236, 204, 180), _rgb(226, 184, 152), _rgb(205, 153, 118), _rgb(176, 124, 88),
              _rgb(138, 92, 62), _rgb(98, 64, 46)]
PALE_SKIN = _rgb(247, 232, 226)
# Each hair colour is a range; the identity's shade picks a point in it (same shade in every colour).
HAIR_RANGES = {
    "Black_Hair": (_rgb(18, 16, 17), _rgb(48, 38, 34)),
    "Brown_Hair": (_rgb(78, 48, 28), _rgb(138, 92, 56)),
    "Blond_Hair": (_rgb(206, 168, 100), _rgb(242, 218, 156)),
    "Gray_Hair": (_rgb(150, 150, 152), _rgb(208, 206, 202)),
}
IRIS = [_rgb(92, 58, 34), _rgb(60, 38, 24), _rgb(70, 110, 150), _rgb(90, 120, 80), _rgb(120, 100, 60)]
GLASSES_COLOURS = [_rgb(20, 20, 22), _rgb(70, 40, 25), _rgb(150, 130, 90), _rgb(120, 120, 128), _rgb(110, 20, 30)]


@dataclass(frozen=True)
class Hairstyle:
    volume: float  # thickness of hair outside the skull, in face units
    hairline: float  # y of the hairline at the centre of the forehead
    fringe: float | None  # y of the lower edge of bangs, or None
    part: float  # -1 .. 1: side of the parting (0 = none)
    side: float  # how far down the locks in front of the ears reach (y)
    length: float | None  # y of the lower end of hair behind the head, or None (short)
    width: float  # half-width of the hair behind the head at its lower end
    wave: float  # amplitude of waves on the long hair's outline
    top: float  # extra height on top (quiff)
    recede: float = 0.0  # how far the hairline's corners draw back at the temples (short hair)

    @property
    def bangs(self) -> bool:
        return self.fringe is not None


@dataclass(frozen=True)
class Identity:
    seed: int
    skin: np.ndarray  # BGR [0, 1]
    blush: float
    face_width: float
    face_top: float
    face_bottom: float
    jaw_female: tuple[float, float]  # (superellipse exponent, chin taper)
    jaw_male: tuple[float, float]
    eye_x: float
    eye_y: float
    eye_w: float
    eye_open: float
    eye_tilt: float
    iris: np.ndarray
    brow_gap: float
    brow_len: float
    brow_arch: float
    brow_colour: np.ndarray
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip_upper: float
    lip_lower: float
    lip_colour: np.ndarray
    lipstick: float
    ear_y: float
    hair_female: Hairstyle
    hair_male: Hairstyle
    hair_shade: float
    beard: float
    wrinkles: float
    glasses_shape: int
    glasses_colour: np.ndarray
    glasses_size: float
    glasses_thick: float
    clothes: np.ndarray
    neckline: int
    background: int
    bg_colours: tuple[np.ndarray, np.ndarray, np.ndarray]
    bg_angle: float
    light_angle: float
    light_strength: float
    light_tint: np.ndarray
    brightness: float
    shift: tuple[float, float]
    roll: float
    scale: float
    yaw: float
    noise: float
    detail_seed: int  # strands, stubble, skin texture, background texture, pixel noise

    def hair_colour(self, hair: str) -> np.ndarray:
        lo, hi = HAIR_RANGES[hair]
        return lo + (hi - lo) * self.hair_shade

    def hairstyle(self, male: bool) -> Hairstyle:
        return self.hair_male if male else self.hair_female


def _female_hair(r: np.random.Generator) -> Hairstyle:
    style = r.choice(["long", "long", "wavy", "bob", "bangs"])
    length = {"long": r.uniform(2.2, 3.4), "wavy": r.uniform(2.0, 3.2), "bob": r.uniform(1.05, 1.45),
              "bangs": r.uniform(1.4, 3.0)}[style]
    return Hairstyle(
        volume=r.uniform(0.16, 0.32), hairline=r.uniform(-0.86, -0.72),
        fringe=r.uniform(-0.56, -0.42) if style == "bangs" else None,
        part=0.0 if style == "bangs" else float(r.choice([-1, 1]) * r.uniform(0.2, 0.9)),
        side=r.uniform(0.55, 1.25) if style != "bob" else r.uniform(0.6, 0.95), length=length,
        width=r.uniform(1.25, 1.6) if style != "bob" else r.uniform(1.2, 1.35),
        wave=r.uniform(0.04, 0.08) if style == "wavy" else 0.0, top=r.uniform(0.0, 0.06),
    )


def _male_hair(r: np.random.Generator) -> Hairstyle:
    style = r.choice(["crop", "side", "quiff", "fringe"])
    return Hairstyle(
        volume={"crop": r.uniform(0.09, 0.14), "side": r.uniform(0.13, 0.2), "quiff": r.uniform(0.12, 0.18),
                "fringe": r.uniform(0.12, 0.18)}[style],
        hairline=r.uniform(-1.02, -0.86), fringe=r.uniform(-0.66, -0.56) if style == "fringe" else None,
        part=float(r.choice([-1, 1]) * r.uniform(0.3, 0.8)) if style == "side" else 0.0,
        side=r.uniform(-0.12, 0.12), length=None, width=1.0, wave=0.0,
        top=r.uniform(0.1, 0.2) if style == "quiff" else r.uniform(0.0, 0.05), recede=r.uniform(0.0, 0.1),
    )


def _muted(r: np.random.Generator) -> np.ndarray:
    """A background colour: any hue, mostly muted, as indoor and outdoor backdrops are."""
    c = r.uniform(30, 240, 3)
    return _rgb(*(c + (c.mean() - c) * r.uniform(0.3, 0.8)))


@functools.lru_cache(maxsize=4096)
def make_identity(seed: int) -> Identity:
    """The identity of `seed` (cached: datasets and evaluation render the same person many times)."""
    if seed < 0:
        raise BadInput(f"identity seeds are non-negative integers, got {seed}")
    # Independent streams per part, so that a change to one part's sampling leaves the others as they were.
    face_r, feat_r, hair_r, extra_r, scene_r, detail_r = (np.random.default_rng(s) for s in
                                                          np.random.SeedSequence(seed).spawn(6))
    t = face_r.uniform(0, len(SKIN_TONES) - 1)
    k = min(int(t), len(SKIN_TONES) - 2)
    skin = SKIN_TONES[k] + (SKIN_TONES[k + 1] - SKIN_TONES[k]) * (t - k)
    skin = np.clip(skin * face_r.uniform(0.96, 1.04, 3).astype(np.float32), 0, 1)
    lip = np.clip(skin * np.array([0.62, 0.55, 0.95], np.float32) * face_r.uniform(0.85, 1.0), 0, 1)
    return Identity(
        seed=seed, skin=skin, blush=face_r.uniform(0.0, 0.25),
        face_width=face_r.uniform(0.92, 1.06), face_top=face_r.uniform(1.28, 1.4),
        face_bottom=face_r.uniform(1.16, 1.32),
        jaw_female=(face_r.uniform(1.9, 2.3), face_r.uniform(0.24, 0.36)),
        jaw_male=(face_r.uniform(2.7, 3.4), face_r.uniform(0.06, 0.16)),
        eye_x=feat_r.uniform(0.36, 0.43), eye_y=feat_r.uniform(-0.08, 0.02), eye_w=feat_r.uniform(0.27, 0.34),
        eye_open=feat_r.uniform(0.085, 0.12), eye_tilt=feat_r.uniform(-0.04, 0.05),
        iris=IRIS[int(feat_r.integers(len(IRIS)))] * feat_r.uniform(0.85, 1.15),
        brow_gap=feat_r.uniform(0.2, 0.27), brow_len=feat_r.uniform(0.36, 0.46), brow_arch=feat_r.uniform(0.03, 0.08),
        brow_colour=_rgb(*feat_r.uniform([30, 20, 15], [90, 62, 45])),
        nose_y=feat_r.uniform(0.38, 0.48), nose_w=feat_r.uniform(0.25, 0.34),
        mouth_y=feat_r.uniform(0.74, 0.84), mouth_w=feat_r.uniform(0.48, 0.6),
        lip_upper=feat_r.uniform(0.06, 0.085), lip_lower=feat_r.uniform(0.08, 0.11), lip_colour=lip,
        lipstick=feat_r.uniform(0.0, 0.55), ear_y=feat_r.uniform(0.05, 0.2),
        hair_female=_female_hair(hair_r), hair_male=_male_hair(hair_r), hair_shade=hair_r.uniform(0, 1),
        beard=extra_r.uniform(0.4, 0.65), wrinkles=extra_r.uniform(0.75, 1.0),
        glasses_shape=int(extra_r.integers(3)), glasses_colour=GLASSES_COLOURS[int(extra_r.integers(len(GLASSES_COLOURS)))],
        glasses_size=extra_r.uniform(0.9, 1.1), glasses_thick=extra_r.uniform(0.022, 0.04),
        clothes=_rgb(*extra_r.uniform(20, 235, 3)), neckline=int(extra_r.integers(2)),
        background=int(scene_r.integers(4)),
        bg_colours=(_muted(scene_r), _muted(scene_r), _muted(scene_r)),
        bg_angle=scene_r.uniform(0, 2 * np.pi), light_angle=scene_r.uniform(0, 2 * np.pi),
        light_strength=scene_r.uniform(0.0, 0.3), light_tint=(1 + scene_r.uniform(-0.06, 0.06, 3)).astype(np.float32),
        brightness=scene_r.uniform(0.88, 1.08),
        shift=(scene_r.uniform(-0.025, 0.025), scene_r.uniform(-0.025, 0.025)),
        roll=np.deg2rad(scene_r.uniform(-6, 6)), scale=scene_r.uniform(0.94, 1.06), yaw=scene_r.uniform(-0.12, 0.12),
        noise=scene_r.uniform(1.0, 4.0), detail_seed=int(detail_r.integers(2**31)),
    )
