"""The end-to-end benchmark drives the runtime's streaming pipeline and reports sane stage timings."""

import cv2
import numpy as np
import pytest

from benchmarks.inputs import face_video, write_face_video
from benchmarks.pipeline import PipelineConfig, run_pipeline
from benchmarks.variants import CATALOG, Workspace, official_meta, random_weights
from stargan_rt.bundle import Architecture

TINY = Architecture(conv_dim=4, repeat_num=1)
FRAMES = 8


def test_drawn_video_has_the_faces_asked_for(tmp_path):
    from stargan_rt.faces.detect import HaarDetector

    path = write_face_video(tmp_path / "v.avi", frames=3, faces=3, width=320, height=240)
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    assert ok and frame.shape == (240, 320, 3)
    assert len(HaarDetector().detect(frame)) == 3


def test_synthfaces_video_tiles_one_clip_per_face(tmp_path):
    pytest.importorskip("stargan_rt.synth.video")
    path, source = face_video(tmp_path / "s.avi", frames=4, faces=3, width=320, height=240, source="synth")
    assert source.startswith("SynthFaces")
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    assert len(frames) == 4 and frames[0].shape == (240, 320, 3)
    assert not np.array_equal(frames[0][:120, :160], frames[0][:120, 160:])  # different people in the tiles


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    torch_cpu = [v for v in CATALOG if v.backend == "torch-cpu"]  # a bundle: no export needed
    ws = Workspace(official_meta(TINY), random_weights(TINY), tmp_path_factory.mktemp("ws"))
    # drawn faces: the Haar detector finds every one in every frame, so face counts are exact
    cfg = PipelineConfig(faces=(1, 3), frames=FRAMES, width=320, height=240, size=32, modes=("max", "live"),
                         warmup_frames=2, video_source="drawn")
    return run_pipeline(cfg, torch_cpu, ws)


def test_every_run_completes(rows):
    assert [(r.faces, r.mode) for r in rows] == [(1, "max"), (1, "live"), (3, "max"), (3, "live")]
    assert all(r.error is None for r in rows), [r.error for r in rows]


def test_faces_per_frame_is_what_the_video_shows(rows):
    for r in rows:
        assert r.faces_per_frame == r.faces


def test_stage_timings_are_sane(rows):
    for r in rows:
        st = r.stages_ms
        assert {"capture", "detect", "preprocess", "infer", "paste", "output", "latency"} <= set(st)
        for name, s in st.items():
            assert 0 <= s["p50_ms"] <= s["p99_ms"], name
            assert s["mean_ms"] >= 0 and s["count"] >= 1, name
        assert st["infer"]["count"] == r.processed  # every frame had faces: one batched call each
        assert st["latency"]["p50_ms"] >= st["infer"]["p50_ms"]  # capture-to-output contains the inference
        assert r.latency_p50_ms == st["latency"]["p50_ms"]
        assert r.fps > 0 and r.bottleneck is not None


def test_file_read_as_fast_as_possible_drops_nothing(rows):
    for r in (r for r in rows if r.mode == "max"):
        assert r.processed == r.captured == FRAMES and r.dropped == 0


def test_live_mode_counts_what_it_captured(rows):
    for r in (r for r in rows if r.mode == "live"):
        assert r.processed + r.dropped <= r.captured <= FRAMES
        assert r.processed >= 1
