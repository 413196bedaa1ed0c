"""Reports: the machine the numbers came from, JSON, a Markdown table, PNG plots, and the goals met / gap."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from stargan_rt.atomic import atomic_write_bytes, atomic_write_text

from .timing import PSNR_CAP_DB

SCHEMA = "stargan-rt-bench/1"
REPO = Path(__file__).resolve().parent.parent
PIPELINE_STAGES = ("capture", "detect", "preprocess", "infer", "paste", "output")

# The project's goals (issue 6). Thresholds live here, once.
CPU_SPEEDUP = 4.0  # best CPU path at 128 px batch 1: at most 1/4 of eager FP32 latency...
MIN_PSNR_DB = 35.0  # ...with at least this PSNR against FP32
CPU_PIPELINE_FPS = 25.0  # live pipeline, one face, 640x480
GPU_FP16_B1_MS = 0.3
GPU_B64_IMAGES_S = 15000.0


# ----------------------------------------------------------------------------------------------------------
# machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
        "cpu": _cpu_model(),
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
# goals


def _goal(goal: str, target: str, status: str, measured: str) -> dict[str, str]:
    return {"goal": goal, "target": target, "status": status, "measured": measured}


def _ok_rows(rows: Iterable[dict[str, Any]], **where: Any) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("error") and r.get("latency") and all(r.get(k) == v for k, v in where.items())]


def _p50(r: dict[str, Any]) -> float:
    return float((r.get("compute") or r["latency"])["p50_ms"])


def evaluate_goals(gen_rows: list[dict[str, Any]], pipe_rows: list[dict[str, Any]], pipe_cfg: dict[str, Any] | None) -> list[dict[str, str]]:
    """Each goal of the issue: met / gap (with the measured numbers) / not measured in this run."""
    goals = []

    # CPU: best path at 128 px, batch 1, <= 1/4 of eager FP32, PSNR >= 35 dB.
    what = "2-core CPU: best path at 128x128, batch 1"
    target = f"<= 1/{CPU_SPEEDUP:g} of PyTorch eager FP32 latency, PSNR >= {MIN_PSNR_DB:g} dB"
    cpu = _ok_rows(gen_rows, device="cpu", size=128, batch=1)
    base = next((r for r in cpu if r["backend"] == "baseline"), None)
    others = [r for r in cpu if r["backend"] != "baseline"]
    if base is None or not others:
        goals.append(_goal(what, target, "not measured", "no CPU baseline and other path at 128 px batch 1 in this run"))
    else:
        good = [r for r in others if (r.get("psnr_db") or 0) >= MIN_PSNR_DB]
        pool = good or others
        best = min(pool, key=_p50)
        b, t = _p50(base), _p50(best)
        met = bool(good) and t <= b / CPU_SPEEDUP
        text = (f"{best['variant']}: {t:.1f} ms vs {b:.1f} ms = {b / t:.2f}x faster, PSNR {_fmt_psnr(best.get('psnr_db'))} dB")
        if not met:
            text += (f"; gap: needs <= {b / CPU_SPEEDUP:.1f} ms ({CPU_SPEEDUP:g}x), {t / (b / CPU_SPEEDUP):.2f}x too slow"
                     if good else f"; no path reaches {MIN_PSNR_DB:g} dB")
        goals.append(_goal(what, target, "met" if met else "gap", text))

    # CPU: live pipeline >= 25 FPS, one face, 640x480.
    what = "2-core CPU: live pipeline, one face, 640x480"
    target = f">= {CPU_PIPELINE_FPS:g} FPS"
    goals.append(_pipeline_fps_goal(what, target, pipe_rows, pipe_cfg, "cpu"))

    # GPU: FP16 batch 1 <= 0.3 ms.
    what = "GPU: FP16 generator latency, 128x128, batch 1"
    target = f"<= {GPU_FP16_B1_MS:g} ms (device compute, CUDA events)"
    fp16 = _ok_rows(gen_rows, device="cuda", size=128, batch=1, precision="fp16")
    if not fp16:
        goals.append(_goal(what, target, "not measured", "no CUDA FP16 row in this run"))
    else:
        best = min(fp16, key=_p50)
        t = _p50(best)
        e2e = float(best["latency"]["p50_ms"])
        text = f"{best['variant']}: {t:.3f} ms compute, {e2e:.3f} ms numpy in/out; PSNR {_fmt_psnr(best.get('psnr_db'))} dB"
        if t > GPU_FP16_B1_MS:
            text += f"; gap: {t / GPU_FP16_B1_MS:.2f}x over"
        goals.append(_goal(what, target, "met" if t <= GPU_FP16_B1_MS else "gap", text))

    # GPU: >= 15,000 images/s at batch 64.
    what = "GPU: throughput at batch 64, 128x128"
    target = f">= {GPU_B64_IMAGES_S:,.0f} images/s, PSNR >= {MIN_PSNR_DB:g} dB"
    b64 = [r for r in _ok_rows(gen_rows, device="cuda", size=128, batch=64) if (r.get("psnr_db") or 0) >= MIN_PSNR_DB]
    if not b64:
        goals.append(_goal(what, target, "not measured", "no CUDA row at batch 64 (with PSNR >= 35 dB) in this run"))
    else:
        best = max(b64, key=lambda r: r["images_per_s"] or 0)
        ips = float(best["images_per_s"] or 0)
        text = f"{best['variant']}: {ips:,.0f} images/s (device compute), PSNR {_fmt_psnr(best.get('psnr_db'))} dB"
        if ips < GPU_B64_IMAGES_S:
            text += f"; gap: {GPU_B64_IMAGES_S / max(ips, 1e-9):.2f}x short"
        goals.append(_goal(what, target, "met" if ips >= GPU_B64_IMAGES_S else "gap", text))

    # GPU: live pipeline limited by capture, not by the model.
    what = "GPU: live pipeline, one face"
    target = "limited by capture (the source's frame rate), not by the model"
    live = [r for r in pipe_rows if r.get("device") == "cuda" and r.get("faces") == 1 and r.get("mode") == "live" and not r.get("error")]
    if not live:
        goals.append(_goal(what, target, "not measured", "no CUDA pipeline run in this run"))
    else:
        best = max(live, key=lambda r: r.get("fps") or 0)
        infer = (best.get("stages_ms") or {}).get("infer", {}).get("p50_ms", float("nan"))
        met = best.get("bottleneck") == "capture" and best.get("dropped", 0) <= 0.02 * max(best.get("captured", 0), 1)
        text = (f"{best['variant']}: {best['fps']:.1f} FPS, bottleneck {best.get('bottleneck')}, dropped {best.get('dropped')}, "
                f"infer p50 {infer:.2f} ms")
        goals.append(_goal(what, target, "met" if met else "gap", text))
    return goals


def mark_unreliable(goals: list[dict[str, str]], doc: dict[str, Any]) -> list[dict[str, str]]:
    """On a busy machine a CPU verdict is not a measurement of the path: say so in its status."""
    if busy_warning(doc) is None:
        return goals
    return [{**g, "status": g["status"] + " (unreliable: busy machine)"} if g["goal"].startswith("2-core CPU")
            and g["status"] != "not measured" else g for g in goals]


def _pipeline_fps_goal(what: str, target: str, rows: list[dict[str, Any]], cfg: dict[str, Any] | None, device: str) -> dict[str, str]:
    runs = [r for r in rows if r.get("device") == device and r.get("faces") == 1 and not r.get("error") and r.get("fps")]
    live = [r for r in runs if r.get("mode") == "live"] or runs
    if not live:
        return _goal(what, target, "not measured", f"no {device.upper()} pipeline run with one face in this run")
    best = max(live, key=lambda r: r["fps"])
    size = f"{cfg.get('width')}x{cfg.get('height')}" if cfg else "?"
    text = (f"{best['variant']} ({best['mode']}, {size}): {best['fps']:.1f} FPS, latency p50 {_fmt(best.get('latency_p50_ms'), 0)} ms, "
            f"dropped {best['dropped']}, bottleneck {best.get('bottleneck')}")
    met = best["fps"] >= CPU_PIPELINE_FPS and size == "640x480"
    if not met:
        text += f"; gap: {CPU_PIPELINE_FPS / max(best['fps'], 1e-9):.2f}x short" if best["fps"] < CPU_PIPELINE_FPS else "; not on 640x480 video"
    return _goal(what, target, "met" if met else "gap", text)


# ----------------------------------------------------------------------------------------------------------
# Markdown


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.{digits}f}"


def _fmt_ms(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _fmt_psnr(v: Any) -> str:
    if v is None:
        return "–"
    return f">= {PSNR_CAP_DB:g}" if v >= PSNR_CAP_DB else f"{v:.1f}"  # the cap: identical, or float rounding apart


def _si(v: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}{unit}"
    return f"{v:.3g} {unit}"


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    gpu = m.get("gpu")
    lines = [
        "# stargan-rt benchmark",
        "",
        f"- Machine: {m['cpu']}, {m['usable_cores']} usable cores ({m['logical_cores']} logical), "
        f"{m.get('memory_gb')} GB RAM; CPU features: {', '.join(m.get('cpu_flags') or []) or '–'}",
        f"- GPU: {gpu['name']} (sm {gpu['compute_capability']}, {gpu['memory_gb']} GB, CUDA {gpu['cuda']}, driver {gpu.get('driver')})"
        if gpu else "- GPU: none",
        f"- Libraries: {', '.join(f'{k} {v}' for k, v in m['libraries'].items())}",
        f"- Commit: {m.get('git_commit') or 'unknown'}{' (with uncommitted changes)' if m.get('git_dirty') else ''}; "
        f"{doc['created']}; {'quick' if doc['quick'] else 'full'} run; weights: {doc['config'].get('weights')}; "
        f"inputs: {doc['config'].get('inputs', '?')}",
        f"- Command: `{doc['command']}`",
        f"- Phase seconds: {', '.join(f'{k} {v}' for k, v in (doc.get('phase_seconds') or {}).items()) or '–'}; "
        f"1-minute load average at start / end: {' / '.join(str(v) for v in (doc.get('load_average') or {}).values()) or '–'}; "
        f"cores taken by other processes during the run: {_fmt(doc.get('other_processes_cores'))}",
    ]
    warning = busy_warning(doc)
    if warning:
        lines += ["", f"**Warning: {warning}.**"]
    lines += [
        "",
        "## Goals",
        "",
        "| goal | target | status | measured |",
        "|---|---|---|---|",
    ]
    lines += [f"| {g['goal']} | {g['target']} | **{g['status']}** | {g['measured']} |" for g in doc["goals"]]

    floor = doc.get("floor") or {}
    if floor:
        lines += ["", "## The floor", "", "| size | GMAC / image | GFLOP / image | params | activation traffic / image (fp32, unfused) |",
                  "|---|---|---|---|---|"]
        for c in floor.get("cost", []):
            lines.append(f"| {c['size']} | {c['gmacs']:.2f} | {c['flops'] / 1e9:.2f} | {c['params']:,} | "
                         f"{c['activation_elems'] * 4 / 2**20:.0f} MiB |")
        lines += ["", "| device | measured peak | value | how |", "|---|---|---|---|"]
        for p in floor.get("peaks", []):
            unit = "B/s" if p["what"] == "copy" else ("OP/s" if p["what"].endswith("int8") else "FLOP/s")
            lines.append(f"| {p['device']} | {p['what']} | {_si(p['value'], unit) if p['value'] > 0 else 'failed'} | {p['detail']} |")
        lines += _floor_rows(floor)

    gen = doc.get("generator") or {}
    rows = gen.get("rows", [])
    for size in sorted({r["size"] for r in rows}):
        lines += ["", f"## Generator, {size}x{size}", "",
                  "Latency per call (one batch), numpy in and out; on CUDA also device compute alone (CUDA events) and the "
                  "copies. Speed-up and PSNR are against the eager FP32 baseline of the same device on the same inputs "
                  f"(PSNR over the [-1, 1] output, capped at {PSNR_CAP_DB:g} dB; the JSON has the max abs error too). "
                  "% of compute floor: achieved FLOP/s over the measured matmul peak of the row's precision (the int8 "
                  "peak is torch._int_mm's, which a tuned int8 convolution can beat).",
                  "", "| path | batch | p50 ms | p90 ms | p99 ms | compute p50 ms | H2D + D2H ms | images/s | speed-up | PSNR dB | % of compute floor |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["size"] == size):
            if r.get("error"):
                lines.append(f"| {r['variant']} | {r['batch']} | {r['error']} |  |  |  |  |  |  |  |  |")
                continue
            lat, comp = r["latency"], r.get("compute")
            copies = (r["h2d"]["p50_ms"] + r["d2h"]["p50_ms"]) if r.get("h2d") and r.get("d2h") else None
            speed = _fmt(r.get("speedup"), 2) + "x" if r.get("speedup") else "–"
            if r.get("compute_speedup"):
                speed += f" ({r['compute_speedup']:.2f}x compute)"
            lines.append(
                f"| {r['variant']} | {r['batch']} | {_fmt_ms(lat['p50_ms'])} | {_fmt_ms(lat['p90_ms'])} | {_fmt_ms(lat['p99_ms'])} | "
                f"{_fmt_ms(comp['p50_ms']) if comp else '–'} | {_fmt_ms(copies)} | {_fmt(r.get('images_per_s'), 1)} | {speed} | "
                f"{_fmt_psnr(r.get('psnr_db'))} | {_fmt(r.get('pct_compute_floor'), 1)} |"
            )
    if gen.get("skipped"):
        lines += ["", "Not measured here:", ""] + [f"- {k}: {v}" for k, v in gen["skipped"].items()]
    if gen.get("artifact_errors"):
        lines += ["", "Exports that failed:", ""] + [f"- {k}: {v}" for k, v in gen["artifact_errors"].items()]

    pipe = doc.get("pipeline") or {}
    if pipe.get("rows"):
        cfg = pipe.get("config", {})
        lines += ["", "## End to end: the streaming pipeline", "",
                  f"{cfg.get('width')}x{cfg.get('height')} video at {cfg.get('fps')} FPS, {cfg.get('frames')} frames "
                  f"({_video_sources(pipe['rows'])}), model {cfg.get('size')} px, "
                  f"detector {cfg.get('detector')}, frames discarded after output. `max`: file read as fast as the pipeline goes "
                  "(capacity; latency includes the wait in the hand-off); `live`: paced at the video's frame rate like a camera "
                  "(capture time then includes waiting for the next frame).",
                  "", "| backend | faces | mode | FPS | latency p50 ms | latency p99 ms | dropped | faces/frame | "
                  + " | ".join(f"{s} p50" for s in PIPELINE_STAGES) + " | bottleneck |",
                  "|" + "---|" * (9 + len(PIPELINE_STAGES))]
        for r in pipe["rows"]:
            if r.get("error"):
                lines.append(f"| {r['variant']} | {r['faces']} | {r['mode']} | {r['error']} |" + " |" * (5 + len(PIPELINE_STAGES)))
                continue
            st = r.get("stages_ms") or {}
            lines.append(
                f"| {r['variant']} | {r['faces']} | {r['mode']} | {_fmt(r['fps'], 1)} | {_fmt(r.get('latency_p50_ms'), 1)} | "
                f"{_fmt(r.get('latency_p99_ms'), 1)} | {r['dropped']} | {_fmt(r.get('faces_per_frame'), 2)} | "
                + " | ".join(_fmt(st.get(s, {}).get("p50_ms"), 1) for s in PIPELINE_STAGES) + f" | {r.get('bottleneck') or '–'} |"
            )
    if doc.get("phase_errors"):
        lines += ["", "## Phases that failed", ""] + [f"- {k}: {v}" for k, v in doc["phase_errors"].items()]
    return "\n".join(lines) + "\n"


def _floor_rows(floor: dict[str, Any]) -> list[str]:
    """Per image at batch 1: the compute floor (FLOPs / matmul peak) and the memory floor (unfused bytes / copy)."""
    elem = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "int8": 1}
    peaks = [p for p in floor.get("peaks", []) if p["value"] > 0]
    bw = {p["device"]: p["value"] for p in peaks if p["what"] == "copy"}
    rows = []
    for c in floor.get("cost", []):
        for p in (p for p in peaks if p["what"].startswith("matmul-")):
            prec = p["what"].split("-", 1)[1]
            mem = (c["activation_elems"] + c["params"]) * elem[prec] / bw[p["device"]] * 1e3 if p["device"] in bw else None
            rows.append(f"| {c['size']} | {p['device']} | {prec} | {c['flops'] / p['value'] * 1e3:.4g} | {_fmt(mem, 4) if mem else '–'} |")
    if not rows:
        return []
    return ["", "Floors per image at batch 1: compute = FLOPs / matmul peak; memory = (activations read + written by "
            "every layer, unfused, + weights) / copy bandwidth. A fused implementation can go below the memory floor.",
            "", "| size | device | precision | compute floor ms | memory floor ms |", "|---|---|---|---|---|", *rows]


def _video_sources(rows: list[dict[str, Any]]) -> str:
    sources = sorted({(r["faces"], r.get("video") or "rendered") for r in rows})
    return "; ".join(f"{faces} face(s): {video}" for faces, video in sources)


# ----------------------------------------------------------------------------------------------------------
# plots


def plot_latency(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Latency per call (p50; device compute on CUDA) and images/s against batch size, one line per path."""
    ok = [r for r in rows if not r.get("error") and r.get("latency")]
    if not ok:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["size"] for r in ok})
    fig, axes = plt.subplots(2, len(sizes), figsize=(6.5 * len(sizes), 8), squeeze=False)
    for j, size in enumerate(sizes):
        for name in dict.fromkeys(r["variant"] for r in ok if r["size"] == size):
            pts = sorted((r["batch"], _p50(r), r["images_per_s"]) for r in ok if r["size"] == size and r["variant"] == name)
            style = dict(marker="o", linewidth=2.5 if "baseline" in name else 1.5, linestyle="--" if "baseline" in name else "-")
            axes[0][j].plot([p[0] for p in pts], [p[1] for p in pts], label=name, **style)
            axes[1][j].plot([p[0] for p in pts], [p[2] for p in pts], label=name, **style)
        for i, ylabel in enumerate(("p50 latency per call (ms)", "images / s")):
            ax = axes[i][j]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ticks = sorted({r["batch"] for r in ok if r["size"] == size})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.set_xlabel("batch")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
        axes[0][j].set_title(f"generator {size}x{size}")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_stages(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Time per frame spent in each pipeline stage, one bar per backend x faces x mode."""
    ok = [r for r in rows if not r.get("error") and r.get("stages_ms") and r.get("processed")]
    if not ok:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 0.45 * len(ok) + 1.5))
    labels = [f"{r['variant']} | {r['faces']} face(s) | {r['mode']}" for r in ok]
    left = [0.0] * len(ok)
    for stage in PIPELINE_STAGES:
        widths = []
        for r in ok:
            s = r["stages_ms"].get(stage)
            widths.append(s["mean_ms"] if s and s.get("mean_ms") is not None else 0.0)
        ax.barh(labels, widths, left=left, label=stage)
        left = [a + b for a, b in zip(left, widths)]
    for i, r in enumerate(ok):
        ax.text(left[i], i, f"  {r['fps']:.1f} FPS", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean ms per frame in each stage (stages run in parallel threads; live capture includes waiting for the frame)")
    ax.set_title("streaming pipeline: stage breakdown", pad=28)
    ax.legend(fontsize=8, ncol=len(PIPELINE_STAGES), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.set_xlim(0, max(left) * 1.15)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


# ----------------------------------------------------------------------------------------------------------
# writing


def write_reports(doc: dict[str, Any], out: Path) -> dict[str, Path]:
    """latency_vs_batch.png, pipeline_stages.png, bench.json, bench.md under `out`; returns what was written.

    Plots first, so that a plot that cannot be drawn (no matplotlib on a bare GPU machine) is recorded in the
    JSON and the Markdown, which are always written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for key, fn, name in (("latency_plot", plot_latency, "latency_vs_batch.png"), ("stages_plot", plot_stages, "pipeline_stages.png")):
        rows = (doc.get("generator" if key == "latency_plot" else "pipeline") or {}).get("rows", [])
        try:
            p = fn(rows, out / name)
        except Exception as exc:  # noqa: BLE001 - a plot must not lose the tables
            doc.setdefault("phase_errors", {})[key] = f"{type(exc).__name__}: {exc}"
            p = None
        if p is not None:
            written[key] = p
    written["json"], written["markdown"] = out / "bench.json", out / "bench.md"
    atomic_write_text(written["json"], json.dumps(_finite(doc), indent=2, default=_jsonable, allow_nan=False) + "\n")
    atomic_write_text(written["markdown"], markdown(doc))
    return written


def _finite(o: Any) -> Any:
    """NaN/inf (a stage that never ran) become null: the JSON stays standard."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _jsonable(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def summary(doc: dict[str, Any]) -> str:
    """A short plain-text table (batch 1 and the largest batch per size; pipeline FPS; goals), printed last."""
    m = doc.get("machine", {})
    gpu = (m.get("gpu") or {}).get("name", "no GPU")
    lines = [f"stargan-rt bench: {m.get('cpu', '?')} ({m.get('usable_cores', '?')} cores) / {gpu}"]
    rows = (doc.get("generator") or {}).get("rows", [])
    if rows:
        lines.append(f"{'path':<44}{'size':>5}{'batch':>6}{'p50 ms':>10}{'compute':>10}{'img/s':>10}{'speed-up':>10}{'PSNR':>7}")
        for size in sorted({r["size"] for r in rows}):
            batches = sorted({r["batch"] for r in rows if r["size"] == size})
            keep = {batches[0], batches[-1]}
            for r in rows:
                if r["size"] != size or r["batch"] not in keep:
                    continue
                if r.get("error"):
                    lines.append(f"{r['variant'][:43]:<44}{size:>5}{r['batch']:>6}  {r['error'][:60]}")
                    continue
                comp = r.get("compute")
                psnr = r.get("psnr_db")
                lines.append(
                    f"{r['variant'][:43]:<44}{size:>5}{r['batch']:>6}{_fmt_ms(r['latency']['p50_ms']):>10}"
                    f"{_fmt_ms(comp['p50_ms']) if comp else '–':>10}{_fmt(r.get('images_per_s'), 0):>10}"
                    f"{(_fmt(r.get('speedup'), 2) + 'x') if r.get('speedup') else '–':>10}"
                    f"{_fmt_psnr(psnr).replace(' ', ''):>7}"
                )
    skipped = (doc.get("generator") or {}).get("skipped", {})
    if skipped:
        lines.append("not measured: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()))
    pipe = (doc.get("pipeline") or {}).get("rows", [])
    if pipe:
        lines.append(f"{'pipeline':<44}{'faces':>6}{'mode':>6}{'FPS':>8}{'lat p50':>9}{'dropped':>9}  bottleneck")
        for r in pipe:
            if r.get("error"):
                lines.append(f"{r['variant'][:43]:<44}{r['faces']:>6}{r['mode']:>6}  {r['error'][:60]}")
            else:
                lines.append(f"{r['variant'][:43]:<44}{r['faces']:>6}{r['mode']:>6}{_fmt(r.get('fps'), 1):>8}"
                             f"{_fmt(r.get('latency_p50_ms'), 0):>9}{r.get('dropped', 0):>9}  {r.get('bottleneck') or '–'}")
    warning = busy_warning(doc)
    if warning:
        lines.append(f"WARNING: {warning}")
    for g in doc.get("goals", []):
        lines.append(f"[{g['status']}] {g['goal']} ({g['target']}): {g['measured']}")
    for k, v in (doc.get("phase_errors") or {}).items():
        lines.append(f"[phase failed] {k}: {v}")
    return "\n".join(lines)


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from several runs on the same machine (e.g. the GPU check's phases, run separately for robustness)."""
    if not docs:
        raise ValueError("nothing to merge")
    out: dict[str, Any] = {k: docs[0].get(k) for k in ("schema", "created", "machine", "quick")}
    loads = [v for d in docs for v in (d.get("load_average") or {}).values() if v is not None]
    out["load_average"] = {"max": max(loads)} if loads else {}
    others = [d["other_processes_cores"] for d in docs if d.get("other_processes_cores") is not None]
    out["other_processes_cores"] = max(others) if others else None
    out["phase_seconds"] = {f"{k}": v for d in docs for k, v in (d.get("phase_seconds") or {}).items()}
    out["command"] = " ; ".join(d.get("command", "?") for d in docs)
    out["config"] = {**docs[0].get("config", {}), "merged": [d.get("config", {}) for d in docs]}
    out["floor"] = {"cost": [], "peaks": []}
    out["generator"] = {"rows": [], "skipped": {}, "artifact_errors": {}}
    out["pipeline"] = {}
    out["phase_errors"] = {}
    for d in docs:
        floor = d.get("floor") or {}
        out["floor"]["cost"] += [c for c in floor.get("cost", []) if c not in out["floor"]["cost"]]
        out["floor"]["peaks"] += floor.get("peaks", [])
        gen = d.get("generator") or {}
        out["generator"]["rows"] += gen.get("rows", [])
        out["generator"]["skipped"].update(gen.get("skipped", {}))
        out["generator"]["artifact_errors"].update(gen.get("artifact_errors", {}))
        pipe = d.get("pipeline") or {}
        if pipe.get("rows"):
            out["pipeline"].setdefault("config", pipe.get("config"))
            out["pipeline"].setdefault("rows", []).extend(pipe["rows"])
        out["phase_errors"].update(d.get("phase_errors") or {})
    measured = {r["variant"] for r in out["generator"]["rows"]}
    out["generator"]["skipped"] = {k: v for k, v in out["generator"]["skipped"].items() if k not in measured}
    out["goals"] = mark_unreliable(
        evaluate_goals(out["generator"]["rows"], out["pipeline"].get("rows", []), out["pipeline"].get("config")), out)
    return out
