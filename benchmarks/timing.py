"""Timing that can be trusted: warm-up, synchronise, repeat for a time budget, report percentiles.

Host timing wraps a call with time.perf_counter (the call must return only when its work is done).
CUDA timing records torch.cuda.Event pairs around the host-to-device copy, the compute and the
device-to-host copy of each iteration, so compute is reported apart from transfers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

PSNR_CAP_DB = 100.0  # identical outputs (MSE 0) report this, so JSON stays standard


@dataclass(frozen=True)
class Budget:
    """How long to measure one row: warm-up then repetitions until `seconds` pass (within the iteration bounds)."""

    seconds: float = 2.0
    warmup: int = 3
    min_iters: int = 5
    max_iters: int = 2000


@dataclass(frozen=True)
class Stats:
    """Milliseconds per call."""

    p50: float
    p90: float
    p99: float
    mean: float
    n: int

    @classmethod
    def of(cls, samples_ms: list[float] | np.ndarray) -> "Stats":
        s = np.asarray(samples_ms, dtype=np.float64)
        if s.size == 0:
            raise ValueError("no timing samples")
        p50, p90, p99 = np.percentile(s, [50, 90, 99])
        return cls(float(p50), float(p90), float(p99), float(s.mean()), int(s.size))

    def to_dict(self) -> dict[str, float | int]:
        return {"p50_ms": self.p50, "p90_ms": self.p90, "p99_ms": self.p99, "mean_ms": self.mean, "iters": self.n}


def repeat(step: Callable[[], Any], budget: Budget) -> list[float]:
    """Run `step` for the warm-up, then until the budget is spent; returns each timed call in ms."""
    for _ in range(budget.warmup):
        step()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < budget.max_iters and (
        len(samples) < budget.min_iters or time.perf_counter() - start < budget.seconds
    ):
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def time_host(step: Callable[[], Any], budget: Budget) -> Stats:
    return Stats.of(repeat(step, budget))


@dataclass(frozen=True)
class CudaStats:
    """Per-iteration CUDA-event times: host-to-device copy, compute, device-to-host copy (ms)."""

    h2d: Stats
    compute: Stats
    d2h: Stats
    total: Stats


def time_cuda(
    h2d: Callable[[], Any], compute: Callable[[], Any], d2h: Callable[[], Any], budget: Budget
) -> CudaStats:
    """Time the three phases of each iteration with CUDA events on the current stream.

    Events are recorded on the stream the callables enqueue on (the current torch stream); the host waits
    for the last event of each iteration, so iterations do not overlap and each phase is measured alone.
    """
    import torch

    def one() -> tuple[float, float, float]:
        e = [torch.cuda.Event(enable_timing=True) for _ in range(4)]
        e[0].record()
        h2d()
        e[1].record()
        compute()
        e[2].record()
        d2h()
        e[3].record()
        e[3].synchronize()
        return e[0].elapsed_time(e[1]), e[1].elapsed_time(e[2]), e[2].elapsed_time(e[3])

    for _ in range(budget.warmup):
        one()
    rows: list[tuple[float, float, float]] = []
    start = time.perf_counter()
    while len(rows) < budget.max_iters and (len(rows) < budget.min_iters or time.perf_counter() - start < budget.seconds):
        rows.append(one())
    a = np.asarray(rows)
    return CudaStats(Stats.of(a[:, 0]), Stats.of(a[:, 1]), Stats.of(a[:, 2]), Stats.of(a.sum(axis=1)))


def psnr_db(reference: np.ndarray, other: np.ndarray, data_range: float = 2.0) -> float:
    """PSNR of `other` against `reference` (model outputs in [-1, 1]: range 2), capped at PSNR_CAP_DB."""
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(other, dtype=np.float64)
    if ref.shape != out.shape:
        raise ValueError(f"cannot compare outputs of shapes {ref.shape} and {out.shape}")
    mse = float(np.mean((ref - out) ** 2))
    if mse == 0.0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(data_range**2 / mse))


class _NoProgress:
    """Stands in for tqdm where it is not installed (a bare GPU machine): the run must not depend on a progress bar."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.desc, self.n = total, desc, 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        print(f"{self.desc} [{self.n}/{self.total}] {text}", flush=True)

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(total: int, desc: str, unit: str) -> Any:
    """A tqdm progress bar, or a plain line per step without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoProgress(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit)
