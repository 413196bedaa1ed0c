"""`stargan-rt synth`: write SynthFaces datasets (CelebA and RaFD formats), a synthetic video, or a preview sheet."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..argtypes import non_negative_int, positive_float, positive_int
from ..errors import BadInput

KINDS = ("celeba", "rafd", "video", "preview")


def parse_size(text: str) -> tuple[int, int]:
    """"178x218" -> (178, 218); a single number gives a square."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8 or max(parts) > 4096:
        raise BadInput(f"--size {text!r}: give WIDTHxHEIGHT, e.g. 178x218 (8 to 4096 pixels a side)")
    return parts[0], parts[1]


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser(
        "synth", help="render SynthFaces: CelebA/RaFD-format datasets, a synthetic video, a preview sheet",
        description="Render SynthFaces, procedural faces whose every image can be re-rendered in any domain. "
        "celeba: DIR/images + list_attr_celeba.txt; rafd: one folder per expression; both also write "
        "DIR/synthfaces.json (identity and attributes of every image, for `stargan-rt eval`). "
        "The CelebA-like and RaFD-like sets use disjoint people.",
    )
    p.add_argument("kind", choices=KINDS, help="what to write")
    p.add_argument("-o", "--out", required=True, help="output folder (celeba, rafd), .mp4/.avi file (video) or .png (preview)")
    p.add_argument("-n", type=positive_int, default=None, help="images (celeba default 1000, rafd default 800) or preview rows (6)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="which people and attributes (default 0)")
    p.add_argument("--size", default=None, help="WIDTHxHEIGHT (celeba 178x218, rafd 256x256, video 640x480)")
    p.add_argument("--format", default="jpg", choices=("jpg", "png"), help="image files of datasets (default jpg)")
    p.add_argument("--workers", type=non_negative_int, default=0, help="rendering processes (default: all CPU cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing SynthFaces dataset in --out")
    p.add_argument("--seconds", type=positive_float, default=6.0, help="video length (default 6)")
    p.add_argument("--fps", type=positive_float, default=25.0, help="video frame rate (default 25)")
    p.add_argument("--faces", type=positive_int, default=1, help="people in the video (1-4, default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..images import check_image_path
    from ..outputs import check_file, check_folder

    workers = args.workers or os.cpu_count() or 1
    if args.kind in ("celeba", "rafd"):  # where the result goes, checked before any rendering
        check_folder(args.out)
    elif args.kind == "video":
        from .video import CODECS

        check_file(args.out, suffixes=CODECS)
    else:
        check_image_path(check_file(args.out))
    if args.kind in ("celeba", "rafd"):
        from .datasets import write_celeba, write_rafd
        from .render import CELEBA_SIZE, RAFD_SIZE

        write = write_celeba if args.kind == "celeba" else write_rafd
        size = parse_size(args.size) if args.size else (CELEBA_SIZE if args.kind == "celeba" else RAFD_SIZE)
        n = args.n if args.n is not None else (1000 if args.kind == "celeba" else 800)
        rate = write(args.out, n, seed=args.seed, size=size, ext=args.format, workers=workers,
                     overwrite=args.overwrite, progress=not args.quiet)
        print(f"wrote {n} {args.kind}-format images to {args.out} ({rate:.0f} images/s with {workers} workers)")
    elif args.kind == "video":
        from .video import write_video

        info = write_video(args.out, seconds=args.seconds, size=parse_size(args.size or "640x480"), fps=args.fps,
                           faces=args.faces, seed=args.seed, progress=not args.quiet)
        print(f"wrote {info['frames']} frames ({info['codec']}) to {args.out} and face boxes to {args.out}.json")
    else:
        from .preview import write_preview

        rows = args.n if args.n is not None else 6
        write_preview(Path(args.out), rows=rows, seed=args.seed, size=parse_size(args.size or "178x218"))
        print(f"wrote a {rows}-person preview to {args.out}")
    return 0
