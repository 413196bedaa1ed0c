"""A generator that up-samples by resize-convolution (--g-upsample resize) goes through every stage like the official one:
its bundle says so, the export has no transposed convolution, and every CPU backend agrees with PyTorch."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from conftest import TINY, rng, stargan_rt, tiny_meta
from stargan_rt.backends import open_model
from stargan_rt.bundle import ModelMeta, load_meta, save_bundle
from stargan_rt.errors import BadModel
from stargan_rt.torch_model import build_generator, generator_state_numpy, load_generator

RESIZE = replace(TINY, upsample="resize")


@pytest.fixture(scope="module")
def resize_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    meta = replace(tiny_meta(), architecture=RESIZE)
    return save_bundle(tmp_path_factory.mktemp("resize") / "bundle", meta, generator_state_numpy(build_generator(RESIZE)))


def test_the_bundle_names_its_up_sampling_and_the_official_one_reads_as_before(resize_bundle, tmp_path):
    described = json.loads((resize_bundle / "model.json").read_text())
    assert described["architecture"]["upsample"] == "resize" and described["format_version"] == 2
    assert load_meta(resize_bundle).architecture == RESIZE
    official = json.loads(tiny_meta().to_json())  # what older stargan-rt versions wrote and read
    assert "upsample" not in official["architecture"] and official["format_version"] == 1
    with pytest.raises(BadModel, match="architecture.upsample 'bilinear' is not one of transpose, resize"):
        ModelMeta.from_dict({**described, "architecture": {**described["architecture"], "upsample": "bilinear"}})


def test_weights_of_one_layout_do_not_load_into_the_other(resize_bundle, tmp_path):
    meta = load_meta(resize_bundle)
    wrong = save_bundle(tmp_path / "wrong", replace(meta, architecture=TINY), generator_state_numpy(build_generator(RESIZE)))
    with pytest.raises(BadModel):
        load_generator(str(wrong))


def test_export_has_no_transposed_convolution_and_every_cpu_backend_agrees(resize_bundle, tmp_path):
    r = stargan_rt("export", resize_bundle, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    ops = {n.op_type for n in onnx.load(str(tmp_path / "out" / "generator.onnx")).graph.node}
    assert "Resize" in ops and "ConvTranspose" not in ops
    g, _ = load_generator(str(resize_bundle))
    x = rng().uniform(-1, 1, (3, 3, 32, 32)).astype(np.float32)
    c = (rng().random((3, 5)) < 0.5).astype(np.float32)
    with torch.no_grad():
        want = g(torch.from_numpy(x), torch.from_numpy(c)).numpy()
    for name, backend, atol in (("generator.onnx", "ort-cpu", 1e-4), ("generator.onnx", "ov-cpu", 2e-2),
                                ("generator_int8.onnx", "ort-cpu", 0.25)):
        if backend == "ov-cpu":
            pytest.importorskip("openvino")
        with open_model(str(tmp_path / "out" / name), backend=backend) as runner:
            got = runner.infer(x, c)
        assert np.abs(got - want).max() <= atol, (name, backend, np.abs(got - want).max())
