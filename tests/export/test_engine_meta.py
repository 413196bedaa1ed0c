"""Engine sidecars and the compatibility checks the runtime runs before loading an engine (no torch, no TensorRT)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import tiny_meta
from stargan_rt.engine_meta import (BatchProfile, EngineSidecar, GpuTarget, check_engine_compatible, engine_product,
                                    find_product, read_sidecar, sidecar_path, write_sidecar)
from stargan_rt.errors import BadInput, BadModel, MissingDependency

H100 = GpuTarget("tensorrt", "10.13.0.35", ("9.0",), "NVIDIA H100 80GB HBM3")
RTX = GpuTarget("tensorrt-rtx", "1.7.1.116", ("8.6", "8.9", "12.0"))  # ahead of time: any GPU of these capabilities


def sidecar(target: GpuTarget = H100) -> EngineSidecar:
    return EngineSidecar(target, BatchProfile(1, 1, 8), "ab" * 32, "generator_fp16.onnx", "fp16", True, tiny_meta())


@pytest.mark.parametrize("text, want", [("1:1:8", (1, 1, 8)), (" 2:4:16 ", (2, 4, 16)), ("4", (4, 4, 4))])
def test_batch_ranges(text, want):
    p = BatchProfile.parse(text)
    assert (p.min, p.opt, p.max) == want and BatchProfile.parse(str(p)) == p


@pytest.mark.parametrize("text", ["", "1:8", "a:b:c", "8:1:1", "0:1:1", "1:2:3:4", "-1:1:1", "1.5:2:3"])
def test_bad_batch_ranges(text):
    with pytest.raises(BadInput, match="batch range"):
        BatchProfile.parse(text)


def test_sidecar_round_trip_has_the_documented_fields(tmp_path):
    plan = tmp_path / "generator_fp16.plan"
    write_sidecar(plan, sidecar())
    assert sidecar_path(plan).name == "generator_fp16.plan.json"
    d = json.loads(sidecar_path(plan).read_text())
    assert {"product", "tensorrt_version", "gpu_name", "compute_capabilities", "profile", "onnx_sha256", "stargan_rt"} <= set(d)
    assert d["profile"] == {"min": 1, "opt": 1, "max": 8} and d["stargan_rt"]["architecture"]["image_size"] == 32
    assert read_sidecar(plan) == sidecar()
    write_sidecar(plan, sidecar(RTX))
    d = json.loads(sidecar_path(plan).read_text())
    assert (d["product"], d["compute_capabilities"], d["gpu_name"]) == ("tensorrt-rtx", ["8.6", "8.9", "12.0"], "")
    assert read_sidecar(plan) == sidecar(RTX)


def test_a_sidecar_from_before_products_were_recorded_reads_as_tensorrt(tmp_path):
    plan = tmp_path / "generator_fp16.plan"
    d = sidecar().to_dict()
    for k in ("product", "compute_capabilities"):
        del d[k]
    sidecar_path(plan).write_text(json.dumps({**d, "compute_capability": "9.0"}))
    assert read_sidecar(plan) == sidecar()


def test_the_same_gpu_and_tensorrt_are_accepted():
    check_engine_compatible(sidecar(), H100)


@pytest.mark.parametrize("gpu", ["NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 4090", "NVIDIA RTX PRO 6000 Blackwell"])
def test_an_rtx_engine_runs_on_any_gpu_of_its_capabilities(gpu):
    cc = {"3090": "8.6", "4090": "8.9"}.get(gpu.split()[-1], "12.0")
    check_engine_compatible(sidecar(RTX), GpuTarget("tensorrt-rtx", "1.7.1.116", (cc,), gpu))


@pytest.mark.parametrize("built, other, words", [
    (H100, GpuTarget("tensorrt", "10.13.0.35", ("8.0",), "NVIDIA A100-SXM4-80GB"), ["NVIDIA H100 80GB HBM3", "NVIDIA A100", "8.0"]),
    (H100, GpuTarget("tensorrt", "10.8.0.43", ("9.0",), "NVIDIA H100 80GB HBM3"), ["TensorRT 10.13.0.35", "10.8.0.43"]),
    (H100, GpuTarget("tensorrt", "10.13.0.35", ("9.0",), "NVIDIA H100 PCIe"), ["NVIDIA H100 PCIe"]),
    (RTX, GpuTarget("tensorrt-rtx", "1.7.1.116", ("9.0",), "NVIDIA H200"), ["compute capability 8.6, 8.9, 12.0", "NVIDIA H200 (9.0)"]),
    (RTX, GpuTarget("tensorrt-rtx", "1.6.0.10", ("8.9",), "NVIDIA GeForce RTX 4090"), ["TensorRT for RTX 1.7.1.116", "1.6.0.10"]),
    (RTX, GpuTarget("tensorrt", "1.7.1.116", ("8.9",), "NVIDIA GeForce RTX 4090"), ["TensorRT for RTX 1.7.1.116", "TensorRT 1.7.1.116"]),
])
def test_an_engine_for_another_gpu_product_or_version_is_refused_with_a_clear_message(built, other, words):
    with pytest.raises(BadModel) as err:
        check_engine_compatible(sidecar(built), other)
    message = str(err.value)
    assert "--rebuild" in message and "\n" not in message
    for w in words:
        assert w in message


def test_an_engine_whose_product_is_missing_or_another_version_is_refused_before_any_gpu_is_asked(monkeypatch):
    from stargan_rt import engine_meta

    monkeypatch.setattr(engine_meta.Product, "installed_version", lambda self: None)
    with pytest.raises(MissingDependency, match="TensorRT 10.13.0.35") as err:
        engine_product(sidecar(H100))
    assert "\n" not in str(err.value)
    monkeypatch.setattr(engine_meta.Product, "installed_version", lambda self: "1.8.0.1")
    with pytest.raises(BadModel, match=r"built with TensorRT for RTX 1.7.1.116 \(this machine has TensorRT for RTX 1.8.0.1\)"):
        engine_product(sidecar(RTX))


def test_products_are_chosen_by_name_or_by_what_is_installed(monkeypatch):
    from stargan_rt import engine_meta

    assert find_product("tensorrt-rtx").module == "tensorrt_rtx" and find_product("tensorrt").module == "tensorrt"
    with pytest.raises(BadInput, match="unknown TensorRT product"):
        find_product("tensorflow")
    monkeypatch.setattr(engine_meta.Product, "installed_version", lambda self: "1.7.1.116" if self.ahead_of_time else None)
    assert find_product() is engine_meta.TENSORRT_RTX
    monkeypatch.setattr(engine_meta.Product, "installed_version", lambda self: "10.13.0.35")
    assert find_product() is engine_meta.TENSORRT  # both: TensorRT tunes for the GPU it builds on
    monkeypatch.setattr(engine_meta.Product, "installed_version", lambda self: None)
    monkeypatch.setattr(engine_meta.Product, "load", lambda self, purpose: (_ for _ in ()).throw(MissingDependency(f"{purpose} needs it")))
    with pytest.raises(MissingDependency):
        find_product()


def test_missing_or_corrupt_sidecars(tmp_path):
    plan = tmp_path / "generator_fp16.plan"
    with pytest.raises(BadModel, match="no sidecar"):
        read_sidecar(plan)
    sidecar_path(plan).write_text("{not json")
    with pytest.raises(BadModel, match="unreadable"):
        read_sidecar(plan)
    sidecar_path(plan).write_text(json.dumps({"tensorrt_version": "10.13"}))
    with pytest.raises(BadModel, match="malformed"):
        read_sidecar(plan)
    sidecar_path(plan).write_text(json.dumps({**sidecar().to_dict(), "compute_capabilities": "8.9"}))  # not a list
    with pytest.raises(BadModel, match="malformed"):
        read_sidecar(plan)


def test_engine_meta_imports_without_torch_or_tensorrt():
    code = "import sys, stargan_rt.engine_meta; sys.exit([m for m in ('torch', 'tensorrt', 'onnx') if m in sys.modules] or 0)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr or r.stdout
