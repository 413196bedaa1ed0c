"""The project's goals (issue 6), judged from a report's rows: met / gap (with the measured gap) / not measured."""

from __future__ import annotations

import math
from typing import Any, Iterable

from .machine import busy_warning
from .timing import PSNR_CAP_DB

# The project's goals (issue 6). Thresholds live here, once.
CPU_SPEEDUP = 4.0  # best CPU path at 128 px batch 1: at most 1/4 of eager FP32 latency...
MIN_PSNR_DB = 35.0  # ...with at least this PSNR against FP32
CPU_PIPELINE_FPS = 25.0  # live pipeline, one face, 640x480
GPU_FP16_B1_MS = 0.3
GPU_B64_IMAGES_S = 15000.0


def _goal(goal: str, target: str, status: str, measured: str) -> dict[str, str]:
    return {"goal": goal, "target": target, "status": status, "measured": measured}


def _ok_rows(rows: Iterable[dict[str, Any]], **where: Any) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("error") and r.get("latency") and all(r.get(k) == v for k, v in where.items())]


def p50(r: dict[str, Any]) -> float:
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
        best = min(pool, key=p50)
        b, t = p50(base), p50(best)
        met = bool(good) and t <= b / CPU_SPEEDUP
        text = (f"{best['variant']}: {t:.1f} ms vs {b:.1f} ms = {b / t:.2f}x faster, PSNR {fmt_psnr(best.get('psnr_db'))} dB")
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
        best = min(fp16, key=p50)
        t = p50(best)
        e2e = float(best["latency"]["p50_ms"])
        text = f"{best['variant']}: {t:.3f} ms compute, {e2e:.3f} ms numpy in/out; PSNR {fmt_psnr(best.get('psnr_db'))} dB"
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
        text = f"{best['variant']}: {ips:,.0f} images/s (device compute), PSNR {fmt_psnr(best.get('psnr_db'))} dB"
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
    text = (f"{best['variant']} ({best['mode']}, {size}): {best['fps']:.1f} FPS, latency p50 {fmt(best.get('latency_p50_ms'), 0)} ms, "
            f"dropped {best['dropped']}, bottleneck {best.get('bottleneck')}")
    met = best["fps"] >= CPU_PIPELINE_FPS and size == "640x480"
    if not met:
        text += f"; gap: {CPU_PIPELINE_FPS / max(best['fps'], 1e-9):.2f}x short" if best["fps"] < CPU_PIPELINE_FPS else "; not on 640x480 video"
    return _goal(what, target, "met" if met else "gap", text)


# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# formatting shared with the report


def fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.{digits}f}"


def fmt_ms(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def fmt_psnr(v: Any) -> str:
    if v is None:
        return "–"
    return f">= {PSNR_CAP_DB:g}" if v >= PSNR_CAP_DB else f"{v:.1f}"  # the cap: identical, or float rounding apart


def si(v: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}{unit}"
    return f"{v:.3g} {unit}"
