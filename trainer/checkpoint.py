"""Training checkpoints: written atomically, read back without unpickling arbitrary objects.

OUT/checkpoint/ holds `state.pt` (torch.save of plain tensors, numbers, strings, lists, tuples and dicts only:
G, D, both optimisers, the iteration, the RNG states) and `config.json` (the TrainConfig, readable by people and
by `--resume` before torch loads anything). The directory is swapped in whole, so a crash mid-save leaves the
previous checkpoint intact, even when the process is killed mid-swap (stargan_rt.atomic; `read_config` and
`load_checkpoint` first recover a swap a kill interrupted). `state.pt` is loaded with torch.load(weights_only=True)
after checking it is a torch.save file at all (`load_tensors`).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stargan_rt.atomic import atomic_directory, recover
from stargan_rt.errors import BadInput, BadModel, first_line

from .config import TrainConfig

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
CONFIG_FILE = "config.json"
CHECKPOINT_ENTRIES = (STATE_FILE, CONFIG_FILE)
LOCK_FILE = ".train.lock"


class RunLock:
    """An exclusive lock on the run folder OUT while this object lives: a second train into the same --out at the same
    time is refused instead of interleaving its checkpoints and metrics with the first's. Its file goes with it."""

    def __init__(self, out: Path):
        self.path = out / LOCK_FILE
        while True:
            self.file = open(self.path, "a")
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.file.close()
                raise BadInput(f"{out}: another train is writing this run right now; wait for it, or choose another --out") from None
            if self._still_at_path():
                return
            self.file.close()  # the holder removed the file between our open and lock: lock the one there now

    def _still_at_path(self) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(self.file.fileno()).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        if hasattr(self, "file") and not self.file.closed:
            self.path.unlink(missing_ok=True)
            self.file.close()

    __del__ = release


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out) / CHECKPOINT_DIR


def load_tensors(path: str | Path, what: str) -> Any:
    """torch.load(weights_only=True) of a file that must be a torch.save checkpoint, or one line saying what it is
    instead and what to do. Never unpickles arbitrary objects."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror})") from None
    # torch.save writes a zip archive (PyTorch >= 1.6) or, before that (the official StarGAN checkpoints), a pickle
    if head[:4] != b"PK\x03\x04" and not zipfile.is_zipfile(path) and head[:1] != b"\x80":
        raise BadModel(f"{path}: not a PyTorch checkpoint (torch.save files are zip archives or pickles; this is "
                       f"neither): give the {what} file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        named = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what_else = f" ({named.group(1)})" if named else ""
        raise BadModel(f"{path}: refused: besides tensors it holds Python objects{what_else} that loading would run; "
                       "where you trust the file, re-save only its tensors (torch.save(model.state_dict(), PATH)) "
                       "and give that") from None
    except Exception as exc:  # torch.load raises what its parsers meet: RuntimeError, EOFError, KeyError...
        raise BadModel(f"{path}: a corrupt or truncated {what} ({type(exc).__name__}: {first_line(exc, 200)})") from None


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
    with atomic_directory(checkpoint_dir(out), replaces=CHECKPOINT_ENTRIES) as tmp:
        buffer = io.BytesIO()  # serialised here, written by Python: a full disk is an OSError, not torch's RuntimeError
        torch.save(state, buffer)
        (tmp / STATE_FILE).write_bytes(buffer.getbuffer())
        (tmp / CONFIG_FILE).write_text(json.dumps({"iteration": state["iteration"], "config": cfg.to_dict()}, indent=2))
    return checkpoint_dir(out)


def read_config(out: str | Path) -> tuple[TrainConfig, int]:
    """The config and iteration of the run saved in OUT (for --resume)."""
    recover(checkpoint_dir(out))
    path = checkpoint_dir(out) / CONFIG_FILE
    if not path.is_file():
        raise BadInput(f"{out}: nothing to resume (no {CHECKPOINT_DIR}/{CONFIG_FILE})")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        return TrainConfig.from_dict(d["config"]), int(d["iteration"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise BadModel(f"{path}: unreadable checkpoint description ({exc})") from None


def load_checkpoint(out: str | Path) -> dict[str, Any]:
    recover(checkpoint_dir(out))
    path = checkpoint_dir(out) / STATE_FILE
    if not path.is_file():
        raise BadInput(f"{out}: nothing to resume (no {CHECKPOINT_DIR}/{STATE_FILE})")
    state = load_tensors(path, "checkpoint")
    if not isinstance(state, dict) or "iteration" not in state:
        raise BadModel(f"{path}: not a stargan-rt training checkpoint (no iteration in it)")
    return state
