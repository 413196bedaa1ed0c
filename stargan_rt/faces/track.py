"""Steady face boxes over time: match detections to tracks by IoU, smooth each with a One-Euro filter.

Raw detector boxes jitter by a few pixels from frame to frame, and a crop that jitters makes the translated
face shimmer. The One-Euro filter (Casiez et al., CHI 2012) smooths strongly while a face is still and
follows quickly when it moves: its cut-off frequency rises with the speed of the signal. A track also
survives a few frames without a detection (Haar misses a frame now and then) before it is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .detect import Box


class OneEuro:
    """One-Euro low-pass filter over a vector (the box's centre x, centre y, width, height)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.02, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        if self.x is None or self.t is None or self.dx is None:
            self.x, self.dx, self.t = x.astype(np.float64), np.zeros_like(x, np.float64), t
            return self.x
        dt = max(t - self.t, 1e-3)
        dx = (x - self.x) / dt
        self.dx = self.dx + self._alpha(self.d_cutoff, dt) * (dx - self.dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        self.x = self.x + self._alpha(cutoff, dt) * (x - self.x)
        self.t = t
        return self.x


@dataclass
class Track:
    box: Box
    filter: OneEuro = field(default_factory=OneEuro)
    missed: int = 0
    id: int = -1


class BoxTracker:
    """Greedy IoU matching of each frame's detections to existing tracks, One-Euro smoothing per track.

    Filter units are pixels and seconds; `beta` is scaled by the box size so that the same settings suit a
    face 60 px or 600 px wide.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5, min_cutoff: float = 1.0, beta: float = 0.7):
        self.iou_threshold, self.max_missed = iou_threshold, max_missed
        self.min_cutoff, self.beta = min_cutoff, beta
        self.tracks: list[Track] = []
        self._next_id = 0

    def update(self, detections: list[Box], t: float) -> list[Box]:
        """Smoothed boxes of the faces present at time `t` (seconds), largest first."""
        unmatched = list(detections)
        for track in sorted(self.tracks, key=lambda tr: -tr.box.w * tr.box.h):
            best = max(unmatched, key=track.box.iou, default=None)
            if best is not None and track.box.iou(best) >= self.iou_threshold:
                unmatched.remove(best)
                track.box = self._smooth(track, best, t)
                track.missed = 0
            else:
                track.missed += 1
        self.tracks = [tr for tr in self.tracks if tr.missed <= self.max_missed]
        for det in unmatched:
            track = Track(det, OneEuro(self.min_cutoff, 0.0), id=self._next_id)
            self._next_id += 1
            track.box = self._smooth(track, det, t)
            self.tracks.append(track)
        return [tr.box for tr in sorted(self.tracks, key=lambda tr: -tr.box.w * tr.box.h)]

    def _smooth(self, track: Track, det: Box, t: float) -> Box:
        track.filter.beta = self.beta / max(det.w, 1.0)  # speed relative to face size
        cx, cy = det.center
        x = track.filter(np.array([cx, cy, det.w, det.h]), t)
        return Box(x[0] - x[2] / 2, x[1] - x[3] / 2, x[2], x[3], det.score, track.id)

    def reset(self) -> None:
        self.tracks = []
