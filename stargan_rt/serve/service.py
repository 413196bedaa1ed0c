"""What the server does, independent of the web framework: one model, bounded work, decoded and checked images.

    svc = Service(ServeConfig())                       # the embedded model unless config.model
    if svc.try_enter():                                # False: full (the app answers 503 + Retry-After)
        try:
            out = svc.translate(jpeg_bytes, "Blond_Hair,-Young", detector="haar")
        finally:
            svc.leave()

The Translator and the label parsing are the CLI's own: targets, source attributes and their errors are the same.
Requests share the one runner (inference calls are serialised: CUDA-graph and TensorRT runners own static buffers)
and borrow a Translator of their own from a pool, so detectors and trackers are never shared between threads.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from ..backends import Runner, open_model
from ..errors import BadInput, StarGanError
from ..images import decode_image
from ..timing import StageTimer
from ..translator import SourceSpec, Translator, parse_source
from .metrics import Metrics

# Detectors a client may ask for by name; a path (yunet:FILE) comes only from the server's own --detector.
# "auto" is the CLI's photo default: Haar, and a photo that is itself a training-framed face crop recognised.
CLIENT_DETECTORS = ("auto", "haar", "none")
FORMATS = {"png": (".png", "image/png"), "jpeg": (".jpg", "image/jpeg"), "jpg": (".jpg", "image/jpeg")}


class TooLarge(BadInput):
    """An upload over the byte limit, or an image over the pixel limit (HTTP 413)."""


class Overloaded(StarGanError):
    """Every request slot of this replica is busy (HTTP 503 with Retry-After)."""


class NoFace(BadInput):
    """The detector found no face in the image (HTTP 422)."""


class Unauthorized(StarGanError):
    """A bearer token is required and was missing or wrong (HTTP 401)."""


@dataclass(frozen=True)
class ServeConfig:
    model: str | None = None  # a bundle folder, .onnx or .plan; None: the embedded default model
    backend: str = "auto"
    threads: int | None = None  # CPU threads for CPU backends
    detector: str = "auto"  # for requests that name none; "none" takes every image as a face crop
    source_attrs: str | None = None  # what faces show now, for requests that do not say
    paste_reference: str = "model"  # faces/paste.py: what a translation's change is measured against
    detect_every: int = 1  # streams: detect every Nth frame, track in between
    max_inflight: int = 4  # /v1/translate requests at once per replica; more get 503 at once
    max_streams: int = 4  # live streams at once per replica
    max_upload_bytes: int = 8 << 20
    max_pixels: int = 4096 * 4096  # decoded image size; a decompression bomb stops at its header
    token: str | None = None  # bearer token for /v1/* and /metrics; None: open (bind to 127.0.0.1)
    retry_after_s: int = 1
    jpeg_quality: int = 85
    served_by: str = field(default_factory=lambda: f"{socket.gethostname()}/{os.getpid()}")


@dataclass
class Translated:
    body: bytes
    media_type: str
    faces: int
    timings_ms: dict[str, float]


class SerialRunner(Runner):
    """One runner shared by threads: inference calls take turns, everything around them runs in parallel."""

    name = "serial"

    def __init__(self, inner: Runner):
        self.inner, self.meta = inner, inner.meta
        self.reason = getattr(inner, "reason", "")
        self._lock = threading.Lock()

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.inner.infer(x, c)

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.inner.infer_frames(frames, c)

    def describe(self) -> str:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()


class Slots:
    """At most `limit` things in progress at once (requests, streams), counted in `gauge`; a refusal counts in
    `refused`."""

    def __init__(self, limit: int, gauge: Any, refused: Any):
        self.limit, self.gauge, self.refused = limit, gauge, refused
        self.taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.taken >= self.limit:
                self.refused.inc()
                return False
            self.taken += 1
            self.gauge.set(self.taken)
            return True

    def give(self) -> None:
        with self._lock:
            self.taken -= 1
            self.gauge.set(self.taken)


class Service:
    """One model per replica, a bounded number of requests in flight, and the metrics about them."""

    def __init__(self, config: ServeConfig, runner: Runner | None = None):
        from ..default_model import default_model_path

        self.config = config
        if runner is None:
            model = Path(config.model) if config.model else default_model_path()
            opts: dict[str, Any] = {"threads": config.threads} if config.threads else {}
            runner = open_model(model, config.backend, **opts)
        self.runner = SerialRunner(runner)
        self.meta = runner.meta
        self.metrics = Metrics()
        self._pools: dict[str, queue.SimpleQueue[Translator]] = {}
        self._requests = Slots(config.max_inflight, self.metrics.inflight, self.metrics.rejected.labels("overload"))
        self._streams = Slots(config.max_streams, self.metrics.streams, self.metrics.rejected.labels("streams"))
        self.translator(_tracked(config.detector), smooth=False)  # a bad --detector fails at start, not per request

    # --- admission: full means refuse now (503 / a closed socket), never queue ---

    def try_enter(self) -> bool:
        """Take a translate-request slot; False when all are busy."""
        return self._requests.take()

    def leave(self) -> None:
        self._requests.give()

    def try_open_stream(self) -> bool:
        return self._streams.take()

    def close_stream(self) -> None:
        self._streams.give()

    # --- images ---

    def detector_spec(self, requested: str | None) -> str:
        if not requested:
            return self.config.detector
        if requested != self.config.detector and requested.partition(":")[0].lower() not in CLIENT_DETECTORS:
            raise BadInput(f"unknown face detector {requested!r}; choose from {', '.join(CLIENT_DETECTORS)}")
        return requested

    def translator(self, detector: str, *, smooth: bool, source: SourceSpec = None) -> Translator:
        """A Translator on the shared runner (stills: smooth=False, no tracking; streams: smooth=True)."""
        from ..faces import PasteBack

        return Translator(self.runner, detector=_tracked(detector), source=source, smooth=smooth,
                          paste=PasteBack(reference=self.config.paste_reference),
                          detect_every=self.config.detect_every if smooth else 1)

    @contextlib.contextmanager
    def _borrow(self, detector: str) -> Iterator[Translator]:
        pool = self._pools.setdefault(detector, queue.SimpleQueue())
        try:
            tr = pool.get_nowait()
        except queue.Empty:  # at most max_inflight exist per detector: one per request slot
            tr = self.translator(detector, smooth=False)
        try:
            yield tr
        finally:
            pool.put(tr)

    def decode(self, data: bytes) -> np.ndarray:
        """Encoded image bytes -> uint8 BGR, refusing oversize uploads and images before they are decoded."""
        from PIL import Image, UnidentifiedImageError

        if len(data) > self.config.max_upload_bytes:
            raise TooLarge(f"upload of {len(data)} bytes is over the limit of {self.config.max_upload_bytes}")
        if not data:
            raise BadInput("no image in the request body")
        try:
            with Image.open(io.BytesIO(data)) as im:  # reads the header only
                w, h = im.size
        except Image.DecompressionBombError as exc:
            raise TooLarge(f"image too large to decode ({exc})") from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise BadInput("not a readable image (send a JPEG, PNG, WebP, BMP or TIFF file)") from None
        if w * h > self.config.max_pixels:
            raise TooLarge(f"image of {w}x{h} pixels is over the limit of {self.config.max_pixels} pixels")
        frame = decode_image(data)
        if frame is None:
            raise BadInput("not a readable image (send a JPEG, PNG, WebP, BMP or TIFF file)")
        return frame

    def encode(self, image: np.ndarray, fmt: str) -> tuple[bytes, str]:
        try:
            ext, media = FORMATS[fmt.lower()]
        except KeyError:
            raise BadInput(f"unknown output format {fmt!r}; choose png or jpeg") from None
        params = [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality] if ext == ".jpg" else []
        ok, buf = cv2.imencode(ext, image, params)
        if not ok:
            raise BadInput(f"cannot encode the result as {fmt}")
        return buf.tobytes(), media

    # --- the request ---

    def translate(self, data: bytes, target: str | None, *, source_attrs: str | None = None,
                  detector: str | None = None, fmt: str = "png") -> Translated:
        """One image: faces found, translated and pasted back (detector "none": the image is the face crop)."""
        if not target:
            raise BadInput("give target=ATTRS, e.g. Blond_Hair or +Male,-Young=0.5")
        from ..commands import _faces_of  # the CLI's own way of finding the faces of a photo

        timer = StageTimer()
        det = self.detector_spec(detector)
        with self._borrow(_tracked(det)) as tr:
            source = parse_source(source_attrs or self.config.source_attrs)
            label = tr.labels.encode(target, source)  # the CLI's errors
            with timer.stage("decode"):
                frame = self.decode(data)
            if tr.detector.framing is None:
                with timer.stage("infer"):
                    out, faces = tr.translate_images([frame], label)[0], 1
            else:
                with timer.stage("detect"):
                    regions, _ = _faces_of(tr, frame, auto=det.strip().lower() == "auto")  # also forgets the last photo
                if not regions:
                    raise NoFace(f"no face found by the {det} detector (send detector=none if the image is a face crop)")
                # the same source for the as-is rendering the model paste reference subtracts
                out, _ = tr.translate_frame(frame, label, timer=timer, source=source, regions=regions)
                faces = len(regions)
        with timer.stage("encode"):
            body, media = self.encode(out, fmt)
        timings = {k: round(v["mean_ms"], 2) for k, v in timer.summary().items()}
        for stage, ms in timings.items():
            self.metrics.stage_seconds.labels(stage).observe(ms / 1e3)
        return Translated(body, media, faces, timings)

    def model_info(self) -> dict[str, object]:
        meta = self.meta
        return {
            "domains": list(meta.domain_names),
            "datasets": [{"name": d.name, "kind": d.kind, "domains": list(d.domains)} for d in meta.datasets],
            "image_size": meta.architecture.image_size,
            "label_dim": meta.label_dim,
            "backend": self.runner.describe(),
            "detector": self.config.detector,
            "detectors": sorted({self.config.detector, *CLIENT_DETECTORS}),
            "limits": {
                "max_inflight": self.config.max_inflight, "max_streams": self.config.max_streams,
                "max_upload_bytes": self.config.max_upload_bytes, "max_pixels": self.config.max_pixels,
            },
            "served_by": self.config.served_by,
        }

    def close(self) -> None:
        self.runner.close()


def _tracked(detector: str) -> str:
    """The detector that runs: "auto" is Haar plus a check that only a whole photo needs."""
    return "haar" if detector.strip().lower() == "auto" else detector
