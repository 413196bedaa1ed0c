"""Which CPU variant of the generator is fastest here, and what each costs in quality.

    .venv/bin/python -m export.measure_cpu                       # official architecture, random weights
    .venv/bin/python -m export.measure_cpu --bundle runs/bundle  # a trained model
    .venv/bin/python -m export.measure_cpu --json out.json

Batch-1 latency of PyTorch eager FP32, PyTorch bf16 autocast + channels_last, onnxruntime FP32 (graph
optimisation levels), FP16 ONNX, and INT8 variants (QDQ vs QOperator, per-channel vs per-tensor, which ops,
INT8 vs UINT8 activations); quality of each against PyTorch FP32 on real face images (scikit-image's photos,
or --calib DIR). Runs are interleaved round-robin so that load from other processes hits every variant alike;
medians are reported. onnxruntime thread spinning is off so that its idle threads do not steal the cores
from the next variant.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from stargan_rt.bundle import Architecture, DomainSet, ModelMeta

from .calibration import Samples, folder_samples, scikit_image_faces, target_labels
from .int8 import Int8Recipe
from .parity import Diff, diff

INT8_RECIPES = {
    "int8 QDQ u8 act, Conv, percentile (default)": Int8Recipe(),
    "int8 QDQ u8 act, Conv, minmax": Int8Recipe(calibration="minmax"),
    "int8 QDQ s8 act, Conv": Int8Recipe(activations="int8"),
    "int8 QDQ s8 act, Conv+ConvT": Int8Recipe(activations="int8", ops=("Conv", "ConvTranspose")),
    "int8 QDQ u8 act, Conv+ConvT": Int8Recipe(ops=("Conv", "ConvTranspose")),
    "int8 QDQ u8 act, all ops": Int8Recipe(ops=()),
    "int8 QDQ u8 act, Conv, per-tensor": Int8Recipe(per_channel=False),
    "int8 QOperator u8 act, Conv": Int8Recipe(format="qoperator"),
}


@dataclass
class Variant:
    name: str
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]
    times: list[float]
    quality: Diff | None = None


def official_meta(size: int, conv_dim: int, repeat: int) -> ModelMeta:
    attrs = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    return ModelMeta(
        Architecture(size, 5, conv_dim, repeat),
        (DomainSet("celeba", "multi_label", attrs, (attrs[:3],)),),
        provenance={"source": "random weights (speed measurement)"},
    )


def ort_runner(model: object, threads: int, level: str = "all") -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return lambda x, c: sess.run(None, {"image": x, "label": c})[0]


def torch_runners(generator: object) -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    import torch

    g32 = generator
    gcl = generator.to(memory_format=torch.channels_last)  # type: ignore[attr-defined]

    def eager(x: np.ndarray, c: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return g32(torch.from_numpy(x), torch.from_numpy(c)).numpy()  # type: ignore[operator]

    def bf16_cl(x: np.ndarray, c: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            xt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            return gcl(xt, torch.from_numpy(c)).float().contiguous().numpy()  # type: ignore[operator]

    return {"torch eager fp32": eager, "torch bf16 autocast + channels_last": bf16_cl}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="a trained bundle (default: the official architecture with random weights)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--conv-dim", type=int, default=64)
    p.add_argument("--repeat", type=int, default=6)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--runs", type=int, default=15, help="timed runs per variant (after 2 warm-up runs)")
    p.add_argument("--calib", help="folder of face images (default: scikit-image's face photos)")
    p.add_argument("--images", type=int, default=24, help="real images: 3/4 calibrate INT8, 1/4 measure quality")
    p.add_argument("--only", default="", help="comma-separated substrings: measure only variants whose name matches")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    import torch

    from stargan_rt.images import to_tensor
    from stargan_rt.torch_model import build_generator, load_generator

    from .fp16 import float_to_fp16
    from .int8 import float_to_int8
    from .to_onnx import generator_to_onnx

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.bundle:
        generator, meta = load_generator(args.bundle)
    else:
        meta = official_meta(args.size, args.conv_dim, args.repeat)
        generator = build_generator(meta.architecture).eval().requires_grad_(False)
    s = meta.architecture.image_size
    if args.calib:
        samples = folder_samples(meta, args.calib, args.images)
    else:
        frames = scikit_image_faces(args.images, s)
        samples = Samples(to_tensor(frames, meta.preprocess), target_labels(meta, len(frames)), "scikit-image faces")
    calib, evaluation = samples.split()
    print(f"{meta.architecture}, {args.threads} threads, torch {torch.__version__}; calibration: {len(calib)}, "
          f"quality: {len(evaluation)} of {samples.source}", flush=True)

    wanted = [w.strip() for w in args.only.split(",") if w.strip()]

    def want(name: str) -> bool:
        return not wanted or any(w in name for w in wanted)

    t = time.perf_counter()
    model = generator_to_onnx(generator, meta)
    print(f"exported ONNX in {time.perf_counter() - t:.1f} s", flush=True)
    builders: dict[str, Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
        "ort fp32 (ORT_ENABLE_ALL)": lambda: ort_runner(model, args.threads, "all"),
        "ort fp32 (ORT_ENABLE_BASIC)": lambda: ort_runner(model, args.threads, "basic"),
        "ort fp32 (ORT_ENABLE_ALL, 1 thread)": lambda: ort_runner(model, 1, "all"),
        "ort fp16 onnx": lambda: ort_runner(float_to_fp16(model), args.threads),
    }
    def int8_runner(recipe: Int8Recipe) -> Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]]:
        return lambda: ort_runner(float_to_int8(model, calib, recipe), args.threads)

    builders.update({name: int8_runner(recipe) for name, recipe in INT8_RECIPES.items()})
    runners = {k: v for k, v in torch_runners(generator).items() if want(k) or k == "torch eager fp32"}
    for name, build in builders.items():
        if want(name) and not (args.threads == 1 and "1 thread" in name):
            t = time.perf_counter()
            runners[name] = build()
            print(f"prepared {name} in {time.perf_counter() - t:.1f} s", flush=True)
    variants = [Variant(k, v, []) for k, v in runners.items()]

    reference = runners["torch eager fp32"]
    for v in variants:  # quality on held-out real images, one image at a time
        outs = [(reference(evaluation.x[i : i + 1], evaluation.c[i : i + 1]), v.run(evaluation.x[i : i + 1], evaluation.c[i : i + 1]))
                for i in range(len(evaluation))]
        v.quality = diff(np.concatenate([a for a, _ in outs]), np.concatenate([b for _, b in outs]))

    x, c = evaluation.x[:1], evaluation.c[:1]
    for v in variants:
        for _ in range(2):
            v.run(x, c)
    for _ in range(args.runs):  # round-robin: the machine's other load hits every variant alike
        for v in variants:
            t = time.perf_counter()
            v.run(x, c)
            v.times.append(time.perf_counter() - t)

    base = statistics.median(variants[0].times)
    print(f"\n{'variant':44s} {'median ms':>9s} {'vs eager':>8s}   quality vs PyTorch FP32 (held-out real images)")
    rows = []
    for v in variants:
        med = statistics.median(v.times)
        print(f"{v.name:44s} {med * 1e3:9.1f} {base / med:7.2f}x   {v.quality}")
        rows.append({"variant": v.name, "median_ms": med * 1e3, "min_ms": min(v.times) * 1e3, "speedup_vs_eager": base / med,
                     "quality": v.quality.to_dict() if v.quality else None})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"architecture": str(meta.architecture), "threads": args.threads, "runs": args.runs,
                       "images": samples.source, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
