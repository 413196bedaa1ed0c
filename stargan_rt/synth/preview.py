"""A preview sheet: people (rows) shown in every domain the renderer draws (columns), to judge it by eye."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..images import make_grid, write_image
from .attributes import BINARY, EXPRESSIONS, HAIR_COLOURS, sample_attributes
from .identity import identity_seed
from .render import render


def preview_grid(rows: int = 6, seed: int = 0, size: tuple[int, int] = (178, 218)) -> np.ndarray:
    """Rows of: the person as sampled, each hair colour, each binary attribute flipped, each expression."""
    titles = ["input", *HAIR_COLOURS, *(f"~{b}" for b in BINARY), *EXPRESSIONS]
    grid = []
    for i in range(rows):
        ident = identity_seed("celeba", seed, i)
        a = sample_attributes(np.random.default_rng([seed, i]), "celeba")
        variants = [a, *(a.set(h) for h in HAIR_COLOURS), *(a.set(b, not a.get(b)) for b in BINARY),
                    *(a.set(e) for e in EXPRESSIONS)]
        grid.append([render(ident, v, size) for v in variants])
    return make_grid(grid, titles)


def write_preview(path: Path, rows: int = 6, seed: int = 0, size: tuple[int, int] = (178, 218)) -> None:
    write_image(path, preview_grid(rows, seed, size))
