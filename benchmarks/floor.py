"""The floor: what one generator pass costs, and what this machine can do at best.

Costs come from the official layer list (stargan-reference.md), not from a profiler, so they hold for every
backend: multiply-accumulates of the convolutions (the counting torch.utils.flop_counter uses: a transposed
convolution costs Cin * Cout * k * k per *input* pixel) and the bytes an unfused implementation moves
(every layer reads its input and writes its output once; weights read once per batch). Peaks are measured in
the same run: a large matmul per precision, and a large device-to-device copy for memory bandwidth.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from stargan_rt.bundle import Architecture


@dataclass(frozen=True)
class Layer:
    kind: str  # conv, convT, resize (nearest x2), norm, relu, add, tanh, concat
    c_in: int
    c_out: int
    h_in: int  # input side (square images)
    h_out: int
    k: int = 1

    @property
    def macs(self) -> int:
        if self.kind == "conv":
            return self.c_out * self.h_out**2 * self.c_in * self.k**2
        if self.kind == "convT":
            return self.c_in * self.h_in**2 * self.c_out * self.k**2
        return 0

    @property
    def params(self) -> int:
        if self.kind in ("conv", "convT"):
            return self.c_in * self.c_out * self.k**2
        return 2 * self.c_out if self.kind == "norm" else 0  # affine scale and shift

    @property
    def activations(self) -> int:
        """Elements read plus written by this layer for one image (an add reads two inputs)."""
        reads = self.c_in * self.h_in**2 * (2 if self.kind == "add" else 1)
        return reads + self.c_out * self.h_out**2


def generator_layers(arch: Architecture, size: int) -> list[Layer]:
    """The generator (official unless arch.upsample says otherwise), layer by layer, for a size x size input."""
    c, h = arch.conv_dim, size
    layers = [Layer("concat", 3 + arch.c_dim, 3 + arch.c_dim, h, h)]

    def conv_block(kind: str, c_in: int, c_out: int, h_in: int, h_out: int, k: int, relu: bool = True) -> None:
        layers.append(Layer(kind, c_in, c_out, h_in, h_out, k))
        layers.append(Layer("norm", c_out, c_out, h_out, h_out))
        if relu:
            layers.append(Layer("relu", c_out, c_out, h_out, h_out))

    conv_block("conv", 3 + arch.c_dim, c, h, h, 7)
    for _ in range(2):  # down-sampling: k4 s2 p1 halves the side
        conv_block("conv", c, 2 * c, h, h // 2, 4)
        c, h = 2 * c, h // 2
    for _ in range(arch.repeat_num):  # residual blocks: conv IN ReLU conv IN, then x + main(x)
        conv_block("conv", c, c, h, h, 3)
        conv_block("conv", c, c, h, h, 3, relu=False)
        layers.append(Layer("add", c, c, h, h))
    for _ in range(2):  # up-sampling: transposed k4 s2 p1 doubles the side, or nearest x2 then a 3x3 conv
        if arch.upsample == "transpose":
            conv_block("convT", c, c // 2, h, 2 * h, 4)
        else:
            layers.append(Layer("resize", c, c, h, 2 * h))
            conv_block("conv", c, c // 2, 2 * h, 2 * h, 3)
        c, h = c // 2, 2 * h
    layers.append(Layer("conv", c, 3, h, h, 7))
    layers.append(Layer("tanh", 3, 3, h, h))
    return layers


@dataclass(frozen=True)
class Cost:
    """Per-image cost of the generator at one resolution."""

    size: int
    macs: int  # multiply-accumulates per image
    params: int  # generator parameters (independent of size)
    activation_elems: int  # elements read + written per image, every layer unfused

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def bytes_per_image(self, elem_bytes: int, batch: int) -> float:
        """Memory traffic of one image in a batch: activations plus its share of the weights."""
        return (self.activation_elems + self.params / batch) * elem_bytes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flops": self.flops, "gmacs": self.macs / 1e9}


def generator_cost(arch: Architecture, size: int) -> Cost:
    layers = generator_layers(arch, size)
    return Cost(
        size=size,
        macs=sum(layer.macs for layer in layers),
        params=sum(layer.params for layer in layers),
        activation_elems=sum(layer.activations for layer in layers if layer.kind != "concat"),
    )


# ----------------------------------------------------------------------------------------------------------
# measured peaks


@dataclass(frozen=True)
class Peak:
    device: str  # "cpu" or "cuda"
    what: str  # "matmul-fp32", "matmul-tf32", "matmul-bf16", "matmul-fp16", "matmul-int8", "copy"
    value: float  # FLOP/s (int8: OP/s) for matmul, bytes/s for copy
    detail: str


def _best_seconds(fn: Any, sync: Any, budget_s: float, min_reps: int = 3) -> float:
    """Fastest of a few timed repetitions after one warm-up (peaks want the best case)."""
    fn()
    sync()
    best, start, reps = float("inf"), time.perf_counter(), 0
    while reps < min_reps or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
        reps += 1
        if reps >= 50:
            break
    return best


def _matmul_peak(torch: Any, device: str, name: str, sync: Any, budget_s: float, quick: bool) -> Peak:
    cuda = device == "cuda"
    n = (8192 if not quick else 4096) if cuda else (2048 if not quick else 1024)
    if name == "int8":  # int8 x int8 -> int32, the arithmetic of quantised convolutions
        a = torch.randint(-100, 100, (n, n), device=device, dtype=torch.int8)
        b = torch.randint(-100, 100, (n, n), device=device, dtype=torch.int8)
        matmul = torch._int_mm
    else:
        dtype = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        matmul = torch.mm
    reps = 20 if cuda else 1  # many matmuls per timing on a GPU so launch overhead disappears
    prev_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
    try:
        def mm() -> None:
            for _ in range(reps):
                matmul(a, b)

        sec = _best_seconds(mm, sync, budget_s)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev_tf32
    return Peak(device, f"matmul-{name}", 2 * n**3 * reps / sec, f"{n}x{n} @ {n}x{n}, best of repeats")


def _copy_peak(torch: Any, device: str, sync: Any, budget_s: float) -> Peak:
    nbytes = (1 << 30) if device == "cuda" else (256 << 20)
    src = torch.empty(nbytes // 4, device=device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    sec = _best_seconds(lambda: dst.copy_(src), sync, budget_s)
    return Peak(device, "copy", 2 * nbytes / sec, f"{nbytes >> 20} MiB copy (read + write), best of repeats")


def measure_peaks(device: str, dtypes: tuple[str, ...], budget_s: float = 1.0, quick: bool = False) -> list[Peak]:
    """Matmul FLOP/s per dtype and copy bandwidth on `device` ("cpu" or "cuda"), each given ~budget_s.

    A measurement that fails (a dtype this build cannot multiply) is kept with value 0 and the reason.
    """
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    peaks: list[Peak] = []
    def matmul_job(name: str) -> Callable[[], Peak]:
        return lambda: _matmul_peak(torch, device, name, sync, budget_s, quick)

    jobs = [(f"matmul-{name}", matmul_job(name)) for name in dtypes]
    jobs.append(("copy", lambda: _copy_peak(torch, device, sync, budget_s)))
    for what, job in jobs:
        try:
            peaks.append(job())
        except Exception as exc:  # noqa: BLE001 - one missing kernel must not lose the other peaks
            peaks.append(Peak(device, what, 0.0, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"))
        finally:
            if device == "cuda":
                torch.cuda.empty_cache()
    return peaks


def peak_for(peaks: list[Peak], device: str, compute: str) -> Peak | None:
    """The peak a row is compared with: same device, matmul of the precision it computes in."""
    for p in peaks:
        if p.device == device and p.what == f"matmul-{compute}" and p.value > 0:
            return p
    return None


def bandwidth_for(peaks: list[Peak], device: str) -> Peak | None:
    for p in peaks:
        if p.device == device and p.what == "copy" and p.value > 0:
            return p
    return None
