"""Live controls (keys in the window) and the on-screen overlay.

Keys:  1-9  translate to the model's 1st..9th domain     n / p  next / previous domain
       0    back to the --target given on the command line
       + -  strength up / down by 0.1                     o      original (translation off)
       q, Esc  quit
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np

from ..faces import Region
from ..labels import LabelSpace, Target, parse_targets

HELP = "keys: 1-9 domain, n/p next/prev, 0 initial target, +/- strength, o original, q quit"


class Controls:
    """The target the pipeline applies now; changed by keys from the output thread, read by the worker."""

    def __init__(self, labels: LabelSpace, target: str, source: Mapping[str, float] | Iterable[str] | None = None):
        self.labels, self.source = labels, source
        self.initial = parse_targets(target)
        labels.encode(self.initial, source)  # unknown attributes fail now, before any camera opens
        self.targets: list[Target] = self.initial
        self.strength = 1.0
        self.enabled = True
        self.domain = -1  # index into labels.names when chosen by key
        self.quit = False
        self._lock = threading.Lock()
        self._label = self._encode()

    def _encode(self) -> np.ndarray:
        scaled = [dataclasses.replace(t, strength=round(t.strength * self.strength, 3)) for t in self.targets]
        return self.labels.encode(scaled, self.source)

    def label(self) -> np.ndarray | None:
        """The current label vector, or None when translation is switched off."""
        with self._lock:
            return self._label if self.enabled else None

    def text(self) -> str:
        with self._lock:
            if not self.enabled:
                return "original (o to translate)"
            return f"{', '.join(str(t) for t in self.targets)} x{self.strength:.1f}"

    def set(self, target: str | None = None, strength: float | None = None, enabled: bool | None = None) -> None:
        """Change the target, strength or on/off from outside the window (the serving page); a bad target raises
        BadInput and changes nothing."""
        with self._lock:
            before = self.targets, self.strength
            if target is not None:
                self.targets, self.domain = parse_targets(target), -1
            if strength is not None:
                self.strength = min(1.0, max(0.0, round(float(strength), 3)))
            try:
                self._label = self._encode()
            except Exception:
                self.targets, self.strength = before
                raise
            if enabled is not None:
                self.enabled = bool(enabled)

    def handle_key(self, key: int) -> None:
        ch = chr(key) if 0 <= key < 256 else ""
        names = self.labels.names
        with self._lock:
            if key == 27 or ch in ("q", "Q"):
                self.quit = True
                return
            if ch.isdigit() and ch != "0" and int(ch) <= len(names):
                self.domain = int(ch) - 1
                self.targets = [Target(names[self.domain])]
            elif ch in ("n", "p"):
                self.domain = (self.domain + (1 if ch == "n" else -1)) % len(names)
                self.targets = [Target(names[self.domain])]
            elif ch == "0":
                self.targets, self.domain = self.initial, -1
            elif ch in ("+", "="):
                self.strength = min(1.0, round(self.strength + 0.1, 1))
            elif ch in ("-", "_"):
                self.strength = max(0.0, round(self.strength - 0.1, 1))
            elif ch in ("o", "O"):
                self.enabled = not self.enabled
            else:
                return
            self._label = self._encode()


def draw_overlay(frame: np.ndarray, lines: Sequence[str], regions: Sequence[Region] = ()) -> None:
    """Text in the top-left corner on a dark band, and the face squares, drawn in place. Lines wider than the
    frame wrap at their commas and spaces."""
    for r in regions:
        cv2.rectangle(frame, (r.x, r.y), (r.x + r.w, r.y + r.h), (80, 200, 80), 1, cv2.LINE_AA)
    scale = max(0.4, min(frame.shape[:2]) / 900)
    lines = [part for s in lines for part in wrap_text(s, frame.shape[1] - 12, scale)]
    step = int(22 * scale / 0.5)
    band_h = step * len(lines) + 6
    band_w = max((_width(s, scale) for s in lines), default=0) + 12
    sub = frame[:band_h, :band_w]
    sub[:] = (sub * 0.4).astype(np.uint8)
    for i, s in enumerate(lines):
        cv2.putText(frame, s, (6, step * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _width(text: str, scale: float) -> int:
    return int(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0])


def wrap_text(text: str, width: int, scale: float) -> list[str]:
    """`text` in lines at most `width` pixels wide (at `scale`), broken after commas or at spaces."""
    words = text.replace(" ", " \0").split("\0")  # break points after each space (commas keep theirs)
    lines, line = [], ""
    for w in words:
        if line and _width((line + w).rstrip(), scale) > width:
            lines.append(line.rstrip())
            line = "  " + w  # continued lines are indented
        else:
            line += w
    return [*lines, line.rstrip()] if line.strip() else lines
