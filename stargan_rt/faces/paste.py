"""Put a translated face back into its frame, keeping the photograph wherever the translation changes nothing.

The generator sees a low-resolution crop x of the face (128 px for a face that may span 300) and returns
G(x, c). Pasting G(x, c), upscaled, over the whole square would replace every pixel of it (background, neck,
skin texture) with a blurred copy. Instead the paste adds the model's *change* to the full-resolution frame:

    frame += upsample(weight * change)

- change: with the "model" reference (default), G(x, target) - G(x, as is): the generator's rendering of the
  face as it is (the label that asks nothing) is subtracted, so its reconstruction error (blur, colour cast,
  checkerboard, and the side effects of a wrong guess of the source attributes) cancels and only what the
  target asks for remains. One batched call translates both (2 faces per face). With the "input" reference,
  G(x, target) - x: half the inference, for a generator that reproduces its input faithfully.
- weight (at model resolution, in [0, 1]): where the change is above the model's noise (the typical change it
  makes in the crop's outer ring, where no attribute acts), times a ramp to zero at the square's edge, so the
  added change is continuous across the border and no seam can show. A noisy generator's change is first
  smoothed (its checkerboard is high-frequency; attribute changes are not); a clean one's is left sharp.
- on video the weight of each tracked face is averaged over time in the face's own (crop) coordinates: it
  follows the face and does not flicker.
Where the weight is zero the frame keeps its own pixels exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from .crops import Region

REFERENCES = ("model", "input")
NOISY = 8.0  # grey levels of change in the outer ring at which a generator counts as fully noisy


@functools.lru_cache(maxsize=32)
def edge_ramp(side: int, feather: float) -> np.ndarray:
    """(side, side) float32: 1 inside, a smoothstep ramp to ~0 over `feather` x side at the edges."""
    ramp = max(1.0, feather * side)
    d = np.minimum(np.arange(side) + 0.5, side - np.arange(side) - 0.5)
    m = np.clip(np.minimum(d[:, None], d[None, :]) / ramp, 0.0, 1.0)
    return (m * m * (3 - 2 * m)).astype(np.float32)


def noise_floor(mag: np.ndarray, ring: float = 0.1) -> float:
    """The median change magnitude in the crop's outer ring (background and clothes, where no attribute acts):
    how much the model changes what it should leave alone."""
    k = max(1, int(ring * mag.shape[0]))
    band = np.concatenate([mag[:k].ravel(), mag[-k:].ravel(), mag[k:-k, :k].ravel(), mag[k:-k, -k:].ravel()])
    return float(np.median(band))


@dataclass
class PasteBack:
    """Blends translated faces into frames (see the module docstring); keeps per-track weights for video.

    reference: "model" or "input" (what the change is measured against); feather: the edge ramp (fraction
    of the side); smooth: Gaussian blur of a noisy model's change (fraction of the side); floor / adapt: the
    change must exceed max(floor, adapt x the model's noise) grey levels to be applied, and is fully applied
    `ramp` grey levels above that; blur: smoothing of the change's magnitude before the gate; memory: weight
    kept from the previous frame of the same tracked face (0: none).
    """

    reference: str = "model"
    feather: float = 0.06
    smooth: float = 0.016
    floor: float = 2.0
    adapt: float = 1.0
    ramp: float = 20.0
    blur: float = 0.02
    memory: float = 0.5
    _weights: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.reference not in REFERENCES:
            raise ValueError(f"paste reference must be one of {REFERENCES}, got {self.reference!r}")

    def change(self, reference: np.ndarray, face: np.ndarray, key: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(change, weight) at crop size: float32 (S, S, 3) grey levels and (S, S) in [0, 1]."""
        side = face.shape[0]
        change = face.astype(np.float32) - reference.astype(np.float32)
        mag = np.abs(change).max(axis=2)
        sigma = self.smooth * side * min(1.0, noise_floor(mag) / NOISY)
        if sigma >= 0.3:
            change = cv2.GaussianBlur(change, (0, 0), sigma).astype(np.float32, copy=False)
            mag = np.abs(change).max(axis=2)
        if self.blur > 0:
            mag = cv2.GaussianBlur(mag, (0, 0), self.blur * side)
        lo = max(self.floor, self.adapt * noise_floor(mag))
        t = np.clip((mag - lo) / self.ramp, 0.0, 1.0)
        weight = t * t * (3 - 2 * t) * edge_ramp(side, self.feather)
        prev = self._weights.get(key) if key >= 0 else None
        if prev is not None and prev.shape == weight.shape and self.memory > 0:
            weight = self.memory * prev + (1 - self.memory) * weight
        if key >= 0:
            self._weights[key] = weight
        return change, weight

    def __call__(self, frame: np.ndarray, region: Region, reference: np.ndarray, face: np.ndarray,
                 key: int = -1) -> None:
        """Add the change from `reference` to `face` (the model's output) to `frame` (in place) over `region`."""
        h, w = frame.shape[:2]
        x0, y0 = max(0, region.x), max(0, region.y)
        x1, y1 = min(w, region.x + region.w), min(h, region.y + region.h)
        if x1 <= x0 or y1 <= y0:
            return
        change, weight = self.change(reference, face, key)
        big = cv2.resize(change * weight[..., None], (region.w, region.h), interpolation=cv2.INTER_LINEAR)
        sub = big[y0 - region.y : y1 - region.y, x0 - region.x : x1 - region.x]
        frame[y0:y1, x0:x1] = np.clip(frame[y0:y1, x0:x1] + sub + 0.5, 0, 255).astype(np.uint8)

    def forget(self, keep: set[int] | None = None) -> None:
        """Drop the weights of faces no longer tracked (all of them when `keep` is None)."""
        for k in [k for k in self._weights if keep is None or k not in keep]:
            del self._weights[k]
