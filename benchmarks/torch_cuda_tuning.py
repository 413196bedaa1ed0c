"""Where the torch-cuda time goes, and what moves it: one run of every knob on the official-size generator.

    python -m benchmarks.torch_cuda_tuning -o OUT             # on a CUDA machine (~4-6 min on an H200)
    python -m benchmarks.torch_cuda_tuning -o OUT --dry-run   # anywhere: a tiny model on the CPU, to test this script

Variants (precision x memory format x cudnn.benchmark x CUDA graphs x torch.compile), all measured in one run
on the same inputs: device compute per call from CUDA events (graph replay or eager call, inputs already on the
GPU) at batch 1 and images/s at batch 64, PSNR against eager FP32 (TF32 off). InstanceNorm statistics stay FP32 in
the eager variants (as the runtime's torch-cuda does); torch.compile fuses InstanceNorm + ReLU into the
surrounding kernels, which the profiler's kernel count per call shows. For the baseline and the fastest variant
at each batch, the profiler's kernel table (CUDA time per kernel) is written to OUT/kernels_<variant>_b<N>.txt.
Results: OUT/torch_cuda_tuning.json and .md. Goals from the issue: <= 0.3 ms at batch 1, >= 15,000 images/s at
batch 64, PSNR >= 35 dB.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Knobs:
    name: str
    dtype: str = "fp16"  # fp32 | fp16 | bf16
    channels_last: bool = True
    cudnn_benchmark: bool = False
    graphs: bool = False
    compile: str | None = None  # None | "default" | "max-autotune" (Inductor captures CUDA graphs itself)


VARIANTS = (
    Knobs("fp32 eager (baseline)", "fp32", channels_last=False),
    Knobs("fp16 eager NCHW", channels_last=False),
    Knobs("fp16 eager channels_last"),
    Knobs("fp16 channels_last + cudnn.benchmark", cudnn_benchmark=True),
    Knobs("fp16 channels_last + graphs (the runtime's torch-cuda)", graphs=True),
    Knobs("fp16 channels_last + cudnn.benchmark + graphs", cudnn_benchmark=True, graphs=True),
    Knobs("bf16 channels_last + cudnn.benchmark + graphs", "bf16", cudnn_benchmark=True, graphs=True),
    Knobs("fp16 compile default + graphs (fusion)", cudnn_benchmark=True, graphs=True, compile="default"),
    Knobs("fp16 compile max-autotune", cudnn_benchmark=True, compile="max-autotune"),
    Knobs("bf16 compile max-autotune", "bf16", cudnn_benchmark=True, compile="max-autotune"),
)
BATCHES = (1, 64)


def prepare(torch: Any, arch: Any, k: Knobs, device: str, batch: int, seed: int = 0) -> Callable[[], Any]:
    """A no-argument call running the generator once on fixed device-resident inputs under the knobs `k`."""
    from stargan_rt.torch_model import InstanceNorm, build_generator

    torch.backends.cudnn.benchmark = k.cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # FP32 means FP32
    torch.manual_seed(seed)
    model = build_generator(arch).eval().to(device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[k.dtype]
    fmt = torch.channels_last if k.channels_last else torch.contiguous_format
    model = model.to(dtype=dtype, memory_format=fmt)  # type: ignore[call-overload]  # torch's stubs lack it
    if k.dtype != "fp32" and k.compile is None:
        for m in model.modules():
            if isinstance(m, InstanceNorm):  # statistics in FP32, as the runtime does
                m.float()
                m.register_forward_pre_hook(lambda _m, args: (args[0].float(),))
                m.register_forward_hook(lambda _m, _args, out, dt=dtype: out.to(dt))
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand((batch, 3, arch.image_size, arch.image_size), generator=g) * 2 - 1).to(device, dtype).contiguous(memory_format=fmt)
    c = torch.randint(0, 2, (batch, arch.c_dim), generator=g).to(device, dtype)
    fn = model
    if k.compile is not None:
        fn = torch.compile(model, mode=k.compile, dynamic=False)

    def call() -> Any:
        with torch.inference_mode():
            return fn(x, c)

    if not k.graphs or device == "cpu":
        return call
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = call()
    return lambda: (graph.replay(), out)[1]


def time_ms(torch: Any, call: Callable[[], Any], device: str, seconds: float) -> tuple[float, Any]:
    """Median device time per call (CUDA events; wall clock on the CPU) after a warm-up, and the last output."""
    out = call()
    for _ in range(3):
        out = call()
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while len(samples) < 10 or (time.perf_counter() < end and len(samples) < 2000):
        if device == "cpu":
            t0 = time.perf_counter()
            out = call()
            samples.append((time.perf_counter() - t0) * 1e3)
        else:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = call()
            stop.record()
            stop.synchronize()
            samples.append(start.elapsed_time(stop))
    return float(np.median(samples)), out


def kernel_table(torch: Any, call: Callable[[], Any], device: str, path: Path) -> int:
    """The profiler's table of one call's kernels by device time; returns how many kernels one call launches."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device != "cpu" else [])
    call()
    with profile(activities=activities) as prof:
        for _ in range(5):
            call()
        if device != "cpu":
            torch.cuda.synchronize()
    sort = "cuda_time_total" if device != "cpu" else "cpu_time_total"
    path.write_text(prof.key_averages().table(sort_by=sort, row_limit=30) + "\n")
    kernels = [e for e in prof.events() if device != "cpu" and e.device_type.name == "CUDA"]
    return len(kernels) // 5


def psnr(ref: Any, out: Any) -> float:
    a, b = ref.float().cpu().numpy().astype(np.float64), out.float().cpu().numpy().astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return 200.0 if mse == 0 else float(10 * np.log10(4.0 / mse))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--dry-run", action="store_true", help="a tiny model on the CPU, no compile: tests this script")
    ap.add_argument("--seconds", type=float, default=1.0, help="timing budget per (variant, batch)")
    ap.add_argument("--time-limit", type=float, default=540.0, help="start no new variant after this many seconds")
    args = ap.parse_args(argv)
    import torch

    from stargan_rt.bundle import Architecture

    args.out.mkdir(parents=True, exist_ok=True)
    dry = args.dry_run or not torch.cuda.is_available()
    device = "cpu" if dry else "cuda"
    arch = Architecture(image_size=32, c_dim=5, conv_dim=8, repeat_num=2) if dry else Architecture(image_size=128, c_dim=5, conv_dim=64, repeat_num=6)
    variants = [k for k in VARIANTS if not (dry and (k.compile or k.dtype == "fp16"))]  # CPU: no fp16 convs, no compile
    batches = (1, 4) if dry else BATCHES
    doc: dict[str, Any] = {"device": torch.cuda.get_device_name(0) if not dry else "cpu (dry run)", "torch": torch.__version__,
                           "architecture": asdict(arch), "batches": batches, "rows": []}
    t_start = time.perf_counter()
    refs: dict[int, Any] = {}
    for k in variants:
        for n in batches:
            row: dict[str, Any] = {"variant": k.name, "knobs": asdict(k), "batch": n}
            if time.perf_counter() - t_start > args.time_limit:
                row["error"] = f"not run: past --time-limit {args.time_limit:g} s"
                doc["rows"].append(row)
                continue
            try:
                t0 = time.perf_counter()
                call = prepare(torch, arch, k, device, n)
                ms, out = time_ms(torch, call, device, args.seconds)
                row.update(ms=round(ms, 4), images_per_s=round(n / ms * 1e3, 1), setup_s=round(time.perf_counter() - t0, 1))
                if k is VARIANTS[0]:
                    refs[n] = out.detach().clone()
                if n in refs:
                    row["psnr_db"] = round(psnr(refs[n], out), 2)
            except Exception as exc:  # noqa: BLE001 - kept in the report; the next variant still runs
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                row["traceback"] = traceback.format_exc(limit=3)
            doc["rows"].append(row)
            print(f"{k.name:58s} b{n:<3d} {row.get('ms', '-')!s:>9} ms {row.get('images_per_s', '-')!s:>10} img/s "
                  f"{row.get('psnr_db', '-')!s:>6} dB {row.get('error', '')}", flush=True)
    for n in batches:
        ok = [r for r in doc["rows"] if r["batch"] == n and "ms" in r]
        for r in ([ok[0], min(ok, key=lambda r: r["ms"])] if ok else []):
            k = Knobs(**r["knobs"])
            path = args.out / f"kernels_{k.name.split(' (')[0].replace(' ', '_').replace('+', 'and')}_b{n}.txt"
            try:
                r["kernels_per_call"] = kernel_table(torch, prepare(torch, arch, k, device, n), device, path)
                r["kernel_table"] = path.name
            except Exception as exc:  # noqa: BLE001
                r["kernel_table_error"] = f"{type(exc).__name__}: {exc}"
    (args.out / "torch_cuda_tuning.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "torch_cuda_tuning.md").write_text(report_md(doc))
    print(report_md(doc))
    return 0 if any("ms" in r for r in doc["rows"]) else 1


def report_md(doc: dict[str, Any]) -> str:
    lines = [f"# torch-cuda tuning on {doc['device']} (torch {doc['torch']})", "",
             "| variant | batch | device ms | images/s | PSNR vs FP32 | kernels/call | note |", "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        lines.append(f"| {r['variant']} | {r['batch']} | {r.get('ms', '-')} | {r.get('images_per_s', '-')} | {r.get('psnr_db', '-')} "
                     f"| {r.get('kernels_per_call', '')} | {r.get('error', '')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
