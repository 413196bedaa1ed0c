"""Real engines, built in every CI run: TensorRT for RTX (tensorrt-rtx-cu13) builds ahead of time with no GPU, through
the same builder as TensorRT. The runtime then goes as far as a machine without an NVIDIA driver allows: the
engine's product and version are checked, pycuda (built from source by export/build_pycuda.sh) is imported and
says there is no driver, in one line. Past that point a GPU is needed: benchmarks/gpu_check.sh."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib.util import find_spec
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from conftest import stargan_rt, stargan_rt_process, tiny_meta
from stargan_rt._optional import available
from stargan_rt.engine_meta import BatchProfile, EngineSidecar, GpuTarget, file_sha256, read_sidecar, write_sidecar
from stargan_rt.errors import BadInput, BadModel, MissingDependency

if not available("tensorrt_rtx"):
    if os.environ.get("CI"):  # CI installs it (the test extra): a skip there would hide that no engine was built
        pytest.fail("CI must build real engines, but tensorrt_rtx is not installed (pip install -e '.[test]')", pytrace=False)
    pytest.skip("TensorRT for RTX is not installed (pip install tensorrt-rtx-cu13)", allow_module_level=True)

import tensorrt_rtx  # noqa: E402

PORTABLE = ("8.0", "8.6", "8.9", "12.0", "12.1")  # what tensorrt-rtx-cu13 1.7 offers from Ampere up


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, bundle: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`stargan-rt export --engine` with TensorRT for RTX, as a user runs it: float and frames engines, batch 1..4."""
    root = tmp_path_factory.mktemp("rtx")
    out = root / "out"
    r = stargan_rt_process("export", bundle, "-o", out, "--engine", "--tensorrt", "tensorrt-rtx", "--batch", "1:2:4", "--no-int8",
                           "--triton", root / "triton")
    assert r.returncode == 0, r.stderr
    return out, r


def test_triton_gets_no_tensorrt_for_rtx_engine(engines):
    """Triton's tensorrt_plan backend runs (datacenter) TensorRT engines: an RTX engine there would not load."""
    out, r = engines
    triton = out.parent / "triton"
    assert (triton / "stargan" / "config.pbtxt").is_file() and not (triton / "stargan_trt").exists()
    assert "Triton: generator_fp16.plan left out (built by TensorRT for RTX" in r.stdout


@pytest.mark.parametrize("plan, source, io", [
    ("generator_fp16.plan", "generator_fp16.onnx", "image"),
    ("generator_frames_fp16.plan", "generator_frames_fp16.onnx", "frames"),
])
def test_export_builds_the_float_and_frames_engines_with_sidecars_that_say_what_they_need(engines, plan, source, io):
    out, r = engines
    assert (out / plan).stat().st_size > 50_000  # a real engine, not a placeholder
    side = read_sidecar(out / plan)
    assert side.target == GpuTarget("tensorrt-rtx", tensorrt_rtx.__version__, PORTABLE)
    assert side.profile == BatchProfile(1, 2, 4) and side.precision == "fp16" and side.strongly_typed
    assert side.onnx == source and side.onnx_sha256 == file_sha256(out / source)
    assert side.meta == tiny_meta()
    assert io in [i.name for i in onnx.load(str(out / source)).graph.input]
    report = json.loads((out / "export_report.json").read_text())["checks"]
    assert report["engines"][plan]["build_seconds"] > 0 and report["engines"][plan]["bytes"] == (out / plan).stat().st_size
    assert report["engines_vs_fp32"][plan]["verified"] is False  # no GPU here: said so, not pretended
    assert f"{plan} not run here" in r.stdout


def test_the_frames_fp16_model_agrees_with_the_fp16_model(engines):
    out, _ = engines
    checks = json.loads((out / "export_report.json").read_text())["checks"]
    assert checks["frames_fp16_vs_fp16"]["max_abs_grey_levels"] <= 1


def test_a_second_export_reuses_both_engines_and_other_capabilities_rebuild_them(engines, bundle, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(engines[0], out)
    r = stargan_rt_process("export", bundle, "-o", out, "--engine", "--tensorrt", "tensorrt-rtx", "--batch", "1:2:4", "--no-int8")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("reusing the existing engine") == 2, r.stdout
    r = stargan_rt_process("export", bundle, "-o", out, "--engine", "--tensorrt", "tensorrt-rtx", "--batch", "1:2:4", "--no-int8",
                           "--compute-capabilities", "8.9,12.0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("not reusable") == 2 and "reusing" not in r.stdout
    assert read_sidecar(out / "generator_fp16.plan").target.compute_capabilities == ("8.9", "12.0")


@pytest.mark.parametrize("batch", ["1:1:1", "2:8:16"])
def test_any_batch_profile_builds(exported, tmp_path, batch):
    from export.tensorrt_engine import build_engine

    build = build_engine(exported[0] / "generator_fp16.onnx", tiny_meta(), BatchProfile.parse(batch), tmp_path, product="tensorrt-rtx",
                         capabilities=("8.9",), log=lambda _: None)
    assert len(build.plan) > 50_000 and build.sidecar.profile == BatchProfile.parse(batch)


def test_an_onnx_the_parser_rejects_fails_in_one_line(tmp_path):
    """TensorRT takes UINT8 only at the I/O and in Cast: a UINT8 Gather (what frames models once had) is refused."""
    from export.tensorrt_engine import build_engine

    graph = helper.make_graph(
        [helper.make_node("Gather", ["frames", "order"], ["out"], axis=3)], "uint8_gather",
        [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["n", 4, 4, 3])],
        [helper.make_tensor_value_info("out", TensorProto.UINT8, ["n", 4, 4, 3])],
        [helper.make_tensor("order", TensorProto.INT64, [3], [2, 1, 0])],
    )
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(BadModel) as err:
        build_engine(path, tiny_meta(), BatchProfile(1, 1, 2), tmp_path, product="tensorrt-rtx", log=lambda _: None)
    message = str(err.value)
    assert message.startswith("TensorRT for RTX cannot parse bad.onnx") and "UINT8" in message and "\n" not in message


def test_a_capability_the_library_does_not_offer_is_refused_before_any_work(bundle, tmp_path):
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--engine", "--tensorrt", "tensorrt-rtx", "--compute-capabilities", "9.0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert re.search(r"cannot build for compute capability 9\.0 \(it offers 7\.5, 8\.0, .*12\.0", r.stderr), r.stderr
    assert not (tmp_path / "out").exists()


def test_current_needs_a_gpu_and_says_so(bundle, tmp_path):
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--engine", "--tensorrt", "tensorrt-rtx", "--compute-capabilities", "current")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot identify CUDA GPU" in r.stderr


def test_capability_lists_are_parsed_strictly():
    from export.tensorrt_engine import parse_capabilities

    assert parse_capabilities("8.6, 8.9") == ("8.6", "8.9") and parse_capabilities("CURRENT") == ("current",)
    for bad in ("", "sm89", "8.9,current", "89"):
        with pytest.raises(BadInput, match="compute capabilities"):
            parse_capabilities(bad)


# ---- the runtime, as far as a machine without a driver goes ---------------------------------------------------------

def _with_target(plan: Path, tmp_path: Path, **change: object) -> Path:
    """A copy of a real engine whose sidecar says it was built by another version or for other GPUs."""
    side = read_sidecar(plan)
    copy = tmp_path / plan.name
    copy.write_bytes(plan.read_bytes())
    write_sidecar(copy, EngineSidecar(**{**side.__dict__, "target": GpuTarget(**{**side.target.__dict__, **change})}))
    return copy


def test_an_engine_from_another_version_is_refused_in_one_line_before_the_driver_is_needed(engines, tmp_path):
    from stargan_rt.backends.tensorrt_backend import TensorrtRunner

    plan = _with_target(engines[0] / "generator_fp16.plan", tmp_path, version="1.6.0.10")
    with pytest.raises(BadModel) as err:
        TensorrtRunner(plan)
    assert re.fullmatch(rf"this engine was built with TensorRT for RTX 1\.6\.0\.10 \(this machine has TensorRT for RTX "
                        rf"{re.escape(tensorrt_rtx.__version__)}\); rebuild it: .*--rebuild", str(err.value)), err.value


def test_an_engine_for_other_gpus_is_refused_in_one_line(engines, monkeypatch):
    """The GPU check, with the driver's answer stood in for (an H200: compute capability 9.0, not in the list)."""
    from stargan_rt.backends import tensorrt_backend

    here = GpuTarget("tensorrt-rtx", tensorrt_rtx.__version__, ("9.0",), "NVIDIA H200")
    monkeypatch.setattr(tensorrt_backend, "load_pycuda", lambda: None)
    monkeypatch.setattr(tensorrt_backend, "current_target", lambda device_id, product: here)
    with pytest.raises(BadModel) as err:
        tensorrt_backend.TensorrtRunner(engines[0] / "generator_frames_fp16.plan")
    assert "built for GPU compute capability 8.0, 8.6, 8.9, 12.0, 12.1; this machine has NVIDIA H200 (9.0)" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.fixture
def face(tmp_path: Path) -> Path:
    import cv2
    import numpy as np

    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 120, np.uint8))
    return path


def test_without_a_driver_the_runner_stops_at_pycuda_in_one_line(engines, face, tmp_path):
    """The real pycuda module is imported and cannot load libcuda.so.1: the user gets that, in one line."""
    if find_spec("pycuda") is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs pycuda (make setup-test builds it with export/build_pycuda.sh)", pytrace=False)
        pytest.skip("pycuda is not installed (bash export/build_pycuda.sh)")
    if Path("/dev/nvidia0").exists():
        pytest.skip("this machine has an NVIDIA driver")
    from stargan_rt.backends import backends

    ok, why = backends()["tensorrt"].available()
    assert not ok and "needs the NVIDIA driver" in why and "libcuda.so.1" in why
    with pytest.raises(MissingDependency, match="no CUDA driver"):
        from stargan_rt.backends.tensorrt_backend import TensorrtRunner

        TensorrtRunner(engines[0] / "generator_fp16.plan")
    r = stargan_rt("translate", face, "-d", "none", "-t", "Male", "-m", engines[0] / "generator_fp16.plan", "-o", tmp_path / "o")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "NVIDIA driver" in r.stderr and "Traceback" not in r.stderr
