"""Output locations, checked before any work starts: somewhere that can be written, never one of the inputs.

A read-only or missing place, an output that is an existing file where a folder is wanted (or the reverse), or an
output that would overwrite an input ends in one line (BadInput) before a model loads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import BadInput


def check_folder(path: str | Path, what: str = "-o") -> Path:
    """`path` is, or can become, a folder this process writes into."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{what} {path}: exists and is not a folder")
    _writable(_nearest_existing(path, what), what, path)
    return path


def check_file(path: str | Path, what: str = "-o", suffixes: Iterable[str] | None = None) -> Path:
    """`path` can be written as a file (with one of `suffixes`, when given)."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{what} {path}: is a folder; give a file name")
    allowed = tuple(suffixes or ())
    if allowed and path.suffix.lower() not in allowed:
        raise BadInput(f"{what} {path}: unknown extension {path.suffix or '(none)'}; use one of {', '.join(allowed)}")
    _writable(_nearest_existing(path.parent, what), what, path)
    return path


def refuse_overwriting_inputs(inputs: Iterable[str | Path], outputs: Iterable[str | Path]) -> None:
    """BadInput when an output is one of the inputs (by any path to it, links included)."""
    ins = [Path(i) for i in inputs]
    for out in map(Path, outputs):
        for i in ins:
            if same_path(i, out):
                raise BadInput(f"{out} is also an input: writing it would destroy the input; choose another output")


def same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _nearest_existing(path: Path, what: str) -> Path:
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise BadInput(f"{what} {path}: {p} is a file, not a folder")
    return p


def _writable(folder: Path, what: str, path: Path) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot write in {folder} ({exc.strerror or exc})") from None
