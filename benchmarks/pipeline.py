"""End to end: the runtime's streaming pipeline on a video file, per backend, one face and several faces.

Nothing is re-implemented here: frames go through `stargan_rt.stream.run_stream` with a `Translator` (Haar
detector, the same weights as the generator table, exported for each backend), and the per-stage timings,
FPS, drops and capture-to-output latency are the pipeline's own `StreamReport`. The sink discards frames, so
what is measured is capture (video decode) + detect + preprocess + infer + paste, not disk writes.

Two modes per video:
  max   the file read as fast as the pipeline goes (no drops by design): the pipeline's capacity in FPS.
  live  the file paced at its frame rate, as a camera delivers frames: FPS, drops and latency under real time.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from stargan_rt.backends.base import Runner
from stargan_rt.stream import Sink

from .timing import progress
from .variants import Variant, Workspace, availability

STAGES = ("capture", "detect", "preprocess", "infer", "paste", "output")
WORKER_STAGES = ("detect", "preprocess", "infer", "paste")  # one thread, one after the other (overlap off)
THREAD_STAGES = {"detect": ("detect", "preprocess"), "infer": ("infer", "paste")}  # the overlapped pipeline's threads


@dataclass(frozen=True)
class PipelineConfig:
    faces: tuple[int, ...] = (1, 3)
    frames: int = 300  # frames per video
    width: int = 640
    height: int = 480
    fps: float = 30.0
    size: int = 128  # model resolution
    modes: tuple[str, ...] = ("max", "live")
    warmup_frames: int = 5
    overlap: bool | None = None  # detect frame N+1 in its own thread while N is inferred (None: stream.overlap_pays)
    detector: str = "haar"
    target: str = "Blond_Hair"
    video: str | None = None  # a user video for the one-face runs (default: one is rendered)
    video_source: str = "auto"  # rendered videos: "synth" (SynthFaces), "drawn" (OpenCV), "auto" (synth if installed)
    threads: int | None = None  # CPU threads for CPU backends (None: the libraries' defaults)
    deadline: float | None = None  # time.monotonic() after which no new run starts
    paste_reference: str = "model"  # the paste-back's reference (stargan_rt/faces/paste.py): "model" runs 2 crops a face


@dataclass
class PipelineRow:
    variant: str
    backend: str
    device: str
    faces: int
    mode: str
    describe: str = ""
    video: str = ""  # where the video came from
    fps: float | None = None
    output_fps: float | None = None  # frames out per second from the first to the last (the steady rate)
    processed: int = 0
    captured: int = 0
    dropped: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # the pipeline's StageTimer summary
    cpu: dict[str, float] = field(default_factory=dict)  # StreamReport.cpu: cores used, library threads' CPU per frame
    faces_per_frame: float | None = None  # faces the detector found and the model translated, per frame
    bottleneck: str | None = None  # the thread that sets the pace (see `bottleneck`)
    overlap: bool | None = None  # whether detection ran beside inference
    wall_s: float | None = None  # the whole run, warm-up included
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CountingRunner(Runner):
    """Passes calls through to a runner and counts the faces it translated (the pipeline counts calls only)."""

    name = "counting"

    def __init__(self, inner: Runner):
        self.inner, self.meta = inner, inner.meta
        self.name = inner.name  # type: ignore[misc]  # what the runtime's choices (overlap_pays) look at
        self.faces = 0

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        self.faces += len(x)
        return self.inner.infer(x, c)

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        self.faces += len(frames)
        return self.inner.infer_frames(frames, c)

    def describe(self) -> str:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()


class NullSink(Sink):
    """Discards frames."""

    name = "null"

    def write(self, frame: np.ndarray) -> None:
        pass


def make_video(folder: Path, faces: int, cfg: PipelineConfig) -> tuple[Path, str]:
    """The benchmark video and where it came from: the user's for one face when given, else a rendered one."""
    if cfg.video and faces == 1:
        return Path(cfg.video), f"given: {cfg.video}"
    from .inputs import face_video

    return face_video(folder / f"faces{faces}.avi", frames=cfg.frames, faces=faces, width=cfg.width,
                      height=cfg.height, fps=cfg.fps, source=cfg.video_source)


def pipeline_variants(variants: list[Variant]) -> list[Variant]:
    """The runtime backends among the chosen variants (the pipeline runs what users run: no bench-only paths)."""
    return [v for v in variants if not v.is_baseline and not v.backend.startswith("bench-")]


def run_once(v: Variant, model: Path, video: Path, faces: int, mode: str, cfg: PipelineConfig) -> PipelineRow:
    from stargan_rt.backends import open_model
    from stargan_rt.stream import Controls, open_source, run_stream
    from stargan_rt.stream.pipeline import overlap_pays
    from stargan_rt.faces import PasteBack
    from stargan_rt.translator import Translator

    row = PipelineRow(v.name, v.backend, v.device, faces, mode)
    t0 = time.perf_counter()
    from .generator import runner_options

    runner = CountingRunner(open_model(model, v.backend, **runner_options(v, cfg.threads)))
    paste = PasteBack(reference=cfg.paste_reference)
    with Translator(runner, detector=cfg.detector, paste=paste) as tr:
        row.describe = tr.describe()
        warm = open_source(str(video))
        try:  # one-time costs (sessions, kernel choice, CUDA graph capture per face count) before timing
            for _ in range(cfg.warmup_frames):
                frame = warm.read()
                if frame is None:
                    break
                tr.translate_frame(frame, cfg.target)
        finally:
            warm.close()
        tr.reset()
        runner.faces = 0
        source = open_source(str(video), realtime=(mode == "live"))
        try:
            overlap = overlap_pays(tr) if cfg.overlap is None else cfg.overlap
            report = run_stream(source, tr, NullSink(), Controls(tr.labels, cfg.target), max_frames=cfg.frames,
                                overlap=overlap)
        finally:
            source.close()
    row.wall_s = time.perf_counter() - t0
    row.fps, row.processed, row.captured, row.dropped = report.fps, report.processed, report.captured, report.dropped
    row.output_fps = report.output_fps
    row.stages_ms, row.cpu = report.stages, report.cpu
    crops_per_face = 2 if cfg.paste_reference == "model" else 1  # the model reference also renders each face as is
    row.faces_per_frame = runner.faces / crops_per_face / report.processed if report.processed else 0.0
    lat = report.stages.get("latency")
    if lat:
        row.latency_p50_ms, row.latency_p99_ms = lat["p50_ms"], lat["p99_ms"]
    row.overlap = overlap
    row.bottleneck = bottleneck(report.stages, overlap)
    return row


def bottleneck(stages: dict[str, dict[str, float]], overlap: bool = True) -> str | None:
    """Which of the pipeline's threads sets the pace: "capture", "output", or "<thread> thread: <its slowest stage>".

    Mean times per frame. Overlapped, the detect thread runs detect + preprocess and the infer thread infer + paste;
    without overlap one worker thread runs all four, one after the other.
    """
    mean = {k: float(s["mean_ms"]) for k, s in stages.items() if k in STAGES and s.get("mean_ms") is not None}
    if not mean:
        return None
    groups = THREAD_STAGES if overlap else {"worker": WORKER_STAGES}
    work = {t: {k: mean[k] for k in names if k in mean} for t, names in groups.items()}
    threads = {"capture": mean.get("capture", 0.0), "output": mean.get("output", 0.0),
               **{t: sum(w.values()) for t, w in work.items()}}
    slowest = max(threads, key=lambda k: threads[k])
    if slowest in work and work[slowest]:
        inner = work[slowest]
        return f"{slowest}{'' if slowest == 'worker' else ' thread'}: {max(inner, key=lambda k: inner[k])}"
    return slowest


def run_pipeline(cfg: PipelineConfig, variants: list[Variant], ws: Workspace,
                 log: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> list[PipelineRow]:
    """Every runtime variant x face count x mode; a failing run is kept with its error."""
    chosen = [v for v in pipeline_variants(variants) if availability(v)[0]]
    rows: list[PipelineRow] = []
    videos = {n: make_video(ws.folder / "videos", n, cfg) for n in cfg.faces}
    for n, (_, source) in videos.items():
        log(f"pipeline video, {n} face(s): {source}")
    with progress(total=len(chosen) * len(cfg.faces) * len(cfg.modes), desc="pipeline", unit="run") as bar:
        for v in chosen:
            try:
                model = ws.path(v, cfg.size)
            except Exception as exc:  # noqa: BLE001 - an export that fails skips this backend, with the reason
                for n in cfg.faces:
                    rows += [PipelineRow(v.name, v.backend, v.device, n, m, error=str(exc)[:300]) for m in cfg.modes]
                bar.update(len(cfg.faces) * len(cfg.modes))
                continue
            for n in cfg.faces:
                for mode in cfg.modes:
                    bar.set_postfix_str(f"{v.name} {n} face(s) {mode}")
                    if cfg.deadline is not None and time.monotonic() > cfg.deadline:
                        rows.append(PipelineRow(v.name, v.backend, v.device, n, mode, error="skipped: the run's --time-limit was reached"))
                        bar.update(1)
                        continue
                    try:
                        rows.append(run_once(v, model, videos[n][0], n, mode, cfg))
                        rows[-1].video = videos[n][1]
                    except Exception as exc:  # noqa: BLE001
                        text = str(exc).strip().splitlines()
                        rows.append(PipelineRow(v.name, v.backend, v.device, n, mode,
                                                error=f"{type(exc).__name__}: {text[0][:300] if text else ''}"))
                    bar.update(1)
    return rows
