"""`stargan-rt export` and `stargan-rt check`. No torch at import time: the work happens in `run`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from stargan_rt.argtypes import batch_size, finite_float, non_negative_float, positive_float, positive_int, whole_in
from stargan_rt.errors import BadInput
from stargan_rt.host import cache_dir


MAX_CALIB = 10_000  # INT8 calibration saturates within a few hundred images; more only renders for longer


def register_export(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="export a model bundle to ONNX, frames ONNX, FP16, INT8, TensorRT and Triton",
        description="Export a bundle to OUT/: generator.onnx (FP32), generator_frames.onnx (uint8 BGR frames in/out), "
        "generator_fp16.onnx, generator_int8.onnx (calibrated on real images; OpenVINO runs it fastest on CPUs), "
        "with --openvino-ir an INT8 OpenVINO IR, and with --engine FP16 TensorRT engines "
        "generator_fp16.plan and generator_frames_fp16.plan (uint8 frames in/out) with their sidecars. Every artifact is checked against the one it comes from; OUT is "
        "replaced only when all of them succeed.",
    )
    p.add_argument("bundle", type=Path, help="model bundle directory (model.json + generator.safetensors)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder (new, empty, or an earlier export)")
    p.add_argument("--batch", default="1:1:8", metavar="MIN:OPT:MAX", help="batch range of the TensorRT profiles and Triton (default 1:1:8)")
    p.add_argument("--calib", type=Path, metavar="DIR", help="face images for INT8 calibration and quality checks (default: SynthFaces renders)")
    p.add_argument("--calib-count", type=whole_in(1, MAX_CALIB), default=64,
                   help=f"how many real images to use, up to {MAX_CALIB} (3/4 calibrate, 1/4 measure quality)")
    p.add_argument("--no-int8", action="store_true", help="skip the INT8 models (then no calibration images are needed)")
    p.add_argument("--openvino-ir", action="store_true", help="also write generator_int8_ov.xml/.bin, INT8 with ConvTranspose "
                   "quantized for OpenVINO (measured slower than OpenVINO on generator_int8.onnx; see export/openvino.py)")
    p.add_argument("--engine", action="store_true", help="also build FP16 TensorRT engines (TensorRT: on the NVIDIA GPU they are for; "
                   "TensorRT for RTX: ahead of time, no GPU needed)")
    p.add_argument("--tensorrt", default="auto", choices=["auto", "tensorrt", "tensorrt-rtx"],
                   help="which TensorRT builds the engines (default: the installed one, TensorRT before TensorRT for RTX)")
    p.add_argument("--compute-capabilities", default="portable", metavar="LIST",
                   help="TensorRT for RTX: GPUs to build for, e.g. 8.6,8.9,12.0; 'current' (this GPU); default 'portable': "
                   "every capability from 8.0 (Ampere) up that the library offers")
    p.add_argument("--rebuild", action="store_true", help="rebuild the engine even if OUT holds one that fits this GPU and model")
    p.add_argument("--timing-cache-dir", type=Path, default=cache_dir("tensorrt"),
                   help="where TensorRT timing caches persist between builds (default ~/.cache/stargan-rt/tensorrt)")
    p.add_argument("--workspace-gib", type=positive_float, default=2.0, help="TensorRT builder workspace limit (GiB)")
    p.add_argument("--ort-tensorrt", action="store_true", help="also build onnxruntime's TensorRT EP engine cache in OUT/ort_tensorrt_cache")
    p.add_argument("--triton", type=Path, metavar="DIR", help="also write a Triton Inference Server model repository here")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from stargan_rt.engine_meta import BatchProfile

    from .pipeline import ExportOptions, export_all
    from .tensorrt_engine import parse_capabilities

    opts = ExportOptions(
        profile=BatchProfile.parse(args.batch), int8=not args.no_int8, openvino=args.openvino_ir, calib=args.calib,
        calib_count=args.calib_count,
        engine=args.engine, rebuild=args.rebuild, timing_cache_dir=args.timing_cache_dir, workspace_gib=args.workspace_gib,
        ort_tensorrt=args.ort_tensorrt, triton=args.triton, tensorrt=args.tensorrt,
        capabilities=parse_capabilities(args.compute_capabilities),
    )
    report = export_all(args.bundle, args.out, opts)  # a full disk: one line (cli.py); the temporary folder is gone
    print(f"wrote {args.out}: {', '.join(report.files)}")
    return 0


def register_check(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="compare two artifacts (bundle / ONNX / FP16 / INT8 / engine) on the same fresh inputs",
        description="Run A and B on the same fresh inputs; print max abs error, mean abs error and PSNR; exit 0 if they "
        "agree within tolerance, 1 if not. Default tolerance follows the lower precision of the two: FP32 max abs "
        "<= 1e-4 (1 grey level when a frames model is involved), FP16/bf16 PSNR >= 40 dB, INT8 PSNR >= 30 dB. Inputs: "
        "random images and labels, or fresh SynthFaces renders when an INT8 model is involved (it is calibrated for faces).",
    )
    p.add_argument("a", type=Path, help="bundle directory, .onnx or .plan")
    p.add_argument("b", type=Path, help="bundle directory, .onnx or .plan")
    p.add_argument("--batch", type=batch_size, default=2, help="batch size of the fresh inputs (default 2)")
    p.add_argument("--atol", type=non_negative_float, help="agree when the max abs error is at most this")
    p.add_argument("--min-psnr", type=finite_float, metavar="DB", help="agree when the PSNR is at least this")
    p.add_argument("--images", type=Path, metavar="DIR", help="real images from this folder instead of random inputs")
    p.add_argument("--backend-a", help="backend for A (default: torch-cpu for a bundle, ort-cpu for .onnx, ov-cpu for .xml, else auto)")
    p.add_argument("--backend-b", help="backend for B (same defaults)")
    p.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from .check import run_check as check

    result, desc_a, desc_b = check(args.a, args.b, batch=args.batch, atol=args.atol, min_psnr=args.min_psnr,
                                   backend_a=args.backend_a, backend_b=args.backend_b, images=args.images)
    d = result.diff
    unit = " grey levels" if result.space == "frames" else ""
    print(f"A: {desc_a}\nB: {desc_b}")
    print(f"inputs: {result.inputs}")
    print(f"batch {args.batch} ({result.space}): max abs error {d.max_abs:.4g}{unit}, mean abs error {d.mean_abs:.4g}{unit}, "
          f"PSNR {d.psnr:.2f} dB")
    print(f"{'agree' if result.agree else 'DISAGREE'} (tolerance: {result.tolerance()})")
    return 0 if result.agree else 1
