"""This machine, as the runtime's caches and reports see it: where stargan-rt keeps its caches, and its CPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$STARGAN_RT_CACHE, else $XDG_CACHE_HOME/stargan-rt, else ~/.cache/stargan-rt (and `parts` below it).

    What lives there: the auto backend's probes, TensorRT caches, the eval's attribute classifier, built wheels."""
    env = os.environ.get("STARGAN_RT_CACHE")
    base = Path(env).expanduser() if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stargan-rt"
    return base.joinpath(*parts)


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), or what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
