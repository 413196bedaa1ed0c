"""Float ONNX -> INT8 OpenVINO IR (generator_int8_ov.xml + .bin): the artifact OpenVINO runs fastest.

The calibration is onnxruntime's (export/int8.py) with a recipe for OpenVINO's kernels: ConvTranspose is quantized
too (OpenVINO has int8 deconvolution, onnxruntime runs it in float), with symmetric int8 inputs (only then does
OpenVINO fuse them into an int8 deconvolution), and the first 7x7 convolution stays float as in every INT8 export.
The QDQ model is read by OpenVINO and saved as IR with float weights left uncompressed (save_model's default would
store them as fp16) and the stargan_rt metadata kept in rt_info, so the runtime's ov-cpu backend needs nothing else.

Measured on the 2-core machine (issue 12, one `stargan-rt bench` run, benchmarks/results/cpu-2core/openvino.md):
this IR is NOT faster than the runtime's ov-cpu on generator_int8.onnx as is: 53.7 vs 34.4 ms at the official size
(the symmetric requantization around ConvTranspose costs more than int8 ConvTranspose saves), 10.7 vs 10.2 ms on the
trained default model, at 36.1 vs 41.2 dB. So `stargan-rt export` writes it only with --openvino-ir; what OpenVINO
runs fastest is the INT8 ONNX as is (static shapes, bf16 float layers: backends/openvino_backend.py).
NNCF's post-training quantization (presets performance/mixed, min-max/histogram ranges, first conv ignored) was as
fast but lost 4-10 dB against onnxruntime's calibration on the trained default model (29.6-32.1 vs 35.5-41.5 dB,
exploratory runs), so it is not used either.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from .calibration import Samples
from .int8 import Int8Recipe, float_to_int8

OPENVINO_RECIPE = Int8Recipe(ops=("Conv", "ConvTranspose"), signed_transpose_inputs=True)


def weights_path(xml: Path) -> Path:
    """The .bin file OpenVINO reads beside an .xml."""
    return xml.with_suffix(".bin")


def save_ir(model: onnx.ModelProto, path: Path) -> Path:
    """Write `model` (an ONNX with stargan_rt metadata) as OpenVINO IR at `path` (.xml) and its .bin.

    Both files are written in a temporary folder beside `path` and renamed into place, weights first: a reader
    never sees an .xml without its weights, nor the weights of another model under a finished .xml.
    """
    from stargan_rt.backends.openvino_backend import import_openvino

    ov = import_openvino()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.stem}.", dir=path.parent) as tmp:
        src, xml = Path(tmp) / "model.onnx", Path(tmp) / path.name
        onnx.save(model, src)
        ov.save_model(ov.Core().read_model(str(src)), str(xml), compress_to_fp16=False)
        os.replace(weights_path(xml), weights_path(path))
        os.replace(xml, path)
    return path


def float_to_openvino_int8(model: onnx.ModelProto, calib: Samples, path: Path, recipe: Int8Recipe = OPENVINO_RECIPE) -> Path:
    """Calibrate `model` (FP32, float I/O) on real images and save the INT8 result as OpenVINO IR at `path`."""
    return save_ir(float_to_int8(model, calib, recipe), path)


class IrSession:
    """An IR behind the runtime's ov-cpu backend with the `run(None, feeds)` call of an onnxruntime session
    (export/parity.run), so the export's quality checks run it as the runtime will."""

    def __init__(self, path: Path):
        from stargan_rt.backends import open_model

        self.runner = open_model(path, "ov-cpu")

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.runner.infer(feeds["image"], feeds["label"])]
