"""The runtime core imports and works without torch, TensorRT or pycuda."""

import subprocess
import sys


def test_importing_stargan_rt_does_not_import_torch():
    code = (
        "import sys, pkgutil, importlib, stargan_rt\n"
        "import stargan_rt.cli, stargan_rt.labels, stargan_rt.images, stargan_rt.bundle\n"
        "heavy = [m for m in ('torch', 'tensorrt', 'pycuda', 'onnx') if m in sys.modules]\n"
        "sys.exit(f'imported {heavy}' if heavy else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr or r.stdout


def test_every_command_registers_without_importing_torch():
    code = (
        "import sys\n"
        "from stargan_rt.cli import build_parser\n"
        "p = build_parser()\n"
        "sys.exit('torch imported while building the CLI' if 'torch' in sys.modules else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr or r.stdout
