"""Training data: CelebA, RaFD and custom-CSV datasets, read with OpenCV and preprocessed by stargan_rt.images.

Every dataset becomes a `FaceDataset`: image paths, a float label matrix and the `DomainSet` describing the
labels. Problems a user can fix (missing folder, unknown attribute, empty dataset) raise BadInput when the
dataset is built, before training starts. An image that turns out unreadable during training is replaced by
the next readable one and reported in the batch, so the loop can warn and count it.

Data order is a pure function of (seed, iteration, rank) (`IterationSampler`), so a resumed run sees the same
batches as an uninterrupted one, and torchrun processes see disjoint samples.
"""

from __future__ import annotations

import csv
import difflib
import functools
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from stargan_rt.attr_list import is_label, read_attr_list
from stargan_rt.bundle import DomainSet, Preprocess
from stargan_rt.errors import BadInput
from stargan_rt.images import crop_resize, to_tensor, try_read_image
from stargan_rt.labels import exclusive_groups

from .config import CELEBA_DEFAULT_ATTRS, TrainConfig

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
FORMATS = ("celeba", "rafd", "custom")
CELEBA_ATTR_FILE = "list_attr_celeba.txt"
CELEBA_IMAGE_DIRS = ("images", "img_align_celeba", "Img/img_align_celeba")
MAX_CONSECUTIVE_BAD = 50  # unreadable images tolerated in a row before the dataset is declared unusable


@dataclass
class FaceDataset(Dataset):
    """Images with labels. Items are keyed by (index, flip) and come back as (image, label, skipped paths)."""

    domains: DomainSet
    paths: list[Path]
    labels: np.ndarray  # (N, len(domains)) float32, 0/1
    preprocess: Preprocess
    image_size: int
    source: str  # where it came from, for provenance
    _cache: np.ndarray | None = None  # (N, S, S, 3) uint8 crops, from cache_in_memory()
    _readable: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> np.ndarray | None:
        """The cropped, resized BGR image i, or None when it cannot be read."""
        if self._cache is not None:
            assert self._readable is not None
            return self._cache[i] if self._readable[i] else None
        img = try_read_image(self.paths[i])  # a truncated JPEG is unreadable too, not half grey
        return None if img is None else crop_resize(img, self.preprocess, self.image_size)

    def _first_readable(self, index: int) -> tuple[int, np.ndarray, list[str]]:
        """Image `index`, or the next readable one after it; with the paths of those that could not be read."""
        skipped: list[str] = []
        for k in range(min(len(self), MAX_CONSECUTIVE_BAD)):
            i = (index + k) % len(self)
            img = self.load(i)
            if img is not None:
                return i, img, skipped
            skipped.append(str(self.paths[i]))
        raise BadInput(f"{self.source}: {len(skipped)} images in a row are unreadable (from {skipped[0]})")

    def __getitems__(self, keys: Sequence[tuple[int, bool]]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """A whole batch (the DataLoader calls this when it exists): one vectorised to_tensor for all images."""
        crops, labels, skipped = [], [], []
        for index, flip in keys:
            i, img, bad = self._first_readable(index)
            crops.append(img[:, ::-1] if flip else img)
            labels.append(self.labels[i])
            skipped += bad
        x = torch.from_numpy(to_tensor(np.stack(crops), self.preprocess))
        return x, torch.from_numpy(np.stack(labels)), skipped

    def __getitem__(self, key: tuple[int, bool]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        x, label, skipped = self.__getitems__([key])
        return x[0], label[0], skipped

    def cache_in_memory(self) -> None:
        """Decode and crop every image once (OpenCV releases the GIL, so threads help)."""
        s, threads = self.image_size, min(32, os.cpu_count() or 1)
        cache = np.zeros((len(self), s, s, 3), np.uint8)
        readable = np.zeros(len(self), bool)

        def fill(i: int) -> None:
            img = try_read_image(self.paths[i])
            if img is not None:
                cache[i] = crop_resize(img, self.preprocess, s)
                readable[i] = True

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fill, range(len(self))))
        self._cache, self._readable = cache, readable

    def fixed_samples(self, n: int) -> tuple[list[np.ndarray], list[dict[str, float]]]:
        """The first n readable images (spread over the dataset) and their labels, for sample grids."""
        crops, sources = [], []
        for i in np.linspace(0, len(self) - 1, num=min(len(self), 4 * n), dtype=int):
            img = self.load(int(i))
            if img is not None:
                crops.append(np.ascontiguousarray(img))
                sources.append({d: float(v) for d, v in zip(self.domains.domains, self.labels[i])})
            if len(crops) == n:
                break
        return crops, sources


def collate(batch: Any) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """FaceDataset.__getitems__ already returns the batch; a list of single items (plain indexing) is stacked."""
    if isinstance(batch, tuple):
        return batch
    xs, cs, skipped = zip(*batch)
    return torch.stack(xs), torch.stack(cs), [p for s in skipped for p in s]


class IterationSampler(Sampler[list[tuple[int, bool]]]):
    """Infinite batches whose content depends only on (seed, iteration, rank).

    The data is shuffled once per epoch (a seeded permutation); iteration i of rank r takes the next
    `batch_size` positions of the global stream after those of earlier iterations and lower ranks
    (what DistributedSampler does, but resumable at any iteration). Flips are drawn per (iteration, rank).
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_iter: int = 0, rank: int = 0, world: int = 1,
                 flip: bool = True):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start_iter, self.rank, self.world, self.flip = start_iter, rank, world, flip

    @functools.lru_cache(maxsize=2)
    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def batch(self, iteration: int) -> list[tuple[int, bool]]:
        first = (iteration * self.world + self.rank) * self.batch_size
        flips = np.random.default_rng([self.seed, iteration, self.rank, 1]).random(self.batch_size) < 0.5
        out = []
        for j, pos in enumerate(range(first, first + self.batch_size)):
            epoch, k = divmod(pos, self.n)
            out.append((int(self._permutation(epoch)[k]), bool(flips[j] and self.flip)))
        return out

    def __iter__(self) -> Iterator[list[tuple[int, bool]]]:
        i = self.start_iter
        while True:
            yield self.batch(i)
            i += 1


def _worker_init(_: int) -> None:
    cv2.setNumThreads(1)  # the loader's processes are the parallelism; OpenCV threads would oversubscribe


def make_loader(ds: FaceDataset, cfg: TrainConfig, start_iter: int, rank: int, world: int, pin_memory: bool) -> DataLoader:
    sampler = IterationSampler(len(ds), cfg.batch_size, cfg.seed, start_iter, rank, world)
    # Its own generator: creating the loader must not draw from the global RNG that training uses.
    return DataLoader(ds, batch_sampler=sampler, num_workers=cfg.workers, collate_fn=collate, pin_memory=pin_memory,
                      worker_init_fn=_worker_init, persistent_workers=cfg.workers > 0,
                      prefetch_factor=4 if cfg.workers > 0 else None, generator=torch.Generator().manual_seed(cfg.seed))


class DeviceBatches:
    """The loader's batches, cut on the training device from the decoded dataset kept there (--data-on-device).

    Same order and flips (IterationSampler), unreadable images replaced the same way, and the same pixel values
    bit for bit: bytes become model inputs through a table that `to_tensor` itself computes for all 256 values.
    Per step only the indices and flips travel to the device.
    """

    def __init__(self, ds: FaceDataset, cfg: TrainConfig, start_iter: int, rank: int, world: int,
                 device: torch.device):
        if ds._cache is None:
            ds.cache_in_memory()
        assert ds._cache is not None and ds._readable is not None
        self.ds, self.device = ds, device
        self.sampler = IterationSampler(len(ds), cfg.batch_size, cfg.seed, start_iter, rank, world)
        self.images = torch.from_numpy(ds._cache).to(device)  # (N, S, S, 3) uint8 BGR
        self.labels = torch.from_numpy(ds.labels).to(device)
        # to_tensor of a 1 x 256 picture whose three channels all hold byte v at column v: table[c, v] is what
        # byte v of the source channel feeding model channel c becomes
        ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)[None]
        self.table = torch.from_numpy(to_tensor(ramp, ds.preprocess)[0, :, 0, :].reshape(-1).copy()).to(device)
        self.offsets = (torch.arange(3, device=device) * 256).view(1, 3, 1, 1)
        self.rgb = ds.preprocess.channel_order == "RGB"

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        readable = self.ds._readable
        assert readable is not None
        index, flips, skipped = [], [], []
        for i, flip in self.sampler.batch(iteration):
            if not readable[i]:
                i, _, bad = self.ds._first_readable(i)
                skipped += bad
            index.append(i)
            flips.append(flip)
        idx = torch.tensor(index, device=self.device)
        x = self.images[idx]
        x = torch.where(torch.tensor(flips, device=self.device)[:, None, None, None], x.flip(2), x)
        x = (x.flip(3) if self.rgb else x).permute(0, 3, 1, 2)  # BGR -> the model's channel order, NCHW
        return self.table[x.long() + self.offsets], self.labels[idx], skipped

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[str]]]:
        i = self.sampler.start_iter
        while True:
            yield self.batch(i)
            i += 1


# --- reading the on-disk formats -------------------------------------------------------------------------


def load_dataset(spec: str, cfg: TrainConfig, split: str = "train") -> FaceDataset:
    """A dataset from "[FORMAT:]PATH"; the format is detected from the files when not given."""
    fmt, path = parse_spec(spec)
    if not path.exists():
        raise BadInput(f"{path}: no such dataset folder or file")
    fmt = fmt or detect_format(path)
    if fmt == "celeba":
        ds = _celeba(path, cfg, split)
    elif fmt == "rafd":
        ds = _rafd(path, cfg)
    else:
        ds = _custom(path, cfg)
    if len(ds) == 0:
        raise BadInput(f"{path}: the {fmt} dataset has no images" + (" in its training split" if split == "train" else ""))
    return ds


def parse_spec(spec: str) -> tuple[str | None, Path]:
    head, sep, tail = spec.partition(":")
    if sep and head.lower() in FORMATS:
        return head.lower(), Path(tail).expanduser()
    return None, Path(spec).expanduser()


def detect_format(path: Path) -> str:
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "custom"
        if path.name.startswith("list_attr"):
            return "celeba"
        raise BadInput(f"{path}: not a dataset (give a folder, a list_attr_celeba.txt or a .csv)")
    if (path / CELEBA_ATTR_FILE).is_file():
        return "celeba"
    if list(path.glob("*.csv")):
        return "custom"
    if any(p.is_dir() for p in path.iterdir()):
        return "rafd"
    raise BadInput(f"{path}: cannot tell the dataset format (no {CELEBA_ATTR_FILE}, no .csv, no class folders); "
                   "prefix the path with celeba:, rafd: or custom:")


def _select(names: Sequence[str], wanted: Sequence[str], where: str) -> list[int]:
    """Column indices of the wanted attributes, or BadInput naming the closest match of an unknown one."""
    cols = []
    for a in wanted:
        if a not in names:
            close = difflib.get_close_matches(a, names, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"unknown attribute {a!r}{hint}; {where} has: {', '.join(names)}")
        cols.append(list(names).index(a))
    if len(set(wanted)) != len(wanted):
        raise BadInput(f"--attrs repeats an attribute: {', '.join(wanted)}")
    return cols


def _keep_existing(paths: list[Path], labels: np.ndarray, where: str) -> tuple[list[Path], np.ndarray]:
    """Drop listed images that are not on disk (a common folder mistake), failing if none are."""
    present: dict[Path, set[str]] = {}
    exists = [present.setdefault(p.parent, _listdir(p.parent)).__contains__(p.name) for p in paths]
    if paths and not any(exists):
        raise BadInput(f"{where}: none of the {len(paths)} listed images exist (looked in {paths[0].parent})")
    missing = len(paths) - sum(exists)
    if missing:
        print(f"warning: {where}: {missing} of {len(paths)} listed images are missing and left out")
    return [p for p, e in zip(paths, exists) if e], labels[np.asarray(exists, bool)]


def _listdir(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def celeba_test_count(cfg: TrainConfig, rows: int) -> int:
    """Images of a CelebA list held out for test: as asked, else the official 1999, or a tenth of a small list
    (a SynthFaces set of a few hundred images still trains)."""
    if cfg.celeba_test_count is not None:
        return cfg.celeba_test_count
    return min(1999, rows // 10)


def _celeba(path: Path, cfg: TrainConfig, split: str) -> FaceDataset:
    attr_file = path if path.is_file() else path / CELEBA_ATTR_FILE
    root = attr_file.parent
    names, rows = read_attr_list(attr_file)
    attrs = list(cfg.attrs or CELEBA_DEFAULT_ATTRS)
    cols = _select(names, attrs, attr_file.name)
    random.Random(1234).shuffle(rows)  # the official split: shuffled with seed 1234, the first ones are test
    test = celeba_test_count(cfg, len(rows))
    if split == "train" and rows and len(rows) <= test:
        raise BadInput(f"{attr_file}: {len(rows)} images, all in the test split (--celeba-test-count {test}); "
                       "lower --celeba-test-count")
    rows = rows[test:] if split == "train" else rows[:test]
    image_dir = _celeba_image_dir(root, rows[0][0] if rows else None)
    values = np.array([[float(r[1 + c]) for c in cols] for r in rows], np.float32).reshape(len(rows), len(cols))
    paths, labels = _keep_existing([image_dir / r[0] for r in rows], (values > 0).astype(np.float32), str(attr_file))
    domains = DomainSet("CelebA", "multi_label", tuple(attrs), exclusive_groups(attrs))
    return FaceDataset(domains, paths, labels, Preprocess(crop_size=cfg.celeba_crop_size), cfg.image_size, str(attr_file))


def _celeba_image_dir(root: Path, first: str | None) -> Path:
    candidates = [root / d for d in CELEBA_IMAGE_DIRS] + [root]
    for d in candidates:
        if first is not None and (d / first).is_file():
            return d
    existing = [d for d in candidates[:-1] if d.is_dir()]
    if first is None:
        return existing[0] if existing else root
    raise BadInput(f"{root}: cannot find the listed images (e.g. {first}) in any of "
                   f"{', '.join(str(d) for d in candidates)}")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def _rafd(path: Path, cfg: TrainConfig) -> FaceDataset:
    """One folder per class, classes in alphabetical order (torchvision ImageFolder's convention)."""
    if not path.is_dir():
        raise BadInput(f"{path}: a RaFD-format dataset is a folder with one subfolder per expression")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise BadInput(f"{path}: no class folders (a RaFD-format dataset has one subfolder per expression)")
    paths: list[Path] = []
    labels = []
    for k, name in enumerate(classes):
        files = _image_files(path / name)
        if not files:
            raise BadInput(f"{path / name}: class folder has no images")
        paths += files
        labels += [k] * len(files)
    onehot = np.eye(len(classes), dtype=np.float32)[np.asarray(labels, int)]
    domains = DomainSet("RaFD", "one_hot", tuple(classes))
    return FaceDataset(domains, paths, onehot, Preprocess(crop_size=cfg.rafd_crop_size), cfg.image_size, str(path))


def _custom(path: Path, cfg: TrainConfig) -> FaceDataset:
    """An image folder and a CSV: a filename column, then one 0/1 (or -1/1) column per attribute."""
    if path.is_dir():
        csvs = sorted(path.glob("*.csv"))
        if len(csvs) != 1:
            raise BadInput(f"{path}: expected exactly one .csv of labels, found {len(csvs)}; give the .csv itself")
        path = csvs[0]
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the CSV ({exc})") from None
    if not table:
        raise BadInput(f"{path}: empty CSV (expected a header: filename, attribute, ...)")
    header = [h.strip() for h in table[0]]
    if len(header) < 2:
        raise BadInput(f"{path}: the header needs a filename column and at least one attribute column")
    names = header[1:]
    attrs = list(cfg.attrs or names)
    cols = _select(names, attrs, path.name)
    folder = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    paths: list[Path] = []
    values: list[list[float]] = []
    first_seen: dict[str, int] = {}
    for line, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            raise BadInput(f"{path}:{line}: {len(row)} fields for {len(header)} columns")
        if not all(is_label(v) for v in row[1:]):
            raise BadInput(f"{path}:{line}: attribute values must be 0/1 or -1/1, got {row[1:]}")
        name = row[0].strip()
        if name in first_seen:
            raise BadInput(f"{path}:{line}: {name} is listed again (first on line {first_seen[name]}); list each image once")
        first_seen[name] = line
        values.append([float(row[1 + c]) for c in cols])
        paths.append(folder / name)
    labels = (np.asarray(values, np.float32).reshape(len(paths), len(cols)) > 0).astype(np.float32)
    if paths:
        paths, labels = _keep_existing(paths, labels, str(path))
    domains = DomainSet(path.stem, "multi_label", tuple(attrs), exclusive_groups(attrs))
    return FaceDataset(domains, paths, labels, Preprocess(crop_size=cfg.custom_crop_size), cfg.image_size, str(path))


def describe(ds: FaceDataset) -> dict[str, Any]:
    """What provenance records about a dataset."""
    return {"source": str(Path(ds.source).resolve()), "name": ds.domains.name, "kind": ds.domains.kind, "images": len(ds),
            "domains": list(ds.domains.domains), "crop_size": ds.preprocess.crop_size}
