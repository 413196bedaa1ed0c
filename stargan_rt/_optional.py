"""Lazy imports of optional packages, failing with an actionable message."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependency

_INSTALL_HINTS = {
    "torch": "pip install 'stargan-rt[train]' (or torch itself)",
    "onnx": "pip install 'stargan-rt[train]'",
    "onnxconverter_common": "pip install 'stargan-rt[train]'",
    "tensorrt": "install NVIDIA TensorRT (pip install 'stargan-rt[gpu]' on a machine with an NVIDIA GPU)",
    "tensorrt_rtx": "pip install tensorrt-rtx-cu13 (NVIDIA TensorRT for RTX)",
    "pycuda": "build it from source with the CUDA toolkit: bash export/build_pycuda.sh (README: TensorRT)",
    "pyvirtualcam": "pip install 'stargan-rt[video]'",
    "matplotlib": "pip install matplotlib",
    "fastapi": "pip install 'stargan-rt[serve]'",
    "uvicorn": "pip install 'stargan-rt[serve]'",
    "PIL": "pip install 'stargan-rt[serve]'",
    "prometheus_client": "pip install 'stargan-rt[serve]'",
    "ray": "pip install 'stargan-rt[serve,ray]'",
}

_BUILDERS = {"tensorrt": "TensorRT", "tensorrt_rtx": "TensorRT for RTX"}  # recognised by their Builder


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` or raise MissingDependency naming what needed it and how to install it."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        hint = _INSTALL_HINTS.get(module.split(".")[0], f"pip install {module}")
        raise MissingDependency(f"{purpose} needs {module}, which is not installed ({exc}); {hint}") from None
    if module in _BUILDERS and not hasattr(mod, "Builder"):
        # tensorrt-stubs makes `import tensorrt` succeed as an empty namespace package.
        raise MissingDependency(f"{purpose} needs {_BUILDERS[module]}; only its type stubs are installed. {_INSTALL_HINTS[module]}")
    return mod


def available(module: str) -> bool:
    try:
        require(module, "check")
    except MissingDependency:
        return False
    return True
