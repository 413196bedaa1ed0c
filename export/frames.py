"""Float ONNX -> frames ONNX: uint8 BGR NHWC in and out, pre/post-processing inside the graph.

The float graph is reused unchanged; nodes are added around it, mirroring stargan_rt.images:
    frames (N,S,S,3) uint8 BGR -> Cast float -> Gather [2,1,0] -> Transpose NCHW -> *1/(255 std) + (-mean/std) -> image
    translated -> *(255 std) + (255 mean + 0.5) -> Clip [0, 255] -> Transpose NHWC -> Gather -> Cast uint8 (truncates) -> frames
so rounding is round-half-up, as `to_frames` does (+0.5, clip, cast). The casts sit at the very ends because
TensorRT takes UINT8 only in Cast and at the I/O (its parser rejects a UINT8 Gather).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from stargan_rt.errors import BadModel

from .metadata import get_metadata, set_metadata
from .to_onnx import OUTPUT

FRAMES_INPUT = "frames"
FRAMES_OUTPUT = "translated_frames"


def float_to_frames(model: onnx.ModelProto) -> onnx.ModelProto:
    meta, io, precision = get_metadata(model)
    if io != "float":
        raise BadModel(f"expected a float-I/O model to wrap, got io={io!r}")
    pre = meta.preprocess
    s = meta.architecture.image_size
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    (image,) = [i for i in g.input if i.name == "image"]
    batch = image.type.tensor_type.shape.dim[0].dim_param or "batch"
    g.input.remove(image)
    g.output.remove(next(o for o in g.output if o.name == OUTPUT))

    std, mean = np.asarray(pre.std, np.float32), np.asarray(pre.mean, np.float32)
    flip = pre.channel_order == "RGB"  # OpenCV frames are BGR
    consts = {
        "fr_bgr_to_rgb": np.array([2, 1, 0], np.int64),
        "fr_in_scale": (1.0 / (255.0 * std)).reshape(1, 3, 1, 1),
        "fr_in_shift": (-mean / std).reshape(1, 3, 1, 1),
        "fr_out_scale": (255.0 * std).reshape(1, 3, 1, 1),
        "fr_out_shift": (255.0 * mean + 0.5).reshape(1, 3, 1, 1),
        "fr_zero": np.array(0.0, np.float32),
        "fr_max": np.array(255.0, np.float32),
    }
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())

    first = "fr_rgb" if flip else "fr_float"
    head = [helper.make_node("Cast", [FRAMES_INPUT], ["fr_float"], to=TensorProto.FLOAT)] + (
        [helper.make_node("Gather", ["fr_float", "fr_bgr_to_rgb"], ["fr_rgb"], axis=3)] if flip else []) + [
        helper.make_node("Transpose", [first], ["fr_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["fr_nchw", "fr_in_scale"], ["fr_scaled"]),
        helper.make_node("Add", ["fr_scaled", "fr_in_shift"], ["image"]),
    ]
    last = "fr_out_bgr" if flip else "fr_out_nhwc"
    tail = [
        helper.make_node("Mul", [OUTPUT, "fr_out_scale"], ["fr_out_scaled"]),
        helper.make_node("Add", ["fr_out_scaled", "fr_out_shift"], ["fr_out_shifted"]),
        helper.make_node("Clip", ["fr_out_shifted", "fr_zero", "fr_max"], ["fr_out_clipped"]),
        helper.make_node("Transpose", ["fr_out_clipped"], ["fr_out_nhwc"], perm=[0, 2, 3, 1]),
    ] + ([helper.make_node("Gather", ["fr_out_nhwc", "fr_bgr_to_rgb"], ["fr_out_bgr"], axis=3)] if flip else []) + [
        helper.make_node("Cast", [last], [FRAMES_OUTPUT], to=TensorProto.UINT8),
    ]
    nodes = head + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    g.input.insert(0, helper.make_tensor_value_info(FRAMES_INPUT, TensorProto.UINT8, [batch, s, s, 3]))
    g.output.append(helper.make_tensor_value_info(FRAMES_OUTPUT, TensorProto.UINT8, [batch, s, s, 3]))
    set_metadata(out, meta, io="frames", precision=precision)
    try:
        onnx.checker.check_model(out, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise BadModel(f"frames model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    return out
