"""Open a generator artifact on the best backend available here.

    with open_model("runs/export/generator.onnx") as runner:        # backend="auto"
        print(runner.describe(), "-", runner.reason)
        out = runner.infer_frames(crops_uint8_bgr, labels)

Artifacts: a bundle directory (model.json + generator.safetensors: the torch backends), an .onnx file
(onnxruntime), a .plan TensorRT engine, or a directory holding any of these (an export folder, the embedded
default model), in which case every artifact inside is a candidate.

Backends are discovered: every module of this package is imported (they import their heavy dependency only
when used) and registers itself with `base.register`.

`auto` measures (backends/_probe.py): every available backend that accepts one of the candidate artifacts is
opened and timed for a few calls on the real model at the real batch size; the fastest wins, and the verdict is
cached per machine, model and library versions (the first `auto` on a new model takes a few seconds; later ones
read the cache). The static order below only breaks ties (within 5%) and is the whole answer when probing is off
(STARGAN_RT_AUTO_PROBE=0 or `probe=False`):

    tensorrt (engine) > ort-tensorrt > torch-cuda > ort-cuda > ov-cpu (INT8) > ort-cpu (INT8, no AMX)
        > torch-cpu-bf16 (CPU with bf16 support) > ov-cpu (float) > ort-cpu > torch-cpu

An INT8 ONNX ranks above torch bf16 on CPUs without AMX: measured on the 2-core AVX-512 machine, INT8 ran 2.5x
(onnxruntime) and ~4x (OpenVINO) faster than FP32 and bf16 autocast 1.75x (benchmarks/results/cpu-2core); with
AMX, bf16 is faster than onnxruntime INT8 (the notes: 28 ms bf16 vs 49 ms INT8 at the official size).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

from ..bundle import is_bundle
from ..errors import BadInput, BadModel
from . import _probe
from .base import REGISTRY, BackendInfo, Runner, register

__all__ = ["open_model", "choose_backend", "backends", "candidate_artifacts", "factory_options", "Runner", "BackendInfo",
           "register"]

# Artifacts looked for inside a directory, in order of preference for a backend that accepts several.
# Reduced-precision ONNX files are taken only where no FP32 one is: an export folder is opened at full precision
# (INT8 trades accuracy for speed: ask for it by path), while the embedded default, which ships only an INT8
# ONNX beside its bundle (small, and 2x faster than FP32 on CPU at 41 dB PSNR), runs without torch.
FULL_PRECISION_ONNX = ("generator.onnx", "generator_frames.onnx")
# The INT8 OpenVINO IR (export/openvino.py) is one more reduced-precision artifact.
REDUCED_PRECISION_ONNX = ("generator_fp16.onnx", "generator_int8.onnx", "generator_int8_ov.xml")
ARTIFACT_NAMES = ("generator_fp16.plan", *FULL_PRECISION_ONNX, *REDUCED_PRECISION_ONNX)

_discovered = False


def backends() -> dict[str, BackendInfo]:
    """Every registered backend, by name (importing each backend module of this package once)."""
    global _discovered
    if not _discovered:
        for mod in pkgutil.iter_modules(__path__):
            if not mod.name.startswith("_") and mod.name != "base":
                importlib.import_module(f"{__name__}.{mod.name}")
        _discovered = True
    return dict(sorted(REGISTRY.items(), key=lambda kv: -kv[1].priority))


def candidate_artifacts(path: str | Path) -> list[Path]:
    """The loadable artifacts a path stands for (itself, or what a directory holds)."""
    path = Path(path)
    if not path.exists():
        raise BadModel(f"{path}: no such model (give a bundle directory, an .onnx file or a .plan engine)")
    if path.is_file():
        return [path]
    found = [path] if is_bundle(path) else []
    found += [path / n for n in ARTIFACT_NAMES if (path / n).is_file()]
    if any(f.name in FULL_PRECISION_ONNX for f in found):
        found = [f for f in found if f.name not in REDUCED_PRECISION_ONNX]
    if not found:
        raise BadModel(f"{path}: no model inside (expected model.json or one of {', '.join(ARTIFACT_NAMES)})")
    return found


def choose_backend(path: str | Path, backend: str = "auto", *, batch: int = 1, probe: bool | None = None,
                   options: dict[str, Any] | None = None, measure: _probe.Measure | None = None) -> tuple[BackendInfo, Path, str]:
    """(backend, artifact, reason) for opening `path`; BadInput/BadModel/MissingDependency when impossible.

    With "auto", `batch` and `options` are what the probe runs with; `measure` replaces its timing (tests).
    """
    registry = backends()
    artifacts = candidate_artifacts(path)
    if backend != "auto":
        if backend not in registry:
            raise BadInput(f"unknown backend {backend!r}; choose from auto, {', '.join(registry)}")
        info = registry[backend]
        artifact = next((a for a in artifacts if info.accepts(a)), None)
        if artifact is None:
            raise BadModel(f"backend {backend} cannot load {path} ({_kinds(registry, artifacts)})")
        ok, why = info.available()
        if not ok:
            from ..errors import MissingDependency

            raise MissingDependency(f"backend {backend} is not available here: {why}")
        return info, artifact, f"asked for {backend} ({why})"
    skipped: list[str] = []
    # Every (backend, artifact) pair, fastest first: a backend's priority can depend on the artifact.
    pairs = [(info, a) for info in registry.values() for a in artifacts if info.accepts(a)]
    pairs.sort(key=lambda pair: -pair[0].priority_for(pair[1]))  # stable: ties keep ARTIFACT_NAMES order
    verdicts: dict[str, tuple[bool, str]] = {}
    usable: list[tuple[BackendInfo, Path]] = []
    for info, artifact in pairs:
        if info.name not in verdicts:
            verdicts[info.name] = info.available()
            if not verdicts[info.name][0]:
                skipped.append(f"{info.name}: {verdicts[info.name][1]}")
        if verdicts[info.name][0]:
            usable.append((info, artifact))
    if not usable:
        detail = "; ".join(skipped) if skipped else _kinds(registry, artifacts)
        raise BadModel(f"no backend available for {path}: {detail}")
    passed = f"; skipped {'; '.join(skipped)}" if skipped else ""
    top, top_artifact = usable[0]
    timed = [c for c in usable if c[0].probe]
    if not _probe.probing_enabled(probe) or len(usable) == 1 or not top.probe or len(timed) < 2:
        why = ("probing is off" if not _probe.probing_enabled(probe) else "the only candidate" if len(usable) == 1
               else f"{top.name} is not probed (its first load is an engine build)" if not top.probe else "nothing to compare")
        return (top, top_artifact, f"auto: {top.name} is the fastest backend available for {top_artifact.name} by the static "
                f"order ({verdicts[top.name][1]}; {why}){passed}")
    winner, measured = _probe.probe(timed, batch, options or {}, measure)
    if winner is None:
        return top, top_artifact, f"auto: no candidate ran in the probe ({measured}); {top.name} by the static order{passed}"
    info, artifact = winner
    return info, artifact, f"auto: {info.name} is the fastest for {artifact.name} here, {measured} ({verdicts[info.name][1]}){passed}"


def _kinds(registry: dict[str, BackendInfo], artifacts: list[Path]) -> str:
    by = {a.name: [i.name for i in registry.values() if i.accepts(a)] for a in artifacts}
    return ", ".join(f"{a} loads with {'/'.join(b) or 'no backend'}" for a, b in by.items())


def factory_options(info: BackendInfo, opts: dict[str, Any], strict: bool) -> dict[str, Any]:
    """The options `info`'s factory takes; with `strict`, any other option is a BadInput."""
    params = inspect.signature(info.factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(opts)
    unknown = [k for k in opts if k not in params]
    if unknown and strict:
        raise BadInput(f"backend {info.name} takes no option(s) {', '.join(unknown)}")
    return {k: v for k, v in opts.items() if k in params}


def open_model(path: str | Path, backend: str = "auto", *, batch: int = 1, probe: bool | None = None, **opts: Any) -> Runner:
    """Load a generator artifact on `backend` ("auto" measures and picks; see the module docstring).

    Options go to the backend that is picked; with "auto", options that backend does not take are dropped
    (e.g. `threads` on a GPU backend). `batch` is the batch size `auto` probes at (faces per frame: 1 in most
    videos). The returned runner has `.reason`: which backend and why.
    """
    info, artifact, reason = choose_backend(path, backend, batch=batch, probe=probe, options=opts)
    runner = info.factory(artifact, **factory_options(info, opts, strict=backend != "auto"))
    runner.reason = reason  # type: ignore[attr-defined]
    return runner
