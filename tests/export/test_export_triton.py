"""--triton DIR: a model repository whose config.pbtxt files parse as Triton ModelConfig and match the ONNX."""

from __future__ import annotations

import onnx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

FIELD = descriptor_pb2.FieldDescriptorProto


def triton_model_config_class():
    """The part of Triton's ModelConfig (triton-inference-server/common protobuf/model_config.proto) the export writes.

    Field names and enum values are Triton's; text_format.Parse rejects any field or value not declared here.
    """
    f = descriptor_pb2.FileDescriptorProto(name="model_config_subset.proto", package="inference", syntax="proto3")
    dt = f.enum_type.add(name="DataType")
    for name, number in [("TYPE_INVALID", 0), ("TYPE_UINT8", 2), ("TYPE_FP16", 10), ("TYPE_FP32", 11)]:
        dt.value.add(name=name, number=number)

    def message(name, fields):
        m = f.message_type.add(name=name)
        for number, (fname, ftype, label, type_name) in enumerate(fields, 1):
            m.field.add(name=fname, number=number, type=ftype, label=label, type_name=type_name)
        return m

    opt, rep = FIELD.LABEL_OPTIONAL, FIELD.LABEL_REPEATED
    message("ModelTensor", [("name", FIELD.TYPE_STRING, opt, None), ("data_type", FIELD.TYPE_ENUM, opt, ".inference.DataType"),
                            ("dims", FIELD.TYPE_INT64, rep, None)])
    message("ModelDynamicBatching", [("preferred_batch_size", FIELD.TYPE_INT32, rep, None),
                                     ("max_queue_delay_microseconds", FIELD.TYPE_UINT64, opt, None)])
    group = message("ModelInstanceGroup", [("kind", FIELD.TYPE_ENUM, opt, ".inference.ModelInstanceGroup.Kind"),
                                           ("count", FIELD.TYPE_INT32, opt, None)])
    kind = group.enum_type.add(name="Kind")
    for name, number in [("KIND_AUTO", 0), ("KIND_GPU", 1), ("KIND_CPU", 2)]:
        kind.value.add(name=name, number=number)
    message("ModelConfig", [("name", FIELD.TYPE_STRING, opt, None), ("platform", FIELD.TYPE_STRING, opt, None),
                            ("max_batch_size", FIELD.TYPE_INT32, opt, None),
                            ("input", FIELD.TYPE_MESSAGE, rep, ".inference.ModelTensor"),
                            ("output", FIELD.TYPE_MESSAGE, rep, ".inference.ModelTensor"),
                            ("dynamic_batching", FIELD.TYPE_MESSAGE, opt, ".inference.ModelDynamicBatching"),
                            ("instance_group", FIELD.TYPE_MESSAGE, rep, ".inference.ModelInstanceGroup")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("inference.ModelConfig"))


def _parse(path):
    return text_format.Parse(path.read_text(), triton_model_config_class()())


def _onnx_io(path):
    model = onnx.load(str(path))
    names = onnx.TensorProto.DataType.Name
    return {v.name: ("TYPE_" + names(v.type.tensor_type.elem_type).replace("FLOAT", "FP32"),
                     [d.dim_value for d in v.type.tensor_type.shape.dim][1:])
            for v in (*model.graph.input, *model.graph.output)}


def _config_io(config):
    dtype = config.DESCRIPTOR.file.pool.FindEnumTypeByName("inference.DataType").values_by_number
    return {t.name: (dtype[t.data_type].name, list(t.dims)) for t in (*config.input, *config.output)}


def test_triton_repository_configs_parse_and_match_the_onnx_models(exported):
    out, repo, _ = exported
    float_config, frames_config = _parse(repo / "stargan" / "config.pbtxt"), _parse(repo / "stargan_frames" / "config.pbtxt")
    assert float_config.platform == frames_config.platform == "onnxruntime_onnx"
    assert float_config.max_batch_size == 4 and list(float_config.dynamic_batching.preferred_batch_size) == [2]
    assert float_config.HasField("dynamic_batching") and float_config.dynamic_batching.max_queue_delay_microseconds > 0
    assert _config_io(float_config) == _onnx_io(out / "generator.onnx")
    assert _config_io(frames_config) == _onnx_io(out / "generator_frames.onnx")
    assert (repo / "stargan" / "1" / "model.onnx").read_bytes() == (out / "generator.onnx").read_bytes()
    assert not (repo / "stargan_trt").exists()  # no engine was built


def test_the_parser_rejects_what_triton_would_reject(tmp_path):
    import pytest

    bad = tmp_path / "config.pbtxt"
    bad.write_text('name: "x"\nplatform: "onnxruntime_onnx"\ndynamic_batching { max_delay: 5 }\n')
    with pytest.raises(text_format.ParseError):
        _parse(bad)


def test_tensorrt_plan_model_config():
    from export.triton import config_pbtxt
    from stargan_rt.engine_meta import BatchProfile

    from conftest import tiny_meta

    text = config_pbtxt("stargan_trt", "tensorrt_plan", tiny_meta(), BatchProfile(1, 1, 8), gpu=True)
    config = text_format.Parse(text, triton_model_config_class()())
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 8 and config.instance_group[0].kind == 1
    assert not config.dynamic_batching.preferred_batch_size  # opt batch 1: nothing to prefer
