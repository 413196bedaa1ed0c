"""Training checkpoints: written atomically, read back without unpickling arbitrary objects.

OUT/checkpoint/ holds `state.pt` (torch.save of plain tensors, numbers, strings, lists, tuples and dicts only:
G, D, both optimisers, the iteration, the RNG states) and `config.json` (the TrainConfig, readable by people and
by `--resume` before torch loads anything). The directory is swapped in whole, so a crash mid-save leaves the
previous checkpoint intact. `state.pt` is loaded with torch.load(weights_only=True).
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stargan_rt.atomic import atomic_directory
from stargan_rt.errors import BadInput, BadModel

from .config import TrainConfig

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
CONFIG_FILE = "config.json"


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out) / CHECKPOINT_DIR


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": random.getstate(),
        # weights_only loading accepts tensors, not numpy arrays
        "numpy": (kind, torch.from_numpy(np.asarray(keys, np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: str | Path, cfg: TrainConfig, state: dict[str, Any]) -> Path:
    """Replace OUT/checkpoint/ with `state` (see module docstring) and the config."""
    with atomic_directory(checkpoint_dir(out)) as tmp:
        torch.save(state, tmp / STATE_FILE)
        (tmp / CONFIG_FILE).write_text(json.dumps({"iteration": state["iteration"], "config": cfg.to_dict()}, indent=2))
    return checkpoint_dir(out)


def read_config(out: str | Path) -> tuple[TrainConfig, int]:
    """The config and iteration of the run saved in OUT (for --resume)."""
    path = checkpoint_dir(out) / CONFIG_FILE
    if not path.is_file():
        raise BadInput(f"{out}: nothing to resume (no {CHECKPOINT_DIR}/{CONFIG_FILE})")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        return TrainConfig.from_dict(d["config"]), int(d["iteration"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadModel(f"{path}: unreadable checkpoint description ({exc})") from None


def load_checkpoint(out: str | Path) -> dict[str, Any]:
    path = checkpoint_dir(out) / STATE_FILE
    if not path.is_file():
        raise BadInput(f"{out}: nothing to resume (no {CHECKPOINT_DIR}/{STATE_FILE})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadModel(f"{path}: corrupt or unsafe checkpoint ({first[:200]})") from None
