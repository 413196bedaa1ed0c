"""ONNX metadata_props: the ModelMeta JSON and the I/O / precision tags that make an .onnx self-describing."""

from __future__ import annotations

import onnx

from stargan_rt.bundle import METADATA_KEY, ModelMeta
from stargan_rt.errors import BadModel

IO_KEY = f"{METADATA_KEY}.io"  # "float" | "frames"
PRECISION_KEY = f"{METADATA_KEY}.precision"  # "fp32" | "fp16" | "int8"


def set_metadata(model: onnx.ModelProto, meta: ModelMeta, *, io: str, precision: str) -> onnx.ModelProto:
    """Replace the stargan_rt keys of `model.metadata_props` (in place; returns the model)."""
    props = {p.key: p.value for p in model.metadata_props}
    onnx.helper.set_model_props(model, {**props, METADATA_KEY: meta.to_json(), IO_KEY: io, PRECISION_KEY: precision})
    return model


def get_metadata(model: onnx.ModelProto) -> tuple[ModelMeta, str, str]:
    """(ModelMeta, io, precision) of an exported model."""
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise BadModel(f"ONNX model has no '{METADATA_KEY}' metadata; export it with `stargan-rt export`")
    return ModelMeta.from_json(props[METADATA_KEY]), props.get(IO_KEY, "float"), props.get(PRECISION_KEY, "fp32")
