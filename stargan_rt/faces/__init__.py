"""Faces in frames: detect (detect.py), keep boxes steady over time (track.py), crop to the training framing
(crops.py) and add the translation back into the full-resolution frame without a seam (paste.py)."""

from .crops import Region, extract, face_region, framed_like_training, whole_frame_region
from .detect import DETECTORS, Box, Detector, Framing, make_detector
from .paste import PasteBack
from .track import BoxTracker, OneEuro

__all__ = [
    "Region", "extract", "face_region", "framed_like_training", "whole_frame_region",
    "DETECTORS", "Box", "Detector", "Framing", "make_detector", "BoxTracker", "OneEuro", "PasteBack",
]
