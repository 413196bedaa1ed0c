"""Face detectors behind one interface: `detect(frame) -> list[Box]` on a uint8 BGR frame.

Only detectors whose model ships inside a package (or that the user supplies) are offered; nothing is
downloaded. `make_detector(spec)`:

    haar[:SIDE]          OpenCV's frontal-face Haar cascade (in opencv 4.x wheels): the default; it runs on
                         a copy of the frame at most SIDE px wide (default 320: cost grows with the pixels)
    dlib[:SIDE]          dlib's HOG detector (when dlib is installed)
    yunet:PATH.onnx      OpenCV's YuNet (cv2.FaceDetectorYN) with a model file you provide
    none                 the frame is already a face crop, framed as the model's training images

Each detector's boxes are a little different (Haar: eyebrows to chin; dlib: tighter; YuNet: forehead to chin),
so each carries its own `framing`: how to grow its box into the training framing (see crops.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from ..errors import BadInput, MissingDependency


@dataclass(frozen=True)
class Box:
    """An axis-aligned face box in pixels (x, y = top-left), with the detector's confidence and, once tracked,
    the id of its track (-1: untracked)."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    track: int = -1

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def iou(self, other: "Box") -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Framing:
    """How a detector box becomes the square the model was trained on.

    side = scale * box width; centre = box centre moved down by dy * box width (negative: up).
    """

    scale: float
    dy: float


class Detector(Protocol):
    name: str
    framing: Framing | None  # None: the frame is the face crop (no detection)

    def detect(self, frame: np.ndarray) -> list[Box]: ...


# CelebA's aligned faces (178x218, centre crop 178) have the eyes at y~91 and ~39 px apart inside the crop
# (mean landmarks of list_landmarks_align_celeba: eyes (69,111) and (108,111), mouth corners at y 152).
# A Haar frontal-face box (alt2 cascade) is about 2.4 eye distances wide with the eyes ~0.38 of its height from the top,
# so it is ~93 px wide with its centre ~13 px below the crop's centre: the crop is 1.9 box widths, shifted
# up by 0.15 box widths. dlib's HOG boxes are ~15% smaller and a little lower; YuNet's include the forehead.
# Cross-check: on 35 SynthFaces renders in CelebA framing (stargan_rt.synth), the alt2 box measured
# scale 2.05 (IQR 1.89-2.20) and dy -0.10 (IQR -0.11 to -0.06): the estimate is within that spread.
HAAR_FRAMING = Framing(scale=1.9, dy=-0.15)
DLIB_FRAMING = Framing(scale=2.2, dy=-0.22)
YUNET_FRAMING = Framing(scale=1.75, dy=-0.08)


def _downscale(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Detection runs on a smaller copy (the cost is in the pixel count); returns it and the scale back."""
    h, w = frame.shape[:2]
    s = max(h, w) / max_side
    if s <= 1.0:
        return frame, 1.0
    return cv2.resize(frame, (round(w / s), round(h / s)), interpolation=cv2.INTER_AREA), s


class HaarDetector:
    name = "haar"
    framing: Framing | None = HAAR_FRAMING

    def __init__(self, max_side: int = 320, min_face: float = 0.1, neighbours: int = 5):
        # alt2: on scikit-image's astronaut the default cascade also "finds" a face on the shuttle at some
        # scales; alt2 finds only hers, at every scale tried (320-640 px).
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(getattr(cv2, "data", None), "haarcascades"):
            raise MissingDependency(
                f"OpenCV {cv2.__version__} has no Haar cascades (5.x wheels dropped them); install "
                "'opencv-python-headless<5', or pass --detector none / dlib / yunet:MODEL.onnx"
            )
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml"  # type: ignore[attr-defined]
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise MissingDependency(f"OpenCV's Haar cascade is missing ({path}); install opencv-python-headless<5")
        self.max_side, self.min_face, self.neighbours = max_side, min_face, neighbours

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, s = _downscale(frame, self.max_side)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        side = max(20, int(self.min_face * min(gray.shape)))
        found = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=self.neighbours, minSize=(side, side))
        return [Box(float(x * s), float(y * s), float(w * s), float(h * s)) for (x, y, w, h) in np.asarray(found).reshape(-1, 4)]


class DlibDetector:
    name = "dlib"
    framing: Framing | None = DLIB_FRAMING

    def __init__(self, max_side: int = 320, upsample: int = 0):
        from .._optional import require

        dlib = require("dlib", "the dlib face detector")
        self.detector = dlib.get_frontal_face_detector()
        self.max_side, self.upsample = max_side, upsample

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, s = _downscale(frame, self.max_side)
        rgb = np.ascontiguousarray(small[..., ::-1])
        rects, scores, _ = self.detector.run(rgb, self.upsample, 0.0)
        return [
            Box(r.left() * s, r.top() * s, (r.right() - r.left()) * s, (r.bottom() - r.top()) * s, float(sc))
            for r, sc in zip(rects, scores)
        ]


class YuNetDetector:
    name = "yunet"
    framing: Framing | None = YUNET_FRAMING

    def __init__(self, model_path: str | Path, max_side: int = 640, score_threshold: float = 0.7):
        path = Path(model_path)
        if not path.is_file():
            raise BadInput(f"{path}: no such YuNet model (download face_detection_yunet_*.onnx from opencv_zoo yourself)")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise MissingDependency("this OpenCV has no FaceDetectorYN (YuNet needs opencv >= 4.5.4)")
        try:
            self.model = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold)
        except cv2.error as exc:
            raise BadInput(f"{path}: OpenCV cannot load it as a YuNet model ({str(exc).strip().splitlines()[-1]})") from None
        self.max_side = max_side

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, s = _downscale(frame, self.max_side)
        self.model.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self.model.detect(small)
        if faces is None:
            return []
        return [Box(float(f[0] * s), float(f[1] * s), float(f[2] * s), float(f[3] * s), float(f[-1])) for f in faces]


class NoDetector:
    """Every frame is one face, framed like the training images (see crops.whole_frame_square)."""

    name = "none"
    framing: Framing | None = None

    def detect(self, frame: np.ndarray) -> list[Box]:
        h, w = frame.shape[:2]
        return [Box(0.0, 0.0, float(w), float(h))]


DETECTORS: dict[str, Callable[..., Detector]] = {
    "haar": HaarDetector,
    "dlib": DlibDetector,
    "yunet": YuNetDetector,
    "none": NoDetector,
}


def make_detector(spec: str) -> Detector:
    """A detector from "haar", "dlib", "none" or "yunet:PATH" (see the module docstring)."""
    name, _, arg = spec.partition(":")
    name = name.strip().lower()
    if name not in DETECTORS:
        raise BadInput(f"unknown face detector {spec!r}; choose from haar[:SIDE], dlib[:SIDE], yunet:MODEL.onnx, none")
    if name == "yunet":
        if not arg:
            raise BadInput("the YuNet detector needs its model file: --detector yunet:PATH/face_detection_yunet.onnx")
        return YuNetDetector(arg)
    if not arg:
        return DETECTORS[name]()
    if name == "none" or not arg.isdigit() or int(arg) < 32:
        raise BadInput(f"{spec!r}: the {name} detector takes {'no argument' if name == 'none' else 'a detection size in pixels >= 32'}")
    return DETECTORS[name](max_side=int(arg))
