"""OpenVINO's CPU plugin on an exported .onnx (read as is) or an OpenVINO IR (.xml + .bin) generator.

Precision is stated, never guessed: on CPUs with bf16 OpenVINO runs float layers in bf16 unless told otherwise
(INFERENCE_PRECISION_HINT). This backend runs an FP32 artifact in f32 (the float result it promises) and an INT8
one with its few non-quantized layers in bf16 where the CPU has it (OpenVINO's default: the first 7x7 convolution
and InstanceNorm ran ~1.2x faster than in f32 at the same PSNR); `precision="f32"` or `"bf16"` sets either. What it
reports is read back from the compiled model's runtime graph (how many convolutions run in int8, bf16 or f32), so
a bf16 run is never called fp32, and a bf16 request on a CPU without bf16 says f32.

Shapes: OpenVINO is faster on static shapes (~1-3 ms of 30 at the official size, 2-core machine), so each batch
size gets its own compiled model, compiled on first use (~0.3 s at the official size) and kept; beyond
MAX_STATIC_SHAPES sizes the dynamic-batch model serves the rest.

The ONNX metadata_props (ModelMeta JSON, I/O kind, precision) reach OpenVINO as rt_info["framework"], and
`openvino.save_model` keeps them in the IR, so both formats are self-describing.

`import openvino` (2026.4) sends a usage event to Google Analytics unless the user ran `opt_in_out --opt_out`
(openvino-telemetry, on by default; openvino/tools/ovc/__init__.py) and writes ~/intel/openvino_ga_cid. The runtime
makes no network calls: `import_openvino` loads OpenVINO with the telemetry module hidden, so OpenVINO's own
no-telemetry stub is used instead.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import METADATA_KEY, ModelMeta, check_finite
from ..errors import BadInput, BadModel, first_line
from ._checks import check_graph_shapes
from .base import GraphRunner, register
from .onnxruntime_backend import IO_KEY, IO_NAMES, PRECISION_KEY

PRECISIONS = ("f32", "bf16")
MAX_STATIC_SHAPES = 8
IR_SUFFIX = ".xml"
CONV_LAYERS = ("Convolution", "Deconvolution")


def import_openvino() -> Any:
    """The openvino module, imported without its telemetry (see the module docstring); ImportError if absent."""
    if "openvino" in sys.modules:
        return sys.modules["openvino"]
    hide = "openvino_telemetry" not in sys.modules
    if hide:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # `import` of it now fails: the stub is used
    try:
        import openvino
    finally:
        if hide:
            del sys.modules["openvino_telemetry"]
    return openvino


def _accepts(path: Path) -> bool:
    return path.suffix.lower() in (".onnx", IR_SUFFIX) and path.is_file()


@lru_cache(maxsize=1)
def _core() -> Any:
    return import_openvino().Core()


def _available() -> tuple[bool, str]:
    try:
        ov = import_openvino()
    except ImportError:
        return False, "openvino is not installed"
    if "CPU" not in _core().available_devices:
        return False, f"OpenVINO {ov.__version__} has no CPU device here"
    return True, f"OpenVINO {ov.get_version().split('-')[0]} CPU plugin"


def _rank(path: Path) -> int:
    # INT8 on OpenVINO is the fastest CPU path measured (benchmarks/results/cpu-2core); a float model runs in f32,
    # about as fast as onnxruntime FP32. `auto` measures; this order only breaks ties and answers without probing.
    return 60 if _is_int8(path) else 30


def _is_int8(path: Path) -> bool:
    return "int8" in path.name



def _framework_info(model: Any, key: str) -> str | None:
    path = ["framework", key]
    return str(model.get_rt_info(path).astype(str)) if model.has_rt_info(path) else None


def runtime_precision(compiled: Any) -> str:
    """What a compiled model computes in, read from its runtime graph: "fp32", "bf16", or "int8 (k of n convolutions;
    other layers fp32|bf16)"."""
    convs: Counter[str] = Counter()
    bf16 = False
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        p = info["runtimePrecision"].astype(str).lower()
        bf16 = bf16 or p == "bf16"
        if info["layerType"].astype(str) in CONV_LAYERS:
            convs["int8" if p in ("u8", "i8") else p] += 1
    float_kind = "bf16" if bf16 else "fp32"
    if convs["int8"]:
        return f"int8 ({convs['int8']} of {sum(convs.values())} convolutions; other layers {float_kind})"
    return float_kind


@register("ov-cpu", accepts=_accepts, available=_available, priority=30, rank=_rank)
class OpenVinoRunner(GraphRunner):
    """A generator compiled by OpenVINO for the CPU, one compiled model per batch size."""

    name = "ov-cpu"

    def __init__(self, path: str | Path, *, threads: int | None = None, precision: str | None = None,
                 static_batch: bool = True):
        ov = import_openvino()
        path = Path(path)
        if not path.is_file():
            raise BadModel(f"{path}: no such ONNX or OpenVINO IR file")
        if precision is not None and precision not in PRECISIONS:
            raise BadInput(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        try:
            model = _core().read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with multi-line C++ messages
            raise BadModel(f"{path}: OpenVINO cannot load it ({first_line(exc)})") from None
        meta_json = _framework_info(model, METADATA_KEY)
        if meta_json is None:
            raise BadModel(f"{path}: no '{METADATA_KEY}' metadata; export it with `stargan-rt export`")
        self.meta = ModelMeta.from_json(meta_json)
        have = sorted(n for i in model.inputs for n in i.get_names())
        self.io = _framework_info(model, IO_KEY) or ("frames" if "frames" in have else "float")
        if self.io not in IO_NAMES:
            raise BadModel(f"{path}: unknown '{IO_KEY}' value {self.io!r} (expected float or frames)")
        self.input_names, self.output_name = IO_NAMES[self.io]
        outs = [n for o in model.outputs for n in o.get_names()]
        if have != sorted(self.input_names) or self.output_name not in outs:
            raise BadModel(f"{path}: inputs {have} do not match a stargan-rt {self.io} model {list(self.input_names)}")
        check_graph_shapes(path, self.meta, {n: [d.get_length() if d.is_static else None for d in t.get_partial_shape()]
                                             for t in [*model.inputs, *model.outputs] for n in t.get_names()})
        # OpenVINO can turn NaN weights into finite garbage (seen on the CPU plugin), so they are looked for here
        check_finite(path, ((op.get_friendly_name(), op.get_data()) for op in model.get_ordered_ops()
                            if op.get_type_name() == "Constant" and op.get_element_type().is_real()))
        self.path, self.model, self.version = path, model, ov.get_version().split("-")[0]
        self.artifact_precision = _framework_info(model, PRECISION_KEY) or "fp32"
        hint = precision or ("bf16" if self.artifact_precision == "int8" else "f32")
        self.config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = int(threads)
        self.static_batch, self.asked = static_batch, precision
        self._requests: dict[int | None, Any] = {}
        self._lock = threading.Lock()  # an infer request serves one call at a time
        first = self._request(1)
        self.threads = int(first.get_compiled_model().get_property("INFERENCE_NUM_THREADS"))
        self.precision = runtime_precision(first.get_compiled_model())

    def _request(self, n: int) -> Any:
        """The infer request for batch n: a static-shape compiled model, or the dynamic one past MAX_STATIC_SHAPES."""
        static = self.static_batch and (n in self._requests or len(self._requests) < MAX_STATIC_SHAPES)
        key = n if static else None
        if key not in self._requests:
            model = self.model
            if static:
                model = model.clone()
                model.reshape({i.get_any_name(): [n, *(d.get_length() for d in list(i.get_partial_shape())[1:])] for i in model.inputs})
            try:
                compiled = _core().compile_model(model, "CPU", self.config)
            except Exception as exc:
                raise BadModel(f"{self.path}: OpenVINO cannot compile it ({first_line(exc)})") from None
            self._requests[key] = compiled.create_infer_request()
        return self._requests[key]

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        n = next(iter(feeds.values())).shape[0]
        with self._lock:
            request = self._request(n)
            try:  # inputs are read in place and the output copied once, out of the request's own buffer
                return request.infer(feeds, share_inputs=True, share_outputs=True)[0].copy()
            except Exception as exc:  # inputs are checked first: what fails here is the model itself
                raise BadModel(f"{self.path}: OpenVINO cannot run it ({first_line(exc)})") from None

    def _handle(self) -> object:
        return self.model

    def describe(self) -> str:
        asked = f", asked for bf16 but this CPU runs {self.precision}" if self.asked == "bf16" and "bf16" not in self.precision else ""
        shapes = "static batch shapes" if self.static_batch else "dynamic batch"
        return (f"{self.name}: OpenVINO {self.version} CPU ({self.io} model, {self.precision}{asked}) {self.path.name}, "
                f"{self.threads} threads, {shapes}")

    def close(self) -> None:
        self._requests.clear()
        self.model = None  # type: ignore[assignment]
