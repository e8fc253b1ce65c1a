"""Argument types that check ranges in the parser, and a parser whose errors are one line.

Every number the command line takes goes through one of these ``type=`` functions, so
``--batch-size 0``, ``--lr nan`` or ``--udp 70000`` stop in the parser with exit code 2 and
one line (``edgesdk train: error: argument --batch-size: 0 is not an integer >= 1``),
before anything runs. Standard library only (the runtime install uses it).

Example:
    >>> positive_int("8")
    8
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 0 is not an integer >= 1
    >>> positive_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: nan is not a finite number > 0
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (and, through ``add_subparsers``, its sub-commands) whose errors
    are one line, ``PROG: error: MESSAGE``, exit code 2 (``--help`` still shows the usage)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer in ``[low, high]`` (no upper bound when ``high`` is None)."""
    what = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is not {what}")
        return value

    parse.__name__ = "integer"  # argparse's "invalid integer value" wording
    return parse


def float_range(
    low: float, high: float | None = None, low_open: bool = False
) -> Callable[[str], float]:
    """A finite number above ``low`` (``low_open``) or from it, up to ``high``."""
    lower = f"> {low:g}" if low_open else f">= {low:g}"
    what = f"a finite number {lower}" + (f" and <= {high:g}" if high is not None else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        if not ok or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
non_negative_int = int_range(0)
seed_int = int_range(0, 2**32 - 1)  # what every random generator here accepts
port_int = int_range(0, 65535)  # 0: any free port
thread_count = int_range(1, 1024)
positive_float = float_range(0.0, low_open=True)
non_negative_float = float_range(0.0)
unit_float = float_range(0.0, 1.0)
