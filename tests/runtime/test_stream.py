"""Streaming: one-frame hand-offs, the latest-frame policy under a slow backend, and a video end to end."""

from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np
import pytest

from stargan_rt.backends import Runner
from stargan_rt.cli import main
from stargan_rt.stream import Controls, Handoff, Sink, open_source, run_stream
from stargan_rt.translator import Translator

from .conftest import SIZE, tiny_meta


# --- hand-offs -------------------------------------------------------------------------------------------


def test_a_dropping_handoff_keeps_only_the_newest_item_and_counts_the_rest():
    slot: Handoff[int] = Handoff(drop=True)
    for i in range(5):
        assert slot.put(i)
    assert slot.get() == 4 and slot.dropped == 4


def test_a_blocking_handoff_makes_the_producer_wait_and_loses_nothing():
    slot: Handoff[int] = Handoff(drop=False)
    got = []

    def consume():
        while (item := slot.get()) is not None:
            got.append(item)
            time.sleep(0.002)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(50):
        slot.put(i)
    slot.close()
    t.join(5)
    assert got == list(range(50)) and slot.dropped == 0


def test_a_closed_handoff_releases_a_waiting_consumer():
    slot: Handoff[int] = Handoff(drop=False)
    t = threading.Thread(target=slot.get)
    t.start()
    slot.close()
    t.join(2)
    assert not t.is_alive() and slot.put(1) is False


# --- the latest-frame policy -----------------------------------------------------------------------------


class SlowRunner(Runner):
    """An identity 'model' that takes `delay` seconds per call: inference slower than the camera."""

    name = "slow"

    def __init__(self, delay: float):
        self.meta, self.delay = tiny_meta(), delay

    def infer(self, x, c):
        time.sleep(self.delay)
        return x


class FakeCamera:
    """A live source producing numbered frames at `fps` for `seconds` (frame k's pixels all equal k % 256)."""

    name, live, total = "fake camera", True, None

    def __init__(self, fps: float, seconds: float):
        self.fps, self.n = fps, int(fps * seconds)
        self.i, self.t0 = 0, None

    def read(self):
        if self.t0 is None:
            self.t0 = time.monotonic()
        if self.i >= self.n:
            return None
        due = self.t0 + self.i / self.fps
        time.sleep(max(0.0, due - time.monotonic()))
        self.i += 1
        return np.full((SIZE, SIZE, 3), self.i % 256, np.uint8)

    def close(self):
        pass


class ListSink(Sink):
    name = "list"

    def __init__(self):
        self.frames = []

    def write(self, frame):
        self.frames.append(frame)


def _translator(delay: float) -> Translator:
    return Translator(SlowRunner(delay), detector="none")


def test_a_slow_backend_on_a_live_source_drops_frames_and_latency_stays_bounded():
    delay, fps, seconds = 0.05, 200.0, 1.0
    tr = _translator(delay)
    sink = ListSink()
    report = run_stream(FakeCamera(fps, seconds), tr, sink, Controls(tr.labels, "Male"))
    assert report.captured == fps * seconds
    # Inference takes 10 camera frames: ~9 of every 10 are dropped at the source, none queue up.
    assert report.dropped >= 0.7 * report.captured
    assert report.processed + report.dropped <= report.captured <= report.processed + report.dropped + 2
    assert report.processed <= seconds / delay + 2
    # Latency is about one inference plus one frame interval; a queue would have reached ~0.8 s here.
    assert report.stages["latency"]["p99_ms"] < 4 * delay * 1e3
    # The frames shown are the newest ones: the last frame out is one of the last captured.
    last = int(sink.frames[-1][0, 0, 0])
    assert last >= (fps * seconds - fps * 3 * delay) % 256


def test_a_file_source_is_never_dropped_even_with_a_slow_backend(tmp_path):
    path = _write_video(tmp_path / "in.avi", n=12)
    tr = _translator(0.02)
    sink = ListSink()
    source = open_source(str(path))
    try:
        assert not source.live
        report = run_stream(source, tr, sink, Controls(tr.labels, "Male"))
    finally:
        source.close()
    assert report.processed == 12 and report.dropped == 0 and len(sink.frames) == 12


class AbortableSink(ListSink):
    """Records whether the run ended by committing (close) or by dropping the output (abort), and sends Ctrl-C
    once `interrupt_after` frames are written."""

    def __init__(self, interrupt_after: int):
        super().__init__()
        self.interrupt_after, self.ended = interrupt_after, None

    def write(self, frame):
        super().write(frame)
        if len(self.frames) == self.interrupt_after:
            raise KeyboardInterrupt

    def close(self):
        self.ended = "close"

    def abort(self):
        self.ended = "abort"


@pytest.mark.parametrize("live, ended", [(True, "close"), (False, "abort")])
def test_ctrl_c_keeps_a_live_recording_but_never_lets_a_part_of_a_file_replace_the_output(tmp_path, live, ended):
    tr = _translator(0.0)
    sink = AbortableSink(interrupt_after=3)
    source = FakeCamera(200.0, 1.0) if live else open_source(str(_write_video(tmp_path / "in.avi", n=12)))
    try:
        with pytest.raises(KeyboardInterrupt):
            run_stream(source, tr, sink, Controls(tr.labels, "Male"))
    finally:
        source.close()
    assert sink.ended == ended


class Intervals:
    """(start, end) of each call, from every thread: to see which stages ran at the same time."""

    def __init__(self):
        self.calls: list[tuple[float, float]] = []

    def timed(self, delay: float) -> None:
        t0 = time.monotonic()
        time.sleep(delay)
        self.calls.append((t0, time.monotonic()))


class SlowDetector:
    """One face in the middle of every frame, found in `delay` seconds."""

    name = "slow"

    def __init__(self, delay: float, log: Intervals):
        from stargan_rt.faces.detect import HAAR_FRAMING

        self.framing, self.delay, self.log = HAAR_FRAMING, delay, log

    def detect(self, frame):
        from stargan_rt.faces import Box

        self.log.timed(self.delay)
        h, w = frame.shape[:2]
        return [Box(w * 0.3, h * 0.3, w * 0.4, h * 0.4)]


class LoggedRunner(SlowRunner):
    def __init__(self, delay: float, log: Intervals):
        super().__init__(delay)
        self.log = log

    def infer(self, x, c):
        self.log.timed(self.delay)
        return x


class NumberedFrames:
    """A file-like source (not live: nothing is dropped) of n frames, frame k's pixels all equal k."""

    name, live, total = "numbered", False, None

    def __init__(self, n: int):
        self.n, self.i = n, 0

    def read(self):
        self.i += 1
        return np.full((64, 64, 3), self.i, np.uint8) if self.i <= self.n else None

    def close(self):
        pass


@pytest.mark.parametrize("overlap", [True, False])
def test_detection_of_the_next_frame_overlaps_inference_of_this_one(overlap):
    detected, inferred = Intervals(), Intervals()
    tr = Translator(LoggedRunner(0.03, inferred), detector=SlowDetector(0.03, detected), smooth=False)
    sink = ListSink()
    report = run_stream(NumberedFrames(8), tr, sink, Controls(tr.labels, "Male"), overlap=overlap)
    assert report.processed == 8 and report.dropped == 0
    assert [int(f[0, 0, 0]) for f in sink.frames] == list(range(1, 9))  # in order, none lost (corners are not pasted)
    both = sum(1 for d0, d1 in detected.calls for i0, i1 in inferred.calls if d0 < i1 and i0 < d1)
    if overlap:  # frame k+1 is detected while frame k is inferred: nearly every detection overlaps an inference
        assert both >= 5
    else:  # one worker thread: never at the same time
        assert both == 0


def test_keys_switch_the_target_and_quit():
    tr = _translator(0.0)
    controls = Controls(tr.labels, "Male")
    np.testing.assert_array_equal(controls.label(), [0, 0, 0, 1, 0])
    controls.handle_key(ord("2"))  # second domain: Blond_Hair
    np.testing.assert_array_equal(controls.label(), [0, 1, 0, 0, 0])
    controls.handle_key(ord("-"))
    controls.handle_key(ord("-"))
    np.testing.assert_allclose(controls.label(), [0, 0.8, 0, 0, 0])
    controls.handle_key(ord("0"))
    np.testing.assert_allclose(controls.label(), [0, 0, 0, 0.8, 0])
    controls.handle_key(ord("o"))
    assert controls.label() is None  # original: translation off
    controls.handle_key(ord("q"))
    assert controls.quit


# --- a video end to end through the command line ----------------------------------------------------------


def _write_video(path, n=10, size=(96, 128)):
    """A small moving-gradient MJPG video (decoded frames are what the pipeline sees)."""
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (w, h))
    assert writer.isOpened()
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        frame = np.stack([(xx * 2 + i * 5) % 256, (yy * 2) % 256, np.full_like(xx, 90 + i)], -1).astype(np.uint8)
        writer.write(frame)
    writer.release()
    return path


def _decode(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            return frames
        frames.append(f)


def test_a_video_file_streams_end_to_end_through_onnxruntime_on_cpu(tiny_models, tmp_path, capsys):
    src = _write_video(tmp_path / "in.avi", n=10)
    out = tmp_path / "out.mp4"
    stats = tmp_path / "stats.json"
    rc = main(["video", str(src), str(out), "-t", "Blond_Hair,-Young", "-m", str(tiny_models["onnx"]),
               "-d", "none", "--stats-json", str(stats), "-b", "ort-cpu"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "backend: ort-cpu" in err and "why: asked for ort-cpu" in err  # auto's own choice: test_auto_probe.py
    frames = _decode(out)
    assert len(frames) == 10 and frames[0].shape == (96, 128, 3)
    report = json.loads(stats.read_text())
    assert report["processed"] == 10 and report["dropped"] == 0 and not report["live"]
    assert {"capture", "detect", "preprocess", "infer", "paste", "output", "latency"} <= set(report["stages_ms"])
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file was renamed into place


def test_frames_written_as_images_differ_only_inside_the_face_square(tiny_models, tmp_path, capsys):
    src = _write_video(tmp_path / "in.avi", n=4)
    rc = main(["video", str(src), str(tmp_path / "frames"), "-t", "Male", "-m", str(tiny_models["frames_onnx"]), "-d", "none"])
    assert rc == 0, capsys.readouterr().err
    outs = sorted((tmp_path / "frames").glob("*.png"))
    assert len(outs) == 4
    # -d none on a 128x96 frame: the face square is the centred 96x96 square (x 16..112)
    for before, path in zip(_decode(src), outs):
        after = cv2.imread(str(path))
        np.testing.assert_array_equal(after[:, :16], before[:, :16])
        np.testing.assert_array_equal(after[:, 112:], before[:, 112:])
        assert np.abs(after[:, 40:88].astype(int) - before[:, 40:88].astype(int)).mean() > 5


def test_the_webcam_command_plays_a_file_like_a_camera_into_a_recording(tiny_models, tmp_path, capsys):
    src = _write_video(tmp_path / "in.avi", n=8)
    out = tmp_path / "rec.avi"
    rc = main(["webcam", "--source", str(src), "--no-window", "-o", str(out), "-t", "Male",
               "-m", str(tiny_models["onnx"]), "-d", "none"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "FPS" in captured.out and "latency" in captured.out
    assert 1 <= len(_decode(out)) <= 8


def test_an_image_folder_streams_to_an_image_folder(tiny_models, tmp_path, capsys):
    frames_in = tmp_path / "in"
    frames_in.mkdir()
    for i, frame in enumerate(_decode(_write_video(tmp_path / "v.avi", n=3))):
        cv2.imwrite(str(frames_in / f"{i:03d}.png"), frame)
    rc = main(["video", str(frames_in), str(tmp_path / "out"), "-t", "Male", "-m", str(tiny_models["onnx"]), "-d", "none"])
    assert rc == 0, capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


def test_a_virtual_camera_without_pyvirtualcam_is_one_clear_line(tiny_models, tmp_path, capsys):
    try:
        import pyvirtualcam  # noqa: F401

        pytest.skip("pyvirtualcam is installed here")
    except ImportError:
        pass
    src = _write_video(tmp_path / "in.avi", n=2)
    rc = main(["webcam", "--source", str(src), "--no-window", "--virtual-cam", "-t", "Male", "-m", str(tiny_models["onnx"])])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "pyvirtualcam" in err.strip().splitlines()[-1]


def test_the_overlay_shows_fps_latency_and_the_target_on_the_output():
    tr = _translator(0.0)
    plain, shown = ListSink(), ListSink()
    run_stream(FakeCamera(100.0, 0.1), tr, plain, Controls(tr.labels, "Male"))
    run_stream(FakeCamera(100.0, 0.1), tr, shown, Controls(tr.labels, "Male"), overlay=True)
    # identity model: without the overlay a frame is unchanged; with it the top-left corner carries text
    assert len(set(np.unique(plain.frames[-1]))) == 1
    assert len(set(np.unique(shown.frames[-1][:10]))) > 1


def test_overlay_lines_wrap_to_the_frame_and_early_status_says_it_is_measuring():
    from collections import deque

    from stargan_rt.stream.controls import HELP, _width, wrap_text
    from stargan_rt.stream.pipeline import _status_lines
    from stargan_rt.timing import StageTimer

    scale = 640 / 900
    lines = wrap_text(HELP, 640 - 12, scale)
    assert len(lines) >= 2 and all(_width(s, scale) <= 640 - 12 for s in lines)
    assert " ".join(s.strip() for s in lines) == HELP  # nothing lost or glued together
    first = _status_lines(StageTimer(), deque([1.0]), 0, "ort-cpu: details")
    assert first[0].startswith("measuring") and "nan" not in " ".join(first)
    timer = StageTimer()
    timer.add("latency", 0.03)
    later = _status_lines(timer, deque([1.0, 1.1, 1.2]), 2, "ort-cpu: details")
    assert "FPS" in later[0] and "nan" not in later[0] and "dropped 2" in later[0]


def test_detection_overlaps_inference_unless_two_crops_a_face_already_fill_the_cpu():
    from stargan_rt.faces import PasteBack
    from stargan_rt.stream.pipeline import overlap_pays

    runner = SlowRunner(0.0)
    for name, reference, overlap in (("ov-cpu", "model", False), ("ov-cpu", "input", True), ("tensorrt", "model", True)):
        runner.name = name
        assert overlap_pays(Translator(runner, paste=PasteBack(reference=reference))) is overlap, (name, reference)
