"""Faces in frames: detect (detect.py), keep boxes steady over time (track.py), crop to the training framing
and paste the translation back without a seam (crops.py)."""

from .crops import Region, extract, face_region, feather_mask, paste, whole_frame_region
from .detect import DETECTORS, Box, Detector, Framing, make_detector
from .track import BoxTracker, OneEuro

__all__ = [
    "Region", "extract", "face_region", "feather_mask", "paste", "whole_frame_region",
    "DETECTORS", "Box", "Detector", "Framing", "make_detector", "BoxTracker", "OneEuro",
]
