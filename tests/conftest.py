"""Suite-wide options.

``--clock-shift=+3y`` (or ``-3y``, ``+400d``, ``-12h``) runs the tests with every clock
Python reads — ``time.time``, ``datetime.now``, ``time.gmtime`` and the rest, in every
thread (time-machine swaps the functions themselves) — moved by that much, ticking on as
real time does. Monotonic clocks are left alone: they measure durations, not dates.
``.ci/run`` runs the time-sensitive tests with the clock three years ahead and behind, so
a fixed date that only works today, or a validity window taken from the wall clock on one
side and a fixed date on the other, fails in CI instead of on a later day.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

_UNITS = {"y": timedelta(days=365), "d": timedelta(days=1), "h": timedelta(hours=1)}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-shift",
        default=None,
        metavar="[+-]N(y|d|h)",
        help="run with the wall clock moved by this much (e.g. +3y, -3y)",
    )


def clock_shift(text: str) -> timedelta:
    """``"+3y"`` -> three 365-day years; ``"-12h"`` -> minus twelve hours."""
    match = re.fullmatch(r"([+-])(\d{1,5})([ydh])", text)
    if match is None:
        raise pytest.UsageError(f"--clock-shift wants [+-]N followed by y, d or h, not {text!r}")
    sign, count, unit = match.groups()
    return (-1 if sign == "-" else 1) * int(count) * _UNITS[unit]


def pytest_configure(config: pytest.Config) -> None:
    text = config.getoption("--clock-shift")
    if not text:
        return
    import time_machine

    shift = clock_shift(text)
    traveller = time_machine.travel(datetime.now(UTC) + shift, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    text = config.getoption("--clock-shift")
    return f"clock shifted {text}: now is {datetime.now(UTC).isoformat()}" if text else None
