"""`stargan-rt eval MODEL`: measure a generator against SynthFaces' exact ground truth.

For each held-out person (identity seeds no dataset ever uses) and each domain of the model (the paper's
Figure 2 columns: hair colours set, other attributes flipped, expressions set), the model translates the
person's picture and is judged on:
- target accuracy: does the attribute classifier (trainer/classifier.py) see the target in the output? Its
  accuracy on the true renders of the targets is the ceiling, as in the paper's RaFD table;
- fidelity: PSNR, SSIM and L1 of G(x, c) against render(identity, c), the exact translation;
- cycle: L1 and PSNR of G(G(x, c), c_source) against x;
- preservation: how often the classifier's verdict on the attributes that were not asked to change agrees
  between the output and the truth;
- for jointly trained models (CelebA-like + RaFD-like, mask vector), the expressions applied to CelebA-like
  people are reported apart: the cross-dataset case.
Writes report.json, report.md and grid.png (per person: a row of truths above a row of model outputs).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import cv2
import numpy as np

from stargan_rt.argtypes import batch_size, non_negative_int, positive_int
from stargan_rt.atomic import atomic_write_bytes, atomic_write_text
from stargan_rt.bundle import ModelMeta, Preprocess
from stargan_rt.errors import BadInput
from stargan_rt.images import make_grid
from stargan_rt.labels import LabelSpace, Target
from stargan_rt.synth.attributes import EXPRESSIONS, RENDERED, Attributes, sample_attributes
from stargan_rt.synth.identity import identity_seed, split_of
from stargan_rt.synth.render import CELEBA_SIZE, RAFD_SIZE, RENDERER_VERSION

if TYPE_CHECKING:
    from stargan_rt.backends.base import Runner

    from .classifier import AttributeClassifier, Predictions

PSNR_CAP = 100.0  # dB reported for identical images


# --- image metrics (uint8 images, (N, H, W, 3)) -------------------------------------------------------------
def l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference per image, in [0, 1] (fractions of the 0..255 range)."""
    return np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=(1, 2, 3)) / 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio per image in dB (PSNR_CAP for identical images)."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return np.minimum(10 * np.log10(255.0**2 / mse), PSNR_CAP)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity per image (Wang et al. 2004: Gaussian window sigma 1.5, 11x11, K1 0.01, K2 0.03),
    averaged over the channels and over the pixels at least 5 from the border (as scikit-image does)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    out = np.empty(len(a))
    for i in range(len(a)):
        x, y = a[i].astype(np.float64), b[i].astype(np.float64)

        def blur(z: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out[i] = s[5:-5, 5:-5].mean() if min(s.shape[:2]) > 10 else s.mean()
    return out


def checkerboard(a: np.ndarray, tile: int = 16, period: int = 4) -> np.ndarray:
    """Per image: the RMS amplitude, in grey levels, of the pattern that repeats every `period` pixels inside each
    `tile` x `tile` block, after a Gaussian high-pass (sigma 2), over the channels.

    StarGAN's stride-2 up-convolutions leave such a pattern (periods 2 and 4 at the output), phase-locked to the
    pixel grid; picture content is not, so it averages out of the per-phase means. The spread of the pixels within
    each phase is subtracted as noise, so a pattern of amplitude A added to a picture that measures c measures
    about sqrt(A^2 + c^2); true renders measure under 1 (edges that happen to lie along the grid)."""
    n, h, w, _ = a.shape
    tile = max(period, min(tile, h, w) // period * period)
    h, w = h // tile * tile, w // tile * tile
    out = np.empty(n)
    for i in range(n):
        img = a[i, :h, :w].astype(np.float32)
        hp = (img - cv2.GaussianBlur(img, (0, 0), 2.0)).reshape(h // tile, tile // period, period,
                                                                  w // tile, tile // period, period, -1)
        means, spread = hp.mean(axis=(1, 4)), hp.var(axis=(1, 4))  # per tile, phase and channel
        k = (tile // period) ** 2  # pixels per phase in a tile
        out[i] = np.sqrt(max(float((means**2).mean() - spread.mean() / (k - 1)), 0.0))
    return out


# --- what to evaluate ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    identity: int
    attrs: Attributes


@dataclass(frozen=True)
class Case:
    """One translation to judge: a person, a target domain (a Figure 2 column) and its ground truth."""

    person: int  # index into the people
    title: str  # "Blond_Hair", "-Male", "happy"
    domain: str
    target: Attributes
    label: np.ndarray
    cross_dataset: bool  # the domain belongs to another dataset than the person's pictures


def check_domains(meta: ModelMeta) -> None:
    unknown = [d for d in meta.domain_names if d not in RENDERED]
    if unknown:
        raise BadInput(f"SynthFaces cannot draw the model's domain(s) {', '.join(unknown)}; eval measures models "
                       f"trained on SynthFaces domains ({', '.join(RENDERED)})")


def source_dataset(meta: ModelMeta) -> int:
    """Which of the model's datasets the evaluated pictures come from: the CelebA-like one when there is one
    (for a joint model its expressions are then the cross-dataset case), else the RaFD-like one."""
    kinds = [ds.kind for ds in meta.datasets]
    return kinds.index("multi_label") if "multi_label" in kinds else 0


def render_setup(meta: ModelMeta) -> tuple[tuple[int, int], Preprocess, int]:
    """(picture size to render, preprocessing, model image size): CelebA-like 178x218 pictures for models that
    centre-crop them, RaFD-like 256x256 face-centred pictures for models that take the whole image."""
    pre = meta.preprocess
    return (CELEBA_SIZE if pre.crop_size is not None else RAFD_SIZE), pre, meta.architecture.image_size


def heldout_people(meta: ModelMeta, n: int, seed: int = 0) -> list[Person]:
    """n people from the held-out identity range, with attributes drawn as the model's source dataset's."""
    kind = "celeba" if meta.datasets[source_dataset(meta)].kind == "multi_label" else "rafd"
    return [Person(identity_seed("heldout", seed, i), sample_attributes(np.random.default_rng([seed, i, 7]), kind))
            for i in range(n)]


def _source_dict(meta: ModelMeta, a: Attributes) -> dict[str, float]:
    return {d: float(a.get(d)) for d in meta.domain_names}


def source_label(meta: ModelMeta, a: Attributes) -> np.ndarray:
    """The label of the picture as it is (c_org), in the slice of its own dataset."""
    ls, ds = LabelSpace(meta), meta.datasets[source_dataset(meta)]
    if ds.kind == "one_hot":
        return ls.encode([Target(a.expression if a.expression in ds.domains else ds.domains[0])])
    return ls.encode([Target(d, on=a.get(d)) for d in ds.domains], _source_dict(meta, a))


def plan(meta: ModelMeta, people: Sequence[Person]) -> list[Case]:
    """Every person x every domain, with the official test's targets (LabelSpace.grid's columns)."""
    ls, own = LabelSpace(meta), source_dataset(meta)
    cases = []
    for p, person in enumerate(people):
        src = _source_dict(meta, person.attrs)
        for i, ds in enumerate(meta.datasets):
            for d in ds.domains:
                exclusive = ds.kind == "one_hot" or any(d in g for g in ds.exclusive)
                t = Target(d, on=True if exclusive else not person.attrs.get(d))
                cases.append(Case(p, str(t) if t.on else f"-{d}", d, person.attrs.set(d, t.on), ls.encode([t], src),
                                  cross_dataset=i != own))
    return cases


# --- running it ------------------------------------------------------------------------------------------
def _run(runner: "Runner", x: np.ndarray, c: np.ndarray, batch_size: int, progress: bool, desc: str) -> tuple[np.ndarray, float]:
    from tqdm import tqdm

    outs, start = [], time.perf_counter()
    for i in tqdm(range(0, len(x), batch_size), desc=desc, unit="batch", disable=not progress, leave=False,
                  dynamic_ncols=True):
        outs.append(runner.infer_frames(np.ascontiguousarray(x[i : i + batch_size]), c[i : i + batch_size]))
    return np.concatenate(outs), time.perf_counter() - start


def _changed_groups(domain: str) -> set[str]:
    from .classifier import group_of

    return {"expression", "Smiling"} if domain in EXPRESSIONS else {group_of(domain)}


def _hit(pred: "Predictions", case: Case, k: int) -> bool:
    return bool(pred.shows(case.domain)[k]) == case.target.get(case.domain)


def evaluate(runner: "Runner", classifier: "AttributeClassifier", people: Sequence[Person], *, batch_size: int = 16,
             grid_rows: int = 4, workers: int = 0, progress: bool = True,
             model_name: str | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Translate every person into every domain with `runner` and measure it. Returns (report, grid image)."""
    from stargan_rt.synth.batch import render_many

    from .classifier import GROUPS

    meta = runner.meta
    check_domains(meta)
    if not people:
        raise BadInput("no people to evaluate (-n must be at least 1)")
    size, pre, s = render_setup(meta)
    cases = plan(meta, people)
    t0 = time.perf_counter()
    x = render_many([(p.identity, p.attrs) for p in people], size, pre, s, workers, progress, "rendering inputs")
    truth = render_many([(people[c.person].identity, c.target) for c in cases], size, pre, s, workers, progress,
                        "rendering ground truth")
    render_s = time.perf_counter() - t0
    idx = np.array([c.person for c in cases])
    labels = np.stack([c.label for c in cases]).astype(np.float32)
    back = np.stack([source_label(meta, people[c.person].attrs) for c in cases]).astype(np.float32)
    out, model_s = _run(runner, x[idx], labels, batch_size, progress, "translating")
    rec, cycle_s = _run(runner, out, back, batch_size, progress, "cycle")
    p_out, p_truth = classifier.predict(out), classifier.predict(truth)

    per_case = {
        "accuracy": np.array([_hit(p_out, c, k) for k, c in enumerate(cases)], float),
        "ceiling": np.array([_hit(p_truth, c, k) for k, c in enumerate(cases)], float),
        "psnr": psnr(out, truth), "ssim": ssim(out, truth), "l1": l1(out, truth),
        "preserved": np.array([np.mean([p_out.group(g)[k] == p_truth.group(g)[k] for g in GROUPS
                                        if g not in _changed_groups(c.domain)]) for k, c in enumerate(cases)]),
        "cycle_l1": l1(rec, x[idx]), "cycle_psnr": psnr(rec, x[idx]),
        "checkerboard": checkerboard(out),
    }

    def summarise(sel: np.ndarray) -> dict[str, Any]:
        return {"n": int(sel.sum()), **{k: round(float(v[sel].mean()), 4) for k, v in per_case.items()}}

    order = {d: i for i, d in enumerate(meta.domain_names)}
    titles = sorted(dict.fromkeys(c.title for c in cases), key=lambda t: (order[t.lstrip("-")], t.startswith("-")))
    columns = [{"domain": t, "cross_dataset": any(c.cross_dataset for c in cases if c.title == t),
                **summarise(np.array([c.title == t for c in cases]))} for t in titles]
    cross = np.array([c.cross_dataset for c in cases])
    report = {
        "model": model_name,
        "backend": runner.describe(),
        "domains": list(meta.domain_names), "joint": meta.joint, "image_size": s,
        "renderer_version": RENDERER_VERSION,
        "people": {"count": len(people), "splits": sorted({split_of(p.identity) for p in people})},
        "classifier": {"config": classifier.config.__dict__, "val_accuracy": classifier.report.get("val_accuracy")},
        "summary": summarise(~cross),
        "cross_dataset": summarise(cross) if cross.any() else None,
        "columns": columns,
        "checkerboard_of_truth": round(float(checkerboard(truth).mean()), 4),  # the floor for clean pictures
        "seconds": {"render": round(render_s, 2), "translate": round(model_s, 2), "cycle": round(cycle_s, 2),
                    "ms_per_image": round(1000 * (model_s + cycle_s) / (2 * len(cases)), 2)},
    }
    return report, _grid(x, truth, out, cases, meta, grid_rows)


def _grid(x: np.ndarray, truth: np.ndarray, out: np.ndarray, cases: list[Case], meta: ModelMeta, rows: int) -> np.ndarray:
    """Per person: [input | truth per domain] above [input | model output per domain]. Columns are the model's
    domains; "~Male" flips the attribute (as the paper's figures do), hair colours and expressions are set."""
    headers = [d if any(d in g for ds in meta.datasets for g in ds.exclusive) or ds.kind == "one_hot" else f"~{d}"
               for ds in meta.datasets for d in ds.domains]
    side = max(x.shape[1], 96)

    def big(img: np.ndarray, tag: str | None = None) -> np.ndarray:
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_NEAREST) if img.shape[0] != side else img.copy()
        if tag:
            cv2.putText(img, tag, (3, side - 5), cv2.FONT_HERSHEY_SIMPLEX, side / 300, (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(img, tag, (3, side - 5), cv2.FONT_HERSHEY_SIMPLEX, side / 300, (0, 0, 0), 1, cv2.LINE_AA)
        return img

    grid_rows: list[list[np.ndarray]] = []
    for p in range(min(rows, len(x))):
        ks = [k for k, c in enumerate(cases) if c.person == p]
        grid_rows.append([big(x[p], "truth")] + [big(truth[k]) for k in ks])
        grid_rows.append([big(x[p], "model")] + [big(out[k]) for k in ks])
    return make_grid(grid_rows, ["input", *headers])


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table (one row per domain, then the averages)."""
    head = ("| domain | target acc. | ceiling | PSNR dB | SSIM | L1 | preserved | cycle L1 | cycle PSNR dB | "
            "checkerboard |\n|---|---|---|---|---|---|---|---|---|---|\n")

    def row(name: str, r: dict[str, Any]) -> str:
        return (f"| {name} | {r['accuracy']:.1%} | {r['ceiling']:.1%} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                f"{r['l1']:.4f} | {r['preserved']:.1%} | {r['cycle_l1']:.4f} | {r['cycle_psnr']:.2f} | "
                f"{r['checkerboard']:.2f} |\n")

    lines = [f"# SynthFaces evaluation of {report['model'] or 'the model'}\n\n",
             f"Backend: {report['backend']}. {report['people']['count']} held-out people "
             f"({', '.join(report['people']['splits'])} identities), {report['image_size']}x{report['image_size']} px, "
             f"renderer v{report['renderer_version']}.\n\n",
             head, *(row(("(cross) " if c["cross_dataset"] else "") + c["domain"], c) for c in report["columns"]),
             row("**mean**", report["summary"])]
    if report["cross_dataset"]:
        lines.append(row("**mean, cross-dataset**", report["cross_dataset"]))
    acc = report["classifier"]["val_accuracy"] or {}
    lines += ["\nTarget accuracy: the attribute classifier's verdict on the output; ceiling: its verdict on the "
              "true render of the target. Preserved: agreement of its verdicts on the attributes not asked to "
              "change, output vs truth. L1 in fractions of the pixel range. Checkerboard: RMS grey levels of the "
              f"pattern locked to the up-convolutions' 4-pixel grid (the true renders measure "
              f"{report['checkerboard_of_truth']:.2f}; one of amplitude 2 is faint at 4x zoom, 4 plain).\n",
              "\nClassifier validation accuracy on true renders: "
              + ", ".join(f"{k} {v:.1%}" for k, v in acc.items()) + "\n"]
    from .eval_ema import markdown as ema_markdown

    lines.append(ema_markdown(report))
    return "".join(lines)


def write_report(report: dict[str, Any], grid: np.ndarray, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / "report.md", markdown(report))
    ok, png = cv2.imencode(".png", grid)
    if not ok:
        raise BadInput(f"{out}: cannot encode the grid image")
    atomic_write_bytes(out / "grid.png", png.tobytes())
    return out


# --- the command ---------------------------------------------------------------------------------------------
def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser(
        "eval", help="measure a model on held-out SynthFaces people against the exact ground truth",
        description="Translate held-out SynthFaces people into every domain of MODEL and report target accuracy "
        "(judged by an attribute classifier trained once and cached), PSNR/SSIM/L1 to the true render, cycle "
        "error and attribute preservation; joint models also get the cross-dataset case. Writes report.json, "
        "report.md and grid.png.",
    )
    p.add_argument("model", nargs="?", default=None,
                   help="bundle folder, .onnx or .plan (default: the embedded default model)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="evaluate the people of this SynthFaces dataset (default: held-out people made on the fly)")
    p.add_argument("-n", type=positive_int, default=100, help="people to evaluate (default 100)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="which held-out people (default 0)")
    p.add_argument("-o", "--out", default="eval_report", help="report folder (default eval_report)")
    p.add_argument("--grid-rows", type=non_negative_int, default=4, help="people shown in grid.png (default 4)")
    p.add_argument("--batch-size", type=batch_size, default=16, help="images per inference call (default 16)")
    p.add_argument("--workers", type=non_negative_int, default=0, help="rendering processes (default: all CPU cores)")
    p.add_argument("--classifier", default=None, metavar="FILE",
                   help="attribute classifier (.safetensors from trainer/classifier.py; default: the cached one, "
                   "trained on first use)")
    p.add_argument("--phases", default="crops,frames",
                   help="crops (the model on training-framed crops) and/or frames (the whole pipeline on 640x480 "
                   "scenes: detector, framing, model, paste-back; written to OUT/frames/); default both")
    p.add_argument("--detector", default="haar", help="face detector of the frames phase (default haar)")
    p.add_argument("--paste-reference", choices=("model", "input"), default="model",
                   help="paste-back of the frames phase: the change against the model's rendering of the face as it "
                   "is (default) or against the input")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stargan_rt.backends import open_model

    from .classifier import get_classifier, load_classifier

    from stargan_rt.outputs import check_folder

    if args.n < 1 or args.batch_size < 1 or args.grid_rows < 0:
        raise BadInput("-n and --batch-size must be at least 1, --grid-rows at least 0")
    check_folder(args.out)  # where the report goes, checked before minutes of work
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - {"crops", "frames"}:
        raise BadInput(f"--phases {args.phases!r}: choose crops, frames or both (crops,frames)")
    if "frames" in phases:
        from stargan_rt.faces import make_detector

        make_detector(args.detector)  # a bad --detector ends here, not after the classifier and the crops phase
    if args.model is None:
        from stargan_rt.default_model import default_model_path

        args.model = str(default_model_path())
    with open_model(args.model, backend=args.backend) as runner:
        meta = runner.meta
        check_domains(meta)
        if args.data:
            from stargan_rt.synth.datasets import iter_sample, read_records

            _, records = read_records(args.data)
            people = [Person(r.identity, r.attrs) for r in iter_sample(records, args.n)]
            seen = {split_of(p.identity) for p in people} & {"celeba", "rafd"}
            if seen:
                print(f"note: {args.data} holds {'/'.join(sorted(seen))} training-range people: the model may have "
                      "seen them; the default held-out people are never used for training")
        else:
            people = heldout_people(meta, args.n, args.seed)
        classifier = load_classifier(args.classifier) if args.classifier else get_classifier(progress=not args.quiet)
        if "crops" in phases:
            report, grid = evaluate(runner, classifier, people, batch_size=args.batch_size, grid_rows=args.grid_rows,
                                    workers=args.workers, progress=not args.quiet, model_name=str(args.model))
            from . import eval_ema  # a trained bundle's raw generator, measured beside its moving average

            report["raw_generator"] = eval_ema.evaluate_raw(args.model, runner.name, classifier, people,
                                                            batch_size=args.batch_size, workers=args.workers,
                                                            progress=not args.quiet)
            out = write_report(report, grid, args.out)
            print(markdown(report))
            print(f"wrote {out / 'report.json'}, {out / 'report.md'} and {out / 'grid.png'}")
        if "frames" in phases:
            _run_frames(args, runner, classifier, people)
    return 0


def _run_frames(args: argparse.Namespace, runner: "Runner", classifier: "AttributeClassifier",
                people: Sequence[Person]) -> None:
    from stargan_rt.faces import PasteBack
    from stargan_rt.translator import Translator

    from . import evaluate_frames as ef

    frames = ef.render_frames(runner.meta, people, args.seed, workers=args.workers, progress=not args.quiet)
    tr = Translator(runner, detector=args.detector, paste=PasteBack(reference=args.paste_reference))
    report, strips = ef.evaluate_frames(tr, classifier, frames, strip_rows=max(1, args.grid_rows),
                                        progress=not args.quiet, model_name=str(args.model))
    out = ef.write_frames_report(report, strips, Path(args.out) / "frames")
    print(ef.markdown(report))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'} and {len(strips)} strips (strip_DOMAIN.png)")
