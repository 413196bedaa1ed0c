"""generator.onnx: self-contained, dynamic batch, named I/O, metadata inside, per-image InstanceNorm, equal to PyTorch."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from conftest import TINY, make_bundle, rng, tiny_meta
from stargan_rt.bundle import METADATA_KEY, ModelMeta, load_bundle, save_bundle
from stargan_rt.torch_model import load_generator


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_writes_every_artifact_and_a_report(exported):
    out, _, result = exported
    names = {p.name for p in out.iterdir()}
    assert {"generator.onnx", "generator_frames.onnx", "generator_fp16.onnx", "generator_int8.onnx", "generator_int8_ov.xml",
            "generator_int8_ov.bin", "export_report.json"} <= names
    assert not [n for n in names if n.endswith(".data")], "weights must be inside the .onnx (external_data=False)"
    assert "wrote" in result.stdout


def test_onnx_is_self_contained_with_named_dynamic_io_and_metadata(exported, bundle):
    model = onnx.load(str(exported[0] / "generator.onnx"), load_external_data=False)
    onnx.checker.check_model(model, full_check=True)
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer)
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert dims == {"image": ["batch", 3, 32, 32], "label": ["batch", 5]}
    assert [o.name for o in model.graph.output] == ["translated"]
    props = {p.key: p.value for p in model.metadata_props}
    assert ModelMeta.from_json(props[METADATA_KEY]) == load_bundle(bundle)[0]
    assert props["stargan_rt.io"] == "float" and props["stargan_rt.precision"] == "fp32"


def test_onnx_matches_pytorch_at_batch_1_and_3_on_fresh_inputs(exported, bundle):
    g, meta = load_generator(str(bundle))
    session = _session(exported[0] / "generator.onnx")
    for n in (1, 3):
        x = rng().uniform(-1, 1, (n, 3, 32, 32)).astype(np.float32)
        c = (rng().random((n, 5)) < 0.5).astype(np.float32)
        with torch.no_grad():
            want = g(torch.from_numpy(x), torch.from_numpy(c)).numpy()
        got = session.run(None, {"image": x, "label": c})[0]
        assert np.abs(got - want).max() <= 1e-4


@pytest.mark.slow
def test_instance_norm_uses_per_image_statistics_not_the_checkpoint_running_stats(tmp_path):
    """The official checkpoints carry running statistics that give garbage when used (yunjey/stargan#102)."""
    from export.to_onnx import generator_to_onnx

    meta, weights = load_bundle(make_bundle(tmp_path / "b"))
    for k in weights:  # running stats far from what per-image normalisation computes
        if k.endswith("running_mean"):
            weights[k] = np.full_like(weights[k], 3.0)
        elif k.endswith("running_var"):
            weights[k] = np.full_like(weights[k], 0.01)
    g, _ = load_generator(str(save_bundle(tmp_path / "odd", meta, weights)))
    model = generator_to_onnx(g, meta)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("InstanceNormalization") == 2 * TINY.repeat_num + 5 and "BatchNormalization" not in ops

    x = rng().uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    c = np.eye(5, dtype=np.float32)[:2]
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"image": x, "label": c})[0]
    with torch.no_grad():
        per_image = g(torch.from_numpy(x), torch.from_numpy(c)).numpy()
        for m in g.modules():  # now what eval() with running statistics would compute
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.forward = lambda t, m=m: torch.nn.functional.instance_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)
        with_running_stats = g(torch.from_numpy(x), torch.from_numpy(c)).numpy()
    assert np.abs(got - per_image).max() <= 1e-4
    assert np.abs(got - with_running_stats).max() > 0.1, "the test must be able to tell the two semantics apart"
    # each image is normalised alone: its output does not depend on the rest of the batch
    alone = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"image": x[:1], "label": c[:1]})[0]
    assert np.abs(alone - got[:1]).max() <= 1e-5


def test_report_records_the_parity_that_was_measured(exported):
    report = json.loads((exported[0] / "export_report.json").read_text())
    parity = report["checks"]["onnx_vs_torch"]
    assert set(parity) == {"batch_1", "batch_3"} and all(v["max_abs"] <= 1e-4 for v in parity.values())
