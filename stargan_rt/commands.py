"""The runtime commands: `stargan-rt translate`, `stargan-rt video`, `stargan-rt webcam`.

Registered through the `stargan_rt.commands` entry points (pyproject.toml). Nothing heavy is imported at
module top: the model, OpenCV windows and backends load when a command runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .argtypes import positive_float, positive_int
from .cli import ATTRS

if TYPE_CHECKING:
    import numpy as np

Sub = argparse._SubParsersAction  # the `subparsers` object cli.py passes to every register function

BACKENDS_HELP = "auto (default: the fastest available), tensorrt, ort-tensorrt, torch-cuda, ort-cuda, torch-cpu-bf16, ort-cpu, torch-cpu"


def _model_args(p: argparse.ArgumentParser, detector: str) -> None:
    p.add_argument("--model", "-m", help="a bundle folder, an .onnx file or a .plan engine (default: the embedded model)")
    p.add_argument("--backend", "-b", default="auto", help=BACKENDS_HELP)
    p.add_argument("--threads", type=positive_int, help="CPU threads for CPU backends (default: the library's choice)")
    p.add_argument(
        "--source-attrs", metavar=ATTRS,
        help="attributes the faces have now, e.g. 'Black_Hair,Young' (default: none of the multi-label attributes, "
        "the neutral expression); kept unless a target changes them. translate also takes a CelebA-format list "
        "(list_attr_celeba.txt, as `synth celeba` writes) giving each image's, matched by file name",
    )
    p.add_argument(
        "--paste-reference", choices=("model", "input"), default="model",
        help="what the translation's change is measured against before it is added to the picture: the model's own "
        "rendering of the face as it is (default: its blur and colour noise cancel; two crops per face) or the input "
        "(one crop per face: faster, for a model that reproduces its input faithfully)",
    )
    p.add_argument(
        "--detector", "-d", default=detector,
        help=f"face detector: {'auto (haar, and face crops recognised), ' if detector == 'auto' else ''}haar, dlib, "
        f"yunet:MODEL.onnx, or none when inputs are face crops (default: {detector})",
    )


def _translator(args: argparse.Namespace, source: str | None) -> Any:
    """The Translator the arguments ask for, for faces with `source` attributes; prints the backend picked and why."""
    from .default_model import default_model_path
    from .faces import PasteBack
    from .translator import Translator

    model = Path(args.model) if args.model else default_model_path()
    opts = {"threads": args.threads} if args.threads else {}
    every = getattr(args, "detect_every", 1)
    tr = Translator(model, backend=args.backend, detector=args.detector, source=source, detect_every=every,
                    paste=PasteBack(reference=args.paste_reference), **opts)
    print(f"backend: {tr.describe()}", file=sys.stderr)
    print(f"  why: {getattr(tr.runner, 'reason', 'chosen by the caller')}", file=sys.stderr)
    return tr


def _slug(target: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", target.replace(",", "_")).strip("_")[:80]


# --- translate --------------------------------------------------------------------------------------------


def register_translate(sub: Sub) -> None:
    p = sub.add_parser(
        "translate", help="translate the faces in images to target attributes (or every domain with --grid)",
        description="Translate images. By default (--detector auto) the faces in each image are found, translated "
        "and pasted back into the full-resolution image; an image that is already a face crop in the training "
        "framing (CelebA-aligned 178x218, a model-sized crop) is recognised as one. With --detector none every "
        "image is taken as such a crop and the output is the model's own model-sized face (as the paper's test).",
    )
    p.add_argument("images", nargs="+", help="image files or folders of images")
    p.add_argument("--target", "-t", metavar=ATTRS, help="e.g. 'Blond_Hair', '+Male,-Young', 'Smiling=0.6'")
    p.add_argument("--grid", action="store_true", help="every domain at once, one row per image (the paper's Figure 2)")
    p.add_argument("-o", "--output", default="translated", help="output folder (default: ./translated)")
    _model_args(p, detector="auto")
    p.set_defaults(func=run_translate)


def _image_paths(items: list[str]) -> list[Path]:
    from .errors import BadInput
    from .stream.sources import IMAGE_SUFFIXES

    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise BadInput(f"{p}: no images in this folder")
            paths += found
        else:
            paths.append(p)  # read_image reports a missing or unreadable file
    return paths


def _output_names(paths: list[Path], suffix: str) -> list[str]:
    """One output name per input: STEM_SUFFIX.png, with the parent folder's name added where stems repeat."""
    stems = [p.stem for p in paths]
    names = [f"{p.parent.name}_{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    for i, n in enumerate(names):  # still equal (a/x/f.jpg, b/x/f.jpg): number them
        if names.count(n) > 1:
            names[i] = f"{n}_{names[: i + 1].count(n)}"
    return [f"{n}_{suffix}.png" for n in names]


def _faces_of(tr: Any, img: np.ndarray, auto: bool) -> tuple[list[Any], str]:
    """The regions to translate in an image and how they were found (for the report line)."""
    from .faces import framed_like_training, whole_frame_region

    tr.reset()  # stills are unrelated: no tracking across them
    if tr.detector.framing is None:
        return tr.regions(img), "a face crop (--detector none)"
    regions = tr.regions(img)
    pre = tr.meta.preprocess
    if auto and len(regions) == 1 and framed_like_training(regions[0], img.shape, pre):
        return [whole_frame_region(img.shape, pre)], "a face crop in the training framing"
    if auto and not regions and min(img.shape[:2]) <= 2 * tr.size:
        return [whole_frame_region(img.shape, pre)], "no face found; small, so taken as a face crop"
    return regions, f"{len(regions)} face{'s' if len(regions) != 1 else ''} found"


def run_translate(args: argparse.Namespace) -> int:
    from .attr_list import attrs_by_image, is_attr_list, not_listed
    from .errors import BadInput, ItemFailures
    from .faces import extract
    from .images import read_image, write_image
    from .outputs import check_folder, refuse_overwriting_inputs
    from .stream.sources import IMAGE_SUFFIXES

    if not args.grid and not args.target:
        raise BadInput("give --target ATTRS (e.g. Blond_Hair,-Young) or --grid")
    paths = _image_paths(args.images)
    out_dir = check_folder(args.output)
    if out_dir.suffix.lower() in IMAGE_SUFFIXES and not out_dir.is_dir():
        raise BadInput(f"-o {out_dir}: translate writes into a folder (a grid as FOLDER/grid.png); give a folder name")
    names = ["grid.png"] if args.grid else _output_names(paths, _slug(args.target))
    refuse_overwriting_inputs(paths, [out_dir / n for n in names])
    failures = ItemFailures("translate", len(paths))  # one bad image is reported; the others are still translated
    images = {}
    for path in paths:
        try:
            images[path] = read_image(path)
        except BadInput as exc:
            failures.add(path, exc)
    if not images:
        failures.check()
    auto = args.detector.strip().lower() == "auto"
    if auto:
        args.detector = "haar"
    attr_list = args.source_attrs if is_attr_list(args.source_attrs) else None  # else one set for all images
    with _translator(args, None if attr_list else args.source_attrs) as tr:
        if args.target:
            tr.label(args.target)  # an unknown or contradictory attribute fails before anything is written
        sources: dict[Path, Any] = {path: None for path in images}  # None: the translator's --source-attrs
        if attr_list is not None:
            listed = attrs_by_image(Path(attr_list), tr.labels.names)
            for path in list(images):
                if path.name in listed:
                    sources[path] = listed[path.name]
                else:
                    failures.add(path, not_listed(attr_list))
                    del images[path]
        if args.grid:
            faces, face_sources = [], []
            for path, img in images.items():
                regions, how = _faces_of(tr, img, auto)
                if regions:
                    faces.append(extract(img, regions[0], tr.size))
                    face_sources.append(sources[path])
                else:
                    failures.add(path, "no face found (try --detector none if it is a face crop)")
            if faces:
                grid, _ = tr.grid(faces, face_sources)
                write_image(out_dir / names[0], grid)
                print(out_dir / names[0])
            failures.check()
            return 0
        todo = [(path, image, name) for path, name in zip(paths, names) if (image := images.get(path)) is not None]
        if tr.detector.framing is None:  # the model's own output for each crop, batched
            for i in range(0, len(todo), 16):
                chunk = todo[i : i + 16]
                outs = tr.translate_images([img for _, img, _ in chunk], args.target, [sources[p] for p, _, _ in chunk])
                for (path, _, name), out in zip(chunk, outs):
                    write_image(out_dir / name, out)
                    print(f"{path}: a face crop (--detector none) -> {out_dir / name}")
            failures.check()
            return 0
        for path, img, name in todo:
            regions, how = _faces_of(tr, img, auto)
            if not regions:
                failures.add(path, "no face found, nothing written (--detector none if it is a face crop)")
                continue
            out, _ = tr.translate_frame(img, args.target, regions=regions, source=sources[path])
            write_image(out_dir / name, out)
            print(f"{path}: {how} -> {out_dir / name}")
        failures.check()
        return 0


# --- video and webcam -------------------------------------------------------------------------------------


def _stream_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", "-t", required=True, metavar=ATTRS, help="e.g. 'Blond_Hair', '+Male,-Young', 'Smiling=0.6'")
    p.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    p.add_argument("--overlay", action="store_true", help="draw FPS, latency and the target on the output frames")
    p.add_argument("--stats-json", metavar="PATH", help="also write the run's timings as JSON")
    p.add_argument(
        "--overlap", action=argparse.BooleanOptionalAction, default=None,
        help="detect faces in the next frame while this one is translated (default: yes, except on a CPU with the "
        "model paste reference, where both already fill the cores)",
    )
    p.add_argument(
        "--detect-every", type=positive_int, default=1, metavar="N",
        help="run the face detector on every Nth frame and follow the tracked faces in between (default 1)",
    )


def register_video(sub: Sub) -> None:
    p = sub.add_parser(
        "video", help="translate the faces of a video (file, folder of frames or stream URL) into a video or folder",
        description="Every frame of a file is processed (none dropped) unless --realtime, which plays the file at its "
        "own frame rate like a camera and drops the frames the pipeline cannot keep up with.",
    )
    p.add_argument("input", help="video file, image folder, rtsp:// or http:// URL")
    p.add_argument("output", help="video file (.mp4, .avi, .mkv, .mov) or folder for PNG frames")
    p.add_argument("--realtime", action="store_true", help="pace the input at its frame rate and drop late frames")
    _stream_args(p)
    _model_args(p, detector="haar")
    p.set_defaults(func=run_video)


def register_webcam(sub: Sub) -> None:
    from .stream.controls import HELP

    p = sub.add_parser(
        "webcam", help="live translation from a camera (or URL) to a window, a file or a virtual camera",
        description=f"Live translation. Only the newest camera frame is processed, so latency stays bounded. {HELP}.",
    )
    p.add_argument("--source", "-s", default="0", help="camera index (default 0), rtsp:// or http:// URL, or a file")
    p.add_argument("-o", "--output", help="also record to a video file or folder")
    p.add_argument("--virtual-cam", action="store_true", help="send the result to a virtual camera (pyvirtualcam)")
    p.add_argument("--no-window", action="store_true", help="do not open a window")
    p.add_argument("--duration", type=positive_float, help="stop after this many seconds")
    _stream_args(p)
    _model_args(p, detector="haar")
    p.set_defaults(func=run_webcam)


def _run_pipeline(args: argparse.Namespace, source_spec: str, realtime: bool, sink_specs: list[str], overlay: bool,
                  progress: bool, duration: float | None = None) -> int:
    from .attr_list import is_attr_list
    from .errors import BadInput
    from .outputs import check_file, refuse_overwriting_inputs
    from .stream import Controls, TeeSink, check_sink, open_sink, open_source, run_stream

    for spec in sink_specs:  # where the results go, checked before the model loads
        check_sink(spec, source_spec)
    if args.stats_json:
        check_file(args.stats_json, "--stats-json")
        refuse_overwriting_inputs([source_spec, *sink_specs], [args.stats_json])
    if is_attr_list(args.source_attrs):
        raise BadInput(f"--source-attrs {args.source_attrs}: a list of each image's attributes is for `stargan-rt "
                       "translate`; here give the attributes the faces have, e.g. Black_Hair,Young")
    with _translator(args, args.source_attrs) as tr:
        controls = Controls(tr.labels, args.target, tr.source)  # unknown attributes fail before the camera opens
        source = open_source(source_spec, realtime=realtime)
        try:
            sinks = [open_sink(s, source.fps) for s in sink_specs]
            sink = sinks[0] if len(sinks) == 1 else TeeSink(sinks)
            bar = None
            if progress:
                from tqdm import tqdm

                total = min(filter(None, (source.total, args.max_frames)), default=None)
                bar = tqdm(total=total, unit="frame", desc="translating", disable=None)
            stop = threading.Event()
            timer = threading.Timer(duration, stop.set) if duration else None
            if timer:
                timer.start()
            try:
                report = run_stream(
                    source, tr, sink, controls, max_frames=args.max_frames, overlay=overlay, stop=stop,
                    on_frame=(lambda n: bar.update(1)) if bar is not None else None, overlap=args.overlap,
                )
            finally:
                if timer:
                    timer.cancel()
                if bar is not None:
                    bar.close()
        finally:
            source.close()
    for why in report.skipped:
        print(f"stargan-rt {getattr(args, 'command', 'video')}: skipped {why}", file=sys.stderr)
    print(report.text())
    if args.stats_json:
        from .atomic import atomic_write_text

        atomic_write_text(args.stats_json, json.dumps(report.to_dict(), indent=2) + "\n")
    if not report.processed:
        raise BadInput(f"{source.name}: no frame came out (the source gave {report.captured})")
    if report.skipped:
        raise BadInput(f"{len(report.skipped)} of {report.captured + len(report.skipped)} input frames were left out "
                       f"(each named above); the others were written to {report.sink}")
    return 0


def run_video(args: argparse.Namespace) -> int:
    return _run_pipeline(args, args.input, args.realtime, [args.output], overlay=args.overlay, progress=True)


def run_webcam(args: argparse.Namespace) -> int:
    from .errors import BadInput, MissingDependency
    from .stream import gui_problem

    sinks = [args.output] if args.output else []
    if args.virtual_cam:
        sinks.append("virtualcam")
    if not args.no_window:
        problem = gui_problem()
        if problem is None:
            sinks.insert(0, "window")
        elif sinks:
            print(f"stargan-rt webcam: no window ({problem.split(':')[0]}); writing to {', '.join(sinks)}", file=sys.stderr)
        else:
            raise MissingDependency(problem)
    if not sinks:
        raise BadInput("--no-window leaves nowhere to send frames: add -o FILE or --virtual-cam")
    overlay = args.overlay or "window" in sinks
    # A file given as --source plays at its own frame rate, like a camera (latest-frame policy, drops counted).
    return _run_pipeline(args, args.source, True, sinks, overlay=overlay, progress=False, duration=args.duration)
