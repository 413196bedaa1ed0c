"""TensorRT for RTX on a CUDA machine: does it build and run there, and how fast is its engine beside torch-cuda.

    python -m benchmarks.tensorrt_gpu -o OUT            # on the GPU machine (benchmarks/gpu_check.sh runs it)
    python -m benchmarks.tensorrt_gpu -o OUT --dry-run  # anywhere: the builds that need no GPU, then stop

Everything lands in OUT/tensorrt_gpu.json and .md, each step with its outcome or its exact error message:
  1. what is importable (TensorRT, TensorRT for RTX, pycuda) and the GPU;
  2. engines of the official-size generator (random weights, seed 0; FP16 ONNX) built with CURRENT (this GPU)
     for batch 1:1:1 and 1:64:64, and one for the portable list (8.0 ... 12.1): TensorRT for RTX's own words
     when it refuses (the H200 is compute capability 9.0, which its list does not name);
  3. the library's header check (get_engine_validity) of each engine on this GPU;
  4. where an engine was built: the real TensorRT runner (pycuda, two batches in flight) against torch-cuda
     (FP16 + CUDA graphs) in the same run, on the same inputs: wall-clock latency at batch 1 (numpy in, numpy out),
     images/s at batch 64, and PSNR of each against eager FP32 PyTorch.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from stargan_rt.bundle import Architecture, DomainSet, ModelMeta

OFFICIAL = Architecture(image_size=128, c_dim=5, conv_dim=64, repeat_num=6)
CELEBA = DomainSet("CelebA", "multi_label", ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
                   (("Black_Hair", "Blond_Hair", "Brown_Hair"),))
PROFILES = {"b1": "1:1:1", "b64": "1:64:64"}


def step(doc: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one step; record its result, or its error verbatim (the point is to learn what the library says)."""
    t0 = time.perf_counter()
    try:
        result = fn()
        doc["steps"][name] = {"ok": True, "seconds": round(time.perf_counter() - t0, 3), "result": result}
        return result
    except Exception as exc:  # noqa: BLE001 - recorded, and the next step still runs
        doc["steps"][name] = {"ok": False, "seconds": round(time.perf_counter() - t0, 3),
                              "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=4)}
        print(f"  {name}: FAILED {type(exc).__name__}: {str(exc)[:300]}", flush=True)
        return None


def environment() -> dict[str, Any]:
    from stargan_rt.engine_meta import PRODUCTS, gpu_identity

    env: dict[str, Any] = {p.name: p.installed_version() for p in PRODUCTS.values()}
    try:
        from stargan_rt.backends.tensorrt_backend import load_pycuda

        env["pycuda"] = str(getattr(load_pycuda(), "get_version", lambda: "?")())
    except Exception as exc:  # noqa: BLE001
        env["pycuda"] = f"unavailable: {exc}"
    try:
        env["gpu"] = gpu_identity(0)
    except Exception as exc:  # noqa: BLE001
        env["gpu"] = f"none: {exc}"
    return env


def make_models(folder: Path) -> dict[str, Path]:
    """The official-size generator (seed 0) as a bundle, its FP32 and FP16 ONNX."""
    import onnx
    import torch

    from export.fp16 import float_to_fp16
    from export.to_onnx import generator_to_onnx
    from stargan_rt.bundle import save_bundle
    from stargan_rt.torch_model import build_generator, generator_state_numpy

    torch.manual_seed(0)
    meta = ModelMeta(architecture=OFFICIAL, datasets=(CELEBA,), provenance={"source": "benchmarks.tensorrt_gpu: random, seed 0"})
    g = build_generator(OFFICIAL).eval()
    bundle = save_bundle(folder / "bundle", meta, generator_state_numpy(g))
    model = generator_to_onnx(g, meta)
    onnx.save(model, str(folder / "generator.onnx"))
    onnx.save(float_to_fp16(model), str(folder / "generator_fp16.onnx"))
    return {"bundle": bundle, "onnx": folder / "generator.onnx", "fp16": folder / "generator_fp16.onnx"}


def build(models: dict[str, Path], folder: Path, name: str, batch: str, capabilities: tuple[str, ...]) -> dict[str, Any]:
    from export.tensorrt_engine import build_engine
    from stargan_rt.bundle import load_meta
    from stargan_rt.engine_meta import BatchProfile, write_sidecar

    built = build_engine(models["fp16"], load_meta(models["bundle"]), BatchProfile.parse(batch), folder / "cache",
                         product="tensorrt-rtx", capabilities=capabilities, log=lambda line: print(f"  {line}", flush=True))
    plan = folder / f"{name}.plan"
    plan.write_bytes(built.plan)
    write_sidecar(plan, built.sidecar)
    return {"plan": str(plan), "bytes": len(built.plan), "build_seconds": round(built.seconds, 3),
            "target": built.sidecar.to_dict() | {"stargan_rt": "..."}}


def validity(plan: Path) -> dict[str, Any]:
    import tensorrt_rtx as trt

    from stargan_rt.backends.tensorrt_backend import rtx_validity

    v, why = rtx_validity(trt, trt.Runtime(trt.Logger(trt.Logger.WARNING)), plan.read_bytes())
    return {"validity": str(v), "diagnostics": why}


def _wall_ms(fn: Callable[[], Any], seconds: float, min_reps: int = 20) -> list[float]:
    fn()  # warm-up (TensorRT for RTX compiles its kernels just in time here; CUDA graphs are captured)
    fn()
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while len(samples) < min_reps or time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def measure(models: dict[str, Path], plans: dict[str, Path], seconds: float) -> dict[str, Any]:
    """TensorRT (real runner) and torch-cuda on the same inputs, against eager FP32 PyTorch."""
    from benchmarks.timing import psnr_db
    from stargan_rt.backends import open_model

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 3, 128, 128)).astype(np.float32)
    c = rng.integers(0, 2, (64, 5)).astype(np.float32)
    with open_model(models["onnx"], "ort-cpu") as ref:  # the FP32 reference: the exported graph, in FP32
        reference = ref.infer(x[:8], c[:8])
    rows: dict[str, Any] = {}
    for name, open_ in (("tensorrt-rtx fp16", lambda plan: open_model(plan, "tensorrt")),
                        ("torch-cuda fp16 + graphs", lambda plan: open_model(models["bundle"], "torch-cuda"))):
        row: dict[str, Any] = {}
        with open_(plans["b1"]) as runner:
            row["describe"] = runner.describe()
            lat = _wall_ms(lambda: runner.infer(x[:1], c[:1]), seconds)
            row["batch1_p50_ms"] = round(statistics.median(lat), 4)
            row["psnr_vs_fp32_db"] = round(psnr_db(reference, np.concatenate([runner.infer(x[i:i + 1], c[i:i + 1]) for i in range(8)])), 2)
        with open_(plans["b64"]) as runner:
            if hasattr(runner, "run_many"):  # two batches in flight: the copies of one overlap the other's compute
                feeds = [{"image": x, "label": c}] * 8
                ms = _wall_ms(lambda: list(runner.run_many(feeds)), seconds, min_reps=3)
                row["batch64_images_per_s"] = round(8 * 64 / (statistics.median(ms) / 1e3), 1)
            else:
                ms = _wall_ms(lambda: runner.infer(x, c), seconds, min_reps=5)
                row["batch64_images_per_s"] = round(64 / (statistics.median(ms) / 1e3), 1)
        rows[name] = row
        print(f"  {name}: {row}", flush=True)
    return rows


def report_md(doc: dict[str, Any]) -> str:
    lines = [f"# TensorRT for RTX on this machine ({doc['when']})", "", f"environment: `{json.dumps(doc['environment'])}`", ""]
    lines += ["| step | ok | seconds | result or error |", "|---|---|---|---|"]
    for name, s in doc["steps"].items():
        what = json.dumps(s.get("result"))[:300] if s["ok"] else s["error"][:300]
        lines.append(f"| {name} | {'yes' if s['ok'] else 'NO'} | {s['seconds']} | {what.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--dry-run", action="store_true", help="no GPU: build the portable engines only, then stop")
    ap.add_argument("--seconds", type=float, default=2.0, help="timing budget per measurement")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M"), "dry_run": args.dry_run, "environment": environment(), "steps": {}}
    print(f"environment: {doc['environment']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = step(doc, "export official-size ONNX", lambda: make_models(folder))
        if models is None:
            return _finish(doc, args.out)
        doc["steps"]["export official-size ONNX"]["result"] = {k: str(v) for k, v in models.items()}
        step(doc, "build portable (8.0 ... 12.1), batch 1:1:1", lambda: build(models, folder, "portable_b1", "1:1:1", ("portable",)))
        if args.dry_run:
            return _finish(doc, args.out)
        plans: dict[str, Path] = {}
        for key, batch in PROFILES.items():
            if step(doc, f"build CURRENT, batch {batch}", functools.partial(build, models, folder, f"current_{key}", batch, ("current",))):
                plans[key] = folder / f"current_{key}.plan"
        for name in ("portable_b1", "current_b1"):
            if (folder / f"{name}.plan").is_file():
                step(doc, f"header check of {name}", functools.partial(validity, folder / f"{name}.plan"))
        if len(plans) == len(PROFILES):
            step(doc, "measure tensorrt-rtx vs torch-cuda", lambda: measure(models, plans, args.seconds))
    return _finish(doc, args.out)


def _finish(doc: dict[str, Any], out: Path) -> int:
    (out / "tensorrt_gpu.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (out / "tensorrt_gpu.md").write_text(report_md(doc))
    print(report_md(doc), flush=True)
    return 0 if all(s["ok"] for s in doc["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
