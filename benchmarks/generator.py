"""The generator table: every path x resolution x batch, timed, and checked against the baseline.

For each resolution the baseline of each device runs first on fixed face inputs; every other row then runs
the same inputs, so its speed ratio (baseline p50 / its p50) and its PSNR against the baseline output are
measured in the same run. Rows whose backend is unavailable are listed as skipped with the reason; a row
that fails (out of memory, an export that does not work) is kept with its error and the run goes on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from stargan_rt.bundle import Architecture

from .floor import Peak, bandwidth_for, generator_cost, peak_for
from .inputs import face_inputs
from .timing import Budget, Stats, progress, psnr_db, repeat, time_cuda
from .variants import DevicePath, EagerBaseline, OpenVinoDefault, Variant, Workspace, availability, bf16_cuda_model

ELEM_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class GeneratorConfig:
    sizes: tuple[int, ...] = (128, 256)
    batches: tuple[int, ...] = (1, 4, 16, 64)
    budget: Budget = Budget()
    seed: int = 0  # of the measured input faces
    threads: int | None = None  # CPU threads for CPU backends (None: the libraries' defaults, all cores)
    deadline: float | None = None  # time.monotonic() after which no new row starts (the report is still written)
    max_call_s: float = 60.0  # larger batches are skipped once one call is predicted to take longer


@dataclass
class Row:
    variant: str
    backend: str
    device: str
    precision: str
    size: int
    batch: int
    describe: str = ""
    model: str = "main"  # whose weights: "main" (--model, or the official-size random ones) or "trained" (--trained-model)
    latency: dict[str, float | int] | None = None  # host wall clock per call, numpy in -> numpy out (ms)
    compute: dict[str, float | int] | None = None  # CUDA events, device-resident inputs (ms)
    h2d: dict[str, float | int] | None = None
    d2h: dict[str, float | int] | None = None
    images_per_s: float | None = None  # from the latency p50 (compute p50 on a GPU)
    speedup: float | None = None  # baseline latency p50 / this latency p50 (same device, size, batch)
    compute_speedup: float | None = None  # the same on compute p50 (GPU)
    psnr_db: float | None = None  # output against the baseline output on the same inputs
    max_abs_err: float | None = None
    peak: str | None = None  # which measured peak the row is compared with
    pct_compute_floor: float | None = None  # achieved FLOP/s / that peak (100 = at the floor)
    memory_floor_ms: float | None = None  # unfused activation + weight bytes / measured copy bandwidth
    error: str | None = None

    @property
    def is_baseline(self) -> bool:
        return self.backend == "baseline"

    @property
    def best_ms(self) -> float | None:
        """The latency the row is judged by: device compute on a GPU, host wall clock otherwise."""
        stats = self.compute or self.latency
        return float(stats["p50_ms"]) if stats else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GeneratorResult:
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # variant -> why it was not measured
    artifact_errors: dict[str, str] = field(default_factory=dict)


class Prepared:
    """One variant ready on one input batch: `run` (numpy in/out, what users call) and optional device phases."""

    def __init__(self, run: Callable[[], np.ndarray], phases: DevicePath | None = None):
        self.run, self.phases = run, phases


class Opened:
    """A variant loaded for one resolution; `prepare(x, c)` binds an input batch."""

    def __init__(self, describe: str, prepare: Callable[[np.ndarray, np.ndarray], Prepared], close: Callable[[], None]):
        self.describe, self.prepare, self.close = describe, prepare, close


def open_variant(v: Variant, ws: Workspace, size: int, threads: int | None = None) -> Opened:
    import torch

    arts = ws.at(size)
    opts = runner_options(v, threads)
    if v.is_baseline or v.backend == "bench-torch-cuda-tf32":
        base = EagerBaseline(arts.meta, arts.weights, v.device, tf32=not v.is_baseline)

        def prep_base(x: np.ndarray, c: np.ndarray) -> Prepared:
            phases = DevicePath(base.model, x, c, torch.float32, False, False, base.precision) if v.device == "cuda" else None
            return Prepared(lambda: base.infer(x, c), phases)

        return Opened(base.describe(), prep_base, base.close)
    if v.is_anchor:
        anchor = OpenVinoDefault(ws.path(v, size), arts.meta)
        return Opened(anchor.describe(), lambda x, c: Prepared(lambda: anchor.infer(x, c)), anchor.close)
    if v.backend == "bench-torch-cuda-bf16":
        model = bf16_cuda_model(arts.meta, arts.weights)

        def prep_bf16(x: np.ndarray, c: np.ndarray) -> Prepared:
            path = DevicePath(model, x, c, torch.bfloat16, True, bool(opts.get("cuda_graphs")))
            return Prepared(path.run, path)

        graphs = "CUDA graphs" if opts.get("cuda_graphs") else "eager"
        return Opened(f"PyTorch {torch.__version__} bf16 channels_last {graphs} (benchmark only)", prep_bf16, lambda: None)

    from stargan_rt.backends import open_model

    runner = open_model(ws.path(v, size), v.backend, **opts)
    device_model = getattr(runner, "model", None) if v.backend == "torch-cuda" else None

    def prep_runner(x: np.ndarray, c: np.ndarray) -> Prepared:
        phases = None
        if device_model is not None:  # the runner's own FP16 module, timed on device-resident buffers
            phases = DevicePath(device_model, x, c, torch.float16, True, bool(opts.get("cuda_graphs", True)))
        return Prepared(lambda: runner.infer(x, c), phases)

    return Opened(runner.describe(), prep_runner, runner.close)


def runner_options(v: Variant, threads: int | None) -> dict[str, Any]:
    """The variant's open_model options, plus the thread count for CPU backends when one is set."""
    opts = dict(v.options)
    if threads and v.device == "cpu" and not v.is_baseline:
        opts["threads"] = threads
    return opts


def _slow(budget: Budget) -> Budget:
    """For calls that take a good part of the budget (big batches on a CPU): no more warm-up, one more call."""
    return Budget(budget.seconds, warmup=0, min_iters=1, max_iters=budget.max_iters)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def measure_row(row: Row, opened: Opened, x: np.ndarray, c: np.ndarray, budget: Budget) -> np.ndarray:
    """Fill the row's timings; returns the output of the first call (for the PSNR)."""
    prepared = opened.prepare(x, c)
    out = prepared.run()  # the first call pays one-time costs (kernel selection, graph capture): not timed
    t0 = time.perf_counter()
    prepared.run()
    second_ms = (time.perf_counter() - t0) * 1e3
    if second_ms > budget.seconds * 1e3 / 3:  # a slow call: it counts as a sample; at least two in all
        samples = [second_ms, *repeat(prepared.run, _slow(budget))]
    else:  # the second call was one more warm-up
        samples = repeat(prepared.run, budget)
    row.latency = Stats.of(samples).to_dict()
    if prepared.phases is not None:
        p = prepared.phases
        cs = time_cuda(p.h2d, p.compute, p.d2h, budget)
        row.compute, row.h2d, row.d2h = cs.compute.to_dict(), cs.h2d.to_dict(), cs.d2h.to_dict()
    row.images_per_s = row.batch * 1e3 / row.best_ms if row.best_ms else None
    return out


def fill_floor(row: Row, v: Variant, peaks: list[Peak], arch: Architecture) -> None:
    cost = generator_cost(arch, row.size)
    compute = v.compute
    peak = peak_for(peaks, v.device, compute)
    bw = bandwidth_for(peaks, v.device)
    if peak is not None and row.best_ms:
        row.peak = f"{peak.device} matmul {compute}: {peak.value / 1e12:.3g} T/s"
        row.pct_compute_floor = 100.0 * cost.flops * row.batch / (row.best_ms / 1e3) / peak.value
    if bw is not None:
        row.memory_floor_ms = 1e3 * cost.bytes_per_image(ELEM_BYTES[v.precision], row.batch) * row.batch / bw.value


def compare(rows: list[Row], outputs: dict[tuple[str, int, int], np.ndarray], baseline_out: dict[tuple[str, int, int], np.ndarray]) -> None:
    """Ratio and PSNR of every measured row against the baseline of its device, size and batch."""
    base_rows = {(r.device, r.size, r.batch): r for r in rows if r.is_baseline and r.latency}
    for r in rows:
        key = (r.device, r.size, r.batch)
        base = base_rows.get(key)
        if base is None or r.latency is None:
            continue
        r.speedup = float(base.latency["p50_ms"]) / float(r.latency["p50_ms"])  # type: ignore[index]
        if base.compute and r.compute:
            r.compute_speedup = float(base.compute["p50_ms"]) / float(r.compute["p50_ms"])
        ref, out = baseline_out.get(key), outputs.get((r.variant, r.size, r.batch))
        if ref is not None and out is not None:
            r.psnr_db = psnr_db(ref, out)
            r.max_abs_err = float(np.max(np.abs(ref.astype(np.float64) - out)))


def run_generator(cfg: GeneratorConfig, variants: list[Variant], ws: Workspace, peaks: list[Peak]) -> GeneratorResult:
    result = GeneratorResult()
    usable = []
    for v in variants:
        ok, why = availability(v)
        if ok:
            usable.append(v)
        else:
            result.skipped[v.name] = why
    outputs: dict[tuple[str, int, int], np.ndarray] = {}
    baseline_out: dict[tuple[str, int, int], np.ndarray] = {}
    with progress(total=len(usable) * len(cfg.sizes) * len(cfg.batches), desc="generator", unit="row") as bar:
        for size in cfg.sizes:
            for v in usable:
                bar.set_postfix_str(f"{v.name} {size}px")
                try:
                    opened = open_variant(v, ws, size, cfg.threads)
                except Exception as exc:  # noqa: BLE001 - an unloadable path is reported, the run goes on
                    reason = f"cannot open at {size}px: {type(exc).__name__}: {_first_line(exc)}"
                    result.rows += [Row(v.name, v.backend, v.device, v.precision, size, b, error=reason) for b in cfg.batches]
                    bar.update(len(cfg.batches))
                    continue
                last: tuple[int, float] | None = None  # (batch, p50 ms) of the last measured row
                for b in cfg.batches:
                    row = Row(v.name, v.backend, v.device, v.precision, size, b, describe=opened.describe)
                    result.rows.append(row)
                    bar.update(1)
                    if cfg.deadline is not None and time.monotonic() > cfg.deadline:
                        row.error = "skipped: the run's --time-limit was reached"
                        continue
                    if last is not None and last[1] / last[0] * b > cfg.max_call_s * 1e3:
                        row.error = f"skipped: one call would take ~{last[1] / last[0] * b / 1e3:.0f} s (limit {cfg.max_call_s:g} s)"
                        continue
                    x, c = face_inputs(b, size, ws.meta.label_dim, seed=cfg.seed)
                    try:
                        out = measure_row(row, opened, x, c, cfg.budget)
                    except Exception as exc:  # noqa: BLE001
                        row.error = "out of memory" if _is_oom(exc) else f"{type(exc).__name__}: {_first_line(exc)}"
                        _free_cuda()
                        continue
                    outputs[(v.name, size, b)] = out
                    if v.is_baseline:
                        baseline_out[(v.device, size, b)] = out
                    fill_floor(row, v, peaks, ws.arch)
                    last = (b, float(row.latency["p50_ms"])) if row.latency else last  # type: ignore[index]
                    _free_cuda()
                opened.close()
            compare([r for r in result.rows if r.size == size], outputs, baseline_out)
            outputs.clear()  # keep memory flat across sizes
            baseline_out.clear()
    result.artifact_errors = ws.errors()
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def _free_cuda() -> None:
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
