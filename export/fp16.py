"""Float ONNX -> FP16 ONNX with FP32 inputs/outputs and InstanceNormalization kept in FP32.

All-FP16 InstanceNorm has a history of garbage outputs (onnxruntime#10079, TensorRT#2691); strongly typed
TensorRT builds do exactly what the ONNX says, so the FP32 islands must be in the graph itself.
"""

from __future__ import annotations

import warnings

import onnx

from stargan_rt.errors import BadModel

from .metadata import get_metadata, set_metadata

KEEP_FP32 = ("InstanceNormalization",)


def float_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common import float16

    meta, io, precision = get_metadata(model)
    if precision != "fp32":
        raise BadModel(f"FP16 conversion needs an FP32 model, got {precision}")
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(KEEP_FP32))
    with warnings.catch_warnings():  # one warning per weight below FP16's range (clamped to 1e-7): harmless, noisy
        warnings.simplefilter("ignore", UserWarning)
        half = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=block)
    set_metadata(half, meta, io=io, precision="fp16")
    check_fp16_model(half)
    return half


def float32_islands(model: onnx.ModelProto) -> dict[str, list[str]]:
    """For each InstanceNormalization node, the element types of its inputs and outputs (by name)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    types.update({t.name: t.data_type for t in inferred.graph.initializer})
    names = onnx.TensorProto.DataType.Name
    return {
        n.name: [names(types.get(t, 0)) for t in (*n.input, *n.output)]
        for n in inferred.graph.node
        if n.op_type in KEEP_FP32
    }


def check_fp16_model(model: onnx.ModelProto) -> None:
    """FP32 I/O, FP32 InstanceNormalization, and some FP16 compute (not a silent FP32 model)."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise BadModel(f"FP16 model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    io_types = {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)}
    if onnx.TensorProto.FLOAT16 in io_types.values():
        raise BadModel(f"FP16 model must keep FP32 inputs/outputs, has {io_types}")
    bad = {n: t for n, t in float32_islands(model).items() if set(t) != {"FLOAT"}}
    if bad:
        raise BadModel(f"InstanceNormalization must stay FP32 in the FP16 model; found {bad}")
    if not any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        raise BadModel("FP16 conversion left no FP16 weights")
