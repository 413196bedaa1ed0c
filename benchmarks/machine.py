"""The machine the numbers came from, and how busy it was while they were taken."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from stargan_rt.host import cpu_name

REPO = Path(__file__).resolve().parent.parent


def _cpu_flags() -> list[str]:
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def _gpu() -> dict[str, Any] | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    info: dict[str, Any] = {
        "name": torch.cuda.get_device_name(0),
        "compute_capability": f"{props.major}.{props.minor}",
        "memory_gb": round(props.total_memory / 2**30, 1),
        "count": torch.cuda.device_count(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
    }
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=10)
        info["driver"] = r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        info["driver"] = None
    return info


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine skews every timing (a shared 2-core box especially)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def cpu_snapshot() -> dict[str, float] | None:
    """CPU seconds used machine-wide (plus time stolen by the hypervisor) and by this process, now."""
    import resource

    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    return {"t": time.monotonic(), "busy_s": (user + nice + system + irq + softirq + steal) / hz, "own_s": own}


def contention(start: dict[str, float] | None, end: dict[str, float] | None) -> float | None:
    """Average number of cores other processes (and the hypervisor) took while the benchmark ran."""
    if not start or not end or end["t"] - start["t"] < 5.0:  # clock-tick counters need a few seconds to mean much
        return None
    others = (end["busy_s"] - start["busy_s"]) - (end["own_s"] - start["own_s"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return round(min(float(cores), max(0.0, others / (end["t"] - start["t"]))), 2)


def busy_warning(doc: dict[str, Any]) -> str | None:
    """A warning when other work took a noticeable share of the CPU during the run (its own load does not count)."""
    cores = (doc.get("machine") or {}).get("usable_cores") or 1
    others = doc.get("other_processes_cores")
    if others is not None:
        if others > max(0.25, 0.1 * cores):
            return (f"other processes took {others:.2f} of the {cores} cores on average during this run: CPU timings "
                    "(and ratios between paths measured at different moments) are unreliable; rerun on an idle machine")
        return None
    start = (doc.get("load_average") or {}).get("start")  # no /proc/stat: the load before the run started
    if start is not None and start > 0.5 * cores:
        return (f"the machine was busy when the run started (1-minute load average {start:.1f} on {cores} cores): "
                "CPU timings are unreliable; rerun on an idle machine")
    return None


def machine_info() -> dict[str, Any]:
    libs = {d: _version(d) for d in ("stargan-rt", "torch", "onnxruntime", "onnxruntime-gpu", "onnx", "onnxconverter-common",
                                     "numpy", "opencv-python-headless", "opencv-python", "matplotlib", "tensorrt", "pycuda")}
    try:
        import cv2

        libs["cv2"] = cv2.__version__
    except ImportError:
        pass
    threads = None
    if "torch" in sys.modules or libs.get("torch"):
        try:
            import torch

            threads = torch.get_num_threads()
            libs["torch"] = torch.__version__  # a source build has no dist metadata
        except ImportError:
            pass
    commit = _git("rev-parse", "HEAD") or os.environ.get("STARGAN_RT_COMMIT")  # a plain copy has no .git
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_flags": _cpu_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": threads,
        "memory_gb": _memory_gb(),
        "gpu": _gpu(),
        "libraries": {k: v for k, v in libs.items() if v},
        "git_commit": commit,
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")) if commit else None,
    }


# ----------------------------------------------------------------------------------------------------------
