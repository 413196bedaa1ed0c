"""Translate faces to target attributes: the runtime's one entry point for stills, grids and video frames.

    from stargan_rt.translator import Translator

    with Translator("model_dir_or.onnx_or.plan", detector="haar") as tr:
        out = tr.translate_frame(frame_bgr, "Blond_Hair,-Young=0.5")      # faces found, translated, pasted back
        faces = tr.translate_crops(crops_SxS_bgr, "+Male")                # already model-sized face crops
        outs = tr.translate_images([img1, img2], "Black_Hair")            # training-framed face photos
        grid = tr.grid([img1, img2], sources=["Black_Hair", "Male"])      # every domain (the paper's Figure 2)

Targets: "Blond_Hair", "+Male", "-Young", "Smiling=0.6" (strength), several comma-separated; see labels.py.
Source attributes (what the face shows now) matter for attributes that are not asked to change, and for
flipping ones that are. They are given with `source=` ("Black_Hair,Young" or a {name: value} mapping); by
default every multi-label attribute is taken as absent and a one-hot dataset as its "neutral" class (labels.py).
For jointly trained models, targets from the second dataset get that dataset's mask (LabelSpace.encode).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .backends import Runner, open_model
from .errors import BadInput
from .faces import BoxTracker, PasteBack, Region, extract, face_region, make_detector, whole_frame_region
from .faces.detect import Box, Detector
from .images import crop_resize, make_grid
from .labels import LabelSpace, Target, parse_targets
from .timing import StageTimer

TargetSpec = str | Sequence[Target] | np.ndarray
SourceSpec = str | Mapping[str, float] | Iterable[str] | None


def parse_source(source: SourceSpec) -> Mapping[str, float] | Iterable[str] | None:
    """"Black_Hair,Young" -> ["Black_Hair", "Young"]; mappings and lists pass through."""
    if isinstance(source, str):
        return [s.strip() for s in source.split(",") if s.strip()]
    return source


def _column_title(titles: set[str]) -> str:
    """A grid column's title: its one target, or "+/-Male" when rows of different faces flip it either way."""
    return titles.pop() if len(titles) == 1 else "+/-" + min(titles, key=len)


@dataclass
class FrameJob:
    """A frame between the two halves of Translator.translate_frame: its faces found, cropped and labelled."""

    frame: np.ndarray
    regions: list[Region]
    crops: np.ndarray | None = None  # (N, S, S, 3) uint8 BGR
    labels: np.ndarray | None = None  # (N, c_dim) target labels
    as_is: np.ndarray | None = None  # (N, c_dim) labels that change nothing (the "model" paste reference), or None


class Translator:
    """A generator (any backend) plus label encoding, face detection, tracking, cropping and pasting."""

    def __init__(
        self,
        model: str | Path | Runner,
        *,
        backend: str = "auto",
        detector: str | Detector = "none",
        source: SourceSpec = None,
        smooth: bool = True,
        paste: PasteBack | None = None,
        max_faces: int = 8,
        detect_every: int = 1,
        **backend_opts: Any,
    ):
        self.runner = model if isinstance(model, Runner) else open_model(model, backend, **backend_opts)
        self.meta = self.runner.meta
        self.labels = LabelSpace(self.meta)
        self.size = self.meta.architecture.image_size
        self.source = parse_source(source)
        self.detector = make_detector(detector) if isinstance(detector, str) else detector
        self.tracker = BoxTracker() if smooth else None
        self.paste_back = paste or PasteBack(memory=PasteBack.memory if smooth else 0.0)
        self.max_faces = max_faces
        self.detect_every = max(1, detect_every)  # >1: between detections, reuse the tracked boxes
        self._frames_seen = 0
        self._label_cache: dict[tuple[str, str], np.ndarray] = {}
        self._as_is_cache: dict[tuple[bytes, str], np.ndarray] = {}

    # --- labels ---

    def label(self, target: TargetSpec, source: SourceSpec = None) -> np.ndarray:
        """The (c_dim,) label vector for `target` applied to a face with `source` attributes."""
        if isinstance(target, np.ndarray):
            vec = np.asarray(target, np.float32)
            if vec.shape[-1] != self.labels.c_dim:
                raise BadInput(f"a label vector for this model has {self.labels.c_dim} values, got shape {vec.shape}")
            return vec
        src = parse_source(source) if source is not None else self.source
        key = (str(target if isinstance(target, str) else [str(t) for t in target]), repr(src))
        if key not in self._label_cache:
            targets = parse_targets(target) if isinstance(target, str) else list(target)
            self._label_cache[key] = self.labels.encode(targets, src)
        return self._label_cache[key]

    def _labels_for(self, target: TargetSpec, n: int, source: SourceSpec = None) -> np.ndarray:
        vec = self.label(target, source)
        return np.broadcast_to(vec, (n, self.labels.c_dim)).astype(np.float32) if vec.ndim == 1 else vec

    def _as_is(self, labels: np.ndarray, source: SourceSpec = None) -> np.ndarray:
        """For each target label, the label asking nothing of a face with `source` attributes (cached as labels are)."""
        src = parse_source(source) if source is not None else self.source
        rows = []
        for lab in labels:
            key = (lab.tobytes(), repr(src))
            if key not in self._as_is_cache:
                self._as_is_cache[key] = self.labels.unchanged(lab, src)
            rows.append(self._as_is_cache[key])
        return np.stack(rows)

    # --- faces that are already crops ---

    def translate_crops(self, crops: np.ndarray, target: TargetSpec) -> np.ndarray:
        """uint8 BGR (N, S, S, 3) model-sized face crops -> translated crops, in one batched call."""
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        return self.runner.infer_frames(crops, self._labels_for(target, len(crops)))

    def prepare(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Face photos framed like the training data (CelebA: aligned 178x218) -> (N, S, S, 3) model inputs."""
        return np.stack([crop_resize(img, self.meta.preprocess, self.size) for img in images])

    def translate_images(
        self, images: Sequence[np.ndarray], target: TargetSpec, sources: Sequence[SourceSpec] | None = None
    ) -> np.ndarray:
        """Training-framed face photos (any size) -> translated (N, S, S, 3) crops (as the paper's test does).

        `sources`: each photo's attributes now (default: the translator's `source` for every photo)."""
        crops = self.prepare(images)
        if sources is not None:
            target = np.stack([self.label(target, s) for s in self._per_image(sources, len(crops))])
        return self.translate_crops(crops, target)

    def grid(
        self, images: Sequence[np.ndarray], sources: Sequence[SourceSpec] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Every domain at once: one row per image, [input | one column per domain] (the paper's Figure 2).

        Binary attributes are flipped relative to each image's `sources` entry (default: the translator's
        `source`), so a column can make one face male and another not: its title is then "+/-Male"."""
        crops = self.prepare(images)
        srcs = [self.source] * len(crops) if sources is None else self._per_image(sources, len(crops))
        per_row = [self.labels.grid(src) for src in srcs]  # one [(title, label)] per image, the same domains
        n, d = len(crops), len(per_row[0])
        labels = np.stack([lab for row in per_row for _, lab in row])
        out = self.runner.infer_frames(np.repeat(crops, d, axis=0), labels)
        rows = [[crops[i], *out[i * d : (i + 1) * d]] for i in range(n)]
        titles = ["input", *(_column_title({row[k][0] for row in per_row}) for k in range(d))]
        return make_grid(rows, titles), titles

    @staticmethod
    def _per_image(sources: Sequence[SourceSpec], n: int) -> list[Mapping[str, float] | Iterable[str] | None]:
        if len(sources) != n:
            raise BadInput(f"{len(sources)} sets of source attributes for {n} images: give one per image")
        return [parse_source(s) for s in sources]

    # --- faces inside frames ---

    def regions(self, frame: np.ndarray, t: float | None = None) -> list[Region]:
        """Training-framed squares of the faces in `frame` (tracked and smoothed when `smooth`)."""
        framing = self.detector.framing
        if framing is None:
            return [whole_frame_region(frame.shape, self.meta.preprocess)]
        self._frames_seen += 1
        skip = self.detect_every > 1 and (self._frames_seen - 1) % self.detect_every != 0
        if skip and self.tracker is not None and self.tracker.tracks:
            boxes = [tr.box for tr in self.tracker.tracks]
        else:
            boxes = self.detector.detect(frame)
            if self.tracker is not None:
                boxes = self.tracker.update(boxes, time.monotonic() if t is None else t)
        boxes = sorted(boxes, key=lambda b: -b.w * b.h)[: self.max_faces]
        return [face_region(b, framing) for b in boxes]

    def prepare_frame(
        self, frame: np.ndarray, target: TargetSpec, t: float | None = None, timer: StageTimer | None = None,
        source: SourceSpec = None, regions: Sequence[Region] | None = None,
    ) -> FrameJob:
        """The first half of translate_frame: the faces found (detect), cropped and labelled (preprocess).

        The stream pipeline runs it one frame ahead of `finish_frame`, so detecting frame N+1 overlaps inferring N."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise BadInput(f"expected a uint8 BGR frame (H, W, 3), got {frame.dtype} {frame.shape}")
        stage = timer.stage if timer is not None else _no_timer
        with stage("detect"):
            regions = self.regions(frame, t) if regions is None else list(regions)
        if not regions:
            return FrameJob(frame, regions)
        with stage("preprocess"):
            crops = np.stack([extract(frame, r, self.size) for r in regions])
            labels = self._labels_for(target, len(crops), source)
            as_is = self._as_is(labels, source) if self.paste_back.reference == "model" else None
        return FrameJob(frame, regions, crops, labels, as_is)

    def finish_frame(self, job: FrameJob, timer: StageTimer | None = None) -> tuple[np.ndarray, list[Region]]:
        """The second half of translate_frame: the faces translated in one batched call (infer) and pasted back."""
        stage = timer.stage if timer is not None else _no_timer
        out = job.frame.copy()
        if not job.regions or job.crops is None or job.labels is None:
            return out, job.regions
        crops, labels, regions, n = job.crops, job.labels, job.regions, len(job.crops)
        with stage("infer"):
            if job.as_is is not None:  # the target and the as-is rendering of every face in one batched call
                both = self.runner.infer_frames(np.concatenate([crops, crops]), np.concatenate([labels, job.as_is]))
                faces, refs = both[:n], both[n:]
            else:
                faces, refs = self.runner.infer_frames(crops, labels), crops
        with stage("paste"):
            for r, ref, face in zip(regions, refs, faces):
                self.paste_back(out, r, ref, face, r.key)
            self.paste_back.forget({r.key for r in regions})
        return out, regions

    def translate_frame(
        self, frame: np.ndarray, target: TargetSpec, t: float | None = None, timer: StageTimer | None = None,
        source: SourceSpec = None, regions: Sequence[Region] | None = None,
    ) -> tuple[np.ndarray, list[Region]]:
        """A copy of `frame` with every face translated (one batched call) and pasted back; and the regions.

        `source` (default: the translator's) is what the faces show now; with the "model" reference the paste
        adds G(x, target) - G(x, source), so only what the target asks for changes (see faces/paste.py).
        `regions` (default: found by the detector) are the training-framed squares to translate."""
        return self.finish_frame(self.prepare_frame(frame, target, t, timer, source, regions), timer)

    def reset(self) -> None:
        """Forget tracked faces (a new video, a cut)."""
        self._frames_seen = 0
        self.paste_back.forget()
        if self.tracker is not None:
            self.tracker.reset()

    def describe(self) -> str:
        return self.runner.describe()

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> "Translator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _no_timer(_: str) -> Iterator[None]:
    yield
