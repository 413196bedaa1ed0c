"""The streaming pipeline, wired in one function: capture -> detect -> infer -> output, four threads.

    capture thread      source.read() -> [in slot]       live source: the slot keeps only the newest frame
    detect thread       [in slot] -> detect, preprocess (crops, labels) -> [middle slot]
    infer thread        [middle slot] -> infer, paste -> [out slot]
    calling thread      [out slot] -> overlay, sink.write, keys

Detection of frame N+1 overlaps inference of frame N (on a 2-core CPU: the Haar cascade on one core while the
model runs; issue 12). With `overlap=False` one worker thread runs detect, preprocess, infer and paste in turn.

Each hand-off holds ONE frame. For a live source the capture thread replaces a frame the detect thread has not
taken yet (a drop, counted): when inference is slower than the camera, frames drop at the source and the latency
stays bounded, never a growing queue. The detect thread takes a frame only when the middle slot is empty, so
it runs one frame ahead of inference and no further, on the newest frame. For a file read as fast as possible,
capture waits instead, so no frame is lost. The out slot always waits: frame k+1 is translated while the sink
writes frame k (inference and output overlap), and a slow sink slows the pipeline, which makes a live source
drop more, rather than building a backlog.

The sink runs in the calling thread because GUI toolkits want imshow/waitKey on one thread.

Stages (StageTimer, ms): capture = time inside source.read() (for a camera, or a file played in real time, it
includes waiting for the next frame); detect / preprocess / infer / paste = Translator.translate_frame;
output = sink.write; latency = from the end of source.read() to the end of sink.write for each frame shown.
CPU: each stage's CPU time in its own thread (cpu_mean_ms), and what the libraries' thread pools used on top
(inference runs there), per frame, with the cores the whole process kept busy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

import numpy as np

from ..faces import Region
from ..timing import StageTimer
from ..translator import FrameJob, Translator
from .controls import HELP, Controls, draw_overlay
from .sinks import Sink
from .sources import Source

T = TypeVar("T")
STAGES = ("capture", "detect", "preprocess", "infer", "paste", "output", "latency")


class Handoff(Generic[T]):
    """A one-item slot between two threads.

    drop=True: put() replaces an item nobody took (counted in `dropped`); drop=False: put() waits until the
    slot is free. get() waits for an item; both return None / False once the slot is closed.
    """

    def __init__(self, drop: bool):
        self.drop = drop
        self.dropped = 0
        self._item: T | None = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        with self._cond:
            if not self.drop:
                while self._item is not None and not self._closed:
                    self._cond.wait()
            if self._closed:
                return False
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()
            return True

    def get(self) -> T | None:
        with self._cond:
            while self._item is None and not self._closed:
                self._cond.wait()
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def wait_empty(self) -> bool:
        """Wait until the slot is free (nothing left for the next stage to take); False once closed."""
        with self._cond:
            while self._item is not None and not self._closed:
                self._cond.wait()
            return not self._closed

    def close(self) -> None:
        """No more items: get() drains what is there, then returns None; put() returns False."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class Packet:
    index: int
    frame: np.ndarray
    t_capture: float  # time.monotonic() when the frame was read
    regions: Sequence[Region] = ()
    job: FrameJob | None = None  # between the detect and the infer thread


@dataclass
class StreamReport:
    """What a run did: counts, rates and per-stage timings (ms)."""

    source: str
    sink: str
    backend: str
    live: bool
    captured: int = 0
    processed: int = 0
    dropped: int = 0
    seconds: float = 0.0
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    output_span: float = 0.0  # seconds from the first frame out to the last
    # CPU time per frame (ms): each stage's own thread (in `stages`), and the libraries' thread pools (the rest of the
    # process: inference runs there); cores = the process's CPU seconds per second
    cpu: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # input frames left out (unreadable files of a folder), why each

    @property
    def fps(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def output_fps(self) -> float:
        """The steady rate: frames out per second from the first to the last (no start-up in it); a live source
        that is kept up with gives its own frame rate."""
        return (self.processed - 1) / self.output_span if self.processed > 1 and self.output_span > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "sink": self.sink, "backend": self.backend, "live": self.live,
            "captured": self.captured, "processed": self.processed, "dropped": self.dropped,
            "seconds": self.seconds, "fps": self.fps, "output_fps": self.output_fps, "stages_ms": self.stages,
            "cpu": self.cpu, "skipped": self.skipped,
        }

    def text(self) -> str:
        lines = [
            f"{self.processed} frames in {self.seconds:.2f} s = {self.fps:.1f} FPS ({self.output_fps:.1f} FPS steady); "
            f"captured {self.captured}, "
            f"dropped {self.dropped}{' (live source: only the newest frame is kept)' if self.live else ''}",
            f"backend: {self.backend}",
            f"{'stage':<11}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'count':>8}",
        ]
        for name in STAGES:
            if name in self.stages:
                s = self.stages[name]
                lines.append(f"{name:<11}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}{s['mean_ms']:>9.1f}{int(s['count']):>8}")
        if "latency" in self.stages:
            lines.append("latency: capture to output, live (frames arrive at the source's rate)" if self.live else
                         "latency: capture to output of a file read as fast as possible, so each frame also waits for "
                         "the ones before it; a camera's latency: --realtime")
        return "\n".join(lines)


def overlap_pays(translator: Translator) -> bool:
    """Does detecting the next frame beside this one's inference add frames? Yes, unless two crops a face (the "model"
    paste reference) already fill a CPU's cores: measured on 2 cores, the overlap then costs latency (p99 141 vs
    89 ms) and frames (21.1 vs 22.3 FPS) instead (benchmarks/results/cpu-2core/README.md)."""
    return not ("cpu" in translator.runner.name and translator.paste_back.reference == "model")


def run_stream(
    source: Source,
    translator: Translator,
    sink: Sink,
    controls: Controls,
    *,
    max_frames: int | None = None,
    overlay: bool = False,
    on_frame: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    overlap: bool | None = None,
) -> StreamReport:
    """Run until the source ends, `max_frames` frames are out, a quit key, or `stop` is set; returns the report.

    `overlap` (default: `overlap_pays(translator)`): detect frame N+1 in its own thread while frame N is inferred.

    Closes the sink (a video file is renamed into place); the source is left to the caller to close.
    """
    if overlap is None:
        overlap = overlap_pays(translator)
    timer = StageTimer()
    stop = stop or threading.Event()
    inbox: Handoff[Packet] = Handoff(drop=source.live)
    outbox: Handoff[Packet] = Handoff(drop=False)
    errors: list[BaseException] = []
    report = StreamReport(source.name, sink.name, translator.describe(), source.live)

    def guarded(fn: Callable[[], None], feeds: Handoff[Packet]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # re-raised in the calling thread
                errors.append(exc)
                stop.set()
            finally:
                feeds.close()  # the next stage sees the end

        return run

    def capture() -> None:
        i = 0
        while not stop.is_set():
            t0, c0 = time.perf_counter(), time.thread_time()
            frame = source.read()
            if frame is None:
                return
            timer.add("capture", time.perf_counter() - t0, cpu=time.thread_time() - c0)
            report.captured += 1
            if not inbox.put(Packet(i, frame, time.monotonic())):
                return
            i += 1
            if max_frames and not source.live and i >= max_frames:
                return

    def work() -> None:  # both halves in one thread
        while (pkt := inbox.get()) is not None and not stop.is_set():
            label = controls.label()
            if label is not None:
                pkt.frame, pkt.regions = translator.translate_frame(pkt.frame, label, t=pkt.t_capture, timer=timer)
            if not outbox.put(pkt):
                return

    def detect() -> None:  # frame N+1 is found and cropped while frame N is inferred
        # Take a frame only once the infer thread has taken the last one: it is then the newest the source has, and
        # a live source drops the frames in between at the in slot (the latency stays one detect + one infer).
        while middle.wait_empty() and (pkt := inbox.get()) is not None and not stop.is_set():
            label = controls.label()
            if label is not None:
                pkt.job = translator.prepare_frame(pkt.frame, label, t=pkt.t_capture, timer=timer)
            if not middle.put(pkt):
                return

    def infer() -> None:
        while (pkt := middle.get()) is not None and not stop.is_set():
            if pkt.job is not None:
                pkt.frame, pkt.regions = translator.finish_frame(pkt.job, timer=timer)
                pkt.job = None
            if not outbox.put(pkt):
                return

    middle: Handoff[Packet] = Handoff(drop=False)
    stages = ((capture, inbox), (detect, middle), (infer, outbox)) if overlap else ((capture, inbox), (work, outbox))
    threads = [
        threading.Thread(target=guarded(fn, feeds), name=f"stargan-rt-{fn.__name__}", daemon=True) for fn, feeds in stages
    ]
    start, cpu_start = time.monotonic(), time.process_time()
    recent: deque[float] = deque(maxlen=30)
    status: list[str] = []
    next_status = 0.0
    first_out = 0.0
    completed = False
    for t in threads:
        t.start()
    try:
        while (pkt := outbox.get()) is not None:
            now = time.monotonic()
            recent.append(now)
            if overlay:
                if now >= next_status:  # percentiles twice a second, not every frame
                    status = _status_lines(timer, recent, inbox.dropped, report.backend)
                    next_status = now + 0.5
                draw_overlay(pkt.frame, [*status, controls.text(), HELP], pkt.regions)
            with timer.stage("output"):
                sink.write(pkt.frame)
            done = time.monotonic()
            timer.add("latency", done - pkt.t_capture)
            first_out = first_out if report.processed else done
            report.output_span = done - first_out
            report.processed += 1
            if on_frame:
                on_frame(report.processed)
            key = sink.poll()
            if key is not None:
                controls.handle_key(key)
            if controls.quit or (max_frames and report.processed >= max_frames):
                break
        completed = not errors
    except KeyboardInterrupt:
        # a live recording is kept: Ctrl-C is how a headless webcam run ends. A file or folder stopped part-way is not
        # the result asked for: it must not replace an earlier complete output
        completed = source.live
        raise
    finally:
        stop.set()
        for slot in (inbox, middle, outbox):
            slot.close()
        for t in threads:
            t.join(timeout=5.0)
        report.seconds = time.monotonic() - start
        report.dropped = inbox.dropped
        report.skipped = list(getattr(source, "skipped", ()))
        report.stages = timer.summary()
        report.cpu = _cpu_use(time.process_time() - cpu_start, timer.cpu_seconds(), report)
        if completed:
            sink.close()
        else:
            sink.abort()
    if errors:
        raise errors[0]
    return report


def _cpu_use(process_s: float, in_stages_s: float, report: StreamReport) -> dict[str, float]:
    frames = max(report.processed, 1)
    return {"cores": process_s / report.seconds if report.seconds > 0 else 0.0,
            "process_ms_per_frame": process_s / frames * 1e3,
            "library_threads_ms_per_frame": max(0.0, process_s - in_stages_s) / frames * 1e3}


def _status_lines(timer: StageTimer, recent: deque[float], dropped: int, backend: str) -> list[str]:
    name = backend.split(":")[0]
    lat50, lat99 = timer.percentiles("latency")
    if len(recent) < 2 or recent[-1] <= recent[0] or lat50 != lat50:
        return ["measuring FPS and latency...", name]  # not 0.0 FPS and nan ms before there is anything to show
    fps = (len(recent) - 1) / (recent[-1] - recent[0])
    infer50, _ = timer.percentiles("infer")
    infer = f"infer {infer50:.0f} ms  " if infer50 == infer50 else ""  # NaN while translation is switched off
    return [f"{fps:5.1f} FPS  {infer}latency {lat50:.0f}/{lat99:.0f} ms (p50/p99)  dropped {dropped}", name]
