"""Render many pictures at once, in parallel processes, in memory or as model-ready crops.

Workers are spawned, not forked: a forked child inherits OpenCV's and torch's thread pools in whatever state
the parent's threads left them, and can hang on their locks. As with any spawning code, a script that calls
this must keep its top-level work under `if __name__ == "__main__":`. Results come back in order and depend
only on the jobs, never on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import cv2
import numpy as np

from ..bundle import Preprocess
from ..images import crop_resize
from .attributes import Attributes
from .render import CELEBA_SIZE, render

J = TypeVar("J")
R = TypeVar("R")


def _init_worker() -> None:
    cv2.setNumThreads(1)  # the processes are the parallelism


def parallel_map(fn: Callable[[J], R], jobs: Sequence[J], workers: int = 0, progress: bool = False,
                 desc: str = "rendering") -> Iterator[R]:
    """fn over jobs in order, in `workers` processes (0: all cores; 1: here), with an optional tqdm bar."""
    from tqdm import tqdm

    workers = min(workers or os.cpu_count() or 1, max(1, len(jobs)))
    bar = tqdm(total=len(jobs), unit="img", desc=desc, disable=not progress, dynamic_ncols=True, leave=False)
    try:
        if workers == 1:
            for job in jobs:
                yield fn(job)
                bar.update()
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
            for r in pool.map(fn, jobs, chunksize=max(1, min(32, len(jobs) // (workers * 8)))):
                yield r
                bar.update()
    finally:
        bar.close()


def _render_crop(job: tuple[int, Attributes, tuple[int, int], Preprocess | None, int | None]) -> np.ndarray:
    identity, attrs, size, pre, image_size = job
    img = render(identity, attrs, size)
    return img if pre is None or image_size is None else crop_resize(img, pre, image_size)


def render_many(jobs: Iterable[tuple[int, Attributes]], size: tuple[int, int] = CELEBA_SIZE,
                preprocess: Preprocess | None = None, image_size: int | None = None, workers: int = 0,
                progress: bool = False, desc: str = "rendering") -> np.ndarray:
    """Render (identity, attributes) pairs at `size`; with `preprocess` and `image_size`, return the model-ready
    crops (what stargan_rt.images.crop_resize makes of each picture) instead. uint8 BGR (N, H, W, 3)."""
    work = [(int(i), a, size, preprocess, image_size) for i, a in jobs]
    return np.stack(list(parallel_map(_render_crop, work, workers, progress, desc)))
