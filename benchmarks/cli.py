"""`stargan-rt bench` (and `python -m benchmarks`): the whole benchmark in one command.

    stargan-rt bench --quick                      # ~2-3 minutes on a 2-core CPU
    stargan-rt bench -o runs/bench                # everything available here: CPU and, when present, CUDA
    stargan-rt bench --device cuda --backends torch-cuda --batches 1,64 --sizes 128

Phases: floor (FLOPs, bytes, measured peaks), generator (the table), pipeline (the streaming pipeline on a
video). One failing phase is reported and the others still run; the reports are written either way.
torch is imported inside `run` only (the CLI registers every command without it).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from stargan_rt.argtypes import non_negative_int, positive_float, positive_int
from stargan_rt.bundle import UPSAMPLING
from stargan_rt.errors import BadInput

PHASES = ("floor", "generator", "pipeline")  # what a plain `stargan-rt bench` runs
ALL_PHASES = (*PHASES, "train")  # train: the training step (benchmarks/training.py), on request
CPU_PEAKS = ("fp32", "bf16", "int8")
CUDA_PEAKS = ("fp32", "tf32", "fp16", "bf16")


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(positive_int(v) for v in text.replace(" ", "").split(",") if v)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a short run: 128 px, batch 1, the main paths (~2-3 min on 2 cores)")
    p.add_argument("--backends", nargs="+", metavar="NAME", help="paths to measure: backend names or row-name prefixes "
                   "(e.g. torch-cpu-bf16 ort-cpu torch-cuda); the baseline of each device is always measured")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="only paths on this device (default: all)")
    p.add_argument("--batches", type=_ints, help="batch sizes, e.g. 1,4,16,64 (default: 1,4,16,64; quick: 1)")
    p.add_argument("--sizes", type=_ints, help="resolutions, e.g. 128,256 (default: 128,256; quick: 128)")
    p.add_argument("-o", "--out", default="runs/bench", help="report folder (default: runs/bench)")
    p.add_argument("--phases", type=_names, default=PHASES,
                   help=f"comma-separated subset of {','.join(ALL_PHASES)} (default {','.join(PHASES)})")
    p.add_argument("--model", help="a bundle whose weights to use (default: the official architecture, seeded random weights)")
    p.add_argument("--trained-model", metavar="BUNDLE", help="also run the generator table (its own size, batch 1) with these "
                   "trained weights, for the PSNR a real model keeps (random weights quantize worse), and use them in the "
                   "pipeline; e.g. stargan_rt/assets/default")
    p.add_argument("--seconds", type=positive_float, help="time budget per generator row (default 3; quick 1.5)")
    p.add_argument("--max-call-seconds", type=positive_float, default=60.0, help="skip larger batches once one call would take longer")
    p.add_argument("--faces", type=_ints, help="faces per frame in the pipeline videos (default 1,3)")
    p.add_argument("--frames", type=positive_int, help="frames per pipeline run (default 300; quick 60)")
    p.add_argument("--modes", type=_names, help="pipeline modes: max (as fast as possible), live (paced like a camera)")
    p.add_argument("--video", help="a video for the one-face pipeline runs (default: one is rendered)")
    p.add_argument("--overlap", action=argparse.BooleanOptionalAction, default=None,
                   help="pipeline: detect frame N+1 while frame N is inferred, or (--no-overlap) both in one thread "
                   "(default: as the runtime decides, stream.overlap_pays)")
    p.add_argument("--frame-size", default="640x480", help="size of the rendered pipeline videos (default 640x480)")
    p.add_argument("--video-source", choices=("auto", "synth", "drawn"), default="auto",
                   help="rendered videos: SynthFaces clips (synth), OpenCV-drawn faces (drawn), synth when installed (auto)")
    p.add_argument("--paste-reference", choices=("model", "input"), default="model",
                   help="the pipeline's paste-back reference (default model: 2 crops a face; input: 1)")
    p.add_argument("--conv-dim", type=positive_int, help="generator width (default: 64, the official one; small values for tests)")
    p.add_argument("--repeat-num", type=non_negative_int, help="residual blocks (default: 6, the official number)")
    p.add_argument("--threads", type=positive_int, help="CPU threads for torch and onnxruntime (default: the libraries' own, all cores)")
    p.add_argument("--time-limit", type=positive_float, help="seconds for the whole run: no new row or pipeline run starts after "
                   "it (those are reported as skipped) and the reports are written")
    p.add_argument("--seed", type=non_negative_int, default=0)
    t = p.add_argument_group("training step (--phases train)")
    t.add_argument("--train-size", type=positive_int, default=128, help="image size (default 128, the default model's)")
    t.add_argument("--train-conv-dim", type=positive_int, default=32, help="G and D width (default 32, the default model's)")
    t.add_argument("--train-batch", type=positive_int, default=32, help="batch size (default 32, the default model's recipe)")
    t.add_argument("--train-upsample", choices=UPSAMPLING, default="transpose",
                   help="G's up-sampling layers, as train's --g-upsample (default transpose, the official layout)")
    t.add_argument("--train-variants", type=_names, help="rows by key (default: all for the device): "
                   "plain, syncs, bf16, device, fused, graphs, compile-g, graphs-compile-g, compile-gd, fp32-fast")
    t.add_argument("--train-batch-scales", default="2,4", help="the fastest same-objective row again at these "
                   "multiples of the batch (default 2,4; none to skip)")
    t.add_argument("--train-seconds", type=positive_float, help="timed seconds per row after its warm-up (default 3; quick 1)")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser("bench", help="measure every inference path against the FP32 baseline and the hardware floor",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def _frame_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BadInput(f"--frame-size: expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 64 or h < 64:
        raise BadInput(f"--frame-size: at least 64x64, got {text!r}")
    return w, h


def run(args: argparse.Namespace) -> int:
    from stargan_rt._optional import require

    torch = require("torch", "stargan-rt bench")
    if args.threads is not None:
        if args.threads < 1:
            raise BadInput("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    from stargan_rt.bundle import Architecture, load_bundle

    from . import goals, machine, report
    from .floor import generator_cost, measure_peaks
    from .generator import GeneratorConfig, run_generator
    from .inputs import crops_source
    from .pipeline import PipelineConfig, run_pipeline
    from .timing import Budget
    from .variants import Workspace, official_meta, random_weights, select

    unknown = [p for p in args.phases if p not in ALL_PHASES]
    if unknown:
        raise BadInput(f"--phases: unknown {', '.join(unknown)} (choose from {', '.join(ALL_PHASES)})")
    if args.video:  # a missing file, a still image or an unreadable video fails here, not after the other phases
        if not Path(args.video).is_file():
            raise BadInput(f"--video {args.video}: no such file")
        from stargan_rt.stream import open_source

        open_source(args.video).close()
    if args.frames is not None and args.frames < 1:
        raise BadInput("--frames must be at least 1")
    modes = args.modes or (("live",) if args.quick else ("max", "live"))
    if any(m not in ("max", "live") for m in modes):
        raise BadInput(f"--modes: choose from max, live (got {','.join(modes)})")
    width, height = _frame_size(args.frame_size)
    deadline = time.monotonic() + args.time_limit if args.time_limit else None
    train_cfg = _train_config(args, deadline)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"-o {out}: cannot create the report folder ({exc.strerror})") from None

    if args.trained_model and not Path(args.trained_model).is_dir():
        raise BadInput(f"--trained-model {args.trained_model}: no such bundle folder")
    if args.model:
        meta, weights = load_bundle(args.model)
        weights_note = f"{args.model} (given)"
    else:
        arch = Architecture(conv_dim=args.conv_dim or 64, repeat_num=args.repeat_num or 6)
        meta, weights = official_meta(arch), random_weights(arch, args.seed)
        weights_note = f"random, official architecture{'' if arch == Architecture() else f' ({arch})'}, seed {args.seed}"

    variants = select(list(args.backends) if args.backends else None, args.quick)
    if args.device != "auto":
        variants = [v for v in variants if v.device == args.device]
    if not variants:
        raise BadInput(f"no benchmark path matches --backends {' '.join(args.backends or [])} --device {args.device}")
    gen_cfg = GeneratorConfig(
        sizes=args.sizes or ((128,) if args.quick else (128, 256)),
        batches=args.batches or ((1,) if args.quick else (1, 4, 16, 64)),
        budget=Budget(seconds=args.seconds or (1.5 if args.quick else 3.0), warmup=2 if args.quick else 3),
        seed=args.seed, max_call_s=args.max_call_seconds, threads=args.threads, deadline=deadline,
    )
    pipe_cfg = PipelineConfig(
        faces=args.faces or (1, 3), frames=args.frames or (60 if args.quick else 300), width=width, height=height,
        size=128 if 128 in gen_cfg.sizes or not gen_cfg.sizes else gen_cfg.sizes[0], modes=tuple(modes), video=args.video, video_source=args.video_source,
        threads=args.threads, deadline=deadline, paste_reference=args.paste_reference, overlap=args.overlap,
    )
    doc: dict[str, Any] = {
        "schema": report.SCHEMA,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(["stargan-rt bench", *map(shlex.quote, sys.argv[2:] if _called_as_subcommand() else sys.argv[1:])]),
        "quick": bool(args.quick),
        "machine": machine.machine_info(),
        "load_average": {"start": machine.load_average()},
        "other_processes_cores": None,
        "config": {"generator": asdict(gen_cfg), "pipeline": asdict(pipe_cfg), "variants": [v.name for v in variants],
                   "weights": weights_note, "architecture": asdict(meta.architecture), "inputs": crops_source(),
                   "trained_model": args.trained_model},
        "floor": {}, "generator": {}, "pipeline": {}, "train": {}, "phase_errors": {},
    }
    timings: dict[str, float] = {}
    cpu_start = machine.cpu_snapshot()

    def phase(name: str, fn: Callable[[], None]) -> None:
        if name not in args.phases:
            return
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one phase failing must not lose the others
            doc["phase_errors"][name] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
            print(f"stargan-rt bench: phase {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
        timings[name] = round(time.perf_counter() - t0, 1)

    devices = sorted({v.device for v in variants})
    peaks: list[Any] = []

    def floor() -> None:
        import torch

        doc["floor"]["cost"] = [generator_cost(meta.architecture, s).to_dict() for s in gen_cfg.sizes]
        for d in devices:
            if d == "cuda" and not torch.cuda.is_available():
                continue
            peaks.extend(measure_peaks(d, CUDA_PEAKS if d == "cuda" else CPU_PEAKS, budget_s=0.3 if args.quick else 1.0, quick=args.quick))
        doc["floor"]["peaks"] = [asdict(p) for p in peaks]

    with tempfile.TemporaryDirectory(prefix="stargan-bench-") as tmp:
        ws = Workspace(meta, weights, Path(tmp), seed=args.seed)
        trained = None
        if args.trained_model:
            t_meta, t_weights = load_bundle(args.trained_model)
            trained = Workspace(t_meta, t_weights, Path(tmp) / "trained", seed=args.seed)

        def generator() -> None:
            res = run_generator(gen_cfg, variants, ws, peaks)
            rows = res.rows
            if trained is not None:  # the same paths with trained weights: their own size, batch 1
                t_cfg = replace(gen_cfg, sizes=(trained.arch.image_size,), batches=(1,))
                t_res = run_generator(t_cfg, variants, trained, peaks)
                for r in t_res.rows:
                    r.model = "trained"
                rows = rows + t_res.rows
                res.artifact_errors.update({f"trained: {k}": v for k, v in t_res.artifact_errors.items()})
            doc["generator"] = {"rows": [r.to_dict() for r in rows], "skipped": res.skipped,
                                "artifact_errors": res.artifact_errors}

        def pipeline() -> None:
            rows = run_pipeline(pipe_cfg, variants, trained or ws)
            doc["pipeline"] = {"rows": [r.to_dict() for r in rows], "config": asdict(pipe_cfg)}

        def train() -> None:
            from .training import run_training

            import torch

            device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
            if device == "cuda" and not torch.cuda.is_available():
                raise BadInput("--device cuda: PyTorch sees no CUDA device")
            have = {(p.device, p.what) for p in peaks}
            wanted = ("fp32", "tf32", "bf16") if device == "cuda" else ("fp32", "bf16")
            if any((device, f"matmul-{w}") not in have for w in wanted):
                peaks.extend(measure_peaks(device, wanted, budget_s=0.3 if args.quick else 1.0, quick=args.quick))
                doc["floor"]["peaks"] = [asdict(p) for p in peaks]
            doc["train"] = run_training(train_cfg, [device], peaks)

        phase("floor", floor)
        phase("generator", generator)
        phase("pipeline", pipeline)
        phase("train", train)
    doc["phase_seconds"] = timings
    doc["load_average"]["end"] = machine.load_average()
    doc["other_processes_cores"] = machine.contention(cpu_start, machine.cpu_snapshot())
    doc["goals"] = goals.mark_unreliable(goals.evaluate_goals(
        doc["generator"].get("rows", []), doc["pipeline"].get("rows", []), doc["pipeline"].get("config")), doc)
    written = report.write_reports(doc, out)
    print(report.summary(doc))
    print("reports: " + ", ".join(str(p) for p in written.values()))
    return 1 if doc["phase_errors"] else 0


def _train_config(args: argparse.Namespace, deadline: float | None) -> Any:
    from .training import VARIANTS, TrainBenchConfig

    keys = {v.key for v in VARIANTS}
    unknown = [k for k in args.train_variants or () if k not in keys]
    if unknown:
        raise BadInput(f"--train-variants: unknown {', '.join(unknown)} (choose from {', '.join(sorted(keys))})")
    try:
        scales = () if args.train_batch_scales.strip().lower() in ("", "none") else _ints(args.train_batch_scales)
    except argparse.ArgumentTypeError as exc:
        raise BadInput(f"--train-batch-scales: {exc}") from None
    if min(args.train_size, args.train_conv_dim, args.train_batch) < 1 or args.train_size % 64:
        raise BadInput("--train-size must be a positive multiple of 64 (D halves it six times); "
                       "--train-conv-dim and --train-batch at least 1")
    return TrainBenchConfig(size=args.train_size, conv_dim=args.train_conv_dim, batch=args.train_batch,
                            upsample=args.train_upsample,
                            variants=tuple(args.train_variants) if args.train_variants else None, batch_scales=scales,
                            seconds=args.train_seconds or (1.0 if args.quick else 3.0), deadline=deadline)


def _read_report(path: str) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not a readable benchmark report ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != "stargan-rt-bench/1":
        raise BadInput(f"{path}: not a stargan-rt benchmark report")
    return doc


def _called_as_subcommand() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "bench"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks [options]`, or `python -m benchmarks --summarize bench.json` to print a report's summary."""
    from stargan_rt.errors import StarGanError

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--summarize", metavar="JSON", help="print the summary of an existing bench.json and exit")
    parser.add_argument("--merge", nargs="+", metavar="JSON", help="combine bench.json files of one machine into one report in -o")
    args = parser.parse_args(argv)
    try:
        if args.summarize or args.merge:
            from . import report

            docs = [_read_report(p) for p in (args.merge or [args.summarize])]
            doc = report.merge(docs) if args.merge else docs[0]
            if args.merge:
                written = report.write_reports(doc, Path(args.out))
                print("reports: " + ", ".join(str(p) for p in written.values()))
            print(report.summary(doc))
            return 0
        return run(args)
    except StarGanError as exc:
        print(f"benchmarks: error: {exc}", file=sys.stderr)
        return exc.exit_code
