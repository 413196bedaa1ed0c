"""PyTorch generator -> float ONNX (`image`, `label` -> `translated`), checked structurally and against PyTorch."""

from __future__ import annotations

import contextlib
import logging
import secrets
import warnings
from typing import TYPE_CHECKING, Iterator

import numpy as np
import onnx

from stargan_rt.bundle import ModelMeta
from stargan_rt.errors import BadModel

from .metadata import set_metadata
from .parity import Diff, diff, ort_session, random_inputs, run

if TYPE_CHECKING:
    from stargan_rt.torch_model import Generator

INPUTS = ("image", "label")
OUTPUT = "translated"
PARITY_ATOL = 1e-4  # on the [-1, 1] output


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs optional-op registration noise (torchvision) and deprecation warnings: not ours to show."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def generator_to_onnx(generator: "Generator", meta: ModelMeta) -> onnx.ModelProto:
    """Export with the torch.export-based exporter, a dynamic batch dimension and the ModelMeta embedded."""
    import torch

    s, c_dim = meta.architecture.image_size, meta.label_dim
    batch = torch.export.Dim("batch", min=1)
    example = (torch.zeros(2, 3, s, s), torch.zeros(2, c_dim))
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            generator, example, input_names=list(INPUTS), output_names=[OUTPUT], dynamo=True,
            external_data=False, dynamic_shapes=({0: batch}, {0: batch}), verbose=False,
        )
    if program is None:
        raise BadModel("torch.onnx.export returned no program")
    model = program.model_proto
    model.doc_string = "StarGAN generator exported by stargan-rt"
    set_metadata(model, meta, io="float", precision="fp32")
    check_float_model(model, meta)
    return model


def check_float_model(model: onnx.ModelProto, meta: ModelMeta) -> None:
    """onnx.checker, the I/O contract, and per-image InstanceNormalization (no running statistics)."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise BadModel(f"exported ONNX fails onnx.checker: {str(exc).splitlines()[0]}") from None
    s, c_dim = meta.architecture.image_size, meta.label_dim
    want = {"image": (None, 3, s, s), "label": (None, c_dim)}
    got = {i.name: _shape(i) for i in model.graph.input}
    if got != want or [o.name for o in model.graph.output] != [OUTPUT]:
        raise BadModel(f"exported ONNX has inputs {got} / outputs {[o.name for o in model.graph.output]}, expected {want} -> {OUTPUT}")
    ops = [n.op_type for n in model.graph.node]
    expected = 2 * meta.architecture.repeat_num + 5  # 3 down, 2 per residual block, 2 up
    if ops.count("InstanceNormalization") != expected or "BatchNormalization" in ops:
        raise BadModel(
            f"expected {expected} InstanceNormalization nodes and no BatchNormalization (per-image statistics), "
            f"found {ops.count('InstanceNormalization')} and {ops.count('BatchNormalization')}"
        )


def _shape(value: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim)


def check_against_torch(
    model: onnx.ModelProto, generator: "Generator", meta: ModelMeta, batches: tuple[int, ...] = (1, 3),
    atol: float = PARITY_ATOL,
) -> dict[int, Diff]:
    """onnxruntime vs PyTorch on fresh random inputs at each batch size; BadModel if any exceeds atol."""
    import torch

    session = ort_session(model)
    seed = secrets.randbits(32)
    rng = np.random.default_rng(seed)
    result = {}
    for n in batches:
        x, c = random_inputs(meta, n, rng)
        with torch.no_grad():
            want = generator(torch.from_numpy(x), torch.from_numpy(c)).numpy()
        result[n] = d = diff(want, run(session, {"image": x, "label": c}))
        if not d.max_abs <= atol:
            raise BadModel(f"ONNX disagrees with PyTorch at batch {n}: {d} > {atol:g} (input seed {seed})")
    return result
