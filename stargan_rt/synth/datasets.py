"""Write SynthFaces datasets in the real on-disk formats, with the identity of every image for evaluation.

CelebA format:  DIR/images/000001.jpg ...  DIR/list_attr_celeba.txt (count, the 40 names, one row per image)
RaFD format:    DIR/<expression>/<person>_<expression>.jpg, one folder per expression; each person in all 8
Both:           DIR/synthfaces.json: renderer version, options, and per image its identity seed and attributes.

Identities of the two formats come from different ranges (`identity_seed`), so a model trained jointly on
both has never seen a CelebA-like person with an expression: the cross-dataset case is measurable.
Images are rendered in parallel processes; every image depends only on (seed, index), so the result is the
same for any number of workers.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from ..atomic import atomic_directory
from ..errors import BadInput
from .attributes import CELEBA_ATTRIBUTES, EXPRESSIONS, Attributes, sample_attributes
from .batch import parallel_map
from .identity import identity_seed, make_identity
from .render import CELEBA_SIZE, RAFD_SIZE, RENDERER_VERSION, render

INFO_FILE = "synthfaces.json"
FORMAT = "synthfaces-dataset"
IMAGE_FORMATS = ("jpg", "png")


@dataclass(frozen=True)
class Item:
    """One image to write: its path inside the dataset, who, and what they show."""

    file: str
    identity: int
    attrs: Attributes


@dataclass(frozen=True)
class Record:
    """One image of a written dataset, as read back from synthfaces.json."""

    file: Path
    identity: int
    attrs: Attributes


def celeba_items(n: int, seed: int = 0, ext: str = "jpg") -> list[Item]:
    """n CelebA-like images, one person each, attributes drawn with the CelebA-like marginals."""
    return [Item(f"images/{i + 1:06d}.{ext}", identity_seed("celeba", seed, i),
                 sample_attributes(np.random.default_rng([seed, i]), "celeba")) for i in range(n)]


def rafd_items(n: int, seed: int = 0, ext: str = "jpg") -> list[Item]:
    """n RaFD-like images: people shown in each of the 8 expressions in turn (as RaFD photographs them)."""
    items = []
    for i in range(n):
        person, k = divmod(i, len(EXPRESSIONS))
        expr = EXPRESSIONS[k]
        base = sample_attributes(np.random.default_rng([seed, person]), "rafd")
        items.append(Item(f"{expr}/{person:05d}_{expr}.{ext}", identity_seed("rafd", seed, person), base.set(expr)))
    return items


def _render_one(job: tuple[str, Item, tuple[int, int], int]) -> dict[str, Any]:
    root, item, size, quality = job
    img = render(item.identity, item.attrs, size)
    path = os.path.join(root, item.file)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if item.file.endswith(".jpg") else []
    ok, encoded = cv2.imencode(os.path.splitext(path)[1], img, params)
    if not ok:
        raise BadInput(f"cannot encode {path}")
    with open(path, "wb") as f:  # not cv2.imwrite: a full disk must raise its OSError (errno), not return False
        f.write(encoded.tobytes())
    return _record(item)


def render_items(root: Path, items: Sequence[Item], size: tuple[int, int], workers: int, quality: int = 95,
                 progress: bool = True) -> tuple[list[dict[str, Any]], float]:
    """Render and write every item under root; returns their metadata records and the images per second."""
    for d in {os.path.dirname(it.file) for it in items}:
        (root / d).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    records = list(parallel_map(_render_one, [(str(root), it, size, quality) for it in items], workers, progress))
    return records, len(items) / max(time.perf_counter() - start, 1e-9)


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not (out / INFO_FILE).is_file():
            raise BadInput(f"{out} exists and is not a SynthFaces dataset: refusing to replace it (choose another -o)")
        if not overwrite:
            raise BadInput(f"{out} already holds a SynthFaces dataset; pass --overwrite to replace it")


def _record(it: Item) -> dict[str, Any]:
    style = make_identity(it.identity).hairstyle(it.attrs.male)
    return {"file": it.file, "identity": it.identity, "attributes": asdict(it.attrs), "bangs": style.bangs,
            "wavy": style.wave > 0}


def _info(kind: str, records: list[dict[str, Any]], seed: int, size: tuple[int, int]) -> dict[str, Any]:
    return {"format": FORMAT, "renderer_version": RENDERER_VERSION, "kind": kind, "seed": seed, "size": list(size),
            "count": len(records), "images": records}


def write_celeba(out: str | Path, n: int, seed: int = 0, size: tuple[int, int] = CELEBA_SIZE, ext: str = "jpg",
                 workers: int = 1, overwrite: bool = False, progress: bool = True) -> float:
    """A CelebA-format dataset of n images in `out` (written atomically). Returns images per second."""
    out = Path(out)
    _check(n, ext)
    _check_target(out, overwrite)
    items = celeba_items(n, seed, ext)
    with atomic_directory(out, replaces=("images", "list_attr_celeba.txt", INFO_FILE)) as tmp:
        records, rate = render_items(tmp, items, size, workers, progress=progress)
        rows = [f"{Path(it.file).name} " + " ".join(f"{v:2d}" for v in it.attrs.celeba_row(bangs=r["bangs"], wavy=r["wavy"]))
                for it, r in zip(items, records)]
        (tmp / "list_attr_celeba.txt").write_text("\n".join([str(n), " ".join(CELEBA_ATTRIBUTES), *rows]) + "\n")
        (tmp / INFO_FILE).write_text(json.dumps(_info("celeba", records, seed, size), indent=1) + "\n")
    return rate


def write_rafd(out: str | Path, n: int, seed: int = 0, size: tuple[int, int] = RAFD_SIZE, ext: str = "jpg",
               workers: int = 1, overwrite: bool = False, progress: bool = True) -> float:
    """A RaFD-format dataset of n images (n/8 people in 8 expressions) in `out`. Returns images per second."""
    out = Path(out)
    _check(n, ext)
    _check_target(out, overwrite)
    items = rafd_items(n, seed, ext)
    with atomic_directory(out, replaces=(*EXPRESSIONS, INFO_FILE)) as tmp:
        for e in EXPRESSIONS:  # every class folder exists, as in RaFD, even for tiny n
            (tmp / e).mkdir()
        records, rate = render_items(tmp, items, size, workers, progress=progress)
        (tmp / INFO_FILE).write_text(json.dumps(_info("rafd", records, seed, size), indent=1) + "\n")
    return rate


def _check(n: int, ext: str) -> None:
    if n < 1:
        raise BadInput(f"-n {n}: a dataset needs at least one image")
    if ext not in IMAGE_FORMATS:
        raise BadInput(f"image format {ext!r}: use one of {', '.join(IMAGE_FORMATS)}")


def read_records(root: str | Path) -> tuple[dict[str, Any], list[Record]]:
    """The info and per-image records of a SynthFaces dataset folder (BadInput when it is not one)."""
    root = Path(root)
    path = root / INFO_FILE
    if not path.is_file():
        raise BadInput(f"{root}: not a SynthFaces dataset (no {INFO_FILE}); make one with `stargan-rt synth celeba`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if info.get("format") != FORMAT:
            raise ValueError(f"format is {info.get('format')!r}")
        records = [Record(root / r["file"], int(r["identity"]), Attributes(**r["attributes"])) for r in info["images"]]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise BadInput(f"{path}: unreadable SynthFaces metadata ({exc})") from None
    if info.get("renderer_version") != RENDERER_VERSION:
        print(f"warning: {root} was rendered by SynthFaces renderer v{info.get('renderer_version')}, this is "
              f"v{RENDERER_VERSION}: ground-truth renders will differ from its images")
    return info, records


def iter_sample(records: Sequence[Record], n: int | None) -> Iterator[Record]:
    """Up to n records spread over the dataset (all when n is None)."""
    if n is None or n >= len(records):
        yield from records
        return
    for i in np.linspace(0, len(records) - 1, n).astype(int):
        yield records[int(i)]
