"""The TensorRT engine builder's datacenter path: type-checked against tensorrt-stubs, its logic (timing cache, the
FP16 flag of older versions, engine reuse) run against a recording stand-in, and a real build where TensorRT exists
(it cannot be installed on this project's machines). The same builder runs for real with TensorRT for RTX in
test_tensorrt_rtx.py."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from types import SimpleNamespace

import onnx
import pytest

from conftest import tiny_meta
from stargan_rt._optional import available
from stargan_rt.engine_meta import BatchProfile, GpuTarget, read_sidecar
from stargan_rt.errors import BadInput, BadModel, MissingDependency

ROOT = Path(__file__).resolve().parents[2]
TENSORRT_FILES = ["export/tensorrt_engine.py", "export/ort_tensorrt.py", "stargan_rt/engine_meta.py", "stargan_rt/backends/tensorrt_backend.py"]


# ---- static check against the stubs ---------------------------------------------------------------------------

def _stubs_dir(tmp: Path) -> Path:
    """tensorrt-stubs, made readable by mypy: it installs `tensorrt/*.pyi` without a py.typed marker (so mypy would
    silently ignore it) and its 10.13 stubs contain syntax errors (parameters named `in`, one non-default
    parameter after defaults). A fixed copy goes on MYPYPATH; errors inside the stubs themselves are ignored.
    Imported .py modules (torch...) are skipped to keep the check fast: stubs are always followed."""
    site = Path(sysconfig.get_paths()["purelib"])
    for pkg in ("tensorrt", "tensorrt_bindings"):
        for f in (site / pkg).rglob("*.pyi"):
            text = re.sub(r"\bin: ", "in_: ", f.read_text())
            text = re.sub(r"(= None, channel_axis: int)\)", r"\1 = ...)", text)
            dst = tmp / "stubs" / f.relative_to(site)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(text)
    (tmp / "mypy.ini").write_text(
        "[mypy]\npython_version = 3.11\nignore_missing_imports = True\nfollow_imports = skip\n"
        "[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]\nignore_errors = True\n"
    )
    return tmp


def _mypy(tmp: Path, *files: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(tmp / "mypy.ini"), "--cache-dir", str(tmp / "cache"), *map(str, files)],
        cwd=ROOT, capture_output=True, text=True, env={"MYPYPATH": str(tmp / "stubs"), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        distribution("tensorrt-stubs")
    except PackageNotFoundError:
        pytest.skip("tensorrt-stubs is not installed (pip install --no-deps tensorrt-stubs)")
    pytest.importorskip("mypy")
    return _stubs_dir(tmp_path_factory.mktemp("mypy"))


@pytest.mark.slow
def test_tensorrt_code_type_checks_against_tensorrt_stubs(stubs):
    r = _mypy(stubs, *TENSORRT_FILES)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_type_check_sees_the_tensorrt_api(stubs):
    """Without this, a mypy run that silently treats tensorrt as Any would pass anything."""
    wrong = stubs / "wrong_use.py"
    wrong.write_text(
        "import tensorrt as trt\n"
        "def f(config: trt.IBuilderConfig, profile: trt.IOptimizationProfile, t: trt.ITensor) -> None:\n"
        "    config.set_memory_pool_limit(1 << 30)\n"
        "    profile.set_shape(t, (1, 3), (1, 3), (1, 3))\n"
    )
    r = _mypy(stubs, wrong)
    assert r.returncode == 1
    assert "set_memory_pool_limit" in r.stdout and "set_shape" in r.stdout


# ---- the builder's logic against a recording stand-in for TensorRT --------------------------------------------------

class FakeTensorRT:
    """Records what the builder asks of TensorRT; the network's inputs come from the ONNX file."""

    class NetworkDefinitionCreationFlag:
        STRONGLY_TYPED = 1

    BuilderFlag = SimpleNamespace(FP16="FP16")
    MemoryPoolType = SimpleNamespace(WORKSPACE="WORKSPACE")

    class Logger:
        WARNING = "warning"

        def __init__(self, severity: str) -> None:
            pass

    def __init__(self, version: str, plan: bytes | None = b"PLAN") -> None:
        self.__version__ = version
        self.calls: list[tuple] = []
        fake = self

        class Dims(list):
            pass

        class Network:
            def __init__(self, flags: int) -> None:
                self.inputs: list[SimpleNamespace] = []
                fake.calls.append(("create_network", flags))

            @property
            def num_inputs(self) -> int:
                return len(self.inputs)

            def get_input(self, i: int) -> SimpleNamespace:
                return self.inputs[i]

        class OnnxParser:
            num_errors = 0

            def __init__(self, network: Network, logger: object) -> None:
                self.network = network

            def parse(self, data: bytes, path: str) -> bool:
                model = onnx.load_from_string(data)
                self.network.inputs = [SimpleNamespace(name=i.name, shape=[d.dim_value or -1 for d in i.type.tensor_type.shape.dim])
                                       for i in model.graph.input]
                fake.calls.append(("parse", Path(path).name, [n.op_type for n in model.graph.node].count("Cast") > 0))
                return True

        class Cache:
            def __init__(self, data: bytes) -> None:
                self.data = data

            def serialize(self) -> bytes:
                return self.data + b"+"

        class Config:
            def set_memory_pool_limit(self, pool: str, size: int) -> None:
                fake.calls.append(("workspace", pool, size))

            def set_flag(self, flag: str) -> None:
                fake.calls.append(("set_flag", flag))

            def add_optimization_profile(self, profile: dict) -> None:
                fake.calls.append(("profile", profile))

            def create_timing_cache(self, data: bytes) -> Cache:
                fake.calls.append(("timing_cache_in", bytes(data)))
                self.cache = Cache(bytes(data))
                return self.cache

            def set_timing_cache(self, cache: Cache, ignore_mismatch: bool) -> bool:
                return cache is self.cache and ignore_mismatch is False

            def get_timing_cache(self) -> Cache:
                return self.cache

        class Profile(dict):
            def set_shape(self, name: str, lo: Dims, opt: Dims, hi: Dims) -> None:
                self[name] = (list(lo), list(opt), list(hi))

        class Builder:
            def __init__(self, logger: object) -> None:
                pass

            create_network = staticmethod(Network)
            create_builder_config = staticmethod(Config)
            create_optimization_profile = staticmethod(Profile)

            def build_serialized_network(self, network: Network, config: Config) -> bytes | None:
                return plan

        self.Dims, self.OnnxParser, self.Builder = Dims, OnnxParser, Builder


@pytest.fixture
def fake_trt(monkeypatch):
    def install(version: str, plan: bytes | None = b"PLAN") -> FakeTensorRT:
        import export.tensorrt_engine as te
        import stargan_rt.engine_meta as em

        fake = FakeTensorRT(version, plan)
        monkeypatch.setitem(sys.modules, "tensorrt", fake)
        monkeypatch.setattr(te, "gpu_identity", lambda device=0: ("Fake GPU 80GB", "9.0"))
        monkeypatch.setattr(em, "gpu_identity", lambda device=0: ("Fake GPU 80GB", "9.0"))
        return fake

    return install


def test_tensorrt_10_12_and_later_builds_a_strongly_typed_network_from_the_fp16_onnx(fake_trt, exported, tmp_path):
    from export.tensorrt_engine import build_engine

    trt = fake_trt("10.13.0.35")
    build = build_engine(exported[0] / "generator_fp16.onnx", tiny_meta(), BatchProfile(1, 2, 4), tmp_path)
    assert ("create_network", 1 << 1) in trt.calls
    assert ("parse", "generator_fp16.onnx", True) in trt.calls  # the FP16 ONNX with its Casts around InstanceNorm
    assert not [c for c in trt.calls if c[0] == "set_flag"]  # strong typing: precision comes from the ONNX
    profile = next(c[1] for c in trt.calls if c[0] == "profile")
    assert profile == {"image": ([1, 3, 32, 32], [2, 3, 32, 32], [4, 3, 32, 32]), "label": ([1, 5], [2, 5], [4, 5])}
    assert build.plan == b"PLAN" and build.sidecar.strongly_typed and build.sidecar.precision == "fp16"
    assert build.sidecar.target == GpuTarget("tensorrt", "10.13.0.35", ("9.0",), "Fake GPU 80GB")
    assert build.sidecar.profile == BatchProfile(1, 2, 4)


def test_older_tensorrt_10_sets_the_fp16_flag_never_a_silent_fp32_engine(fake_trt, exported, tmp_path):
    from export.tensorrt_engine import build_engine, uses_strong_typing

    trt = fake_trt("10.8.0.43")
    assert not uses_strong_typing("10.8.0.43") and uses_strong_typing("10.12.0") and uses_strong_typing("11.0.1")
    build_engine(exported[0] / "generator.onnx", tiny_meta(), BatchProfile(1, 1, 8), tmp_path)
    assert ("create_network", 0) in trt.calls and ("set_flag", "FP16") in trt.calls


def test_tensorrt_older_than_10_is_refused(fake_trt, exported, tmp_path):
    from export.tensorrt_engine import build_engine

    fake_trt("8.6.1")
    with pytest.raises(MissingDependency, match="TensorRT 10"):
        build_engine(exported[0] / "generator.onnx", tiny_meta(), BatchProfile(1, 1, 8), tmp_path)


def test_the_timing_cache_persists_between_builds(fake_trt, exported, tmp_path):
    from export.tensorrt_engine import build_engine

    trt = fake_trt("10.13.0.35")
    for _ in range(2):
        build_engine(exported[0] / "generator_fp16.onnx", tiny_meta(), BatchProfile(1, 1, 8), tmp_path)
    caches = [c[1] for c in trt.calls if c[0] == "timing_cache_in"]
    assert caches == [b"", b"+"]  # the second build starts from what the first one saved
    (saved,) = tmp_path.glob("timing-trt10.13.0.35-Fake-GPU-80GB-sm9.0.cache")
    assert saved.read_bytes() == b"++"


def test_a_failed_build_is_an_error(fake_trt, exported, tmp_path):
    from export.tensorrt_engine import build_engine

    fake_trt("10.13.0.35", plan=None)
    with pytest.raises(BadModel, match="could not build"):
        build_engine(exported[0] / "generator_fp16.onnx", tiny_meta(), BatchProfile(1, 1, 8), tmp_path)


def test_tensorrt_builds_for_its_own_gpu_only(fake_trt, exported, tmp_path):
    from export.tensorrt_engine import build_engine

    fake_trt("10.13.0.35")
    with pytest.raises(BadInput, match="--compute-capabilities is for TensorRT for RTX"):
        build_engine(exported[0] / "generator_fp16.onnx", tiny_meta(), BatchProfile(1, 1, 8), tmp_path, capabilities=("8.9",))


def test_export_reuses_a_fitting_engine_and_rebuilds_otherwise(fake_trt, exported, tmp_path):
    import shutil

    from export.frames import float_to_frames
    from export.pipeline import FP16, FRAMES_FP16, PLAN, ExportOptions, ExportReport, _engine
    from stargan_rt.engine_meta import sidecar_path, write_sidecar

    frames_fp16 = float_to_frames(onnx.load(str(exported[0] / FP16)))

    def export_engine(out: Path, **opts) -> tuple[Path, list[str]]:
        tmp = tmp_path / f"tmp{len(list(tmp_path.iterdir()))}"
        tmp.mkdir()
        shutil.copyfile(exported[0] / FP16, tmp / FP16)
        shutil.copyfile(exported[0] / "generator.onnx", tmp / "generator.onnx")
        onnx.save(frames_fp16, str(tmp / FRAMES_FP16))
        lines: list[str] = []
        _engine(tmp, out, tiny_meta(), ExportOptions(timing_cache_dir=tmp_path / "cache", **opts), ExportReport("b"), lines.append, None)
        return tmp, lines

    fake_trt("10.13.0.35")
    out = tmp_path / "out"
    first, lines = export_engine(out)
    assert (first / PLAN).read_bytes() == b"PLAN" and any("building" in line for line in lines)
    assert any("not run here" in line for line in lines)  # no pycuda: the engine cannot be run to compare it
    shutil.copytree(first, out)

    _, lines = export_engine(out)
    assert any("reusing the existing engine" in line for line in lines)
    _, lines = export_engine(out, rebuild=True)
    assert any("building" in line for line in lines) and not any("reusing" in line for line in lines)

    side = read_sidecar(out / PLAN)
    write_sidecar(out / PLAN, side.__class__(**{**side.__dict__, "target": GpuTarget("tensorrt", "10.13.0.35", ("8.6",), "Other GPU")}))
    _, lines = export_engine(out)
    assert any("not reusable" in line and "Other GPU" in line for line in lines) and any("building" in line for line in lines)
    assert sidecar_path(out / PLAN).is_file()


# ---- the real thing ---------------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(not available("tensorrt"), reason="TensorRT is not installed (it cannot be installed on this project's machines)")
def test_real_tensorrt_builds_an_fp16_engine_with_its_sidecar(exported, tmp_path):
    from export.tensorrt_engine import build_engine, uses_strong_typing
    from stargan_rt.engine_meta import check_engine_compatible

    import tensorrt

    source = "generator_fp16.onnx" if uses_strong_typing(tensorrt.__version__) else "generator.onnx"
    build = build_engine(exported[0] / source, tiny_meta(), BatchProfile(1, 1, 4), tmp_path, product="tensorrt")
    assert len(build.plan) > 1000 and build.sidecar.precision == "fp16"
    check_engine_compatible(build.sidecar)


# ---- onnxruntime's TensorRT execution provider --------------------------------------------------------------------

def test_ort_tensorrt_provider_options_cover_fp16_caches_and_the_batch_profile(tmp_path):
    from export.ort_tensorrt import provider_options

    opts = provider_options(tiny_meta(), BatchProfile(1, 2, 4), tmp_path)
    assert opts["trt_fp16_enable"] is True
    assert opts["trt_engine_cache_enable"] and opts["trt_timing_cache_enable"]
    assert opts["trt_engine_cache_path"] == opts["trt_timing_cache_path"] == str(tmp_path)
    assert opts["trt_profile_min_shapes"] == "image:1x3x32x32,label:1x5"
    assert opts["trt_profile_opt_shapes"] == "image:2x3x32x32,label:2x5"
    assert opts["trt_profile_max_shapes"] == "image:4x3x32x32,label:4x5"


def test_ort_tensorrt_without_the_execution_provider_is_one_clear_error(tmp_path, bundle):
    import onnxruntime as ort

    from conftest import stargan_rt

    if "TensorrtExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the TensorRT execution provider")
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--ort-tensorrt", "--no-int8")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "onnxruntime-gpu" in r.stderr
    assert not (tmp_path / "out").exists()
