"""TensorRT: a serialized engine (.plan) run with pycuda, two batches in flight so copies overlap compute.

Engines of both products run here (stargan_rt.engine_meta.PRODUCTS): TensorRT, and TensorRT for RTX, whose
kernels are compiled just in time on this GPU when the context is created; a runtime cache in
~/.cache/stargan-rt/tensorrt-rtx keeps them for the next start. The engine's sidecar `<plan>.json` is checked
before deserializing, in this order, each refusal one line: the product that built it is installed in the
same version; pycuda loads (it needs the NVIDIA driver, libcuda.so.1); this GPU is one the engine was built for.

Execution (TensorRT 10 name-based I/O): one execution context, page-locked host buffers and device buffers
for two slots, and three CUDA streams so that, for consecutive batches k and k+1,

    h2d stream:     [H2D k] [H2D k+1]
    compute stream:         [execute k] [execute k+1]
    d2h stream:                         [D2H k]     [D2H k+1]

ordered by CUDA events (H2D done -> execute -> D2H). Every I/O tensor's address is set with
set_tensor_address before each execute_async_v3 (the context reads them at enqueue time). Enqueues share the
compute stream, so the context's activation memory is never used by two batches at once.

tensorrt and pycuda are imported lazily: this module imports without them, and is type-checked with mypy
against tensorrt-stubs (the API both products share).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from .. import engine_meta
from ..bundle import ModelMeta
from ..errors import BadInput, BadModel, MissingDependency
from ..host import cache_dir
from ._checks import check_graph_shapes, io_shapes
from .base import GraphRunner, register

if TYPE_CHECKING:
    import tensorrt as trt

SLOTS = 2  # batches in flight
RUNTIME_CACHE_DIR = cache_dir("tensorrt-rtx")


def _is_plan(path: Path) -> bool:
    return path.suffix.lower() in (".plan", ".engine") and path.is_file()


def load_pycuda() -> ModuleType:
    """pycuda.driver, or MissingDependency: not installed, or installed on a machine without the NVIDIA driver."""
    from .._optional import require

    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        if "libcuda" in str(exc):
            raise MissingDependency(f"the TensorRT backend needs the NVIDIA driver: pycuda cannot load it ({exc}); "
                                    "this machine has no CUDA driver") from None
        require("pycuda.driver", "the TensorRT backend")  # not installed: says how to build it
        raise
    return cuda


def _available() -> tuple[bool, str]:
    products = {p.title: v for p in engine_meta.PRODUCTS.values() if (v := p.installed_version()) is not None}
    if not products:
        return False, "neither TensorRT nor TensorRT for RTX is installed (pip install tensorrt-rtx-cu13)"
    try:
        load_pycuda()
    except MissingDependency as exc:
        return False, str(exc)
    return True, f"{', '.join(f'{t} {v}' for t, v in products.items())} with pycuda"


def current_target(device_id: int, product: str) -> engine_meta.GpuTarget:
    """This machine as an engine must fit it: `product`'s installed version and the GPU (through pycuda)."""
    p = engine_meta.PRODUCTS[product]
    cuda = load_pycuda()
    cuda.init()
    dev = cuda.Device(device_id)
    major, minor = dev.compute_capability()
    return engine_meta.GpuTarget(p.name, str(p.load("the TensorRT backend").__version__), (f"{major}.{minor}",), str(dev.name()))


@dataclass
class _Slot:
    """Buffers and events of one batch in flight."""

    host: dict[str, np.ndarray]  # page-locked, max-batch sized, one per I/O tensor
    device: dict[str, Any]  # pycuda DeviceAllocation per I/O tensor
    h2d_done: Any
    compute_done: Any
    d2h_done: Any
    n: int = 0  # batch size of the batch in this slot (0: free)


@register("tensorrt", accepts=_is_plan, available=_available, priority=100)
class TensorrtRunner(GraphRunner):
    """A TensorRT engine built by `stargan-rt export --engine` (float or frames I/O)."""

    name = "tensorrt"

    def __init__(self, path: str | Path, *, device_id: int = 0, runtime_cache_dir: Path = RUNTIME_CACHE_DIR):
        self.path = Path(path)
        sidecar = engine_meta.read_sidecar(self.path)
        trt_mod = engine_meta.engine_product(sidecar)  # before pycuda: says which product, whatever the driver
        cuda = load_pycuda()
        here = current_target(device_id, sidecar.target.product)
        engine_meta.check_engine_compatible(sidecar, here)
        self.meta: ModelMeta = sidecar.meta
        self.sidecar = sidecar
        self._trt, self._cuda = trt_mod, cuda
        self._cache_file: Path | None = None
        if engine_meta.PRODUCTS[sidecar.target.product].ahead_of_time:
            gpu = re.sub(r"[^A-Za-z0-9]+", "-", here.gpu_name).strip("-")
            self._cache_file = runtime_cache_dir / f"{sidecar.target.version}-{gpu}-{engine_meta.file_sha256(self.path)[:16]}.cache"
        self._ctx = cuda.Device(device_id).retain_primary_context()  # the context TensorRT's runtime uses
        self._ctx.push()
        try:
            self._setup(trt_mod, cuda)
        finally:
            cuda.Context.pop()

    def _setup(self, trt_mod: Any, cuda: Any) -> None:
        logger = trt_mod.Logger(trt_mod.Logger.WARNING)
        self._runtime: trt.Runtime = trt_mod.Runtime(logger)
        plan = self.path.read_bytes()
        if self._cache_file is not None:
            _check_rtx_validity(trt_mod, self._runtime, plan, self.path)
        engine = self._runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise BadModel(f"{self.path}: {self.sidecar.target.title} could not deserialize this engine (corrupt, or built by another version)")
        self.engine: trt.ICudaEngine = engine
        self.context: trt.IExecutionContext = self._create_context(engine)
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.inputs = [n for n in names if engine.get_tensor_mode(n) == trt_mod.TensorIOMode.INPUT]
        self.outputs = [n for n in names if n not in self.inputs]
        self.io = "frames" if "frames" in self.inputs else "float"
        expected = {"float": (["image", "label"], ["translated"]), "frames": (["frames", "label"], ["translated_frames"])}[self.io]
        if sorted(self.inputs) != sorted(expected[0]) or self.outputs != expected[1]:
            raise BadModel(f"{self.path}: engine I/O {self.inputs} -> {self.outputs} is not a stargan-rt generator")
        self.image_input, self.output = expected[0][0], expected[1][0]
        self.max_batch = int(engine.get_tensor_profile_shape(self.image_input, 0)[2][0])
        self.dtypes = {n: np.dtype(trt_mod.nptype(engine.get_tensor_dtype(n))) for n in names}
        check_graph_shapes(self.path, self.meta, {n: tuple(engine.get_tensor_shape(n)) for n in names})
        per_item = io_shapes(self.meta)
        self.shapes = {n: per_item[n] for n in names}
        self._slots = []
        for _ in range(SLOTS):
            host = {n: cuda.pagelocked_empty((self.max_batch, *self.shapes[n]), self.dtypes[n]) for n in names}
            device = {n: cuda.mem_alloc(host[n].nbytes) for n in names}
            self._slots.append(_Slot(host, device, cuda.Event(), cuda.Event(), cuda.Event()))
        self._h2d, self._compute, self._d2h = cuda.Stream(), cuda.Stream(), cuda.Stream()
        self._pending: deque[int] = deque()  # slot indices in submission order
        self._next = 0

    def _create_context(self, engine: Any) -> Any:
        """TensorRT: a plain context. TensorRT for RTX: one with a runtime cache of its just-in-time kernels."""
        if self._cache_file is None:
            return engine.create_execution_context()
        config = engine.create_runtime_config()
        self._runtime_cache = config.create_runtime_cache()
        if self._cache_file.is_file():
            self._runtime_cache.deserialize(self._cache_file.read_bytes())
        config.set_runtime_cache(self._runtime_cache)
        return engine.create_execution_context(config)

    def _save_runtime_cache(self) -> None:
        if self._cache_file is not None:
            from ..atomic import atomic_write_bytes

            self._cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self._cache_file, bytes(self._runtime_cache.serialize()))

    # --- asynchronous API: submit() returns a ticket; collect() waits for it. Two may be in flight. ---

    def submit(self, inputs: dict[str, np.ndarray]) -> int:
        """Enqueue one batch (engine input name -> array of at most max_batch rows); returns its slot."""
        n = next(iter(inputs.values())).shape[0]
        if not 1 <= n <= self.max_batch:
            raise BadInput(f"batch of {n}: this engine was built for batches of 1 to {self.max_batch}")
        i = self._next
        slot = self._slots[i]
        if slot.n:
            raise RuntimeError("both slots are in flight: collect() before submitting more")
        cuda = self._cuda
        self._ctx.push()
        try:
            for name, arr in inputs.items():
                slot.host[name][:n] = arr  # cast to the engine's I/O dtype while staging
                cuda.memcpy_htod_async(slot.device[name], slot.host[name][:n], self._h2d)
                self.context.set_input_shape(name, (n, *self.shapes[name]))
            slot.h2d_done.record(self._h2d)
            self._compute.wait_for_event(slot.h2d_done)
            for name in self.inputs + self.outputs:
                self.context.set_tensor_address(name, int(slot.device[name]))
            if not self.context.execute_async_v3(self._compute.handle):
                raise BadModel(f"{self.path}: TensorRT failed to enqueue the engine")
            slot.compute_done.record(self._compute)
            self._d2h.wait_for_event(slot.compute_done)
            cuda.memcpy_dtoh_async(slot.host[self.output][:n], slot.device[self.output], self._d2h)
            slot.d2h_done.record(self._d2h)
        finally:
            cuda.Context.pop()
        slot.n = n
        self._pending.append(i)
        self._next = (i + 1) % SLOTS
        return i

    def collect(self, ticket: int) -> np.ndarray:
        """Wait for a submitted batch and return a copy of its output (in the engine's output dtype)."""
        if not self._pending or self._pending[0] != ticket:
            raise RuntimeError("collect() results in the order they were submitted")
        slot = self._slots[ticket]
        slot.d2h_done.synchronize()
        out = slot.host[self.output][: slot.n].copy()
        slot.n = 0
        self._pending.popleft()
        return out

    def run_many(self, batches: Iterable[dict[str, np.ndarray]]) -> Iterator[np.ndarray]:
        """Outputs of many batches in order, keeping two in flight (the copies of one overlap the other's compute)."""
        for feed in batches:
            if len(self._pending) == SLOTS:
                yield self.collect(self._pending[0])
            self.submit(feed)
        while self._pending:
            yield self.collect(self._pending[0])

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        n = feed["label"].shape[0]
        chunks = [{k: v[i : i + self.max_batch] for k, v in feed.items()} for i in range(0, n, self.max_batch)]
        return np.concatenate(list(self.run_many(chunks)))

    # --- the Runner contract ---

    def _handle(self) -> object:
        return self._slots

    def describe(self) -> str:
        t = self.sidecar.target
        return (
            f"{self.name}: {t.title} engine {self.path.name} ({self.sidecar.precision}, {self.io} I/O, "
            f"batch <= {self.max_batch}) for {t.gpus()}, {SLOTS} batches in flight"
        )

    def close(self) -> None:
        if getattr(self, "_slots", None) is None:
            return
        self._ctx.push()
        try:
            for s in (self._h2d, self._compute, self._d2h):
                s.synchronize()
            for slot in self._slots:
                for buf in slot.device.values():
                    buf.free()
            self._slots = []
            self._save_runtime_cache()
            del self.context, self.engine
        finally:
            self._cuda.Context.pop()
        self._slots = None  # type: ignore[assignment]


def rtx_validity(trt: Any, runtime: Any, plan: bytes) -> tuple[Any, list[str]]:
    """TensorRT for RTX reads an engine's header: whether this GPU, driver and library can run it, and why not."""
    validity, diagnostics = runtime.get_engine_validity(plan[: runtime.engine_header_size])
    flags = trt.EngineInvalidityDiagnostics
    return validity, [n for n in dir(flags) if n.isupper() and int(diagnostics) & int(getattr(flags, n))]


def _check_rtx_validity(trt: Any, runtime: Any, plan: bytes, path: Path) -> None:
    validity, why = rtx_validity(trt, runtime, plan)
    if validity == trt.EngineValidity.INVALID:
        raise BadModel(f"{path}: TensorRT for RTX cannot run this engine here ({', '.join(why) or 'no reason given'}); {engine_meta.REBUILD_HINT}")
