"""Translation grids like the paper's Figure 2: one row per input image, the input then one column per domain.

Columns follow the official test's create_labels (stargan_rt.labels.LabelSpace.grid): a hair colour is set
(the other hair colours cleared), any other attribute is flipped relative to the row's source labels, each
one-hot class (expression) is set. Column titles name the domain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from stargan_rt.bundle import ModelMeta
from stargan_rt.errors import BadInput
from stargan_rt.images import make_grid, to_frames, to_tensor
from stargan_rt.labels import LabelSpace

from .data import IMAGE_EXTS

Source = Mapping[str, float] | Iterable[str] | None


@torch.no_grad()
def translation_grid(g: torch.nn.Module, meta: ModelMeta, crops: Sequence[np.ndarray],
                     sources: Sequence[Source] | None = None, device: str | torch.device = "cpu") -> np.ndarray:
    """Grid (BGR uint8) of G's translations of `crops` (image_size BGR uint8 squares) into every domain."""
    if not crops:
        raise BadInput("no images to translate")
    space = LabelSpace(meta)
    sources = list(sources) if sources is not None else [None] * len(crops)
    x = torch.from_numpy(to_tensor(np.stack(crops), meta.preprocess)).to(device)
    labels = [[label for _, label in space.grid(src)] for src in sources]  # (rows, columns, c_dim)
    columns = []
    for col in range(len(labels[0])):
        c = torch.from_numpy(np.stack([row[col] for row in labels])).to(device)
        columns.append(to_frames(g(x, c).float().cpu().numpy(), meta.preprocess))
    rows = [[crops[r]] + [columns[k][r] for k in range(len(columns))] for r in range(len(crops))]
    return make_grid(rows, titles=["input", *meta.domain_names])


def collect_images(inputs: Sequence[str | Path], limit: int) -> list[Path]:
    """Image files named directly, or found (sorted, not recursive) in named folders; at most `limit`."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
            if not files:
                raise BadInput(f"{item}: no images in this folder")
            found += files
        elif item.exists():
            found.append(item)
        else:
            raise BadInput(f"{item}: no such image or folder")
    return found[:limit]
