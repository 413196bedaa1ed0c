"""One exception family for everything a user can get wrong.

The CLI turns a `StarGanError` into one line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import re
import sys


class StarGanError(Exception):
    """A problem the user can fix: bad input, a missing file, an unavailable dependency."""

    exit_code = 2


class MissingDependency(StarGanError):
    """An optional package (torch, tensorrt, pycuda...) is needed for what was asked."""


class BadModel(StarGanError):
    """A bundle, ONNX file or engine that is missing, corrupt, or does not fit this request."""


class BadInput(StarGanError):
    """Images, labels, attributes, shapes or arguments that cannot be used."""


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def plain(text: str) -> str:
    """`text` as one line of plain text: terminal colour codes removed, lines joined."""
    return " ".join(line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip())


def first_line(exc: BaseException | str, limit: int = 300) -> str:
    """The first line of a library's message, plain, shortened at a word boundary (never mid-word) when long."""
    text = str(exc)
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    line = lines[0] if lines else (type(exc).__name__ if isinstance(exc, BaseException) else "")
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut} ..."


class ItemFailures:
    """The bad items of a batch. Each is reported in one line when met and the good ones are still processed; `check`
    then ends the command with one error line (exit 2) if any failed. A batch of one item fails with its own line."""

    def __init__(self, command: str, total: int, noun: str = "images"):
        self.command, self.total, self.noun = command, total, noun
        self.failed: list[str] = []

    def add(self, item: object, problem: BaseException | str) -> None:
        why = plain(str(problem))
        line = why if why.startswith(str(item)) else f"{item}: {why}"
        if self.total == 1:
            raise BadInput(line)
        self.failed.append(line)
        print(f"stargan-rt {self.command}: skipped {line}", file=sys.stderr)

    def check(self) -> None:
        n = len(self.failed)
        if n:
            rest = "nothing was written" if n == self.total else "the others were written"
            raise BadInput(f"{n} of {self.total} {self.noun} failed (each named above); {rest}")
