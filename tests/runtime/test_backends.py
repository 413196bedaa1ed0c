"""Every registered backend passes the same contract (Polygraphy's lesson: an untested backend drifts).

Backends that cannot run here (TensorRT, the CUDA ones) are listed and skipped with the reason their
`available()` gives; on a GPU machine the same tests run them (see benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from stargan_rt.backends import backends, candidate_artifacts, choose_backend, open_model
from stargan_rt.errors import BadInput, BadModel, MissingDependency

from .conftest import SIZE

ARTIFACT_KINDS = ("bundle", "onnx", "frames_onnx", "plan")
# How far each backend may be from the FP32 PyTorch reference, on [-1, 1] outputs (tiny random model).
TOLERANCE = {"torch-cpu-bf16": 0.08, "torch-cuda": 0.02, "ort-tensorrt": 0.02, "tensorrt": 0.02}


def _make_probes() -> dict[str, Path]:
    """Empty stand-ins named like each artifact kind, so the registry's `accepts` can be asked at collection."""
    d = Path(tempfile.mkdtemp(prefix="stargan-rt-probes-"))
    atexit.register(shutil.rmtree, d, True)
    (d / "bundle").mkdir()
    (d / "bundle" / "model.json").write_text("{}")
    for name in ("g.onnx", "g.plan"):
        (d / name).write_bytes(b"")
    return {"bundle": d / "bundle", "onnx": d / "g.onnx", "frames_onnx": d / "g.onnx", "plan": d / "g.plan"}


def _cases():
    """(backend, artifact kind) pairs: every registered backend with every test artifact it can load."""
    probes = _make_probes()
    for name, info in backends().items():
        for kind in ARTIFACT_KINDS:
            if info.accepts(probes[kind]):
                yield pytest.param(name, kind, id=f"{name}-{kind}")


def test_every_planned_backend_is_registered():
    assert {"tensorrt", "ort-tensorrt", "ort-cuda", "ort-cpu", "torch-cuda", "torch-cpu-bf16", "torch-cpu"} <= set(backends())


def test_priorities_follow_the_documented_order():
    order = list(backends())  # highest priority first
    assert order.index("tensorrt") < order.index("ort-tensorrt") < order.index("torch-cuda") < order.index("ort-cuda")
    assert order.index("ort-cuda") < order.index("torch-cpu-bf16") < order.index("ort-cpu") < order.index("torch-cpu")


@pytest.fixture(scope="module")
def reference(tiny_bundle):
    """FP32 PyTorch outputs for a fixed batch of 3 (images, frames, labels)."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    x = rng.uniform(-1, 1, (3, 3, SIZE, SIZE)).astype(np.float32)
    c = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 0.5, 1]], np.float32)
    with open_model(tiny_bundle, "torch-cpu") as ref:
        return {"x": x, "frames": frames, "c": c, "y": ref.infer(x, c), "yf": ref.infer_frames(frames, c)}


def _open(name, kind, request):
    info = backends()[name]
    ok, why = info.available()
    if not ok:
        pytest.skip(f"{name} not available here: {why}")
    if kind == "plan":  # reached only where the TensorRT backend runs: a GPU, its driver and pycuda
        return open_model(_engine(request.getfixturevalue("tiny_models")["onnx"], request.getfixturevalue("tmp_path")), name)
    if kind == "bundle":
        return open_model(request.getfixturevalue("tiny_bundle"), name)
    return open_model(request.getfixturevalue("tiny_models")[kind], name)


def _engine(onnx_path: Path, folder: Path) -> Path:
    """An FP16 engine of the tiny model for this GPU (TensorRT, or TensorRT for RTX with CURRENT), batch 1..8."""
    import onnx

    from export.fp16 import float_to_fp16
    from export.metadata import get_metadata
    from export.tensorrt_engine import build_engine, builds_from_fp16_onnx
    from stargan_rt.engine_meta import BatchProfile, write_sidecar

    model = onnx.load(str(onnx_path))
    source = onnx_path
    if builds_from_fp16_onnx():
        source = folder / "generator_fp16.onnx"
        onnx.save(float_to_fp16(model), str(source))
    built = build_engine(source, get_metadata(model)[0], BatchProfile(1, 3, 8), folder / "cache", capabilities=("current",),
                         log=lambda _: None)
    plan = folder / "generator_fp16.plan"
    plan.write_bytes(built.plan)
    write_sidecar(plan, built.sidecar)
    return plan


@pytest.mark.parametrize("name,kind", list(_cases()))
def test_infer_float_contract(name, kind, request, reference):
    with _open(name, kind, request) as runner:
        y = runner.infer(reference["x"], reference["c"])
        assert y.shape == (3, 3, SIZE, SIZE) and y.dtype == np.float32
        assert -1.0 <= y.min() and y.max() <= 1.0
        # A frames model quantises the input to uint8 (the network amplifies that a little) and the output too.
        tol = TOLERANCE.get(name, 1e-4) + (0.05 if kind == "frames_onnx" else 0.0)
        np.testing.assert_allclose(y, reference["y"], atol=tol)
        assert runner.describe().startswith(name)


@pytest.mark.parametrize("name,kind", list(_cases()))
def test_infer_frames_contract(name, kind, request, reference):
    with _open(name, kind, request) as runner:
        out = runner.infer_frames(reference["frames"], reference["c"])
        assert out.shape == (3, SIZE, SIZE, 3) and out.dtype == np.uint8
        diff = np.abs(out.astype(int) - reference["yf"].astype(int))
        assert diff.max() <= (1 if TOLERANCE.get(name, 0) == 0 else 255 * TOLERANCE[name] / 2 + 1)
        # the batch is not mixed up: each image's output depends on its own label
        single = runner.infer_frames(reference["frames"][2:3], reference["c"][2:3])
        assert np.abs(single.astype(int) - out[2:3].astype(int)).max() <= 1


@pytest.mark.parametrize("name,kind", list(_cases()))
def test_bad_shapes_and_dtypes_are_rejected_with_bad_input(name, kind, request, reference):
    x, c, frames = reference["x"], reference["c"], reference["frames"]
    with _open(name, kind, request) as runner:
        bad_calls = [
            lambda: runner.infer(x[:, :, :8, :8], c),  # wrong size
            lambda: runner.infer(x[:, :2], c),  # wrong channels
            lambda: runner.infer(x[0], c[:1]),  # no batch dimension
            lambda: runner.infer(x, c[:2]),  # batch mismatch
            lambda: runner.infer(x, c[:, :4]),  # wrong label width
            lambda: runner.infer(frames.transpose(0, 3, 1, 2), c),  # uint8 into the float API
            lambda: runner.infer_frames(frames.astype(np.float32), c),  # float into the frames API
            lambda: runner.infer_frames(frames[:, :8, :8], c),
            lambda: runner.infer_frames(frames[..., :1], c),
            lambda: runner.infer_frames(frames[:0], c[:0]),  # empty batch
        ]
        for call in bad_calls:
            with pytest.raises(BadInput):
                call()


@pytest.mark.parametrize("name,kind", list(_cases()))
def test_context_manager_closes_the_runner(name, kind, request, reference):
    with _open(name, kind, request) as runner:
        runner.infer_frames(reference["frames"][:1], reference["c"][:1])
    with pytest.raises(RuntimeError, match="closed"):
        runner.infer_frames(reference["frames"][:1], reference["c"][:1])


def test_auto_picks_the_fastest_available_backend_and_says_why(tiny_models):
    for kind in ("bundle", "onnx"):
        info, artifact, reason = choose_backend(tiny_models[kind])
        available = [
            n for n, i in backends().items() if i.accepts(tiny_models[kind]) and i.available()[0]
        ]
        assert info.name == available[0]  # backends() is ordered by priority
        assert reason.startswith(f"auto: {info.name}")
        with open_model(tiny_models[kind]) as runner:
            assert runner.name == info.name and runner.reason == reason


def test_a_directory_offers_every_artifact_inside(tiny_models, tmp_path):
    d = tmp_path / "export"
    shutil.copytree(tiny_models["bundle"], d)
    shutil.copy(tiny_models["onnx"], d / "generator.onnx")
    assert candidate_artifacts(d) == [d, d / "generator.onnx"]
    with open_model(d, "ort-cpu") as runner:
        assert runner.path == d / "generator.onnx"


def test_reduced_precision_onnx_is_a_candidate_only_where_no_full_precision_one_is(tiny_models, tmp_path):
    d = tmp_path / "export"
    shutil.copytree(tiny_models["bundle"], d)
    shutil.copy(tiny_models["onnx"], d / "generator_int8.onnx")  # the name is what ranks it; contents don't matter here
    assert candidate_artifacts(d) == [d, d / "generator_int8.onnx"]  # the embedded default's layout
    shutil.copy(tiny_models["onnx"], d / "generator.onnx")
    assert candidate_artifacts(d) == [d, d / "generator.onnx"]  # an export folder opens at full precision


@pytest.mark.parametrize("amx, expected", [(False, "ort-cpu"), (True, "torch-cpu-bf16")])
def test_an_int8_onnx_outranks_torch_bf16_on_cpus_without_amx(tiny_models, tmp_path, monkeypatch, amx, expected):
    import stargan_rt.backends.onnxruntime_backend as ort_backend
    import stargan_rt.backends.torch_backend as torch_backend

    # bf16 autocast is 1.75x and INT8 2.5x faster than FP32 on the AVX-512 CPU without AMX; with AMX bf16 wins.
    monkeypatch.setattr(ort_backend, "cpu_has", lambda *names: amx)
    monkeypatch.setattr(torch_backend, "cpu_has", lambda *names: True)
    d = tmp_path / "default"
    shutil.copytree(tiny_models["bundle"], d)
    shutil.copy(tiny_models["onnx"], d / "generator_int8.onnx")
    info, artifact, reason = choose_backend(d)
    assert (info.name, artifact) == (expected, d / "generator_int8.onnx" if expected == "ort-cpu" else d)
    assert reason.startswith(f"auto: {expected}")


def test_unknown_backend_missing_model_and_corrupt_onnx_fail_with_one_clear_line(tiny_models, tmp_path):
    with pytest.raises(BadInput, match="unknown backend 'fastest'"):
        open_model(tiny_models["onnx"], "fastest")
    with pytest.raises(BadModel, match="no such model"):
        open_model(tmp_path / "nothing.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(tiny_models["onnx"].read_bytes()[:300])  # truncated
    with pytest.raises(BadModel, match="onnxruntime cannot load it") as err:
        open_model(corrupt, "ort-cpu")
    assert "\n" not in str(err.value)
    with pytest.raises(BadModel, match="cannot load"):
        open_model(tiny_models["bundle"], "ort-cpu")  # a bundle is not an ONNX


def test_onnx_without_stargan_metadata_is_refused(tiny_models, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(tiny_models["onnx"]))
    del model.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(model, str(plain))
    with pytest.raises(BadModel, match="no 'stargan_rt' metadata"):
        open_model(plain, "ort-cpu")


def test_options_reach_the_backend_and_unknown_options_are_refused(tiny_models):
    with open_model(tiny_models["onnx"], "ort-cpu", threads=1) as runner:
        assert runner.session.get_session_options().intra_op_num_threads == 1
    with pytest.raises(BadInput, match="takes no option"):
        open_model(tiny_models["onnx"], "ort-cpu", fp16=True)


def _write_plan_with_sidecar(tmp_path, meta, gpu="NVIDIA H100 80GB HBM3", cc="9.0", trt="10.13.0.35"):
    plan = tmp_path / "generator_fp16.plan"
    plan.write_bytes(b"not a real engine")
    side = {
        "tensorrt_version": trt, "gpu_name": gpu, "compute_capability": cc, "profile": {"min": 1, "opt": 1, "max": 8},
        "onnx_sha256": "0" * 64, "onnx": "generator_fp16.onnx", "precision": "fp16", "strongly_typed": True,
        "stargan_rt": meta.to_dict(),
    }
    (tmp_path / "generator_fp16.plan.json").write_text(json.dumps(side))
    return plan


def test_engine_for_another_gpu_is_refused_before_deserializing(tmp_path, monkeypatch):
    from stargan_rt.backends import tensorrt_backend
    from stargan_rt.engine_meta import GpuTarget

    from .conftest import tiny_meta

    plan = _write_plan_with_sidecar(tmp_path, tiny_meta())
    here = GpuTarget("tensorrt", "10.13.0.35", ("8.9",), "NVIDIA GeForce RTX 4090")
    # as if TensorRT 10.13.0.35, pycuda and a driver were here (tests/export/test_tensorrt_rtx.py: a real engine)
    monkeypatch.setattr(tensorrt_backend.engine_meta, "engine_product", lambda sidecar: None)
    monkeypatch.setattr(tensorrt_backend, "load_pycuda", lambda: None)
    monkeypatch.setattr(tensorrt_backend, "current_target", lambda device_id, product: here)
    with pytest.raises(BadModel, match="built for GPU NVIDIA H100.*RTX 4090.*rebuild") as err:
        tensorrt_backend.TensorrtRunner(plan)
    assert "\n" not in str(err.value)


def test_engine_without_tensorrt_says_what_is_missing(tmp_path):
    from .conftest import tiny_meta

    plan = _write_plan_with_sidecar(tmp_path, tiny_meta())
    ok, why = backends()["tensorrt"].available()
    if ok:
        pytest.skip("TensorRT is installed here")
    with pytest.raises((BadModel, MissingDependency), match="TensorRT"):
        open_model(plan)
