"""Every model folder the repository ships (today: the embedded default) is a bundle whose INT8 ONNX computes what
its weights do: `stargan-rt check` agrees within its tolerance."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SHIPPED = [ROOT / "stargan_rt" / "assets" / "default"]


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_int8_onnx_agrees_with_its_bundle(folder):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-m", "stargan_rt", "check", str(folder), str(folder / "generator_int8.onnx")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "agree" in r.stdout
