"""What users get wrong ends in one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json

import pytest

from stargan_rt.cli import main

from .conftest import tiny_meta


def _fails_with_one_line(capsys, argv, *expected):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc != 0
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"stargan-rt {argv[0]}: error: ")
    for text in expected:
        assert text in line, line
    return line


@pytest.fixture
def image(tmp_path):
    import cv2
    import numpy as np

    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((218, 178, 3), 120, np.uint8))
    return str(path)


@pytest.fixture
def video(tmp_path):
    from .test_stream import _write_video

    return _write_video(tmp_path / "in.avi", n=3)


def test_a_missing_camera(tiny_models, tmp_path, capsys):
    _fails_with_one_line(
        capsys, ["webcam", "--source", "99", "--no-window", "-o", str(tmp_path / "o.mp4"), "-t", "Male",
                 "-m", str(tiny_models["onnx"])], "camera 99 cannot be opened",
    )


def test_an_unreadable_video_file(tiny_models, tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video")
    _fails_with_one_line(capsys, ["video", str(bad), str(tmp_path / "o.mp4"), "-t", "Male", "-m", str(tiny_models["onnx"])],
                         "broken.mp4", "cannot read video")
    assert not (tmp_path / "o.mp4").exists()


def test_a_missing_input_file(tiny_models, tmp_path, capsys):
    _fails_with_one_line(capsys, ["video", str(tmp_path / "nope.mp4"), str(tmp_path / "o.mp4"), "-t", "Male",
                                  "-m", str(tiny_models["onnx"])], "no such video file")


def test_an_unreadable_image(tiny_models, tmp_path, capsys):
    bad = tmp_path / "face.png"
    bad.write_bytes(b"not a png")
    _fails_with_one_line(capsys, ["translate", str(bad), "-t", "Male", "-m", str(tiny_models["onnx"])], "not a readable image")


def test_an_unknown_attribute(tiny_models, video, tmp_path, capsys):
    line = _fails_with_one_line(capsys, ["video", str(video), str(tmp_path / "o.mp4"), "-t", "Blonde_Hair",
                                         "-m", str(tiny_models["onnx"])], "unknown attribute 'Blonde_Hair'")
    assert "Blond_Hair" in line  # the suggestion
    assert not (tmp_path / "o.mp4").exists()


def test_a_corrupt_onnx(tmp_path, video, tiny_models, capsys):
    corrupt = tmp_path / "generator.onnx"
    corrupt.write_bytes(tiny_models["onnx"].read_bytes()[:500])
    _fails_with_one_line(capsys, ["video", str(video), str(tmp_path / "o.mp4"), "-t", "Male", "-m", str(corrupt)],
                         "generator.onnx", "cannot load it")


def test_a_missing_model(tmp_path, image, capsys):
    _fails_with_one_line(capsys, ["translate", image, "-t", "Male", "-m", str(tmp_path / "none.onnx")], "no such model")


def test_an_unknown_backend(tiny_models, image, capsys):
    _fails_with_one_line(capsys, ["translate", image, "-t", "Male", "-m", str(tiny_models["onnx"]), "-b", "cuda"],
                         "unknown backend 'cuda'")


def test_no_embedded_default_model_says_to_pass_model(monkeypatch, tmp_path, image, capsys):
    from stargan_rt import default_model

    monkeypatch.setattr(default_model, "DEFAULT_MODEL_DIR", tmp_path / "assets" / "default")
    _fails_with_one_line(capsys, ["translate", image, "-t", "Male"], "pass --model")


def test_an_engine_built_for_another_gpu(tmp_path, video, capsys, monkeypatch):
    """On a machine with TensorRT and an RTX 4090, an H100 engine is refused before it is deserialized."""
    from stargan_rt.backends import backends, tensorrt_backend
    from stargan_rt.backends.base import REGISTRY, BackendInfo
    from stargan_rt.engine_meta import GpuTarget

    plan = tmp_path / "generator_fp16.plan"
    plan.write_bytes(b"engine bytes")
    sidecar = {
        "tensorrt_version": "10.13.0.35", "gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0",
        "profile": {"min": 1, "opt": 1, "max": 8}, "onnx_sha256": "0" * 64, "precision": "fp16",
        "stargan_rt": tiny_meta().to_dict(),
    }
    (tmp_path / "generator_fp16.plan.json").write_text(json.dumps(sidecar))
    info = backends()["tensorrt"]
    monkeypatch.setitem(REGISTRY, "tensorrt", BackendInfo(info.name, info.factory, info.accepts, lambda: (True, "pretend"), info.priority))
    monkeypatch.setattr(tensorrt_backend.engine_meta, "engine_product", lambda sidecar: None)  # TensorRT 10.13.0.35 here
    monkeypatch.setattr(tensorrt_backend, "load_pycuda", lambda: None)  # with pycuda and a driver
    monkeypatch.setattr(tensorrt_backend, "current_target",
                        lambda device_id, product: GpuTarget("tensorrt", "10.13.0.35", ("8.9",), "NVIDIA GeForce RTX 4090"))
    _fails_with_one_line(capsys, ["video", str(video), str(tmp_path / "o.mp4"), "-t", "Male", "-m", str(plan)],
                         "built for GPU NVIDIA H100", "RTX 4090", "rebuild")


def test_an_engine_here_without_tensorrt(tmp_path, image, capsys):
    from stargan_rt.backends import backends

    if backends()["tensorrt"].available()[0]:
        pytest.skip("TensorRT is installed here")
    plan = tmp_path / "generator_fp16.plan"
    plan.write_bytes(b"engine bytes")
    _fails_with_one_line(capsys, ["translate", image, "-t", "Male", "-m", str(plan)], "TensorRT")


def test_a_window_with_headless_opencv_suggests_opencv_python(tiny_models, capsys):
    from stargan_rt.stream import gui_problem

    if gui_problem() is None:
        pytest.skip("this OpenCV can open windows here")
    line = _fails_with_one_line(capsys, ["webcam", "--source", "0", "-t", "Male", "-m", str(tiny_models["onnx"])])
    assert "opencv-python" in line or "DISPLAY" in line


def test_a_target_is_required_unless_grid(tiny_models, image, capsys):
    _fails_with_one_line(capsys, ["translate", image, "-m", str(tiny_models["onnx"])], "--target")
