"""PyTorch (when installed) on a bundle directory: CPU FP32, CPU bf16, CUDA FP16 with CUDA-graph replay.

- torch-cpu: eager FP32, the reference the other backends are compared with.
- torch-cpu-bf16: bf16 autocast + channels_last through oneDNN; on CPUs with AVX512-BF16/AMX it is the
  fastest CPU path (~2.6x eager FP32 measured for the 128 px generator on the 2-core development Xeon).
- torch-cuda: FP16 weights with InstanceNorm kept in FP32 (FP16 instance statistics are a known accuracy
  trap), channels_last, and one CUDA graph per batch size: captured after a warm-up on a side stream,
  replayed with static, page-locked input buffers, so one call costs a few copies and one graph launch.
  Frames are converted to the model's range on the GPU inside the graph.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..bundle import is_bundle
from ..errors import MissingDependency
from ._checks import check_frames, check_images, ensure_open
from ._cpu import cpu_has
from .base import Runner, register

if TYPE_CHECKING:
    import torch


def _torch_available() -> tuple[bool, str]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed"
    import torch

    return True, f"torch {torch.__version__}"


def cpu_has_bf16() -> bool:
    """Native bf16 matrix instructions (AVX512-BF16 or AMX): without them bf16 on CPU is slower than FP32."""
    return cpu_has("avx512_bf16", "amx_bf16")


def _bf16_available() -> tuple[bool, str]:
    ok, why = _torch_available()
    if not ok:
        return ok, why
    if not cpu_has_bf16():
        return False, "this CPU has no AVX512-BF16/AMX, where bf16 is slower than FP32"
    return True, f"{why}, CPU bf16 (AVX512-BF16/AMX)"


def _cuda_available() -> tuple[bool, str]:
    ok, why = _torch_available()
    if not ok:
        return ok, why
    import torch

    if not torch.cuda.is_available():
        return False, f"{why} has no CUDA device here"
    return True, f"{why}, CUDA on {torch.cuda.get_device_name(0)}"


class TorchRunner(Runner):
    """The bundle's generator in PyTorch on the CPU (FP32 eager, or bf16 autocast + channels_last)."""

    name = "torch-cpu"
    bf16 = False

    def __init__(self, path: str | Path, *, threads: int | None = None):
        from .._optional import require

        torch = require("torch", "the PyTorch backend")
        from ..torch_model import load_generator

        if threads:
            torch.set_num_threads(int(threads))
        self.path = Path(path)
        self.torch = torch
        self.model, self.meta = load_generator(str(path), "cpu")
        if self.bf16:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        ensure_open(self, self.model)
        x, c = check_images(x, c, self.meta)
        torch = self.torch
        with torch.inference_mode():
            xt, ct = torch.from_numpy(x), torch.from_numpy(c)
            if self.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    y = self.model(xt.contiguous(memory_format=torch.channels_last), ct)
            else:
                y = self.model(xt, ct)
            return y.float().contiguous().numpy()

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        ensure_open(self, self.model)
        frames, c = check_frames(frames, c, self.meta)
        return super().infer_frames(frames, c)

    def describe(self) -> str:
        kind = "bf16 autocast + channels_last" if self.bf16 else "FP32 eager"
        return f"{self.name}: PyTorch {self.torch.__version__} CPU {kind}, bundle {self.path.name}"

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]


register("torch-cpu", accepts=is_bundle, available=_torch_available, priority=10)(TorchRunner)


@register("torch-cpu-bf16", accepts=is_bundle, available=_bf16_available, priority=50)
class TorchBf16Runner(TorchRunner):
    name = "torch-cpu-bf16"
    bf16 = True


def frames_to_input(frames: "torch.Tensor", mean: "torch.Tensor", std: "torch.Tensor", rgb: bool) -> "torch.Tensor":
    """uint8 (N, S, S, 3) BGR -> float (N, 3, S, S) in the model's range: images.to_tensor in torch.

    mean/std are (1, 3, 1, 1) float tensors already on the frames' device (nothing is created here, so the
    function can be captured in a CUDA graph).
    """
    x = frames.flip(-1) if rgb else frames
    return (x.permute(0, 3, 1, 2).float() / 255.0 - mean) / std


def output_to_frames(y: "torch.Tensor", mean: "torch.Tensor", std: "torch.Tensor", rgb: bool) -> "torch.Tensor":
    """float (N, 3, S, S) -> uint8 (N, S, S, 3) BGR, rounding as images.to_frames does."""
    import torch

    y = (y.float() * std + mean) * 255.0 + 0.5
    y = y.clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return y.flip(-1) if rgb else y


class _Graph:
    """One captured CUDA graph with its static input/output buffers for one batch size."""

    def __init__(self, torch: Any, fn: Callable[..., Any], inputs: list[Any], warmup: int = 3):
        self.inputs = inputs
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up on a side stream, as torch.cuda.graphs documents
            for _ in range(warmup):
                fn(*inputs)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.output = fn(*inputs)
        # Page-locked host copies of inputs and output: the H2D/D2H copies can then be asynchronous.
        self.host_inputs = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in inputs]
        self.host_output = torch.empty(self.output.shape, dtype=self.output.dtype, pin_memory=True)
        self.done = torch.cuda.Event()

    def __call__(self, arrays: list[np.ndarray]) -> np.ndarray:
        for host, dev, arr in zip(self.host_inputs, self.inputs, arrays):
            host.numpy()[...] = arr
            dev.copy_(host, non_blocking=True)
        self.graph.replay()
        self.host_output.copy_(self.output, non_blocking=True)
        self.done.record()
        self.done.synchronize()
        return self.host_output.numpy().copy()


@register("torch-cuda", accepts=is_bundle, available=_cuda_available, priority=80)
class TorchCudaRunner(Runner):
    """FP16 generator on CUDA, replayed from CUDA graphs (one per batch size, captured on first use)."""

    name = "torch-cuda"

    def __init__(self, path: str | Path, *, device_id: int = 0, cuda_graphs: bool = True):
        from .._optional import require

        torch = require("torch", "the PyTorch CUDA backend")
        if not torch.cuda.is_available():
            raise MissingDependency("the torch-cuda backend needs a CUDA GPU; none is visible to PyTorch")
        from ..torch_model import InstanceNorm, load_generator

        self.torch = torch
        self.path = Path(path)
        self.device = torch.device("cuda", device_id)
        model, self.meta = load_generator(str(path), self.device)
        model = model.half().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        for m in model.modules():
            if isinstance(m, InstanceNorm):  # statistics in FP32; FP16 in and out
                m.float()
                m.register_forward_pre_hook(lambda _m, args: (args[0].float(),))
                m.register_forward_hook(lambda _m, _args, out: out.half())
        self.model = model
        self.cuda_graphs = cuda_graphs
        self._graphs: dict[tuple[str, int], _Graph] = {}
        self._lock = threading.Lock()  # graphs and their static buffers are shared state
        pre = self.meta.preprocess
        stats = [torch.tensor(v, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) for v in (pre.mean, pre.std)]
        self._pre = (stats[0], stats[1], pre.channel_order == "RGB")

    def _float_fn(self, x: "torch.Tensor", c: "torch.Tensor") -> "torch.Tensor":
        return self.model(x.half().contiguous(memory_format=self.torch.channels_last), c.half()).float()

    def _frames_fn(self, frames: "torch.Tensor", c: "torch.Tensor") -> "torch.Tensor":
        x = frames_to_input(frames, *self._pre)
        y = self.model(x.half().contiguous(memory_format=self.torch.channels_last), c.half())
        return output_to_frames(y, *self._pre).contiguous()

    def _run(self, kind: str, arrays: list[np.ndarray]) -> np.ndarray:
        torch = self.torch
        fn = self._float_fn if kind == "float" else self._frames_fn
        with self._lock, torch.inference_mode(), torch.cuda.device(self.device):
            if not self.cuda_graphs:
                outs = fn(*[torch.from_numpy(a).to(self.device, non_blocking=True) for a in arrays])
                return outs.cpu().numpy()
            key = (kind, arrays[0].shape[0])
            graph = self._graphs.get(key)
            if graph is None:
                static = [torch.zeros(a.shape, dtype=torch.from_numpy(a).dtype, device=self.device) for a in arrays]
                graph = self._graphs[key] = _Graph(torch, fn, static)
            return graph(arrays)

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        ensure_open(self, self.model)
        x, c = check_images(x, c, self.meta)
        return self._run("float", [x, c])

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        ensure_open(self, self.model)
        frames, c = check_frames(frames, c, self.meta)
        return self._run("frames", [frames, c])

    def describe(self) -> str:
        graphs = "CUDA graphs" if self.cuda_graphs else "eager"
        gpu = self.torch.cuda.get_device_name(self.device)
        return f"{self.name}: PyTorch {self.torch.__version__} on {gpu}, FP16 (InstanceNorm FP32), channels_last, {graphs}"

    def close(self) -> None:
        self._graphs.clear()
        self.model = None  # type: ignore[assignment]
        self.torch.cuda.empty_cache()
