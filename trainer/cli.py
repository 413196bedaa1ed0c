"""`stargan-rt train`, `stargan-rt sample` and `stargan-rt import-official`.

Registering these commands imports no torch: the heavy modules are imported when a command runs.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from stargan_rt.argtypes import positive_int

from .config import CELEBA_DEFAULT_ATTRS, add_arguments, from_args

Subparsers = Any  # argparse._SubParsersAction


def register_train(sub: Subparsers) -> None:
    p = sub.add_parser(
        "train", help="train a StarGAN generator on CelebA, RaFD or CSV-labelled images",
        description="Train StarGAN (official defaults). Writes OUT/bundle (the model), OUT/samples/*.png, "
                    "OUT/checkpoint (for --resume) and OUT/metrics.jsonl. Several GPUs: "
                    "torchrun --standalone --nproc-per-node N -m stargan_rt.cli train ...",
    )
    add_arguments(p)
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from stargan_rt._optional import require

    require("torch", "training")
    from .checkpoint import read_config
    from .train import train

    base = None
    if getattr(args, "resume", False):
        base, _ = read_config(getattr(args, "out", None) or from_args(argparse.Namespace()).out)
    cfg = from_args(args, base)
    summary = train(cfg, command=["stargan-rt", "train", *_given_options(args)])
    if int(os.environ.get("RANK", 0)) == 0:
        skipped = f", {summary['skipped_images']} unreadable images skipped" if summary["skipped_images"] else ""
        print(f"trained to iteration {summary['iteration']} in {summary['minutes']:.1f} min ({summary['stopped']}){skipped}; "
              f"bundle: {summary['bundle']}, sample grids: {summary['samples']}")
    return 0


def _given_options(args: argparse.Namespace) -> list[str]:
    """The options given on the command line, as a reproducible argument list."""
    words = []
    for name, value in vars(args).items():
        if name in ("func", "command"):
            continue
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{name.replace('_', '-')}")
        elif isinstance(value, (list, tuple)):
            words += [flag, *map(str, value)]
        else:
            words += [flag, "none" if value is None else str(value)]
    return [shlex.quote(w) for w in words]


def register_sample(sub: Subparsers) -> None:
    p = sub.add_parser("sample", help="translation grids from a bundle: input + one column per domain",
                       description="One row per image: the input, then its translation into every domain "
                                   "(hair colours set, other attributes flipped, expressions set), like the "
                                   "paper's Figure 2.")
    p.add_argument("bundle", help="model bundle folder (from train or import-official)")
    p.add_argument("images", nargs="+", help="face images or folders of them")
    p.add_argument("-o", "--output", required=True, help="grid image to write (.png, .jpg)")
    p.add_argument("--source", default="", help="attributes the input faces have, e.g. Black_Hair,Young, or a "
                                                 "CelebA-format list (list_attr_celeba.txt) giving each image's "
                                                 "(default: none; decides which way attributes flip)")
    p.add_argument("--max-images", type=positive_int, default=16, help="rows at most (default: 16)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
    p.set_defaults(func=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from stargan_rt._optional import require

    require("torch", "sampling")
    from stargan_rt.attr_list import attrs_by_image, is_attr_list, not_listed
    from stargan_rt.bundle import load_meta
    from stargan_rt.errors import BadInput, ItemFailures
    from stargan_rt.images import check_image_path, crop_resize, read_image, write_image
    from stargan_rt.outputs import check_file, refuse_overwriting_inputs
    from stargan_rt.torch_model import load_generator

    from .sampling import collect_images, translation_grid
    from .train import pick_device

    check_image_path(check_file(args.output))  # before any work: a place and an extension OpenCV can write
    load_meta(args.bundle)
    paths = collect_images(args.images, args.max_images)
    refuse_overwriting_inputs(paths, [args.output])
    device = pick_device(args.device)
    g, meta = load_generator(args.bundle, device)
    listed = attrs_by_image(Path(args.source), list(meta.domain_names)) if is_attr_list(args.source) else None
    source = [s.strip() for s in args.source.split(",") if s.strip()] if listed is None else None
    failures = ItemFailures("sample", len(paths))  # a bad image is named and left out; the grid has the others
    crops, sources = [], []
    for path in paths:
        if listed is not None and path.name not in listed:
            failures.add(path, not_listed(args.source))
            continue
        try:
            crops.append(crop_resize(read_image(path), meta.preprocess, meta.architecture.image_size))
            sources.append(listed[path.name] if listed is not None else source)
        except BadInput as exc:
            failures.add(path, exc)
    if crops:
        grid = translation_grid(g, meta, crops, sources, device)
        write_image(args.output, grid)
        print(f"wrote {args.output}: {len(crops)} images x {len(meta.domain_names)} domains")
    failures.check()
    return 0


def register_import_official(sub: Subparsers) -> None:
    p = sub.add_parser("import-official", help="turn an official StarGAN *-G.ckpt into a model bundle",
                       description="Reads the checkpoint with torch.load(weights_only=True), checks that it "
                                   "fits the official generator strictly and writes a bundle.")
    p.add_argument("ckpt", help="official generator checkpoint, e.g. 200000-G.ckpt")
    p.add_argument("--attrs", default=",".join(CELEBA_DEFAULT_ATTRS),
                   help="CelebA attributes the model was trained on, in order (default: %(default)s)")
    p.add_argument("--image-size", type=positive_int, default=128, help="resolution it was trained at (default: 128)")
    p.add_argument("--dataset", choices=("celeba", "rafd", "both"), default="celeba",
                   help="celeba, rafd, or both (joint model with the mask vector) (default: celeba)")
    p.add_argument("-o", "--out", required=True, help="bundle folder to write")
    p.set_defaults(func=run_import_official)


def run_import_official(args: argparse.Namespace) -> int:
    from stargan_rt._optional import require

    require("torch", "import-official")
    from .official import import_official

    from stargan_rt.atomic import check_replaceable
    from stargan_rt.bundle import BUNDLE_ENTRIES
    from stargan_rt.outputs import check_folder

    check_replaceable(check_folder(args.out), BUNDLE_ENTRIES)  # before any work: never over a folder of other files
    attrs = [a.strip() for a in args.attrs.split(",") if a.strip()]
    command = " ".join(["stargan-rt", "import-official", shlex.quote(args.ckpt), "--attrs", ",".join(attrs),
                        "--image-size", str(args.image_size), "--dataset", args.dataset, "-o", shlex.quote(args.out)])
    path = import_official(args.ckpt, args.out, attrs, args.image_size, args.dataset, command=command)
    print(f"wrote bundle {path}")
    return 0
