"""Draw one SynthFaces person (head, shoulders, hair, glasses) into an image, in face units (see draw.Frame).

What each attribute touches, and nothing else:
- hair colour: the colour of the hair (the strand pattern and shape belong to the identity);
- Male: jaw, hairstyle (short), thicker brows, stubble shadow, no eyelashes/lipstick, wider neck and shoulders;
- Young (off): wrinkles, eye bags, nasolabial folds, duller skin, thinner lips;
- Pale_Skin: the skin colour; Eyeglasses: a frame around the eyes;
- Smiling and the expressions: brows, eyelids, mouth, cheek lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attributes import Attributes
from .draw import Box, Frame, Patch, bezier, blend, bounds, ellipse, paint, shape_mask, smoothstep, through
from .identity import PALE_SKIN, Hairstyle, Identity, _rgb


@dataclass(frozen=True)
class Expression:
    brow_raise: float = 0.0  # both brows up (face units)
    brow_inner: float = 0.0  # inner ends up (+) or down (-)
    brow_squeeze: float = 0.0  # inner ends pulled toward the nose
    brow_one: float = 0.0  # extra raise of one brow (contempt)
    eye_upper: float = 1.0  # opening above / below the eye line, relative
    eye_lower: float = 1.0
    droop: float = 0.0  # outer eye corners down
    mouth_width: float = 1.0
    lift: tuple[float, float] = (0.0, 0.0)  # mouth corners raised: image-left, image-right
    gap: float = 0.0  # lips apart
    teeth: str = ""  # "upper" or "lower" teeth show between the lips
    round_mouth: bool = False
    lips: float = 1.0  # lip fullness (pressed lips < 1)
    upper_raise: float = 0.0  # upper lip pulled up (disgust)
    nose_wrinkles: bool = False
    frown: bool = False  # vertical lines between the brows
    cheeks: float = 0.0  # smile lines from the nose to the mouth corners
    dimple: int = 0  # a one-sided smile line (contempt): -1 image-left, 1 image-right


# Each expression has its own mouth (the most visible cue at small sizes) and its own brows and eyes.
NEUTRAL = Expression()
SMILE = Expression(eye_lower=0.75, mouth_width=1.22, lift=(0.11, 0.11), gap=0.11, teeth="upper", cheeks=0.8)
EXPRESSION_LOOKS = {
    "neutral": NEUTRAL,
    "happy": Expression(brow_raise=0.02, eye_upper=0.85, eye_lower=0.35, mouth_width=1.3, lift=(0.16, 0.16),
                        gap=0.15, teeth="upper", cheeks=1.0),
    "sad": Expression(brow_raise=0.03, brow_inner=0.2, eye_upper=0.7, droop=0.07, mouth_width=0.92, lift=(-0.19, -0.19),
                      lips=1.25),
    "angry": Expression(brow_raise=-0.09, brow_inner=-0.17, brow_squeeze=0.06, eye_upper=0.55, eye_lower=0.7,
                        mouth_width=0.86, lift=(-0.05, -0.05), lips=0.35, frown=True),
    "surprised": Expression(brow_raise=0.17, eye_upper=1.7, eye_lower=1.3, mouth_width=0.6, gap=0.34,
                            round_mouth=True, lips=0.9),
    "fearful": Expression(brow_raise=0.12, brow_inner=0.12, brow_squeeze=0.04, eye_upper=1.6, eye_lower=1.2,
                          mouth_width=1.32, lift=(-0.08, -0.08), gap=0.14, teeth="lower", lips=0.75),
    "disgusted": Expression(brow_raise=-0.05, brow_inner=-0.04, brow_squeeze=0.02, eye_upper=0.65, eye_lower=0.45,
                            mouth_width=0.98, lift=(-0.1, -0.04), gap=0.11, teeth="upper", upper_raise=0.12,
                            nose_wrinkles=True),
    "contemptuous": Expression(brow_one=0.1, eye_upper=0.85, eye_lower=0.8, mouth_width=1.08, lift=(-0.05, 0.19),
                               lips=0.8, dimple=1),
}
LIPSTICK = _rgb(172, 38, 58)
MOUTH_INSIDE = _rgb(70, 22, 28)
TEETH = _rgb(236, 232, 222)
SCLERA = _rgb(236, 234, 230)
WHITE = np.ones(3, np.float32)


def expression_of(attrs: Attributes) -> Expression:
    if attrs.expression == "neutral":
        return SMILE if attrs.smiling else NEUTRAL
    return EXPRESSION_LOOKS[attrs.expression]


def skin_colour(ident: Identity, attrs: Attributes) -> np.ndarray:
    s = ident.skin.copy()
    if attrs.pale_skin:
        s += (PALE_SKIN - s) * 0.72
    if not attrs.young:
        s = (s + (s.mean() - s) * 0.4) * np.array([0.88, 0.93, 0.95], np.float32)
    return s


@dataclass(frozen=True)
class Head:
    """The outline of the face: an ellipse on top, a superellipse jaw below (square for men, tapered for women)."""

    width: float
    top: float
    bottom: float
    squareness: float
    taper: float

    @classmethod
    def of(cls, ident: Identity, attrs: Attributes) -> "Head":
        e, taper = ident.jaw_male if attrs.male else ident.jaw_female
        return cls(ident.face_width * (1.04 if attrs.male else 1.0), ident.face_top,
                   ident.face_bottom * (1.04 if attrs.male else 1.0), e, taper)

    def outline(self, n: int = 120) -> np.ndarray:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        c, s = np.cos(t), np.sin(t)
        lower = s > 0
        x, y = self.width * c, self.top * s
        p = 2.0 / self.squareness
        y = np.where(lower, self.bottom * np.abs(s) ** p, y)
        x = np.where(lower, self.width * np.sign(c) * np.abs(c) ** p * (1 - self.taper * (y / self.bottom) ** 2), x)
        return np.stack([x, y], axis=1)

    def half_width(self, y: float | np.ndarray) -> np.ndarray:
        """The face's half-width at height y (face units)."""
        y = np.asarray(y, np.float64)
        up = self.width * np.sqrt(np.clip(1 - (y / self.top) ** 2, 0, 1))
        t = np.clip(y / self.bottom, 0, 1)
        low = self.width * np.clip(1 - t**self.squareness, 0, 1) ** (1 / self.squareness) * (1 - self.taper * t**2)
        return np.where(y < 0, up, low)


def draw_face(img: np.ndarray, ident: Identity, attrs: Attributes, frame: Frame) -> None:
    """Draw the person into `img` (float32 BGR in [0, 1], modified in place) where `frame` puts them."""
    _Painter(img, ident, attrs, frame).draw()


class _Painter:
    def __init__(self, img: np.ndarray, ident: Identity, attrs: Attributes, frame: Frame):
        self.img, self.ident, self.attrs, self.f = img, ident, attrs, frame
        self.u = frame.unit
        self.head = Head.of(ident, attrs)
        self.expr = expression_of(attrs)
        self.skin = skin_colour(ident, attrs)
        self.face_mask = shape_mask(img.shape, [self.P(self.head.outline())])

    def rng(self, part: int) -> np.random.Generator:
        """Identity-fixed randomness of one part (strands, stubble...), independent of the other parts."""
        return np.random.default_rng([self.ident.detail_seed, part])

    def box(self, pts: np.ndarray, margin: float = 0.0) -> Box | None:
        return bounds(self.img.shape, [self.P(pts)], margin * self.u)

    def P(self, pts: np.ndarray, bump: float = 0.0) -> np.ndarray:
        return self.f.px(pts, bump)

    def paint(self, pts: np.ndarray | list[np.ndarray], colour: np.ndarray | float | Patch, *, alpha: float = 1.0,
              width: float = 0.0, closed: bool = True, soft: float = 0.0, clip: Patch | None = None,
              bump: float = 0.0) -> None:
        """paint() with shapes, line widths and softness in face units."""
        polys = [self.P(p, bump) for p in (pts if isinstance(pts, list) else [pts])]
        paint(self.img, polys, colour, alpha=alpha, thickness=width * self.u, closed=closed, blur=soft * self.u,
              clip=clip)

    def draw(self) -> None:
        self.body()
        self.face()
        if self.attrs.male:
            self.stubble()
        if not self.attrs.young:
            self.age()
        self.nose()
        self.mouth()
        for side in (-1, 1):
            self.eye(side)
            self.brow(side)
        self.hair()
        if self.attrs.eyeglasses:
            self.glasses()

    # --- head and body -------------------------------------------------------------------------------------
    def body(self) -> None:
        k = 1.12 if self.attrs.male else 1.0
        nw = 0.5 * k
        neck = np.array([[-nw, 0.3], [nw, 0.3], [nw * 1.08, 2.4], [-nw * 1.08, 2.4]])
        neck_colour = self.skin * 0.86
        self.paint(neck, neck_colour)
        neck_mask = shape_mask(self.img.shape, [self.P(neck)])
        self.paint(self.head.outline() + (0, 0.12), self.skin * 0.5, alpha=0.5, soft=0.07, clip=neck_mask)
        dip = 2.25 if self.ident.neckline == 0 else 2.6
        top = bezier((0.62 * k, 1.9), (0, dip + 0.1), (-0.62 * k, 1.9), 12)
        shoulders = np.array([[-0.62 * k, 1.9], [-1.5 * k, 2.12], [-2.4 * k, 2.5], [-2.95 * k, 3.3], [-3.3 * k, 6],
                              [3.3 * k, 6], [2.95 * k, 3.3], [2.4 * k, 2.5], [1.5 * k, 2.12], [0.62 * k, 1.9]])
        cloth = np.concatenate([shoulders, top])
        box = self.box(cloth)
        if box is not None:
            fy = self.f.coords(box)[1]
            tex = self.ident.clothes[None, None, :] * (1.05 - 0.12 * smoothstep(1.8, 4.0, fy))[..., None]
            self.paint(cloth, Patch(tex, box))
        for side in (-1, 1):  # ears, with the rim's inner fold opening toward the head
            ex = side * self.head.width * 0.97
            self.paint(ellipse(ex, self.ident.ear_y, 0.13, 0.25), self.skin * 0.9)
            rim = ellipse(0, 0, 0.065, 0.16, 20, -np.pi / 2, np.pi / 2) * (side, 1) + (ex - side * 0.02, self.ident.ear_y)
            self.paint(rim, self.skin * 0.6, alpha=0.5, width=0.02, closed=False)

    def face(self) -> None:
        hw, box = self.head, self.face_mask.box
        fx, fy = self.f.coords(box)
        r = np.sqrt((fx / hw.width) ** 2 + (fy / np.where(fy < 0, hw.top, hw.bottom)) ** 2)
        form = 1.0 - 0.2 * smoothstep(0.55, 1.08, r) + 0.04 * (1 - smoothstep(0.0, 0.6, np.abs(fy + 0.6)))
        grain = cv2_resize(self.rng(1).normal(0, 1, (40, 40)).astype(np.float32), box[2] - box[0], box[3] - box[1])
        tex = self.skin[None, None, :] * (form * (1 + 0.015 * grain))[..., None]
        blend(self.img, self.face_mask, Patch(tex, box))
        blush = self.ident.blush * (0.35 if self.attrs.male else 1.0)
        for side in (-1, 1):
            self.paint(ellipse(side * 0.56, self.ident.nose_y + 0.04, 0.22, 0.14), np.clip(self.skin * [0.86, 0.8, 1.1], 0, 1),
                       alpha=blush, soft=0.1, clip=self.face_mask)

    def stubble(self) -> None:
        i = self.ident
        box = self.face_mask.box
        fx, fy = self.f.coords(box)
        # The stubble line runs from the cheekbones down toward the mouth, with a soft edge.
        ylim = i.nose_y + 0.12 + 0.1 * np.cos(np.clip(fx, -1.2, 1.2) * 2.6) - 0.45 * np.clip(np.abs(fx) - 0.5, 0, None)
        cover = self.face_mask.data * smoothstep(-0.12, 0.16, fy - ylim) * i.beard
        blend(self.img, Patch(cover, box), np.clip(self.skin * [0.62, 0.5, 0.45], 0, 1))
        dots = (self.rng(2).random(cover.shape) < 0.3).astype(np.float32)
        dots = cv2_blur(dots, 0.35 * self.u / 40)
        blend(self.img, Patch(cover * dots * 0.5, box), self.skin * 0.35)

    def age(self) -> None:
        i, line = self.ident, self.skin * 0.55
        k = i.wrinkles
        clip = self.face_mask
        brow_y = i.eye_y - i.brow_gap
        forehead = [through((-0.42 + 0.05 * j, y + 0.02), (0, y - 0.015), (0.42 - 0.05 * j, y + 0.02))
                    for j, y in enumerate(brow_y - 0.17 - 0.08 * np.arange(3))]
        self.paint(forehead, line, alpha=0.5 * k, width=0.026, closed=False, soft=0.012, clip=clip)
        lower_jaw = self.head.outline()
        lower_jaw = lower_jaw[lower_jaw[:, 1] > 0.25]
        lower_jaw = lower_jaw[np.argsort(np.arctan2(lower_jaw[:, 1], lower_jaw[:, 0]))]
        self.paint(lower_jaw, self.skin * 0.6, alpha=0.35 * k, width=0.22, closed=False, soft=0.08, clip=clip)
        for side in (-1, 1):
            s = side
            ex, ew = s * i.eye_x, i.eye_w
            lower = through((ex - s * ew * 0.5, i.eye_y + 0.01), (ex, i.eye_y + 0.1), (ex + s * ew * 0.5, i.eye_y + 0.0))
            bag = np.concatenate([lower, through((ex + s * ew * 0.5, i.eye_y + 0.0), (ex, i.eye_y + 0.25),
                                                 (ex - s * ew * 0.5, i.eye_y + 0.01))])
            self.paint(bag, np.clip(self.skin * [0.66, 0.52, 0.6], 0, 1), alpha=0.8 * k, soft=0.025, clip=clip)
            self.paint(through((ex - s * ew * 0.35, i.eye_y + 0.13), (ex, i.eye_y + 0.19), (ex + s * ew * 0.45, i.eye_y + 0.1)),
                       line, alpha=0.45 * k, width=0.02, closed=False, soft=0.01, clip=clip)
            ox = ex + s * ew * 0.55 + 0.02 * s
            feet = [np.array([[ox, i.eye_y], [ox + 0.11 * np.cos(a) * s, i.eye_y + 0.11 * np.sin(a)]])
                    for a in (-0.35, 0.0, 0.35)]  # crow's feet
            self.paint(feet, line, alpha=0.4 * k, width=0.016, closed=False, soft=0.008, clip=clip)
            mw = i.mouth_w / 2
            nx = s * (i.nose_w / 2 + 0.05)
            fold = through((nx, i.nose_y - 0.02), (s * (mw + 0.03), (i.nose_y + i.mouth_y) / 2 + 0.02),
                           (s * (mw + 0.07), i.mouth_y + 0.08))
            self.paint(fold, line, alpha=0.75 * k, width=0.055, closed=False, soft=0.025, clip=clip)
            self.paint(np.array([[s * (mw + 0.02), i.mouth_y + 0.06], [s * (mw - 0.01), i.mouth_y + 0.3]]), line,
                       alpha=0.35 * k, width=0.03, closed=False, soft=0.02, clip=clip)
            spots = self.rng(3 + side)
            self.paint([ellipse(s * spots.uniform(0.3, 0.75), spots.uniform(-0.7, 0.6), 0.035, 0.03, 12) for _ in range(3)],
                       self.skin * 0.7, alpha=0.35 * k, soft=0.015, clip=clip)
        frown = [np.array([[s * 0.05, brow_y - 0.06], [s * 0.07, brow_y + 0.08]]) for s in (-1, 1)]
        self.paint(frown, line, alpha=0.25 * k, width=0.018, closed=False, soft=0.01, clip=clip)

    # --- features --------------------------------------------------------------------------------------------
    def nose(self) -> None:
        i, e = self.ident, self.expr
        nw, ny = i.nose_w / 2, i.nose_y
        shadow = self.skin * 0.72
        for s in (-1, 1):
            self.paint(through((s * 0.1, i.eye_y + 0.06), (s * 0.125, (i.eye_y + ny) / 2), (s * 0.15, ny - 0.1)), shadow,
                       alpha=0.22, width=0.06, closed=False, soft=0.05, bump=0.15)
            self.paint(through((s * nw * 0.62, ny - 0.1), (s * nw * 1.05, ny - 0.02), (s * nw * 0.62, ny + 0.045)),
                       self.skin * 0.5, alpha=0.5, width=0.024, closed=False, soft=0.01, bump=0.2)
            self.paint(ellipse(s * nw * 0.4, ny + 0.025, nw * 0.3, nw * 0.13, 16), self.skin * 0.3, alpha=0.75,
                       soft=0.01, bump=0.25)
        self.paint(ellipse(0, ny + 0.08, nw * 0.6, 0.035), self.skin * 0.7, alpha=0.25, soft=0.03, bump=0.2)
        self.paint(ellipse(0, ny - 0.06, nw * 0.35, 0.07), WHITE, alpha=0.12, soft=0.04, bump=0.3)
        if e.nose_wrinkles:
            for j in range(3):
                y = i.eye_y + 0.1 + 0.05 * j
                self.paint(through((-0.1, y + 0.015), (0, y - 0.01), (0.1, y + 0.015)), self.skin * 0.5, alpha=0.55,
                           width=0.02, closed=False, soft=0.008, bump=0.2)

    def mouth(self) -> None:
        i, e, a = self.ident, self.expr, self.attrs
        mw, my = i.mouth_w * e.mouth_width / 2, i.mouth_y
        x = np.linspace(-mw, mw, 31)
        t = x / mw
        y_l, y_r = my - e.lift[0], my - e.lift[1]
        base = my + (y_r - y_l) / 2 * t + ((y_l + y_r) / 2 - my) * t**2
        shape = np.sqrt(np.clip(1 - t**2, 0, 1)) if e.round_mouth else 1 - t**2
        up_in = base - e.gap / 2 * shape - e.upper_raise * (1 - t**2) * (1 + 0.5 * t)
        lo_in = base + e.gap / 2 * shape
        fullness = e.lips * (1.0 if a.young else 0.75)
        up_out = up_in - i.lip_upper * fullness * np.sqrt(np.clip(1 - t**2, 0, 1)) * (1 - 0.3 * np.exp(-(x / 0.05) ** 2))
        lo_out = lo_in + i.lip_lower * fullness * np.clip(1 - t**2, 0, 1) ** 0.6
        lip = i.lip_colour if a.male else i.lip_colour + (LIPSTICK - i.lip_colour) * i.lipstick
        lip = lip * (1.0 if a.young else 0.9)
        xy = lambda ys: np.stack([x, ys], axis=1)  # noqa: E731
        self.paint(np.concatenate([xy(up_out), xy(lo_out)[::-1]]), lip, alpha=0.92, soft=0.006)
        self.paint(np.concatenate([xy(up_out), xy(up_in)[::-1]]), lip * 0.75, alpha=0.5, soft=0.006)
        self.paint(ellipse(0, (lo_in[15] + lo_out[15]) / 2, mw * 0.35, 0.025), WHITE, alpha=0.12, soft=0.02)
        if e.gap > 0.015:
            opening = np.concatenate([xy(up_in), xy(lo_in)[::-1]])
            self.paint(opening, MOUTH_INSIDE, alpha=0.95, soft=0.004)
            if e.teeth:
                mask = shape_mask(self.img.shape, [self.P(opening)])
                teeth_h = min(e.gap * 0.6, 0.08)
                edge = up_in if e.teeth == "upper" else lo_in
                band = [edge - 0.05, edge + teeth_h] if e.teeth == "upper" else [edge - teeth_h, edge + 0.05]
                self.paint(np.concatenate([xy(band[0]), xy(band[1])[::-1]]), TEETH, clip=mask)
                self.paint(np.array([[0, my - 0.3], [0, my + 0.3]]), TEETH * 0.8, alpha=0.5, width=0.01,
                           closed=False, clip=mask)
        self.paint(xy(up_in), lip * 0.45, alpha=0.7, width=0.014, closed=False, soft=0.004)
        for s, yc in ((-1, y_l), (1, y_r)):
            self.paint(ellipse(s * mw, yc, 0.025, 0.018, 12), self.skin * 0.5, alpha=0.45, soft=0.012)
        if e.dimple:
            s = e.dimple
            self.paint(through((s * (mw - 0.02), (y_l if s < 0 else y_r) - 0.06), (s * (mw + 0.06), my - 0.02),
                               (s * (mw + 0.03), my + 0.08)), self.skin * 0.55, alpha=0.6, width=0.03, closed=False,
                       soft=0.015, clip=self.face_mask)
        if e.cheeks:  # raised cheeks: a highlight on each, and smile lines from the nose to the mouth corners
            self.paint([ellipse(s * 0.5, i.nose_y + 0.02, 0.2, 0.13) for s in (-1, 1)], WHITE, alpha=0.14 * e.cheeks,
                       soft=0.07, clip=self.face_mask)
            for s in (-1, 1):
                self.paint(through((s * (i.nose_w / 2 + 0.04), i.nose_y), (s * (mw + 0.06), my - 0.1),
                                   (s * (mw + 0.07), my + 0.05)), self.skin * 0.6, alpha=0.45 * e.cheeks, width=0.035,
                           closed=False, soft=0.02, clip=self.face_mask)

    def eye(self, s: int) -> None:
        i, e, a = self.ident, self.expr, self.attrs
        cx, cy, ew = s * i.eye_x, i.eye_y, i.eye_w
        xi, xo = cx - s * ew / 2, cx + s * ew / 2
        yo = cy - i.eye_tilt + e.droop
        up, low = i.eye_open * e.eye_upper, i.eye_open * 0.55 * e.eye_lower
        upper = bezier((xi, cy), (cx - s * ew * 0.06, cy - 2 * up), (xo, yo), 20)
        lower = bezier((xo, yo), (cx + s * ew * 0.04, cy + 2 * low), (xi, cy), 20)
        outline = np.concatenate([upper, lower])
        self.paint(ellipse(cx, cy - 0.04, ew * 0.75, 0.16), self.skin * 0.7, alpha=0.22, soft=0.06, bump=0.05)
        self.paint(outline, SCLERA * np.clip(self.skin.mean() * 1.4, 0.8, 1.0), soft=0.004)
        mask = shape_mask(self.img.shape, [self.P(outline)])
        r = ew * 0.24
        ic = (cx + s * 0.005, cy + 0.005)
        self.paint(ellipse(*ic, r, r), i.iris, clip=mask)
        self.paint(ellipse(*ic, r, r), i.iris * 0.4, alpha=0.8, width=0.014, clip=mask)
        self.paint(ellipse(*ic, r * 0.42, r * 0.42), 0.04, clip=mask)
        self.paint(ellipse(ic[0] - 0.02, ic[1] - 0.025, r * 0.2, r * 0.2, 12), WHITE, alpha=0.9, clip=mask)
        lid = self.skin * 0.25
        self.paint(upper, lid, width=0.03 if not a.male else 0.02, closed=False, soft=0.004)
        self.paint(lower, lid, alpha=0.35, width=0.012, closed=False, soft=0.004)
        self.paint(upper - (0, 0.05 + 0.25 * up), self.skin * 0.55, alpha=0.35, width=0.016, closed=False, soft=0.008)
        if not a.male:  # eyelashes on the outer half of the upper lid
            lashes = [np.array([p, p + (s * 0.04, -0.035)]) for p in upper[[11, 14, 17, 19]]]
            self.paint(lashes, lid * 0.6, width=0.014, closed=False)

    def brow(self, s: int) -> None:
        i, e, a = self.ident, self.expr, self.attrs
        y = i.eye_y - i.brow_gap - e.brow_raise - (e.brow_one if s > 0 else 0.0)
        inner = (s * (i.eye_x - i.brow_len * 0.45 + 0.02 - e.brow_squeeze), y - e.brow_inner)
        outer = (s * (i.eye_x + i.brow_len * 0.55), y + 0.03)
        arch = (s * (i.eye_x + i.brow_len * 0.1), y - i.brow_arch - 0.02 - e.brow_raise * 0.3)
        line = bezier(inner, arch, outer, 14)
        thick = (0.075 if a.male else 0.045) * np.linspace(1.0, 0.45, len(line))[:, None]
        half = np.array([0.0, 1.0]) * thick / 2
        shape = np.concatenate([line - half, (line + half)[::-1]])
        self.paint(shape, i.brow_colour * (0.8 if a.male else 1.0), alpha=0.92, soft=0.008, bump=0.05)
        if e.frown:  # vertical furrows above the nose, on this brow's side
            x = s * 0.05
            self.paint(np.array([[x, y - 0.1], [x * 1.3, y + 0.07]]), self.skin * 0.5, alpha=0.6, width=0.022,
                       closed=False, soft=0.01, clip=self.face_mask)

    # --- hair and glasses -------------------------------------------------------------------------------------
    def hair(self) -> None:
        style = self.ident.hairstyle(self.attrs.male)
        outline = hair_outline(self.head, style)
        box = self.box(outline, 0.05)
        if box is None:
            return
        colour = self.ident.hair_colour(self.attrs.hair)
        lum = self.strands(style, box)
        tex = colour[None, None, :] * lum[..., None] + (lum[..., None] - 1.0) * 0.06
        tex *= (1.06 - 0.14 * smoothstep(-1.5, 2.5, self.f.coords(box)[1]))[..., None]
        self.paint(outline, Patch(np.clip(tex, 0, 1), box), soft=0.006)

    def strands(self, style: Hairstyle, box: Box) -> np.ndarray:
        """Luminance pattern of hair strands (around 1) over `box`, fixed by the identity."""
        r = self.rng(6)
        n, k = 110, 10
        # From the parting, sideways then falling: gravity bends each strand toward straight down.
        a0 = r.uniform(-0.15 * np.pi, 1.15 * np.pi, (n, 1))
        steps = np.linspace(0, 1, k)[None, :] * r.uniform(1.6, 2.8, (n, 1))
        angs = a0 + (np.pi / 2 - a0) * (1 - np.exp(-steps / r.uniform(0.6, 1.2, (n, 1))))
        seg = np.diff(steps, axis=1, prepend=0.0)
        crown = np.array([style.part * 0.35, -self.head.top - 0.1])
        curves = crown + np.cumsum(np.stack([np.cos(angs), np.sin(angs)], -1) * seg[..., None], axis=1)
        values = r.integers(70, 190, n)
        if style.length is not None:  # long hair: locks falling from the sides to the ends
            m = 70
            x0 = r.choice([-1, 1], (m, 1)) * r.uniform(0.5, style.width, (m, 1))
            ys = np.broadcast_to(np.linspace(-0.4, style.length, k), (m, k))
            xs = x0 + style.wave * np.sin(ys * 6 + r.uniform(0, 6, (m, 1))) + r.uniform(-0.1, 0.1, (m, 1)) * ys / 3
            curves = np.concatenate([curves, np.stack([xs, ys], -1)])
            values = np.concatenate([values, r.integers(70, 190, m)])
        pts = np.round((self.P(curves.reshape(-1, 2)) - box[:2]) * 16).astype(np.int32).reshape(len(curves), k, 2)
        canvas = np.full((box[3] - box[1], box[2] - box[0]), 128, np.uint8)
        width = max(1, int(round(self.u * 0.014)))
        levels = (values - 70) // 20  # strands drawn in six brightness groups: six OpenCV calls
        for level in np.unique(levels):
            cv2_polylines(canvas, list(pts[levels == level]), int(80 + 20 * level), width)
        return cv2_blur(canvas.astype(np.float32) / 128.0, self.u * 0.006)

    def glasses(self) -> None:
        i = self.ident
        lw, lh = 0.2 * i.glasses_size, 0.15 * i.glasses_size
        frames = []
        for s in (-1, 1):
            cx, cy = s * i.eye_x, i.eye_y + 0.01
            if i.glasses_shape == 0:  # rounded rectangle
                t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
                c, sn = np.cos(t), np.sin(t)
                lens = np.stack([cx + lw * np.sign(c) * np.abs(c) ** 0.4, cy + lh * np.sign(sn) * np.abs(sn) ** 0.4], 1)
            elif i.glasses_shape == 1:  # oval
                lens = ellipse(cx, cy, lw * 0.92, lh * 1.15, 48)
            else:  # wider at the top
                t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
                c, sn = np.cos(t), np.sin(t)
                lens = np.stack([cx + lw * np.sign(c) * np.abs(c) ** 0.6 * (1 - 0.18 * (sn > 0) * sn),
                                 cy + lh * np.sign(sn) * np.abs(sn) ** 0.7], 1)
            frames.append(lens)
            self.paint(lens, _rgb(200, 215, 230), alpha=0.12, bump=0.12)
            glare = np.array([[cx - lw * 0.5, cy + lh], [cx - lw * 0.1, cy + lh], [cx + lw * 0.5, cy - lh],
                              [cx + lw * 0.1, cy - lh]])
            self.paint(glare, WHITE, alpha=0.14, soft=0.02, clip=shape_mask(self.img.shape, [self.P(lens, 0.12)]),
                       bump=0.12)
        col, th = i.glasses_colour, i.glasses_thick
        self.paint(frames, col, width=th, bump=0.12)
        bridge = through((-i.eye_x + lw * 0.95, i.eye_y - 0.03), (0, i.eye_y - 0.07), (i.eye_x - lw * 0.95, i.eye_y - 0.03), 12)
        self.paint(bridge, col, width=th * 0.9, closed=False, bump=0.2)
        for s in (-1, 1):
            arm = np.array([[s * (i.eye_x + lw * 0.98), i.eye_y - 0.04], [s * self.head.width * 0.99, i.eye_y - 0.01]])
            self.paint(arm, col, width=th * 0.8, closed=False, bump=0.05)


def hair_outline(head: Head, style: Hairstyle) -> np.ndarray:
    """The hair in front of the head: a cap over the skull, side locks, long hair over the shoulders."""
    R, T = head.width + style.volume, head.top + style.volume
    a = np.linspace(np.pi, 2 * np.pi, 41)
    arc = np.stack([R * np.cos(a), T * np.sin(a) - style.top * np.sin(a) ** 4], 1)
    inset = 0.03 if style.length is None else 0.1
    temple_y = style.hairline + 0.34
    xt = float(head.half_width(temple_y)) - inset
    xs = np.linspace(xt, -xt, 25)
    if style.fringe is not None:
        line = style.fringe + 0.07 * (xs / xt) ** 2 + 0.02 * (np.arange(len(xs)) % 2)
        line[0] = line[-1] = temple_y
    else:
        line = style.hairline + (temple_y - style.hairline) * (xs / xt) ** 2 + 0.1 * style.part * xs / xt
        line = np.minimum(line, temple_y)
    hairline = np.stack([xs, line], 1)
    side_ys = np.linspace(style.side, temple_y, 10)

    def inner_side(sign: int) -> np.ndarray:  # up the face edge from the lock's end to the temple
        pts = np.stack([sign * (head.half_width(side_ys) - inset), side_ys], 1)
        return pts if sign > 0 else pts[::-1]

    if style.length is None:  # short hair: the hairline turns back at the temples, narrow sideburns by the ears
        xc = 0.74 * head.width
        yc = style.hairline + 0.12 - 1.5 * style.recede
        xs = np.linspace(xc, -xc, 25)
        if style.fringe is not None:
            line = style.fringe + 0.05 * (xs / xc) ** 2 + 0.02 * (np.arange(len(xs)) % 2)
        else:
            line = style.hairline + (yc - style.hairline) * (xs / xc) ** 2 + 0.08 * style.part * xs / xc
        ys = np.array([style.side, -0.25])
        side = np.stack([head.half_width(ys) - (0.05, 0.08), ys], 1)  # sideburn: bottom, then its front edge up
        right = np.concatenate([[[R * 0.97, style.side]], side])
        left = (right * (-1, 1))[::-1]
        return np.concatenate([arc, right, np.stack([xs, line], 1), left])
    ys = np.linspace(0, style.length, 16)
    t = ys / style.length
    ox = R + (style.width - R) * t**1.5 + style.wave * np.sin(ys * 6)
    neck_x = 0.47
    bottom_r = np.array([[style.width * 0.8, style.length + 0.05], [neck_x + 0.05, style.length - 0.1],
                         [neck_x, max(style.side, 1.2)]])
    out_r = np.concatenate([np.stack([ox, ys], 1), bottom_r])
    out_l = (out_r * (-1, 1))[::-1]
    return np.concatenate([out_l, arc, out_r, inner_side(1), hairline, inner_side(-1)])


# Small OpenCV wrappers (kept here so the drawing code above reads as geometry).
def cv2_resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    return cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)


def cv2_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(a, (0, 0), max(sigma, 0.3))


def cv2_polylines(canvas: np.ndarray, curves: list[np.ndarray], value: int, width: int) -> None:
    import cv2

    cv2.polylines(canvas, curves, False, value, width, cv2.LINE_AA, shift=4)
