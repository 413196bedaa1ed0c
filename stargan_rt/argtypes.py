"""Numbers from the command line, checked when parsed: argparse `type=` functions whose errors name the rule.

A value like nan, inf, -3 or 0 where it makes no sense ends in argparse's one line (exit 2) before any work.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

LARGEST = 2**31 - 1  # libraries take counts as C ints: a larger one would overflow inside them
# and no real number of seconds, gigabytes or rates is larger: 1e300 overflows a C time_t or int64 further down


def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if abs(value) > LARGEST:
        raise argparse.ArgumentTypeError(f"too large, got {text!r}")
    return value


def whole(text: str) -> int:
    """Any whole number a C int holds (the command checks its range)."""
    return int(_number(text, int))


def positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def whole_in(low: int, high: int) -> Callable[[str], int]:
    """A `type=` for whole numbers from `low` to `high`."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be at {'least' if value < low else 'most'} "
                                             f"{low if value < low else high}, got {text!r}")
        return value

    return parse


MAX_BATCH = 1024  # images per call or step: far past any real batch, and a larger one asks for gigabytes up front
batch_size = whole_in(1, MAX_BATCH)
port = whole_in(0, 65535)  # 0: the system picks a free one


def non_negative_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative, got {text!r}")
    return value


def finite_float(text: str) -> float:
    return _number(text, float)
