"""Engine sidecars and the compatibility check the runtime runs before loading an engine (no torch, no TensorRT)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import tiny_meta
from stargan_rt.engine_meta import (BatchProfile, EngineSidecar, GpuTarget, check_engine_compatible, read_sidecar,
                                    sidecar_path, write_sidecar)
from stargan_rt.errors import BadInput, BadModel

H100 = GpuTarget("10.13.0.35", "NVIDIA H100 80GB HBM3", "9.0")


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
    assert {"tensorrt_version", "gpu_name", "compute_capability", "profile", "onnx_sha256", "stargan_rt"} <= set(d)
    assert d["profile"] == {"min": 1, "opt": 1, "max": 8} and d["stargan_rt"]["architecture"]["image_size"] == 32
    assert read_sidecar(plan) == sidecar()


def test_the_same_gpu_and_tensorrt_are_accepted():
    check_engine_compatible(sidecar(), H100)


@pytest.mark.parametrize("other, words", [
    (GpuTarget("10.13.0.35", "NVIDIA A100-SXM4-80GB", "8.0"), ["NVIDIA H100 80GB HBM3", "NVIDIA A100", "8.0"]),
    (GpuTarget("10.8.0.43", "NVIDIA H100 80GB HBM3", "9.0"), ["TensorRT 10.13.0.35", "10.8.0.43"]),
    (GpuTarget("10.13.0.35", "NVIDIA H100 PCIe", "9.0"), ["NVIDIA H100 PCIe"]),
])
def test_an_engine_for_another_gpu_or_tensorrt_is_refused_with_a_clear_message(other, words):
    with pytest.raises(BadModel) as err:
        check_engine_compatible(sidecar(), other)
    message = str(err.value)
    assert "--rebuild" in message and "\n" not in message
    for w in words:
        assert w in message


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


def test_engine_meta_imports_without_torch_or_tensorrt():
    code = "import sys, stargan_rt.engine_meta; sys.exit([m for m in ('torch', 'tensorrt', 'onnx') if m in sys.modules] or 0)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr or r.stdout
