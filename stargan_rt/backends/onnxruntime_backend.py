"""onnxruntime: CPU, CUDA and TensorRT execution providers for an exported .onnx generator.

Two ONNX variants exist (metadata_props "stargan_rt.io"): "float" takes `image` float32 NCHW RGB in [-1, 1]
and gives `translated`; "frames" takes `frames` uint8 NHWC BGR and gives `translated_frames` with the
pre/post-processing inside the graph. Both take `label` float32 (N, c_dim). The model's ModelMeta is read
from metadata_props "stargan_rt", so an .onnx file is self-describing.

On the GPU providers inputs and outputs go through IO binding, so onnxruntime copies each array once and
leaves the output on the device until it is read back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import host
from ..bundle import METADATA_KEY, ModelMeta
from ..errors import BadModel, MissingDependency, first_line
from ._checks import check_graph_shapes
from ._cpu import cpu_has
from .base import GraphRunner, register

IO_KEY = f"{METADATA_KEY}.io"
PRECISION_KEY = f"{METADATA_KEY}.precision"
IO_NAMES = {"float": (("image", "label"), "translated"), "frames": (("frames", "label"), "translated_frames")}


def _is_onnx(path: Path) -> bool:
    return path.suffix.lower() == ".onnx" and path.is_file()


def _providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def _nvidia_gpu_present() -> bool:
    # onnxruntime-gpu lists the CUDA provider whether or not a GPU exists; the driver's device node tells.
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")


def _available(provider: str, needs_gpu: bool) -> tuple[bool, str]:
    providers = _providers()
    if not providers:
        return False, "onnxruntime is not installed"
    if provider not in providers:
        return False, f"this onnxruntime build has no {provider}"
    if needs_gpu and not _nvidia_gpu_present():
        return False, f"{provider} is built in but no NVIDIA GPU is visible"
    return True, f"onnxruntime {provider}"



class OrtRunner(GraphRunner):
    """A generator in an onnxruntime InferenceSession on one execution provider."""

    provider: ClassVar[str] = "CPUExecutionProvider"
    device_type: ClassVar[str] = "cpu"

    def __init__(self, path: str | Path, *, threads: int | None = None, device_id: int = 0):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise BadModel(f"{path}: no such ONNX file")
        so = ort.SessionOptions()
        so.log_severity_level = 3  # errors only: the TensorRT EP is chatty
        if threads:
            so.intra_op_num_threads = int(threads)
        self.device_id = device_id
        providers = self._provider_list(path)
        try:
            self.session = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as exc:  # onnxruntime raises its own pybind exception types for corrupt models
            raise BadModel(f"{path}: onnxruntime cannot load it ({first_line(exc)})") from None
        active = self.session.get_providers()
        if active[0] != self.provider:  # onnxruntime falls back to CPU silently: we do not
            raise MissingDependency(f"{path}: asked for {self.provider} but onnxruntime could only use {active[0]}")
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise BadModel(f"{path}: no '{METADATA_KEY}' metadata; export it with `stargan-rt export`")
        self.meta = ModelMeta.from_json(props[METADATA_KEY])
        self.io = props.get(IO_KEY) or ("frames" if any(i.name == "frames" for i in self.session.get_inputs()) else "float")
        if self.io not in IO_NAMES:
            raise BadModel(f"{path}: unknown '{IO_KEY}' value {self.io!r} (expected float or frames)")
        self.precision = props.get(PRECISION_KEY, "fp32")
        (self.input_names, self.output_name) = IO_NAMES[self.io]
        have = sorted(i.name for i in self.session.get_inputs())
        if have != sorted(self.input_names) or self.session.get_outputs()[0].name != self.output_name:
            raise BadModel(f"{path}: inputs {have} do not match a stargan-rt {self.io} model {list(self.input_names)}")
        check_graph_shapes(path, self.meta, {t.name: t.shape for t in [*self.session.get_inputs(), *self.session.get_outputs()]})
        self.path = path

    def _provider_list(self, path: Path) -> list[Any]:
        return [self.provider]

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        try:
            if self.device_type == "cpu":
                return self.session.run([self.output_name], feeds)[0]
            binding = self.session.io_binding()
            for name, arr in feeds.items():
                binding.bind_cpu_input(name, arr)
            binding.bind_output(self.output_name, self.device_type, self.device_id)
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0]
        except Exception as exc:  # inputs are checked first: what fails here is the graph itself
            raise BadModel(f"{self.path}: onnxruntime cannot run it ({first_line(exc)})") from None

    def _handle(self) -> object:
        return self.session

    def describe(self) -> str:
        return f"{self.name}: onnxruntime {self.provider} ({self.io} model, {self.precision}) {self.path.name}"

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]  # drops the session and its device memory


def _cpu_rank(path: Path) -> int:
    # An INT8 model outruns torch bf16 (priority 50) on CPUs without AMX; see the ranking in backends/__init__.py.
    return 55 if path.name.endswith("_int8.onnx") and not cpu_has("amx_int8", "amx_bf16") else 20


@register("ort-cpu", accepts=_is_onnx, available=lambda: _available("CPUExecutionProvider", False), priority=20,
          rank=_cpu_rank)
class OrtCpuRunner(OrtRunner):
    name = "ort-cpu"


@register("ort-cuda", accepts=_is_onnx, available=lambda: _available("CUDAExecutionProvider", True), priority=70)
class OrtCudaRunner(OrtRunner):
    name = "ort-cuda"
    provider = "CUDAExecutionProvider"
    device_type = "cuda"

    def _provider_list(self, path: Path) -> list[Any]:
        return [("CUDAExecutionProvider", {"device_id": self.device_id}), "CPUExecutionProvider"]


@register("ort-tensorrt", accepts=_is_onnx, available=lambda: _available("TensorrtExecutionProvider", True), priority=90,
          probe=False)  # its first load builds a TensorRT engine: minutes, not a probe
class OrtTensorrtRunner(OrtRunner):
    """TensorRT EP: builds (and caches) an engine from the ONNX on first load; FP16 by default.

    Options: fp16 (default True), cache_dir (engine + timing cache; default ~/.cache/stargan-rt/ort-trt),
    max_batch (top of the dynamic-batch profile, default 8). The cache is keyed by onnxruntime on the model,
    TensorRT version and GPU; delete the folder after changing any of them.
    """

    name = "ort-tensorrt"
    provider = "TensorrtExecutionProvider"
    device_type = "cuda"

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int | None = None,
        device_id: int = 0,
        fp16: bool = True,
        cache_dir: str | Path | None = None,
        max_batch: int = 8,
    ):
        self.fp16, self.max_batch = fp16, max_batch
        self.cache_dir = Path(cache_dir) if cache_dir else host.cache_dir("ort-trt")
        super().__init__(path, threads=threads, device_id=device_id)
        if fp16:
            self.precision = "fp16 (TensorRT)"

    def _provider_list(self, path: Path) -> list[Any]:
        cache = self.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        trt: dict[str, Any] = {
            "device_id": self.device_id,
            "trt_fp16_enable": self.fp16,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(cache),
        }
        trt.update(self._profile(path, self.max_batch))
        cuda = ("CUDAExecutionProvider", {"device_id": self.device_id})
        return [("TensorrtExecutionProvider", trt), cuda, "CPUExecutionProvider"]

    def _profile(self, path: Path, max_batch: int) -> dict[str, str]:
        """Dynamic-batch profile 1..max_batch, optimised for batch 1 (one face per frame is the common case)."""
        # The session does not exist yet: the input sizes come from the model's own input shapes.
        import onnxruntime as ort

        try:
            probe = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BadModel(f"{path}: onnxruntime cannot load it ({first_line(exc)})") from None
        shapes = {i.name: [d if isinstance(d, int) else -1 for d in i.shape] for i in probe.get_inputs()}

        def spec(n: int) -> str:
            return ",".join(f"{k}:" + "x".join(str(n if d == -1 else d) for d in s) for k, s in shapes.items())

        return {"trt_profile_min_shapes": spec(1), "trt_profile_opt_shapes": spec(1), "trt_profile_max_shapes": spec(max_batch)}
