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

ARTIFACT_KINDS = ("bundle", "onnx", "frames_onnx", "int8_onnx", "openvino_ir", "plan")
# How far each backend may be from the FP32 PyTorch reference, on [-1, 1] outputs (tiny random model).
TOLERANCE = {"torch-cpu-bf16": 0.08, "torch-cuda": 0.02, "ort-tensorrt": 0.02, "tensorrt": 0.02}
BF16 = 0.08  # a runner that reports bf16 layers (ov-cpu with precision="bf16", or an INT8 model's float layers)
# Settings every backend's cases also run with, beyond its defaults (ov-cpu: float layers in bf16 on request).
OPTIONS = {"ov-cpu": ({"precision": "bf16"},)}
# INT8 artifacts are compared with onnxruntime CPU on the same QDQ graph (exact QDQ arithmetic), not with FP32.
INT8_REFERENCE = {"int8_onnx": "int8_onnx", "openvino_ir": "openvino_ir_qdq"}
INT8_BF16_MAX, INT8_BF16_MEAN = 0.25, 0.04  # see _expected


def _make_probes() -> dict[str, Path]:
    """Empty stand-ins named like each artifact kind, so the registry's `accepts` can be asked at collection."""
    d = Path(tempfile.mkdtemp(prefix="stargan-rt-probes-"))
    atexit.register(shutil.rmtree, d, True)
    (d / "bundle").mkdir()
    (d / "bundle" / "model.json").write_text("{}")
    for name in ("g.onnx", "g_int8.onnx", "g.xml", "g.plan"):
        (d / name).write_bytes(b"")
    return {"bundle": d / "bundle", "onnx": d / "g.onnx", "frames_onnx": d / "g.onnx", "int8_onnx": d / "g_int8.onnx",
            "openvino_ir": d / "g.xml", "plan": d / "g.plan"}


def _cases():
    """(backend, artifact kind, options): every registered backend with every test artifact it can load, at its
    default settings and at each of its OPTIONS."""
    probes = _make_probes()
    for name, info in backends().items():
        for kind in ARTIFACT_KINDS:
            if info.accepts(probes[kind]):
                for opts in ({}, *OPTIONS.get(name, ())):
                    tag = "".join(f"[{k}={v}]" for k, v in opts.items())
                    yield pytest.param(name, kind, opts, id=f"{name}{tag}-{kind}")


def test_every_planned_backend_is_registered():
    assert {"tensorrt", "ort-tensorrt", "ort-cuda", "ort-cpu", "ov-cpu", "torch-cuda", "torch-cpu-bf16", "torch-cpu"} <= set(backends())


def test_priorities_follow_the_documented_order():
    order = list(backends())  # highest priority first, for float artifacts
    assert order.index("tensorrt") < order.index("ort-tensorrt") < order.index("torch-cuda") < order.index("ort-cuda")
    assert order.index("ort-cuda") < order.index("torch-cpu-bf16") < order.index("ov-cpu") < order.index("ort-cpu")
    assert order.index("ort-cpu") < order.index("torch-cpu")


def test_an_int8_artifact_ranks_openvino_first_on_the_cpu(tmp_path):
    info = backends()
    int8 = tmp_path / "generator_int8.onnx"
    assert info["ov-cpu"].priority_for(int8) > info["ort-cpu"].priority_for(int8) > info["torch-cpu-bf16"].priority
    assert info["ov-cpu"].priority_for(tmp_path / "generator_int8_ov.xml") > info["ov-cpu"].priority_for(tmp_path / "generator.onnx")


@pytest.fixture(scope="module")
def reference(tiny_bundle):
    """FP32 PyTorch outputs for a fixed batch of 3 (images, frames, labels)."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    x = rng.uniform(-1, 1, (3, 3, SIZE, SIZE)).astype(np.float32)
    c = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 0.5, 1]], np.float32)
    with open_model(tiny_bundle, "torch-cpu") as ref:
        return {"x": x, "frames": frames, "c": c, "y": ref.infer(x, c), "yf": ref.infer_frames(frames, c)}


def _open(name, kind, request, opts=None):
    info = backends()[name]
    ok, why = info.available()
    if not ok:
        pytest.skip(f"{name} not available here: {why}")
    if kind == "plan":  # reached only where the TensorRT backend runs: a GPU, its driver and pycuda
        return open_model(_engine(request.getfixturevalue("tiny_models")["onnx"], request.getfixturevalue("tmp_path")), name)
    if kind == "bundle":
        return open_model(request.getfixturevalue("tiny_bundle"), name, **(opts or {}))
    return open_model(request.getfixturevalue("tiny_models")[kind], name, **(opts or {}))


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


def _expected(runner, kind, request, reference):
    """(float output, frames output, max abs error on [-1, 1], mean abs error or None) this runner must match."""
    if kind in INT8_REFERENCE:
        with open_model(request.getfixturevalue("tiny_models")[INT8_REFERENCE[kind]], "ort-cpu") as exact:
            y, yf = exact.infer(reference["x"], reference["c"]), exact.infer_frames(reference["frames"], reference["c"])
    else:
        y, yf = reference["y"], reference["yf"]
    # A runner that reports its float layers as fp32 must give fp32 results: its precision report is checked here.
    bf16 = "bf16" in str(getattr(runner, "precision", ""))
    if bf16 and kind in INT8_REFERENCE:
        # bf16 layers between INT8 ones: a bf16 rounding can move a value across a quantization step of the next
        # layer (the tiny model's steps are coarse), so a few values are off by a step; on average they agree.
        return y, yf, INT8_BF16_MAX, INT8_BF16_MEAN
    return y, yf, BF16 if bf16 else TOLERANCE.get(runner.name, 1e-4), None


def _assert_close(actual, want, max_abs, mean_abs=None):
    d = np.abs(actual.astype(np.float64) - want.astype(np.float64))
    assert d.max() <= max_abs and (mean_abs is None or d.mean() <= mean_abs), (
        f"max abs error {d.max():.4g} (allowed {max_abs:g}), mean {d.mean():.4g} (allowed {mean_abs})")


@pytest.mark.parametrize("name,kind,opts", list(_cases()))
def test_infer_float_contract(name, kind, opts, request, reference):
    with _open(name, kind, request, opts) as runner:
        y = runner.infer(reference["x"], reference["c"])
        assert y.shape == (3, 3, SIZE, SIZE) and y.dtype == np.float32
        assert -1.0 <= y.min() and y.max() <= 1.0
        want, _, max_abs, mean_abs = _expected(runner, kind, request, reference)
        # A frames model quantises the input to uint8 (the network amplifies that a little) and the output too.
        _assert_close(y, want, max_abs + (0.05 if kind == "frames_onnx" else 0.0), mean_abs)
        assert runner.describe().startswith(name)


@pytest.mark.parametrize("name,kind,opts", list(_cases()))
def test_infer_frames_contract(name, kind, opts, request, reference):
    with _open(name, kind, request, opts) as runner:
        out = runner.infer_frames(reference["frames"], reference["c"])
        assert out.shape == (3, SIZE, SIZE, 3) and out.dtype == np.uint8
        _, want, max_abs, mean_abs = _expected(runner, kind, request, reference)
        grey = lambda tol: 1 if tol <= 1e-4 else 255 * tol / 2 + 1  # noqa: E731 - [-1, 1] error in grey levels
        _assert_close(out, want, grey(max_abs), None if mean_abs is None else 255 * mean_abs / 2)
        # the batch is not mixed up: each image's output depends on its own label
        single = runner.infer_frames(reference["frames"][2:3], reference["c"][2:3])
        assert np.abs(single.astype(int) - out[2:3].astype(int)).max() <= 1


@pytest.mark.parametrize("name,kind,opts", list(_cases()))
def test_bad_shapes_and_dtypes_are_rejected_with_bad_input(name, kind, opts, request, reference):
    x, c, frames = reference["x"], reference["c"], reference["frames"]
    with _open(name, kind, request, opts) as runner:
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


@pytest.mark.parametrize("name,kind,opts", list(_cases()))
def test_context_manager_closes_the_runner(name, kind, opts, request, reference):
    with _open(name, kind, request, opts) as runner:
        runner.infer_frames(reference["frames"][:1], reference["c"][:1])
    with pytest.raises(RuntimeError, match="closed"):
        runner.infer_frames(reference["frames"][:1], reference["c"][:1])


def test_auto_without_probing_takes_the_static_order_and_says_why(tiny_models):
    for kind in ("bundle", "onnx"):
        info, artifact, reason = choose_backend(tiny_models[kind], probe=False)
        available = [
            n for n, i in backends().items() if i.accepts(tiny_models[kind]) and i.available()[0]
        ]
        assert info.name == available[0]  # backends() is ordered by priority
        assert reason.startswith(f"auto: {info.name}") and "probing is off" in reason
        with open_model(tiny_models[kind], probe=False) as runner:
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
    import dataclasses

    import stargan_rt.backends.onnxruntime_backend as ort_backend
    import stargan_rt.backends.torch_backend as torch_backend
    from stargan_rt.backends.base import REGISTRY

    # bf16 autocast is 1.75x and INT8 2.5x faster than FP32 on the AVX-512 CPU without AMX; with AMX bf16 wins.
    monkeypatch.setattr(ort_backend, "cpu_has", lambda *names: amx)
    monkeypatch.setattr(torch_backend, "cpu_has", lambda *names: True)
    d = tmp_path / "default"
    shutil.copytree(tiny_models["bundle"], d)
    shutil.copy(tiny_models["onnx"], d / "generator_int8.onnx")
    if backends()["ov-cpu"].available()[0]:  # OpenVINO INT8 outranks both, AMX or not
        assert choose_backend(d, probe=False)[:2] == (backends()["ov-cpu"], d / "generator_int8.onnx")
    monkeypatch.setitem(REGISTRY, "ov-cpu", dataclasses.replace(REGISTRY["ov-cpu"], available=lambda: (False, "hidden")))
    info, artifact, reason = choose_backend(d, probe=False)
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
    if backends()["ov-cpu"].available()[0]:
        with pytest.raises(BadModel, match="OpenVINO cannot load it") as err:
            open_model(corrupt, "ov-cpu")
        assert "\n" not in str(err.value)
        xml = tmp_path / "no_weights.xml"
        shutil.copy(tiny_models["openvino_ir"], xml)  # an IR whose .bin is missing
        with pytest.raises(BadModel, match="OpenVINO cannot load it"):
            open_model(xml, "ov-cpu")


def test_onnx_without_stargan_metadata_is_refused(tiny_models, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(tiny_models["onnx"]))
    del model.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(model, str(plain))
    for backend in ("ort-cpu", "ov-cpu"):
        if backends()[backend].available()[0]:
            with pytest.raises(BadModel, match="no 'stargan_rt' metadata"):
                open_model(plain, backend)


def test_options_reach_the_backend_and_unknown_options_are_refused(tiny_models):
    with open_model(tiny_models["onnx"], "ort-cpu", threads=1) as runner:
        assert runner.session.get_session_options().intra_op_num_threads == 1
    with pytest.raises(BadInput, match="takes no option"):
        open_model(tiny_models["onnx"], "ort-cpu", fp16=True)
    if backends()["ov-cpu"].available()[0]:
        with open_model(tiny_models["onnx"], "ov-cpu", threads=1) as runner:
            assert runner.threads == 1 and "1 threads" in runner.describe()
        with pytest.raises(BadInput, match="precision must be one of f32, bf16"):
            open_model(tiny_models["onnx"], "ov-cpu", precision="fp16")


def test_openvino_reports_the_precision_it_runs(tiny_models, reference):
    """OpenVINO runs float layers in bf16 on bf16 CPUs unless told: what it reports must be what it ran."""
    from stargan_rt.backends._cpu import cpu_has

    if not backends()["ov-cpu"].available()[0]:
        pytest.skip("OpenVINO is not installed")
    x, c = reference["x"], reference["c"]
    with open_model(tiny_models["onnx"], "ov-cpu") as f32, open_model(tiny_models["onnx"], "ov-cpu", precision="bf16") as bf16:
        assert f32.precision == "fp32" and "fp32" in f32.describe()
        np.testing.assert_allclose(f32.infer(x, c), reference["y"], atol=1e-4)
        if not cpu_has("avx512_bf16", "amx_bf16"):
            assert bf16.precision == "fp32" and "asked for bf16 but this CPU runs fp32" in bf16.describe()
            return
        assert bf16.precision == "bf16" and "fp32" not in bf16.describe()
        assert np.abs(bf16.infer(x, c) - reference["y"]).max() > 1e-3  # really ran in bf16
    with open_model(tiny_models["int8_onnx"], "ov-cpu") as int8, open_model(tiny_models["openvino_ir"], "ov-cpu") as ir:
        # the tiny model has 8 convolutions; the INT8 ONNX leaves the first and both ConvTranspose in float,
        # the IR quantizes ConvTranspose too
        assert int8.precision == "int8 (5 of 8 convolutions; other layers bf16)"
        assert ir.precision == "int8 (7 of 8 convolutions; other layers bf16)"


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
