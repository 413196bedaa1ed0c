"""Whole-frame evaluation: the runtime's main job (detector -> framing -> model -> paste-back) on full frames,
against the exact translated frame.

Each held-out person stands in a scene like the streaming demo's (640x480: a background, directional light,
sensor noise, a pose and place of their own). SynthFaces renders the same scene again with the target
domain: identical wherever the target does not reach, so the truth says which pixels should change and which
must stay. For every (person, domain of the model) one frame goes through a `Translator` (the product's own
path, Haar detector by default) and is scored on:
- gain: PSNR(output, truth) - PSNR(input, truth) over the pixels the truth changes (dB): did we move toward it?
- spill: mean absolute change (grey levels) over the pixels the truth leaves unchanged within twice the face
  box (background, neck, clothes): what a good paste-back leaves alone;
- target accuracy: the attribute classifier's verdict on the pasted face, cut out at the training framing
  (ceiling: its verdict on the truth), and how often the detector found the face at all.
Writes report.json, report.md and one strip per domain (input | output | truth, zoomed on the face).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import cv2
import numpy as np

from stargan_rt.atomic import atomic_write_bytes, atomic_write_text
from stargan_rt.bundle import ModelMeta
from stargan_rt.errors import BadInput
from stargan_rt.faces import Region, extract
from stargan_rt.images import make_grid
from stargan_rt.synth.attributes import Attributes
from stargan_rt.synth.draw import Frame
from stargan_rt.synth.identity import identity_seed, make_identity
from stargan_rt.synth.render import RENDERER_VERSION, training_square
from stargan_rt.synth.scene import Placed, background, compose, head_box

from .evaluate import PSNR_CAP, Case, Person, check_domains, plan

if TYPE_CHECKING:
    from stargan_rt.backends.base import Runner
    from stargan_rt.translator import Translator

    from .classifier import AttributeClassifier

SCENE_SIZE = (640, 480)
CHANGED = 3  # grey levels: a pixel the truth moves by at least this much (any channel) is one that should change


# --- the scenes ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scene:
    """Where a person stands and how the picture is lit: everything but their attributes."""

    identity: int  # the person
    scene: int  # background, light colour (an identity seed of the "scene" split)
    frame: Frame
    light_angle: float
    light_strength: float
    brightness: float
    noise_seed: int
    size: tuple[int, int] = SCENE_SIZE

    def placed(self, attrs: Attributes) -> Placed:
        return Placed(make_identity(self.identity), attrs, self.frame)


def scene_for(person: Person, index: int, seed: int = 0, size: tuple[int, int] = SCENE_SIZE) -> Scene:
    """A scene like the demo video's for held-out person `index` (deterministic in seed and index)."""
    w, h = size
    r = np.random.default_rng([seed, index, 13])
    scene = identity_seed("scene", seed, index)
    frame = Frame(cx=w * r.uniform(0.35, 0.65), cy=h * r.uniform(0.42, 0.52), unit=w * r.uniform(0.08, 0.115),
                  roll=r.uniform(-0.12, 0.12), yaw=r.uniform(-0.2, 0.2))
    return Scene(person.identity, scene, frame, make_identity(scene).light_angle, r.uniform(0.1, 0.35),
                 r.uniform(0.92, 1.08), int(r.integers(2**31)), size)


def render_scene(job: tuple[Scene, Attributes]) -> np.ndarray:
    """The scene's picture with the person showing `attrs` (uint8 BGR); a job for synth.batch.parallel_map."""
    s, attrs = job
    scene = make_identity(s.scene)
    bg = background(scene, *s.size)
    return compose(bg, [s.placed(attrs)], scene, s.frame, s.light_angle, s.light_strength, s.brightness, 2.0,
                   s.noise_seed)


def training_region(s: Scene) -> Region:
    """The square of the frame that the person's training-framed crop shows (what the classifier judges)."""
    cx, cy, side = training_square(s.frame)
    n = round(side)
    return Region(round(cx + 0.5 - n / 2), round(cy + 0.5 - n / 2), n, n)


def near_face(s: Scene, attrs: Attributes) -> tuple[slice, slice]:
    """Twice the face box around its centre, clipped to the frame: where spill is measured."""
    x0, y0, x1, y1 = head_box(s.placed(attrs))
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    w, h = s.size
    return (slice(max(0, int(cy - hh)), min(h, int(np.ceil(cy + hh)))),
            slice(max(0, int(cx - hw)), min(w, int(np.ceil(cx + hw)))))


@dataclass
class FrameSet:
    """The rendered evaluation: one input frame per person, one true frame per case."""

    people: list[Person]
    scenes: list[Scene]
    cases: list[Case]
    inputs: np.ndarray  # (people, H, W, 3)
    truths: np.ndarray  # (cases, H, W, 3)


def render_frames(meta: ModelMeta, people: Sequence[Person], seed: int = 0, size: tuple[int, int] = SCENE_SIZE,
                  workers: int = 0, progress: bool = False) -> FrameSet:
    """Every person in their scene, and every case's true frame."""
    from stargan_rt.synth.batch import parallel_map

    check_domains(meta)
    scenes = [scene_for(p, i, seed, size) for i, p in enumerate(people)]
    cases = plan(meta, people)
    jobs = [(s, p.attrs) for s, p in zip(scenes, people)] + [(scenes[c.person], c.target) for c in cases]
    frames = list(parallel_map(render_scene, jobs, workers, progress, "rendering scenes"))
    return FrameSet(list(people), scenes, cases, np.stack(frames[: len(people)]), np.stack(frames[len(people) :]))


# --- the metrics (one frame each) -------------------------------------------------------------------------
def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB over the pixels where `mask` (H, W) is true; NaN when it selects none."""
    if not mask.any():
        return float("nan")
    mse = float(((a[mask].astype(np.float64) - b[mask].astype(np.float64)) ** 2).mean())
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * np.log10(255.0**2 / mse))


def frame_scores(inp: np.ndarray, out: np.ndarray, truth: np.ndarray, near: tuple[slice, slice]) -> dict[str, float]:
    """gain (dB), spill (grey levels) and the PSNRs behind the gain, for one frame."""
    moved = np.abs(truth.astype(np.int16) - inp.astype(np.int16)).max(axis=2)
    changed = moved >= CHANGED
    still = np.zeros_like(changed)
    still[near] = moved[near] == 0
    p_in, p_out = masked_psnr(inp, truth, changed), masked_psnr(out, truth, changed)
    spill = float(np.abs(out[still].astype(np.int16) - inp[still].astype(np.int16)).mean()) if still.any() else 0.0
    return {"gain": p_out - p_in, "psnr_in": p_in, "psnr_out": p_out, "spill": spill,
            "changed_px": int(changed.sum()), "still_px": int(still.sum())}


def border_step(img: np.ndarray, region: Region) -> float:
    """Mean absolute difference between the pixels just inside and just outside `region`'s edges (grey levels):
    a seam shows as a step there larger than the picture's own."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = region.x, region.y, region.x + region.w, region.y + region.h
    ys, xs = slice(max(0, y0), min(h, y1)), slice(max(0, x0), min(w, x1))
    a = img.astype(np.int16)
    steps = []
    if 0 < x0 < w:
        steps.append(np.abs(a[ys, x0] - a[ys, x0 - 1]))
    if 0 < x1 < w:
        steps.append(np.abs(a[ys, x1 - 1] - a[ys, x1]))
    if 0 < y0 < h:
        steps.append(np.abs(a[y0, xs] - a[y0 - 1, xs]))
    if 0 < y1 < h:
        steps.append(np.abs(a[y1 - 1, xs] - a[y1, xs]))
    return float(np.concatenate([s.reshape(-1) for s in steps]).mean()) if steps else 0.0


# --- running it ------------------------------------------------------------------------------------------
def evaluate_frames(translator: "Translator", classifier: "AttributeClassifier", frames: FrameSet, *,
                    strip_rows: int = 4, progress: bool = True,
                    model_name: str | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Translate every case's frame with `translator` and score it. Returns (report, {title: strip image})."""
    from tqdm import tqdm

    from .evaluate import _hit, _source_dict

    meta = translator.meta
    if not frames.cases:
        raise BadInput("no frames to evaluate (-n must be at least 1)")
    outs, detected, seams, face_crops, true_crops = [], [], [], [], []
    t0 = time.perf_counter()
    for c in tqdm(frames.cases, desc="translating frames", unit="frame", disable=not progress, leave=False,
                  dynamic_ncols=True):
        s = frames.scenes[c.person]
        translator.reset()  # unrelated stills: no tracking from one to the next
        source = _source_dict(meta, frames.people[c.person].attrs)  # what the face shows: the case's label assumes it
        out, regions = translator.translate_frame(frames.inputs[c.person], c.label, source=source)
        outs.append(out)
        detected.append(_overlaps(regions, training_region(s)))
        inp = frames.inputs[c.person]
        seams.append(max((border_step(out, r) - border_step(inp, r) for r in regions), default=float("nan")))
    pipeline_s = time.perf_counter() - t0
    size = classifier.config.image_size
    for k, c in enumerate(frames.cases):
        r = training_region(frames.scenes[c.person])
        face_crops.append(extract(outs[k], r, size))
        true_crops.append(extract(frames.truths[k], r, size))
    p_out, p_truth = classifier.predict(np.stack(face_crops)), classifier.predict(np.stack(true_crops))
    rows = []
    for k, c in enumerate(frames.cases):
        s = frames.scenes[c.person]
        scores = frame_scores(frames.inputs[c.person], outs[k], frames.truths[k], near_face(s, frames.people[c.person].attrs))
        rows.append({**scores, "accuracy": float(_hit(p_out, c, k)), "ceiling": float(_hit(p_truth, c, k)),
                     "detected": float(detected[k]), "seam": seams[k]})

    def summarise(sel: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(sel)}
        for key in ("gain", "spill", "seam", "accuracy", "ceiling", "detected", "psnr_in", "psnr_out"):
            vals = np.array([rows[k][key] for k in sel], float)
            vals = vals[np.isfinite(vals)]
            out[key] = round(float(vals.mean()), 4) if len(vals) else None
        return out

    order = {d: i for i, d in enumerate(meta.domain_names)}
    titles = sorted(dict.fromkeys(c.title for c in frames.cases), key=lambda t: (order[t.lstrip("-")], t.startswith("-")))
    columns = [{"domain": t, **summarise([k for k, c in enumerate(frames.cases) if c.title == t])} for t in titles]
    w, h = frames.scenes[0].size
    report = {
        "model": model_name,
        "backend": translator.describe(),
        "detector": translator.detector.name,
        "paste": repr(translator.paste_back),
        "domains": list(meta.domain_names),
        "frame_size": [w, h],
        "renderer_version": RENDERER_VERSION,
        "people": len(frames.people),
        "summary": summarise(list(range(len(frames.cases)))),
        "columns": columns,
        "seconds": {"pipeline": round(pipeline_s, 2),
                    "ms_per_frame": round(1000 * pipeline_s / len(frames.cases), 2)},
    }
    strips = {t: _strip(frames, outs, t, strip_rows) for t in titles}
    return report, strips


def _overlaps(regions: Sequence[Region], truth: Region) -> bool:
    """Did the translator work on this face? (a region covering at least half of the true training square)"""
    def inter(a: Region, b: Region) -> int:
        return max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x)) * max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))

    return any(inter(r, truth) >= 0.5 * truth.w * truth.h for r in regions)


def _strip(frames: FrameSet, outs: list[np.ndarray], title: str, rows: int, height: int = 240) -> np.ndarray:
    """Rows of [input | output | truth], each cut to twice the face box and shown `height` px tall."""
    grid: list[list[np.ndarray]] = []
    for k, c in enumerate(frames.cases):
        if c.title != title or len(grid) >= rows:
            continue
        ys, xs = near_face(frames.scenes[c.person], frames.people[c.person].attrs)
        zoom = height / (ys.stop - ys.start)
        cells = [frames.inputs[c.person][ys, xs], outs[k][ys, xs], frames.truths[k][ys, xs]]
        grid.append([cv2.resize(im, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR) for im in cells])
    side = max(im.shape[1] for row in grid for im in row)
    grid = [[cv2.copyMakeBorder(im, 0, 0, 0, side - im.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
             for im in row] for row in grid]
    return make_grid(grid, [f"input", f"output ({title})", "truth"])


def markdown(report: dict[str, Any]) -> str:
    head = ("| domain | gain dB | spill (grey levels) | seam step | target acc. | ceiling | face found | "
            "PSNR in -> out dB |\n|---|---|---|---|---|---|---|---|\n")

    def fmt(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    def row(name: str, r: dict[str, Any]) -> str:
        return (f"| {name} | {fmt(r['gain'], '+.2f')} | {fmt(r['spill'], '.2f')} | {fmt(r['seam'], '+.2f')} | "
                f"{fmt(r['accuracy'], '.1%')} | "
                f"{fmt(r['ceiling'], '.1%')} | {fmt(r['detected'], '.0%')} | "
                f"{fmt(r['psnr_in'], '.1f')} -> {fmt(r['psnr_out'], '.1f')} |\n")

    w, h = report["frame_size"]
    return "".join([
        f"# Whole-frame evaluation of {report['model'] or 'the model'}\n\n",
        f"Backend: {report['backend']}. Detector: {report['detector']}, paste-back: {report['paste']}. "
        f"{report['people']} held-out people, one {w}x{h} scene each, renderer v{report['renderer_version']}.\n\n",
        head, *(row(c["domain"], c) for c in report["columns"]), row("**mean**", report["summary"]),
        "\nGain: PSNR(output, truth) - PSNR(input, truth) over the pixels the truth changes. Spill: mean absolute "
        "change over the pixels the truth leaves unchanged within twice the face box. Seam step: how much larger "
        "the step across the pasted square's edge is than the picture's own there (grey levels). Target accuracy: the "
        "attribute classifier on the pasted face at the training framing; ceiling: on the truth.\n",
    ])


def write_frames_report(report: dict[str, Any], strips: dict[str, np.ndarray], out_dir: str | Path) -> Path:
    import json

    out = Path(out_dir)
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / "report.md", markdown(report))
    for title, img in strips.items():
        ok, png = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])  # noisy pictures: a third smaller
        if not ok:
            raise BadInput(f"{out}: cannot encode the strip for {title}")
        atomic_write_bytes(out / f"strip_{title}.png", png.tobytes())
    return out
