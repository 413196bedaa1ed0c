"""benchmarks/gpu_check.sh: valid bash, no network installs, and phase limits that fit the 8-minute budget."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


def test_script_is_valid_bash():
    r = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed here")
def test_script_passes_shellcheck():
    r = subprocess.run(["shellcheck", "-S", "warning", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_phase_limits_fit_in_eight_minutes():
    text = SCRIPT.read_text()
    limits = dict(re.findall(r"\$\{GPU_CHECK_([A-Z]+)_S:-(\d+)\}", text))
    grace = int(re.search(r"timeout --kill-after=(\d+)", text).group(1))

    def worst_case(*phases: str) -> int:  # each limit plus its kill grace
        return sum(int(limits[p]) + grace for p in phases)

    assert set(limits) == {"ENV", "TESTS", "CONTRACT", "GENERATOR", "PIPELINE", "REPORT", "RTX", "PYCUDA", "TENSORRT", "TUNING"}
    assert worst_case("ENV", "TESTS", "CONTRACT", "GENERATOR", "PIPELINE", "REPORT") <= 8 * 60 - 20  # the default run
    # the TensorRT run and the torch tuning run (GPU_CHECK_ONLY=...) each fit in one 10-minute call
    assert worst_case("RTX", "PYCUDA", "TENSORRT") <= 10 * 60 - 20 and worst_case("TUNING") <= 10 * 60 - 20


def test_script_installs_nothing_from_the_network():
    for line in SCRIPT.read_text().splitlines():
        if "-m pip install" in line and not line.lstrip().startswith("#"):
            assert "--no-index" in line, line
    assert "PYTHONPATH=\"$REPO" in SCRIPT.read_text()
