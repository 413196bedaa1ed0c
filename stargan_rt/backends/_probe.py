"""`auto` that measures: a short probe of the candidates on first use, remembered per machine, model and libraries.

Each candidate (backend, artifact) that is available is opened and given WARMUP + CALLS calls of `infer_frames` on
the real model at the real batch size; the median call decides. Candidates within TIE of the fastest count as
equally fast and go by the static order (backends/__init__.py), which is also the whole answer when probing is
off (STARGAN_RT_AUTO_PROBE=0, or `probe=False`; =refresh probes again over a cached verdict). Verdicts are cached
in one JSON file (CACHE_FILE in $STARGAN_RT_CACHE, else $XDG_CACHE_HOME/stargan-rt, else ~/.cache/stargan-rt), keyed by this machine's CPU/GPU,
the artifacts' contents, the inference libraries' versions, the batch size and the options: change any of them
and the next `auto` probes again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import sys
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..atomic import atomic_write_text
from ..host import cache_dir, cpu_name
from ._cpu import cpu_flags
from .base import BackendInfo, Runner

PROBE_ENV = "STARGAN_RT_AUTO_PROBE"
CACHE_FILE = "auto-backend.json"
WARMUP, CALLS = 2, 3
TIE = 0.05  # within 5% of the fastest: a tie, broken by the static order
LIBRARIES = ("stargan-rt", "onnxruntime", "onnxruntime-gpu", "openvino", "torch", "tensorrt", "numpy")
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni")

Candidate = tuple[BackendInfo, Path]
Measure = Callable[[BackendInfo, Path, int], float]  # (backend, artifact, batch) -> ms per call (inf: failed)


def probing_enabled(probe: bool | None) -> bool:
    if probe is not None:
        return probe
    return os.environ.get(PROBE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def refresh_asked() -> bool:
    """STARGAN_RT_AUTO_PROBE=refresh: probe again even where a verdict is cached (after the machine was busy)."""
    return os.environ.get(PROBE_ENV, "").strip().lower() == "refresh"


def machine() -> dict[str, Any]:
    """What makes timings differ between machines: CPU model and features, usable cores, an NVIDIA GPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_name(), "features": sorted(f for f in CPU_FEATURES if f in cpu_flags()), "cores": cores,
            "nvidia_gpu": os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")}


def libraries() -> dict[str, str]:
    versions = {}
    for dist in LIBRARIES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def fingerprint(path: Path) -> str:
    """A hash of what an artifact loads: the file (an IR with its .bin), or a bundle's model.json and weights."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors"))
    else:
        files = [path] + ([path.with_suffix(".bin")] if path.suffix == ".xml" and path.with_suffix(".bin").is_file() else [])
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f.name.encode() + _file_hash(str(f), st.st_size, st.st_mtime_ns).encode())
    return h.hexdigest()[:16]


@lru_cache(maxsize=64)
def _file_hash(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(candidates: list[Candidate], batch: int, opts: dict[str, Any]) -> str:
    key = {"machine": machine(), "libraries": libraries(), "batch": batch, "options": sorted((k, repr(v)) for k, v in opts.items()),
           "candidates": [(info.name, a.name, fingerprint(a)) for info, a in candidates]}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def _read_cache(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError):
        return {}  # none yet, or unreadable: probe again and write a fresh one
    return data if isinstance(data, dict) else {}


def label(info: BackendInfo, artifact: Path) -> str:
    return f"{info.name}:{artifact.name}"


def measure_call(info: BackendInfo, artifact: Path, batch: int, opts: dict[str, Any] | None = None) -> float:
    """Median ms of CALLS `infer_frames` calls (after WARMUP) of `batch` random face-sized frames; inf if it fails."""
    from . import factory_options

    try:
        runner: Runner = info.factory(artifact, **factory_options(info, opts or {}, strict=False))
    except Exception:  # noqa: BLE001 - a candidate that cannot open here simply loses
        return math.inf
    try:
        s = runner.meta.architecture.image_size
        rng = np.random.default_rng(0)
        frames = rng.integers(0, 256, (batch, s, s, 3), dtype=np.uint8)
        labels = rng.integers(0, 2, (batch, runner.meta.label_dim)).astype(np.float32)
        times = []
        for i in range(WARMUP + CALLS):
            t0 = time.perf_counter()
            runner.infer_frames(frames, labels)
            if i >= WARMUP:
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)
    except Exception:  # noqa: BLE001
        return math.inf
    finally:
        runner.close()


def decide(candidates: list[Candidate], ms: dict[str, float]) -> Candidate | None:
    """The fastest candidate; those within TIE of it go by their order in `candidates` (the static order)."""
    timed = [(c, ms.get(label(*c), math.inf)) for c in candidates]
    best = min((t for _, t in timed), default=math.inf)
    if not math.isfinite(best):
        return None
    return next(c for c, t in timed if t <= best * (1 + TIE))


def probe(candidates: list[Candidate], batch: int, opts: dict[str, Any], measure: Measure | None = None,
          log: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> tuple[Candidate | None, str]:
    """(winner, reason) among `candidates` (in static order), from the cache or from a fresh probe."""
    file = cache_dir(CACHE_FILE)
    key = cache_key(candidates, batch, opts)
    cache = _read_cache(file)
    entry = cache.get(key)
    cached = isinstance(entry, dict) and isinstance(entry.get("ms"), dict) and not refresh_asked()
    if cached and isinstance(entry, dict):
        ms = {k: math.inf if v is None else float(v) for k, v in entry["ms"].items()}
    else:
        log(f"auto: probing {len(candidates)} candidates at batch {batch} ({WARMUP} + {CALLS} calls each; "
            f"cached in {file} after this)")
        run = measure or (lambda info, artifact, b: measure_call(info, artifact, b, opts))
        ms = {label(info, a): run(info, a, batch) for info, a in candidates}
        cache[key] = {"ms": {k: (v if math.isfinite(v) else None) for k, v in ms.items()},
                      "batch": batch, "probed": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            atomic_write_text(file, json.dumps(cache, indent=1, sort_keys=True) + "\n")
        except OSError as exc:  # a read-only home still gets an answer, just not a remembered one
            log(f"auto: cannot write the probe cache {file} ({exc.strerror}); probing again next time")
    winner = decide(candidates, ms)
    timings = ", ".join(f"{k} {v:.1f} ms" if math.isfinite(v) else f"{k} failed" for k, v in sorted(ms.items(), key=lambda kv: kv[1]))
    tied = winner is not None and sum(1 for v in ms.values() if v <= ms[label(*winner)] * (1 + TIE)) > 1
    how = "cached probe" if cached else "probed now"
    reason = f"measured at batch {batch} ({how}): {timings}" + ("; ties within 5% go by the static order" if tied else "")
    if not cached and winner is not None:
        log(f"auto: {label(*winner)} is the fastest here ({reason})")
    return winner, reason
