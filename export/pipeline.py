"""`stargan-rt export`: the artifact chain, each step checked, written into a temporary folder that replaces OUT
only when everything succeeded (no half-written export is ever left behind).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from stargan_rt.atomic import atomic_directory, atomic_write_bytes, atomic_write_text, check_replaceable
from stargan_rt.bundle import ModelMeta, is_bundle
from stargan_rt.engine_meta import BatchProfile, read_sidecar, sidecar_path, write_sidecar
from stargan_rt.errors import BadInput, BadModel, StarGanError
from stargan_rt.outputs import check_folder

from .calibration import Samples, real_samples
from .int8 import Int8Recipe
from .parity import Diff, diff, ort_session, random_inputs, run

FLOAT, FRAMES, FP16, INT8 = "generator.onnx", "generator_frames.onnx", "generator_fp16.onnx", "generator_int8.onnx"
FRAMES_FP16 = "generator_frames_fp16.onnx"  # written with --engine: the frames engine's strongly typed source
PLAN, FRAMES_PLAN = "generator_fp16.plan", "generator_frames_fp16.plan"
OV_INT8 = "generator_int8_ov.xml"  # + generator_int8_ov.bin
ORT_TRT_CACHE = "ort_tensorrt_cache"
REPORT = "export_report.json"
MIN_PSNR_DB = 30.0  # below this a variant's artefacts are visible: warn loudly


@dataclass
class ExportOptions:
    profile: BatchProfile = BatchProfile(1, 1, 8)
    int8: bool = True
    openvino: bool = False  # also the INT8 OpenVINO IR (measured slower than OpenVINO on the INT8 ONNX: opt-in)
    calib: Path | None = None
    calib_count: int = 64
    engine: bool = False
    rebuild: bool = False
    timing_cache_dir: Path = Path.home() / ".cache" / "stargan-rt" / "tensorrt"
    tensorrt: str = "auto"  # which product builds the engines: auto, tensorrt, tensorrt-rtx
    capabilities: tuple[str, ...] = ("portable",)  # TensorRT for RTX: the compute capabilities to build for
    workspace_gib: float = 2.0
    ort_tensorrt: bool = False
    triton: Path | None = None


@dataclass
class ExportReport:
    bundle: str
    files: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


EXPORT_ENTRIES = ("generator*", REPORT, ORT_TRT_CACHE)  # what an export folder holds: all of it written here
TRITON_ENTRIES = ("stargan", "stargan_frames", "stargan_trt")


def check_output_dir(out: Path, replaces: tuple[str, ...] = EXPORT_ENTRIES) -> None:
    """OUT is replaced as a whole: refuse anything but a new folder, an empty one, or an earlier export holding
    nothing but what an export writes (a user's own file there would be deleted)."""
    if not out.parent.is_dir():
        raise BadInput(f"{out}: the folder {out.parent} does not exist")
    check_folder(out)
    check_replaceable(out, replaces)


def preflight(bundle: Path, out: Path, opts: ExportOptions) -> None:
    """Everything that can be refused in a second, before minutes of work."""
    if not is_bundle(bundle):
        raise BadModel(f"{bundle}: not a model bundle (no model.json)")
    if bundle.resolve() == out.resolve():
        raise BadInput("the output folder cannot be the bundle itself")
    check_output_dir(out)
    if opts.triton is not None:
        check_output_dir(opts.triton, TRITON_ENTRIES)
    if opts.engine:
        from stargan_rt.engine_meta import find_product

        from .tensorrt_engine import build_target, builds_from_fp16_onnx

        build_target(find_product(opts.tensorrt), opts.capabilities)  # product installed, capabilities it offers
        builds_from_fp16_onnx(opts.tensorrt)  # and not a TensorRT older than 10
    if opts.int8 and opts.openvino:
        from stargan_rt._optional import require

        require("openvino", "--openvino-ir")
    if opts.ort_tensorrt:
        import onnxruntime as ort

        from .ort_tensorrt import PROVIDER

        if PROVIDER not in ort.get_available_providers():
            from stargan_rt.errors import MissingDependency

            raise MissingDependency(f"--ort-tensorrt needs onnxruntime-gpu with {PROVIDER} (have {', '.join(ort.get_available_providers())})")


def export_all(bundle: Path, out: Path, opts: ExportOptions, log: Callable[[str], None] = print) -> ExportReport:
    preflight(bundle, out, opts)
    from stargan_rt.torch_model import load_generator

    from .fp16 import float_to_fp16
    from .frames import float_to_frames
    from .int8 import float_to_int8
    from .to_onnx import check_against_torch, generator_to_onnx

    generator, meta = load_generator(str(bundle))
    real = _real_images(meta, opts, log)
    report = ExportReport(bundle=str(bundle))
    clock = time.perf_counter()

    def step(what: str) -> None:
        log(f"[{time.perf_counter() - clock:6.1f} s] {what}")

    with atomic_directory(out, replaces=EXPORT_ENTRIES) as tmp:
        step("exporting PyTorch -> ONNX (torch.export)")
        model = generator_to_onnx(generator, meta)
        parity = check_against_torch(model, generator, meta)
        report.checks["onnx_vs_torch"] = {f"batch_{n}": d.to_dict() for n, d in parity.items()}
        _save(tmp / FLOAT, model, report)
        step(f"{FLOAT}: onnx.checker ok, {_count(model, 'InstanceNormalization')} InstanceNormalization nodes; "
             + "; ".join(f"batch {n} vs PyTorch: {d}" for n, d in parity.items()))

        frames = float_to_frames(model)
        report.checks["frames_vs_float"] = d = _frames_vs_float(frames, model, meta)
        _save(tmp / FRAMES, frames, report)
        step(f"{FRAMES}: uint8 BGR frames in/out; vs float model + to_frames: max {d['max_abs_grey_levels']} grey level, "
             f"{d['differing_values']} of {d['values']} values differ")
        if d["max_abs_grey_levels"] > 1:
            raise BadModel(f"frames model differs from the float model by {d['max_abs_grey_levels']} grey levels (> 1)")

        calib, evaluation = real.split() if real is not None else (None, None)
        reference = ort_session(model)
        half = float_to_fp16(model)
        _save(tmp / FP16, half, report)
        report.checks["fp16_vs_fp32"] = _quality(FP16, reference, ort_session(half), evaluation, meta, report, step)
        if opts.engine:
            _frames_fp16(tmp, half, meta, opts, report, step)

        if opts.int8:
            assert calib is not None
            step(f"calibrating INT8 on {calib.source}")
            recipe = Int8Recipe()
            q = float_to_int8(model, calib, recipe)
            _save(tmp / INT8, q, report)
            report.checks["int8_vs_fp32"] = {
                **_quality(INT8, reference, ort_session(q), evaluation, meta, report, step),
                "recipe": asdict(recipe), "calibration": calib.source,
            }
            if opts.openvino:
                _openvino_int8(tmp, model, reference, calib, evaluation, meta, report, step)

        if opts.engine:
            _engine(tmp, out, meta, opts, report, step, evaluation)
        if opts.ort_tensorrt:
            from .ort_tensorrt import warm_cache

            warm_cache(tmp / FLOAT, meta, opts.profile, tmp / ORT_TRT_CACHE, step)
            report.files.append(ORT_TRT_CACHE + "/")
        report.files.append(REPORT)
        atomic_write_text(tmp / REPORT, json.dumps(asdict(report), indent=2) + "\n")

    if opts.triton is not None:
        from .triton import write_repository

        plan = out / PLAN if opts.engine else None
        if plan is not None and read_sidecar(plan).target.product != "tensorrt":  # Triton's tensorrt_plan runs TensorRT engines
            step(f"Triton: {PLAN} left out (built by {read_sidecar(plan).target.title}, which Triton does not run)")
            plan = None
        write_repository(opts.triton, out / FLOAT, meta, opts.profile, plan=plan, frames_onnx=out / FRAMES)
        step(f"Triton model repository: {opts.triton}")
    for w in report.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    return report


def _openvino_int8(tmp: Path, model: Any, reference: Any, calib: Samples, evaluation: Samples | None, meta: ModelMeta,
                   report: ExportReport, step: Callable[[str], None]) -> None:
    """generator_int8_ov.xml/.bin: INT8 for OpenVINO, checked through the runtime's ov-cpu backend."""
    from .openvino import OPENVINO_RECIPE, IrSession, float_to_openvino_int8, weights_path

    step(f"calibrating INT8 for OpenVINO (ConvTranspose quantized too) on {calib.source}")
    float_to_openvino_int8(model, calib, tmp / OV_INT8)
    report.files += [OV_INT8, weights_path(Path(OV_INT8)).name]
    session = IrSession(tmp / OV_INT8)
    report.checks["openvino_int8_vs_fp32"] = {
        **_quality(OV_INT8, reference, session, evaluation, meta, report, step),
        "runs_as": session.runner.describe(), "recipe": asdict(OPENVINO_RECIPE), "calibration": calib.source,
    }
    session.runner.close()


def _real_images(meta: ModelMeta, opts: ExportOptions, log: Callable[[str], None]) -> Samples | None:
    try:
        return real_samples(meta, opts.calib, opts.calib_count)
    except StarGanError:
        if opts.int8 or opts.calib is not None:
            raise
        log("no real images (--calib DIR or SynthFaces): FP16 quality is measured on random inputs")
        return None


def _save(path: Path, model: Any, report: ExportReport) -> None:
    atomic_write_bytes(path, model.SerializeToString())
    report.files.append(path.name)


def _count(model: Any, op: str) -> int:
    return sum(n.op_type == op for n in model.graph.node)


def _frames_vs_float(frames_model: Any, float_model: Any, meta: ModelMeta) -> dict[str, Any]:
    """The frames model against the float model with stargan_rt.images' conversions, on fresh random frames."""
    from stargan_rt.images import to_frames, to_tensor

    rng = np.random.default_rng()
    s = meta.architecture.image_size
    fr = rng.integers(0, 256, (3, s, s, 3), dtype=np.uint8)
    _, c = random_inputs(meta, 3, rng)
    got = run(ort_session(frames_model), {"frames": fr, "label": c})
    want = to_frames(run(ort_session(float_model), {"image": to_tensor(fr, meta.preprocess), "label": c}), meta.preprocess)
    d = np.abs(got.astype(np.int16) - want.astype(np.int16))
    return {"max_abs_grey_levels": int(d.max()), "exact_fraction": float((d == 0).mean()), "differing_values": int((d != 0).sum()),
            "values": int(d.size)}


def _quality(name: str, reference: Any, session: Any, real: Samples | None, meta: ModelMeta, report: ExportReport,
             step: Callable[[str], None]) -> dict[str, Any]:
    """PSNR etc. of a variant against the FP32 model, on real images when there are some; warns below 30 dB."""
    if real is not None:
        x, c, source = real.x, real.c, real.source
    else:
        (x, c), source = random_inputs(meta, 4, np.random.default_rng()), "4 random inputs"
    outs = [(run(reference, {"image": x[i : i + 1], "label": c[i : i + 1]}), run(session, {"image": x[i : i + 1], "label": c[i : i + 1]}))
            for i in range(len(x))]
    d: Diff = diff(np.concatenate([a for a, _ in outs]), np.concatenate([b for _, b in outs]))
    step(f"{name} vs FP32 on {source}: {d}")
    if d.psnr < MIN_PSNR_DB:
        report.warnings.append(f"{name} is only {d.psnr:.1f} dB PSNR against FP32 on {source} (< {MIN_PSNR_DB:g} dB): "
                               "expect visible artefacts; prefer generator.onnx or the bf16 PyTorch backend")
    return {**d.to_dict(), "inputs": source}


def _frames_fp16(tmp: Path, half: Any, meta: ModelMeta, opts: ExportOptions, report: ExportReport,
                 step: Callable[[str], None]) -> None:
    """The FP16 model with frames I/O: what a strongly typed frames engine is built from."""
    from .frames import float_to_frames
    from .tensorrt_engine import builds_from_fp16_onnx

    if not builds_from_fp16_onnx(opts.tensorrt):
        return  # an older TensorRT builds the frames engine from generator_frames.onnx with its FP16 flag
    frames = float_to_frames(half)
    report.checks["frames_fp16_vs_fp16"] = d = _frames_vs_float(frames, half, meta)
    _save(tmp / FRAMES_FP16, frames, report)
    step(f"{FRAMES_FP16}: the FP16 model with uint8 frames in/out; vs the FP16 model + to_frames: max {d['max_abs_grey_levels']} grey level")
    if d["max_abs_grey_levels"] > 1:
        raise BadModel(f"FP16 frames model differs from the FP16 model by {d['max_abs_grey_levels']} grey levels (> 1)")


def _engine(tmp: Path, out: Path, meta: ModelMeta, opts: ExportOptions, report: ExportReport,
            step: Callable[[str], None], real: Samples | None) -> None:
    """The float and the frames engine, each reused from OUT when it was built the same way from the same ONNX."""
    from stargan_rt.engine_meta import file_sha256, find_product

    from .tensorrt_engine import build_engine, build_target, builds_from_fp16_onnx

    product = find_product(opts.tensorrt)
    fp16 = builds_from_fp16_onnx(product.name)
    target = build_target(product, opts.capabilities)
    for plan, source in ((PLAN, FP16 if fp16 else FLOAT), (FRAMES_PLAN, FRAMES_FP16 if fp16 else FRAMES)):
        old = out / plan
        if not opts.rebuild and old.is_file():
            try:
                sidecar = read_sidecar(old)
                same = (sidecar.target, sidecar.onnx_sha256, sidecar.profile) == (target, file_sha256(tmp / source), opts.profile)
                if same:
                    shutil.copyfile(old, tmp / plan)
                    shutil.copyfile(sidecar_path(old), sidecar_path(tmp / plan))
                    report.files += [plan, sidecar_path(plan).name]
                    step(f"{plan}: reusing the existing engine (same ONNX, profile, {target.title}, GPUs; --rebuild to force)")
                    continue
                step(f"existing {plan} not reusable (built by {sidecar.target.title} for {sidecar.target.gpus()}, "
                     f"profile {sidecar.profile}; now {target.title} for {target.gpus()}, {opts.profile}); rebuilding")
            except StarGanError as exc:
                step(f"existing {plan} not reusable ({exc}); rebuilding")
        build = build_engine(tmp / source, meta, opts.profile, opts.timing_cache_dir, product=product.name,
                             capabilities=opts.capabilities, workspace=int(opts.workspace_gib * (1 << 30)), log=step)
        atomic_write_bytes(tmp / plan, build.plan)
        write_sidecar(tmp / plan, build.sidecar)
        report.files += [plan, sidecar_path(plan).name]
        report.checks.setdefault("engines", {})[plan] = build.sidecar.to_dict() | {
            "stargan_rt": "(see the ONNX)", "build_seconds": round(build.seconds, 2), "bytes": len(build.plan)}
        step(f"{plan}: {len(build.plan) / 1e6:.1f} MB in {build.seconds:.1f} s, sidecar {sidecar_path(plan).name}")
        report.checks.setdefault("engines_vs_fp32", {})[plan] = _verify_engine(tmp, plan, meta, opts.profile, real, report, step)


def _verify_engine(tmp: Path, plan: str, meta: ModelMeta, profile: BatchProfile, real: Samples | None, report: ExportReport,
                   step: Callable[[str], None]) -> Any:
    """Run the engine through the runtime's TensorRT backend against onnxruntime FP32, where that backend runs."""
    from stargan_rt.backends import open_model

    try:
        runner = open_model(tmp / plan, backend="tensorrt")
    except StarGanError as exc:
        note = f"{plan} not run here ({exc}); check it with: stargan-rt check OUT/{FLOAT} OUT/{plan}"
        step(note)
        return {"verified": False, "why": str(exc)}
    n = profile.opt  # a batch size inside the engine's profile
    x, c = (real.x[:n], real.c[:n]) if real is not None and len(real) >= n else random_inputs(meta, n, np.random.default_rng())
    with runner:
        d = diff(run(ort_session(tmp / FLOAT), {"image": x, "label": c}), runner.infer(x, c))
    step(f"{plan} vs onnxruntime FP32: {d}")
    if d.psnr < MIN_PSNR_DB:
        report.warnings.append(f"the TensorRT engine {plan} is only {d.psnr:.1f} dB PSNR against FP32 (< {MIN_PSNR_DB:g} dB)")
    return {"verified": True, **d.to_dict()}
