"""generator_frames.onnx: uint8 BGR NHWC frames in and out, conversions inside the graph, as stargan_rt.images does them."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from conftest import rng, tiny_meta
from export.frames import float_to_frames
from export.metadata import set_metadata
from stargan_rt.images import to_frames, to_tensor


def _run(model_or_path, feeds):
    src = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def test_frames_model_takes_and_gives_uint8_bgr_nhwc(exported):
    model = onnx.load(str(exported[0] / "generator_frames.onnx"))
    io = {v.name: (v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
          for v in (*model.graph.input, *model.graph.output)}
    assert io == {
        "frames": (TensorProto.UINT8, ["batch", 32, 32, 3]),
        "label": (TensorProto.FLOAT, ["batch", 5]),
        "translated_frames": (TensorProto.UINT8, ["batch", 32, 32, 3]),
    }
    assert {p.key: p.value for p in model.metadata_props}["stargan_rt.io"] == "frames"


def test_frames_model_matches_float_model_with_python_conversions(exported):
    out = exported[0]
    frames = rng().integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    c = (rng().random((4, 5)) < 0.5).astype(np.float32)
    got = _run(out / "generator_frames.onnx", {"frames": frames, "label": c})
    want = to_frames(_run(out / "generator.onnx", {"image": to_tensor(frames), "label": c}))
    d = np.abs(got.astype(int) - want.astype(int))
    assert got.dtype == np.uint8 and d.max() <= 1
    # truncating or round-to-nearest-even instead of +0.5/clip/cast would change about half the pixels
    assert (d == 0).mean() >= 0.99


def _affine_float_model(scale: list[float], shift: list[float]) -> onnx.ModelProto:
    """A stand-in generator: translated = image * scale + shift, per RGB channel."""
    k = np.asarray(scale, np.float32).reshape(1, 3, 1, 1)
    b = np.asarray(shift, np.float32).reshape(1, 3, 1, 1)
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "k"], ["t"]), helper.make_node("Add", ["t", "b"], ["translated"])],
        "affine",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32]),
         helper.make_tensor_value_info("label", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("translated", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [numpy_helper.from_array(k, "k"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return set_metadata(model, tiny_meta(), io="float", precision="fp32")


def test_channel_order_layout_scaling_and_rounding_equal_the_python_path_exactly():
    """Red kept, green halved, blue set to -1 (black): any channel swap, transpose or scaling slip shows."""
    scale, shift = [1.0, 0.5, 0.0], [0.0, 0.1, -1.0]
    frames_model = float_to_frames(_affine_float_model(scale, shift))
    values = np.tile(np.arange(256, dtype=np.uint8), 4)  # every value 4 times: 32 x 32 pixels
    frames = np.stack([np.roll(values, 85 * i).reshape(32, 32) for i in range(3)], -1)[None]
    frames = np.concatenate([frames, frames[:, ::-1]])  # two different images, every value in every channel
    got = _run(frames_model, {"frames": frames, "label": np.zeros((2, 5), np.float32)})
    x = to_tensor(frames)
    want = to_frames(x * np.asarray(scale, np.float32).reshape(1, 3, 1, 1) + np.asarray(shift, np.float32).reshape(1, 3, 1, 1))
    assert np.array_equal(got, want)
    assert (got[..., 0] == 0).all() and np.array_equal(got[..., 2], frames[..., 2])  # BGR: blue gone, red untouched
