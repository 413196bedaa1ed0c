"""Where the embedded default model lives: the one place the commands look when no --model is given.

The default model ships inside the package as a folder (stargan_rt/assets/default/) holding a bundle
(model.json + generator.safetensors) and/or its exports (generator.onnx, ...); `open_model` on the folder
picks the best artifact for the backends available (backends/__init__.py).
"""

from __future__ import annotations

from pathlib import Path

from .backends import candidate_artifacts
from .errors import BadModel

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "default"


def default_model_path() -> Path:
    """The embedded default model folder, or BadModel telling the user to pass --model."""
    try:
        candidate_artifacts(DEFAULT_MODEL_DIR)
    except BadModel:
        raise BadModel(
            f"no embedded default model in {DEFAULT_MODEL_DIR} (this install ships none); "
            "pass --model PATH (a bundle folder, an .onnx file or a .plan engine)"
        ) from None
    return DEFAULT_MODEL_DIR
