"""generator_int8.onnx: static QDQ quantisation, per-channel weights, calibrated on real images, quality reported."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from conftest import bundle as _  # noqa: F401  (fixture module)
from export.calibration import Samples, folder_samples
from export.int8 import float_to_int8
from export.parity import diff, ort_session, random_inputs
from stargan_rt.bundle import load_meta


def test_int8_model_is_qdq_with_per_channel_weights(exported):
    model = onnx.load(str(exported[0] / "generator_int8.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 0 and ops.count("DequantizeLinear") > 0
    inits = {t.name: t for t in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    producers = {o: n for n in model.graph.node for o in n.output}
    # the first 7x7 conv (image + label planes in one uint8 scale lose the most) stays float: its weight is plain
    assert convs[0].input[1] in inits and inits[convs[0].input[1]].data_type == onnx.TensorProto.FLOAT
    for conv in convs[1:]:  # every other Conv's weight comes through a per-channel DequantizeLinear of int8 weights
        dq = producers[conv.input[1]]
        assert dq.op_type == "DequantizeLinear"
        assert inits[dq.input[0]].data_type == onnx.TensorProto.INT8
        assert len(inits[dq.input[1]].dims) == 1 and inits[dq.input[1]].dims[0] == inits[dq.input[0]].dims[0] > 1
    assert {p.key: p.value for p in model.metadata_props}["stargan_rt.precision"] == "int8"


def test_export_reports_int8_quality_on_held_out_real_images(exported, faces_dir):
    out, _, result = exported
    report = json.loads((out / "export_report.json").read_text())["checks"]["int8_vs_fp32"]
    assert str(faces_dir) in report["calibration"] and "held-out" in report["inputs"]
    assert report["psnr_db"] > 20 and report["recipe"]["format"] == "qdq" and report["recipe"]["per_channel"]
    assert "generator_int8.onnx vs FP32" in result.stdout and "dB" in result.stdout


def test_calibrating_on_real_images_beats_calibrating_on_noise(exported, bundle, faces_dir):
    """Why the export insists on real images: ranges set on noise clip or waste the ranges faces need."""
    meta = load_meta(bundle)
    float_model = onnx.load(str(exported[0] / "generator.onnx"))
    calib, held_out = folder_samples(meta, faces_dir, 12).split()
    noise = Samples(*random_inputs(meta, len(calib), np.random.default_rng(0)), "noise")
    reference = ort_session(float_model)

    def psnr(samples: Samples) -> float:
        q = ort_session(float_to_int8(float_model, samples))
        feeds = {"image": held_out.x, "label": held_out.c}
        return diff(reference.run(None, feeds)[0], q.run(None, feeds)[0]).psnr

    assert psnr(calib) > psnr(noise)


def test_int8_without_real_images_is_refused(tmp_path, bundle, monkeypatch):
    import export.calibration as calibration
    from stargan_rt.errors import BadInput

    monkeypatch.setitem(__import__("sys").modules, "stargan_rt.synth", None)  # as if SynthFaces were absent
    with pytest.raises(BadInput, match="--calib DIR"):
        calibration.real_samples(load_meta(bundle), None, 8)


@pytest.mark.slow
def test_a_variant_below_the_quality_threshold_gets_a_loud_warning(tmp_path, bundle, faces_dir, monkeypatch):
    import export.pipeline as pipeline

    from conftest import stargan_rt

    monkeypatch.setattr(pipeline, "MIN_PSNR_DB", 200.0)  # no lossy variant reaches 200 dB: each one must warn
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--calib", faces_dir)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("WARNING:")]
    assert any("generator_int8.onnx" in w and "dB PSNR" in w for w in warnings)
    assert any("generator_fp16.onnx" in w for w in warnings)
    report = __import__("json").loads((tmp_path / "out" / "export_report.json").read_text())
    assert len(report["warnings"]) == len(warnings) == 2
