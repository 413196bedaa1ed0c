"""Float ONNX -> INT8 ONNX: onnxruntime static quantisation calibrated on real images.

Default recipe, measured with export/measure_cpu.py (official architecture, 128x128, batch 1, 2 threads,
random weights, quality on real faces; one run on the shared 2-core AVX-512 development CPU):
- UINT8 activations with INT8 per-channel weights: onnxruntime fuses every Conv into QLinearConv (VNNI u8s8);
  INT8 activations were 1.7x slower (88 vs 51 ms).
- Only Conv is quantised: onnxruntime's CPU provider runs ConvTranspose in float anyway, so quantising it only
  adds error; InstanceNormalization, Relu, Add and Tanh stay float (quantising all ops: slower, lower PSNR).
- QDQ (the portable format) ran as fast as QOperator; per-tensor weights were no faster than per-channel.
- Percentile calibration (99.999th) gave +1 dB PSNR over MinMax at the same speed.
Result: 2.7x PyTorch FP32 eager (51 vs 138 ms), 30.8 dB PSNR against FP32.
- The first 7x7 convolution stays float (`keep_float`): its input, image and label planes concatenated, loses the
  most in one uint8 scale. Measured (issue 12, 16 held-out SynthFaces, same run): the trained default model
  35.5 -> 41.5 dB, the official-size random one 31.6 -> 34.1 dB, at the same onnxruntime speed (24.4 vs 24.4 ms;
  67 vs 65 ms).
OpenVINO runs ConvTranspose in int8 where onnxruntime does not: export/openvino.py quantizes it for that runtime.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from stargan_rt.errors import BadModel

from .calibration import Samples
from .metadata import get_metadata, set_metadata


@dataclass(frozen=True)
class Int8Recipe:
    format: str = "qdq"  # "qdq" | "qoperator"
    per_channel: bool = True
    ops: tuple[str, ...] = ("Conv",)  # () = every op onnxruntime can quantise
    activations: str = "uint8"  # "int8" | "uint8"
    calibration: str = "percentile"  # "minmax" | "entropy" | "percentile" (99.999th: outliers do not set the range)
    preprocess: bool = True  # onnxruntime's quant_pre_process (shape inference + graph optimisation) first
    keep_float: tuple[str, ...] = ("first_conv",)  # layers left in float, by role: "first_conv", "last_conv"
    # ConvTranspose inputs as symmetric int8 (a residual sum is signed): OpenVINO's int8 deconvolution needs it
    signed_transpose_inputs: bool = False


def _roles(model: onnx.ModelProto) -> dict[str, str]:
    """Node names of the layers a recipe can refer to by role."""
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    return {"first_conv": convs[0], "last_conv": convs[-1]} if convs else {}


def _overrides(model: onnx.ModelProto, recipe: "Int8Recipe") -> dict[str, Any]:
    from onnxruntime.quantization import QuantType

    if not recipe.signed_transpose_inputs:
        return {}
    inputs = [n.input[0] for n in model.graph.node if n.op_type == "ConvTranspose"]
    return {"TensorQuantOverrides": {t: [{"quant_type": QuantType.QInt8, "symmetric": True}] for t in inputs}}


def float_to_int8(model: onnx.ModelProto, calib: Samples, recipe: Int8Recipe = Int8Recipe()) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from tqdm import tqdm

    meta, io_kind, precision = get_metadata(model)
    if io_kind != "float" or precision != "fp32":
        raise BadModel(f"INT8 quantisation needs the FP32 float-I/O model, got io={io_kind}, precision={precision}")
    if len(calib) == 0:
        raise BadModel("no calibration samples")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.i = 0
            self.progress = tqdm(total=len(calib), desc="INT8 calibration", unit="image", leave=False, disable=None)

        def get_next(self) -> dict[str, Any] | None:
            if self.i >= len(calib):
                self.progress.close()
                return None
            self.i += 1
            self.progress.update()
            return {"image": calib.x[self.i - 1 : self.i], "label": calib.c[self.i - 1 : self.i]}

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    with tempfile.TemporaryDirectory(prefix="stargan-int8-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, src)
        if recipe.preprocess:
            quant_pre_process(str(src), str(src))
        prepared = onnx.load(str(src))
        roles = _roles(prepared)
        unknown = [r for r in recipe.keep_float if r not in roles]
        if unknown:
            raise BadModel(f"INT8 recipe: no layer {', '.join(unknown)} in this model (known: {', '.join(roles)})")
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their settings
            quantize_static(
                str(src), str(dst), Reader(),
                quant_format=QuantFormat.QDQ if recipe.format == "qdq" else QuantFormat.QOperator,
                op_types_to_quantize=list(recipe.ops) or None,
                per_channel=recipe.per_channel,
                activation_type=QuantType.QInt8 if recipe.activations == "int8" else QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=methods[recipe.calibration],
                nodes_to_exclude=[roles[r] for r in recipe.keep_float],
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, **_overrides(prepared, recipe)},
            )
        quantized = onnx.load(str(dst))
    set_metadata(quantized, meta, io="float", precision="int8")
    try:
        onnx.checker.check_model(quantized)
    except onnx.checker.ValidationError as exc:
        raise BadModel(f"INT8 model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    return quantized
