"""Reports: JSON, a Markdown table, PNG plots, a short summary, and merging reports of one machine."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from stargan_rt.atomic import atomic_write_bytes, atomic_write_text

from . import training
from .goals import evaluate_goals, fmt, fmt_ms, fmt_psnr, mark_unreliable, model_of, p50, si
from .machine import busy_warning
from .timing import PSNR_CAP_DB

SCHEMA = "stargan-rt-bench/1"
PIPELINE_STAGES = ("capture", "detect", "preprocess", "infer", "paste", "output")


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
        f"cores taken by other processes during the run: {fmt(doc.get('other_processes_cores'))}",
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
            lines.append(f"| {p['device']} | {p['what']} | {si(p['value'], unit) if p['value'] > 0 else 'failed'} | {p['detail']} |")
        lines += _floor_rows(floor)

    gen = doc.get("generator") or {}
    rows = gen.get("rows", [])
    trained_name = (doc.get("config") or {}).get("trained_model")
    for model, size in sorted({(model_of(r), r["size"]) for r in rows}, key=lambda k: (k[0] != "main", k[1])):
        title = f"## Generator, {size}x{size}" + (f", trained weights ({trained_name})" if model == "trained" else "")
        lines += ["", title, "",
                  "Latency per call (one batch), numpy in and out; on CUDA also device compute alone (CUDA events) and the "
                  "copies. Speed-up and PSNR are against the eager FP32 baseline of the same device on the same inputs "
                  f"(PSNR over the [-1, 1] output, capped at {PSNR_CAP_DB:g} dB; the JSON has the max abs error too). "
                  "% of compute floor: achieved FLOP/s over the measured matmul peak of the row's precision (the int8 "
                  "peak is torch._int_mm's, which a tuned int8 convolution can beat).",
                  "", "| path | batch | p50 ms | p90 ms | p99 ms | compute p50 ms | H2D + D2H ms | images/s | speed-up | PSNR dB | % of compute floor |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["size"] == size and model_of(r) == model):
            if r.get("error"):
                lines.append(f"| {r['variant']} | {r['batch']} | {r['error']} |  |  |  |  |  |  |  |  |")
                continue
            lat, comp = r["latency"], r.get("compute")
            copies = (r["h2d"]["p50_ms"] + r["d2h"]["p50_ms"]) if r.get("h2d") and r.get("d2h") else None
            speed = fmt(r.get("speedup"), 2) + "x" if r.get("speedup") else "–"
            if r.get("compute_speedup"):
                speed += f" ({r['compute_speedup']:.2f}x compute)"
            lines.append(
                f"| {r['variant']} | {r['batch']} | {fmt_ms(lat['p50_ms'])} | {fmt_ms(lat['p90_ms'])} | {fmt_ms(lat['p99_ms'])} | "
                f"{fmt_ms(comp['p50_ms']) if comp else '–'} | {fmt_ms(copies)} | {fmt(r.get('images_per_s'), 1)} | {speed} | "
                f"{fmt_psnr(r.get('psnr_db'))} | {fmt(r.get('pct_compute_floor'), 1)} |"
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
                  "", "| backend | faces | mode | FPS | steady FPS | latency p50 ms | latency p99 ms | dropped | faces/frame | "
                  + " | ".join(f"{s} p50" for s in PIPELINE_STAGES) + " | bottleneck |",
                  "|" + "---|" * (10 + len(PIPELINE_STAGES))]
        for r in pipe["rows"]:
            if r.get("error"):
                lines.append(f"| {r['variant']} | {r['faces']} | {r['mode']} | {r['error']} |" + " |" * (6 + len(PIPELINE_STAGES)))
                continue
            st = r.get("stages_ms") or {}
            lines.append(
                f"| {r['variant']} | {r['faces']} | {r['mode']} | {fmt(r['fps'], 1)} | {fmt(r.get('output_fps'), 1)} | "
                f"{fmt(r.get('latency_p50_ms'), 1)} | "
                f"{fmt(r.get('latency_p99_ms'), 1)} | {r['dropped']} | {fmt(r.get('faces_per_frame'), 2)} | "
                + " | ".join(fmt(st.get(s, {}).get("p50_ms"), 1) for s in PIPELINE_STAGES) + f" | {r.get('bottleneck') or '–'} |"
            )
        lines += _cpu_table(pipe["rows"])
    lines += training.markdown(doc.get("train") or {})
    if doc.get("phase_errors"):
        lines += ["", "## Phases that failed", ""] + [f"- {k}: {v}" for k, v in doc["phase_errors"].items()]
    return "\n".join(lines) + "\n"


def _cpu_table(rows: list[dict[str, Any]]) -> list[str]:
    """CPU time per frame in each stage's own thread, and in the libraries' thread pools, with the cores used."""
    ok = [r for r in rows if not r.get("error") and r.get("cpu")]
    if not ok:
        return []
    lines = ["", "CPU time per frame (ms) in each stage's own thread; library threads: what the inference and OpenCV "
             "thread pools used on top (inference runs there); cores: the process's CPU seconds per second.", "",
             "| backend | faces | mode | " + " | ".join(PIPELINE_STAGES) + " | library threads | cores |",
             "|" + "---|" * (5 + len(PIPELINE_STAGES))]
    for r in ok:
        st, cpu = r.get("stages_ms") or {}, r["cpu"]
        lines.append(f"| {r['variant']} | {r['faces']} | {r['mode']} | "
                     + " | ".join(fmt(st.get(s, {}).get("cpu_mean_ms"), 1) for s in PIPELINE_STAGES)
                     + f" | {fmt(cpu.get('library_threads_ms_per_frame'), 1)} | {fmt(cpu.get('cores'), 2)} |")
    return lines


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
            rows.append(f"| {c['size']} | {p['device']} | {prec} | {c['flops'] / p['value'] * 1e3:.4g} | {fmt(mem, 4) if mem else '–'} |")
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
    ok = [r for r in rows if not r.get("error") and r.get("latency") and model_of(r) == "main"]
    if not ok:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["size"] for r in ok})
    fig, axes = plt.subplots(2, len(sizes), figsize=(6.5 * len(sizes), 8), squeeze=False)
    for j, size in enumerate(sizes):
        for name in dict.fromkeys(r["variant"] for r in ok if r["size"] == size):
            pts = sorted((r["batch"], p50(r), r["images_per_s"]) for r in ok if r["size"] == size and r["variant"] == name)
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
                name = ("[trained] " if model_of(r) == "trained" else "") + r["variant"]
                if r.get("error"):
                    lines.append(f"{name[:43]:<44}{size:>5}{r['batch']:>6}  {r['error'][:60]}")
                    continue
                comp = r.get("compute")
                psnr = r.get("psnr_db")
                lines.append(
                    f"{name[:43]:<44}{size:>5}{r['batch']:>6}{fmt_ms(r['latency']['p50_ms']):>10}"
                    f"{fmt_ms(comp['p50_ms']) if comp else '–':>10}{fmt(r.get('images_per_s'), 0):>10}"
                    f"{(fmt(r.get('speedup'), 2) + 'x') if r.get('speedup') else '–':>10}"
                    f"{fmt_psnr(psnr).replace(' ', ''):>7}"
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
                lines.append(f"{r['variant'][:43]:<44}{r['faces']:>6}{r['mode']:>6}{fmt(r.get('fps'), 1):>8}"
                             f"{fmt(r.get('latency_p50_ms'), 0):>9}{r.get('dropped', 0):>9}  {r.get('bottleneck') or '–'}")
    lines += training.summary(doc.get("train") or {})
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
    out["train"] = next((d["train"] for d in docs if (d.get("train") or {}).get("rows")), {})
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
