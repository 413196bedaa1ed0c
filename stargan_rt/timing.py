"""Per-stage wall-clock timings with percentiles, and the CPU time each stage's thread spent in it (thread-safe:
stages run in different threads). CPU time is the calling thread's own (time.thread_time): work a library hands to
its own thread pool (OpenVINO's, onnxruntime's, OpenCV's) is not in it, and is counted by the caller as the rest
of the process's CPU time."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Iterator

import numpy as np


class StageTimer:
    """Durations per named stage over a sliding window (for p50/p99), plus running counts and totals."""

    def __init__(self, window: int = 2000):
        self.window = window
        self._samples: dict[str, deque[float]] = {}
        self._totals: dict[str, tuple[int, float]] = {}
        self._cpu: dict[str, float] = {}  # thread CPU seconds per stage, where measured
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0, cpu=time.thread_time() - c0)

    def add(self, name: str, seconds: float, cpu: float | None = None) -> None:
        with self._lock:
            self._samples.setdefault(name, deque(maxlen=self.window)).append(seconds)
            n, total = self._totals.get(name, (0, 0.0))
            self._totals[name] = (n + 1, total + seconds)
            if cpu is not None:
                self._cpu[name] = self._cpu.get(name, 0.0) + cpu

    def cpu_seconds(self) -> float:
        """Thread CPU time recorded over every stage."""
        with self._lock:
            return sum(self._cpu.values())

    def percentiles(self, name: str, qs: tuple[float, ...] = (50, 99)) -> tuple[float, ...]:
        """Percentiles in milliseconds over the window (NaN when the stage never ran)."""
        with self._lock:
            data = np.array(self._samples.get(name, ()), np.float64)
        if data.size == 0:
            return tuple(float("nan") for _ in qs)
        return tuple(float(v) * 1e3 for v in np.percentile(data, qs))

    def names(self) -> list[str]:
        with self._lock:
            return list(self._samples)

    def summary(self) -> dict[str, dict[str, float]]:
        """{stage: {count, mean_ms, p50_ms, p99_ms[, cpu_mean_ms]}} (JSON-ready; cpu_mean_ms: thread CPU per call)."""
        out = {}
        for name in self.names():
            p50, p99 = self.percentiles(name)
            n, total = self._totals[name]
            out[name] = {"count": n, "mean_ms": total / n * 1e3, "p50_ms": p50, "p99_ms": p99}
            if name in self._cpu:
                out[name]["cpu_mean_ms"] = self._cpu[name] / n * 1e3
        return out
