"""One exception family for everything a user can get wrong.

The CLI turns a `StarGanError` into one line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class StarGanError(Exception):
    """A problem the user can fix: bad input, a missing file, an unavailable dependency."""

    exit_code = 2


class MissingDependency(StarGanError):
    """An optional package (torch, tensorrt, pycuda...) is needed for what was asked."""


class BadModel(StarGanError):
    """A bundle, ONNX file or engine that is missing, corrupt, or does not fit this request."""


class BadInput(StarGanError):
    """Images, labels, attributes, shapes or arguments that cannot be used."""
