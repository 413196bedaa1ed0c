"""generator_fp16.onnx: FP16 weights and compute, FP32 inputs/outputs, InstanceNormalization kept in FP32."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort

from conftest import rng

FLOAT, HALF = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16


def test_fp16_model_keeps_float32_io_and_instance_norm_and_halves_the_rest(exported):
    model = onnx.load(str(exported[0] / "generator_fp16.onnx"))
    assert {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)} == {
        "image": FLOAT, "label": FLOAT, "translated": FLOAT}
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    types |= {t.name: t.data_type for t in model.graph.initializer}
    norms = [n for n in model.graph.node if n.op_type == "InstanceNormalization"]
    assert len(norms) == 9
    for n in norms:
        assert [types[t] for t in (*n.input, *n.output)] == [FLOAT] * 4, n.name
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert convs and all(types[n.input[1]] == HALF and types[n.output[0]] == HALF for n in convs)
    assert {p.key: p.value for p in model.metadata_props}["stargan_rt.precision"] == "fp16"


def test_fp16_output_is_close_to_fp32(exported):
    out = exported[0]
    x = rng().uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    c = (rng().random((2, 5)) < 0.5).astype(np.float32)
    run = lambda name: ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"]).run(None, {"image": x, "label": c})[0]
    mse = float(np.mean((run("generator.onnx") - run("generator_fp16.onnx")) ** 2))
    assert 10 * np.log10(4 / mse) >= 50
    report = json.loads((out / "export_report.json").read_text())["checks"]["fp16_vs_fp32"]
    assert report["psnr_db"] >= 50 and "images from" in report["inputs"]  # measured on the real images given
