"""One client's live stream: the CLI's latest-frame policy over a socket.

Each frame the client sends goes into a one-frame Handoff(drop=True) (stream/pipeline.py): a frame the worker has
not taken yet is replaced and counted as dropped. When translation is slower than the camera, frames drop here
and latency stays at one frame of processing, never a queue. A worker thread translates the newest frame with
the client's own Translator (faces tracked across frames) and sends it back with its per-stage timings.

Wire format (WS /v1/stream):
    client -> server   binary: one encoded frame (JPEG, PNG, WebP); the server numbers them 0, 1, 2, ... (seq)
                       text:   JSON controls, any of {"target": "Blond_Hair", "strength": 0.6, "enabled": true}
    server -> client   text:   JSON {"type": "ready", ...} once, {"type": "error", "error": "..."} on bad input
                       binary: a 4-byte big-endian length n, n bytes of JSON {"type": "frame", "seq", "target",
                               "faces", "regions" ([x, y, w, h] each), "received", "processed", "dropped",
                               "timings_ms"}, then the translated JPEG
"""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import BadInput, StarGanError
from ..stream import Controls, Handoff
from ..timing import StageTimer
from .service import Service

log = logging.getLogger("stargan_rt.serve")
CONTROL_KEYS = {"target", "strength", "enabled"}


@dataclass
class Incoming:
    seq: int
    data: bytes
    t: float  # time.perf_counter() on arrival


def pack_frame(header: dict[str, object], jpeg: bytes) -> bytes:
    js = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(js)) + js + jpeg


def unpack_frame(message: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack(">I", message[:4])
    return json.loads(message[4 : 4 + n]), message[4 + n :]


class LiveSession:
    """Frames in (`offer`, never blocks), translated frames out through `send` (returns False once the client left)."""

    def __init__(self, service: Service, send: Callable[[bytes | str], bool], *, target: str | None,
                 source_attrs: str | None = None, detector: str | None = None):
        if not target:
            raise BadInput("give target=ATTRS, e.g. Blond_Hair or +Male,-Young=0.5")
        self.service, self._send = service, send
        self.tr = service.translator(service.detector_spec(detector), smooth=True,
                                      source=source_attrs or service.config.source_attrs)
        self.controls = Controls(self.tr.labels, target, self.tr.source)  # unknown attributes fail here
        self.inbox: Handoff[Incoming] = Handoff(drop=True)
        self.received = self.processed = 0
        self._thread = threading.Thread(target=self._work, name="stargan-rt-live", daemon=True)
        self._thread.start()

    def offer(self, data: bytes) -> None:
        before = self.inbox.dropped
        self.inbox.put(Incoming(self.received, data, time.perf_counter()))
        self.received += 1
        if self.inbox.dropped > before:
            self.service.metrics.stream_frames.labels("dropped").inc()

    def control(self, message: str) -> None:
        """Apply a JSON control message; BadInput (and no change) when it is malformed."""
        try:
            msg = json.loads(message)
        except (json.JSONDecodeError, RecursionError):  # not JSON, or nested past the parser's depth
            msg = None
        if not isinstance(msg, dict) or not msg or set(msg) - CONTROL_KEYS:
            raise BadInput('a control message is a JSON object with any of "target", "strength", "enabled"')
        strength = msg.get("strength")
        if strength is not None and (isinstance(strength, bool) or not isinstance(strength, (int, float))
                                     or not 0.0 <= strength <= 1.0):
            raise BadInput(f"strength must be a number between 0 and 1, got {strength!r}")
        target, enabled = msg.get("target"), msg.get("enabled")
        if target is not None and not isinstance(target, str):
            raise BadInput(f"target must be a string such as 'Blond_Hair,-Young', got {target!r}")
        self.controls.set(target=target, strength=strength, enabled=None if enabled is None else bool(enabled))

    def _work(self) -> None:
        svc = self.service
        while (item := self.inbox.get()) is not None:
            timer = StageTimer()
            timer.add("queue", time.perf_counter() - item.t)
            regions: list = []
            try:
                with timer.stage("decode"):
                    frame = svc.decode(item.data)
                label, applied = self.controls.label(), self.controls.text()
                out = frame
                if label is not None:
                    out, regions = self.tr.translate_frame(frame, label, timer=timer)
                with timer.stage("encode"):
                    jpeg, _ = svc.encode(out, "jpeg")
            except StarGanError as exc:
                svc.metrics.stream_frames.labels("bad").inc()
                if not self._send(json.dumps({"type": "error", "seq": item.seq, "error": str(exc)})):
                    return
                continue
            except Exception:  # a bug: logged here, one line to the client, the stream goes on
                log.exception("stream frame %d failed", item.seq)
                svc.metrics.stream_frames.labels("failed").inc()
                if not self._send(json.dumps({"type": "error", "seq": item.seq, "error": "internal error"})):
                    return
                continue
            self.processed += 1
            timings = {k: round(v["mean_ms"], 2) for k, v in timer.summary().items()}
            timings["server"] = round((time.perf_counter() - item.t) * 1e3, 2)
            svc.metrics.stream_frames.labels("translated").inc()
            header = {"type": "frame", "seq": item.seq, "target": applied, "faces": len(regions),
                      "regions": [[r.x, r.y, r.w, r.h] for r in regions], "received": self.received,
                      "processed": self.processed, "dropped": self.inbox.dropped, "timings_ms": timings}
            if not self._send(pack_frame(header, jpeg)):
                return

    def close(self) -> None:
        """Stop taking frames, let the worker finish the one it has, and wait for it (call off the event loop)."""
        self.inbox.close()
        self._thread.join(timeout=30)
