"""Tiny models for the runtime tests: a bundle, and its float and frames ONNX exports (made here, with torch).

The generator is random (seeded) and tiny (16 px, conv_dim 4, one residual block): the tests check plumbing,
shapes and agreement between backends, not image quality.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, Preprocess, save_bundle

SIZE = 16
# `auto` caches its probe verdicts: the tests' verdicts go to a folder of their own, not the user's cache
os.environ.setdefault("STARGAN_RT_CACHE", tempfile.mkdtemp(prefix="stargan-rt-test-cache-"))
atexit.register(shutil.rmtree, os.environ["STARGAN_RT_CACHE"], True)
CELEBA_TINY = DomainSet(
    name="CelebA",
    kind="multi_label",
    domains=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
    exclusive=(("Black_Hair", "Blond_Hair", "Brown_Hair"),),
)


def tiny_meta(size: int = SIZE) -> ModelMeta:
    return ModelMeta(
        architecture=Architecture(image_size=size, c_dim=5, conv_dim=4, repeat_num=1),
        datasets=(CELEBA_TINY,),
        preprocess=Preprocess(crop_size=178),
        provenance={"note": "random tiny generator for tests"},
    )


def _export_onnx(module, args, names, out_name, path: Path, meta: ModelMeta, io: str) -> Path:
    import onnx
    import torch

    batch = torch.export.Dim("batch", min=1, max=64)
    dyn = tuple({0: batch} for _ in names)
    with warnings.catch_warnings():  # exporter chatter about axis names and pytree internals
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            module, args, input_names=list(names), output_names=[out_name], dynamic_shapes=dyn,
            dynamo=True, external_data=False, verbose=False,
        )
    model = prog.model_proto
    for k, v in {"stargan_rt": meta.to_json(), "stargan_rt.io": io, "stargan_rt.precision": "fp32"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory):
    """(generator, meta, bundle dir) of one random tiny generator (needs torch)."""
    torch = pytest.importorskip("torch", reason="making the test models needs torch")
    from stargan_rt.torch_model import build_generator, generator_state_numpy

    root = tmp_path_factory.mktemp("tiny_model")
    meta = tiny_meta()
    torch.manual_seed(0)
    g = build_generator(meta.architecture).eval()
    with torch.no_grad():  # the default init gives near-constant outputs: spread weights out a little
        for p in g.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_bundle(root / "bundle", meta, generator_state_numpy(g))
    return g, meta, root / "bundle"


@pytest.fixture(scope="session")
def tiny_bundle(tiny_generator) -> Path:
    return tiny_generator[2]


@pytest.fixture(scope="session")
def tiny_models(tiny_generator) -> dict[str, Path]:
    """{"bundle": dir, "onnx": float ONNX, "frames_onnx": frames ONNX, "int8_onnx": the INT8 QDQ ONNX,
    "openvino_ir": the INT8 OpenVINO IR} of the tiny generator (the INT8 ones as `stargan-rt export` makes them)."""
    import torch

    pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript")
    from stargan_rt.backends.torch_backend import frames_to_input, output_to_frames

    g, meta, bundle = tiny_generator
    root = bundle.parent

    class Frames(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.g = g
            self.register_buffer("mean", torch.tensor(meta.preprocess.mean).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(meta.preprocess.std).view(1, 3, 1, 1))

        def forward(self, frames, label):
            y = self.g(frames_to_input(frames, self.mean, self.std, True), label)
            return output_to_frames(y, self.mean, self.std, True)

    x = torch.zeros(2, 3, SIZE, SIZE)
    c = torch.zeros(2, 5)
    f = torch.zeros(2, SIZE, SIZE, 3, dtype=torch.uint8)
    models = {
        "bundle": bundle,
        "onnx": _export_onnx(g, (x, c), ("image", "label"), "translated", root / "generator.onnx", meta, "float"),
        "frames_onnx": _export_onnx(
            Frames().eval(), (f, c), ("frames", "label"), "translated_frames", root / "generator_frames.onnx", meta, "frames"
        ),
    }
    return {**models, **_int8_models(models["onnx"], meta, root)}


def _int8_models(float_onnx: Path, meta: ModelMeta, root: Path) -> dict[str, Path]:
    import onnx

    from export.calibration import Samples
    from export.int8 import float_to_int8
    from export.openvino import OPENVINO_RECIPE, save_ir

    rng = np.random.default_rng(0)
    calib = Samples(rng.uniform(-1, 1, (8, 3, SIZE, SIZE)).astype(np.float32),
                    rng.integers(0, 2, (8, 5)).astype(np.float32), "random")
    model = onnx.load(str(float_onnx))
    onnx.save(float_to_int8(model, calib), str(root / "generator_int8.onnx"))
    ir_source = float_to_int8(model, calib, OPENVINO_RECIPE)  # what the IR holds, as a QDQ ONNX onnxruntime can run
    onnx.save(ir_source, str(root / "generator_int8_ov_qdq.onnx"))
    return {"int8_onnx": root / "generator_int8.onnx", "openvino_ir": save_ir(ir_source, root / "generator_int8_ov.xml"),
            "openvino_ir_qdq": root / "generator_int8_ov_qdq.onnx"}
