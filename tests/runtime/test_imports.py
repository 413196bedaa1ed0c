"""The runtime imports and runs without torch: every runtime module, and an ONNX translated end to end."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "tensorrt", "pycuda", "onnx")

# Every module of the package except the one that is PyTorch by design and `python -m stargan_rt`'s entry.
IMPORT_ALL = f"""
import importlib, pkgutil, sys
import stargan_rt
skip = {{"stargan_rt.torch_model", "stargan_rt.__main__"}}
names = [m.name for m in pkgutil.walk_packages(stargan_rt.__path__, "stargan_rt.") if m.name not in skip]
for name in names:
    importlib.import_module(name)
from stargan_rt.backends import backends
backends()  # discovery imports every backend module
heavy = [m for m in {HEAVY!r} if m in sys.modules]
assert len(names) > 15, names
sys.exit(f"importing {{len(names)}} modules imported {{heavy}}" if heavy else 0)
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_every_runtime_module_imports_without_torch_tensorrt_pycuda_or_onnx():
    r = _run(IMPORT_ALL)
    assert r.returncode == 0, r.stderr or r.stdout


def test_translating_with_an_onnx_model_never_imports_torch(tiny_models):
    code = f"""
import sys
import numpy as np
from stargan_rt.translator import Translator
with Translator({str(tiny_models["onnx"])!r}) as tr:
    assert tr.runner.name == "ort-cpu", tr.runner.name
    out = tr.translate_crops(np.zeros((2, 16, 16, 3), np.uint8), "Blond_Hair")
    assert out.shape == (2, 16, 16, 3)
sys.exit("torch was imported" if "torch" in sys.modules else 0)
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr or r.stdout
