"""The project's goals (issues 6 and 12), judged from a report's rows: met / gap (with the measured gap) / not measured."""

from __future__ import annotations

import math
from typing import Any, Iterable

from .machine import busy_warning
from .timing import PSNR_CAP_DB

# The project's goals. Thresholds live here, once.
CPU_SPEEDUP = 4.0  # best CPU path at 128 px batch 1: at least 4x PyTorch eager FP32...
MIN_PSNR_DB = 35.0  # ...with at least this PSNR against FP32 (with trained weights, where the run has them)
OPENVINO_MARGIN = 1.1  # ...and at least this much faster than OpenVINO's defaults on the same INT8 ONNX
CPU_PIPELINE_FPS = 30.0  # live pipeline, one face, 640x480, a 30 FPS source, detection on every frame...
CPU_PIPELINE_P99_MS = 66.0  # ...no frame dropped, capture-to-output latency p99 at most this
CPU_PIPELINE_FPS_3 = 20.0  # three faces
GPU_FP16_B1_MS = 0.3
GPU_B64_IMAGES_S = 15000.0
OPENVINO_DEFAULT = "bench-openvino-default"  # benchmarks.variants.OPENVINO_DEFAULT (no import: goals stay torch-free)


def _goal(goal: str, target: str, status: str, measured: str) -> dict[str, str]:
    return {"goal": goal, "target": target, "status": status, "measured": measured}


def _ok_rows(rows: Iterable[dict[str, Any]], **where: Any) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("error") and r.get("latency") and all(r.get(k) == v for k, v in where.items())]


def p50(r: dict[str, Any]) -> float:
    return float((r.get("compute") or r["latency"])["p50_ms"])


def model_of(r: dict[str, Any]) -> str:
    """Which weights a generator row ran: "main" (--model, or the official-size random ones) or "trained"."""
    return str(r.get("model") or "main")


def _cpu_goals(gen_rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Speed-up over eager FP32 at 35 dB, the margin over OpenVINO's defaults, and the INT8 compute floor."""
    what = "2-core CPU: best path at 128x128, batch 1"
    target = f">= {CPU_SPEEDUP:g}x PyTorch eager FP32, PSNR >= {MIN_PSNR_DB:g} dB (trained weights where measured)"
    what_ov = "2-core CPU: best path vs OpenVINO's defaults on the same INT8 ONNX"
    target_ov = f">= {OPENVINO_MARGIN:g}x faster, 128x128, batch 1"
    cpu = [r for r in _ok_rows(gen_rows, device="cpu", size=128, batch=1)]
    main = [r for r in cpu if model_of(r) == "main"]
    trained = {r["variant"]: r for r in cpu if model_of(r) == "trained"}
    base = next((r for r in main if r["backend"] == "baseline"), None)
    others = [r for r in main if r["backend"] not in ("baseline", OPENVINO_DEFAULT)]
    if base is None or not others:
        why = "no CPU baseline and other path at 128 px batch 1 in this run"
        return [_goal(what, target, "not measured", why), _goal(what_ov, target_ov, "not measured", why)]

    def quality(r: dict[str, Any]) -> float:  # the trained model's PSNR on this path where measured, else its own
        return float((trained.get(r["variant"]) or r).get("psnr_db") or 0.0)

    good = [r for r in others if quality(r) >= MIN_PSNR_DB]
    best = min(good or others, key=p50)
    b, t = p50(base), p50(best)
    met = bool(good) and b / t >= CPU_SPEEDUP
    text = f"{best['variant']}: {t:.1f} ms vs {b:.1f} ms = {b / t:.2f}x"
    twin = trained.get(best["variant"])
    text += f"; PSNR {fmt_psnr(best.get('psnr_db'))} dB with the {'given' if not trained else 'official-size random'} weights"
    if twin is not None:
        text += (f", {fmt_psnr(twin.get('psnr_db'))} dB with the trained ones (there {p50(twin):.1f} ms, "
                 f"{fmt(twin.get('speedup'))}x)")
    if best.get("pct_compute_floor") is not None and best.get("precision") == "int8":
        floor_ms = t * best["pct_compute_floor"] / 100
        text += f"; {best['pct_compute_floor']:.0f}% of the INT8 compute floor ({floor_ms:.1f} ms at {best.get('peak')})"
    if not met:
        text += (f"; gap: needs <= {b / CPU_SPEEDUP:.1f} ms ({CPU_SPEEDUP:g}x), {t / (b / CPU_SPEEDUP):.2f}x too slow"
                 if good else f"; no path reaches {MIN_PSNR_DB:g} dB")
    goals = [_goal(what, target, "met" if met else "gap", text)]

    anchor = next((r for r in main if r["backend"] == OPENVINO_DEFAULT and r.get("precision") == "int8"), None)
    if anchor is None:
        goals.append(_goal(what_ov, target_ov, "not measured", "no OpenVINO-default row on the INT8 ONNX in this run"))
    else:
        a = p50(anchor)
        text = f"{best['variant']} {t:.1f} ms vs {anchor['variant']} {a:.1f} ms = {a / t:.2f}x"
        anchor_t = trained.get(anchor["variant"])
        if twin is not None and anchor_t is not None:
            text += f" (trained weights: {p50(twin):.1f} vs {p50(anchor_t):.1f} ms = {p50(anchor_t) / p50(twin):.2f}x)"
        met_ov = a / t >= OPENVINO_MARGIN
        if not met_ov:
            text += f"; gap: needs <= {a / OPENVINO_MARGIN:.1f} ms, {t / (a / OPENVINO_MARGIN):.2f}x too slow"
        goals.append(_goal(what_ov, target_ov, "met" if met_ov else "gap", text))
    return goals


def evaluate_goals(gen_rows: list[dict[str, Any]], pipe_rows: list[dict[str, Any]], pipe_cfg: dict[str, Any] | None) -> list[dict[str, str]]:
    """Each goal of the issues: met / gap (with the measured numbers) / not measured in this run."""
    goals = _cpu_goals(gen_rows)
    goals.append(_pipeline_goal("2-core CPU: live pipeline, one face, 640x480", 1, CPU_PIPELINE_FPS, CPU_PIPELINE_P99_MS,
                                pipe_rows, pipe_cfg))
    goals.append(_pipeline_goal("2-core CPU: live pipeline, three faces, 640x480", 3, CPU_PIPELINE_FPS_3, None,
                                pipe_rows, pipe_cfg))

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


def output_fps(r: dict[str, Any]) -> float:
    """Frames out per second between the first and the last (the steady rate), or FPS over the whole run."""
    return float(r.get("output_fps") or r.get("fps") or 0.0)


def _pipeline_goal(what: str, faces: int, fps: float, p99_ms: float | None, rows: list[dict[str, Any]],
                   cfg: dict[str, Any] | None) -> dict[str, str]:
    """A live CPU run with `faces` faces: >= fps frames out per second, no drop, latency p99 <= p99_ms (if given)."""
    target = f">= {fps:g} FPS from a {fmt((cfg or {}).get('fps'), 0)} FPS source, detection every frame" + (
        f", 0 dropped, latency p99 <= {p99_ms:g} ms" if p99_ms is not None else "")
    runs = [r for r in rows if r.get("device") == "cpu" and r.get("faces") == faces and not r.get("error") and r.get("fps")]
    live = [r for r in runs if r.get("mode") == "live"]
    if not live:
        return _goal(what, target, "not measured", f"no live CPU pipeline run with {faces} face(s) in this run")

    def shortfalls(r: dict[str, Any]) -> list[str]:
        out = []
        if output_fps(r) < fps:
            out.append(f"{fps / max(output_fps(r), 1e-9):.2f}x short of {fps:g} FPS")
        if p99_ms is not None and r.get("dropped"):
            out.append(f"{r['dropped']} of {r.get('captured')} frames dropped")
        if p99_ms is not None and (r.get("latency_p99_ms") or math.inf) > p99_ms:
            out.append(f"latency p99 {fmt(r.get('latency_p99_ms'), 0)} ms > {p99_ms:g} ms")
        return out

    best = min(live, key=lambda r: (len(shortfalls(r)), -output_fps(r), r.get("latency_p99_ms") or math.inf))
    size = f"{cfg.get('width')}x{cfg.get('height')}" if cfg else "?"
    text = (f"{best['variant']}: {output_fps(best):.1f} FPS out, latency p50 {fmt(best.get('latency_p50_ms'), 0)} / "
            f"p99 {fmt(best.get('latency_p99_ms'), 0)} ms, dropped {best['dropped']} of {best.get('captured')}, "
            f"faces found per frame {fmt(best.get('faces_per_frame'), 2)}, bottleneck {best.get('bottleneck')}")
    gaps = shortfalls(best) + ([] if size == "640x480" else ["not on 640x480 video"])
    if (best.get("faces_per_frame") or 0) < 0.9 * faces:
        gaps.append(f"only {fmt(best.get('faces_per_frame'), 2)} of {faces} faces found per frame")
    if gaps:
        text += "; gap: " + ", ".join(gaps)
    return _goal(what, target, "gap" if gaps else "met", text)


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
