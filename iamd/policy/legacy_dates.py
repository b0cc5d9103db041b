"""Date values as IAM's policy parser reads them (docs/policy-validation.md, "Dates").

AWS's legacy parser is more lenient than strict ISO 8601: a value with a ``T`` (either case)
or a ``-`` is read as ``[-]year[-month[-day]][T[h[:mm[:ss[.f][Z|±hh[:mm]]]]]]`` with each field
only range-checked (``01T`` is the start of year 1; hours may have one digit; an offset may be
``+23``); any other value is an epoch that must fit a signed 64-bit integer. The vectors this
follows were checked against AWS (docs/policy-validation.md names them). Plain string handling,
no regular expressions: bounded work on any input.
"""

from __future__ import annotations

__all__ = ["MAX_EPOCH", "lenient_epoch"]

_MIN_YEAR, _MAX_YEAR = -292275054, 292278993
MAX_EPOCH = (1 << 63) - 1
_MAX_LENGTH = 64


def _int(text: str, low: int, high: int) -> int | None:
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, for any year (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _offset(text: str) -> int | None:
    """Seconds of an ``hh`` or ``hh:mm`` offset (two digits each)."""
    hours, colon, minutes = text.partition(":")
    h = _int(hours, 0, 23) if len(hours) == 2 else None
    if h is None:
        return None
    if not colon:
        return h * 3600
    m = _int(minutes, 0, 59) if len(minutes) == 2 else None
    return None if m is None else h * 3600 + m * 60


def _seconds(text: str) -> tuple[float, int] | None:
    """(seconds with fraction, offset east of UTC in seconds) of ``ss[.f][z|±hh[:mm]]``."""
    offset = 0
    if "z" in text:
        text, _, rest = text.partition("z")
        if rest:
            return None
    elif "+" in text or "-" in text:
        sign = 1 if "+" in text else -1
        text, _, zone = text.partition("+" if sign == 1 else "-")
        found = _offset(zone)
        if found is None:
            return None
        offset = sign * found
    whole, dot, fraction = text.partition(".")
    seconds = _int(whole, 0, 59)
    if seconds is None:
        return None
    if not dot:
        return float(seconds), offset
    if len(fraction) > 9 or _int(fraction, 0, 999_999_999) is None:
        return None
    return seconds + float("0." + fraction), offset


def lenient_epoch(value: str) -> float | None:
    """Epoch seconds of a date value IAM accepts; None for one it refuses ("legacy parsing")."""
    if len(value) > _MAX_LENGTH:
        return None
    text = value.lower()
    if "t" not in text and "-" not in text:
        epoch = _int(text, 0, MAX_EPOCH)
        return None if epoch is None else float(epoch)
    date, _, time = text.partition("t")
    negative = date.startswith("-")
    fields = (date[1:] if negative else date).split("-")
    if len(fields) > 3:
        return None
    year = _int(fields[0], 0, max(-_MIN_YEAR, _MAX_YEAR))
    if year is None:
        return None
    year = -year if negative else year
    month = _int(fields[1], 1, 12) if len(fields) > 1 else 1
    day = _int(fields[2], 1, 31) if len(fields) > 2 else 1
    if not _MIN_YEAR <= year <= _MAX_YEAR or month is None or day is None:
        return None
    hour = minute = 0
    seconds, offset = 0.0, 0
    if time:
        parts = time.split(":", 2)
        found_hour = _int(parts[0], 0, 23)
        found_minute = _int(parts[1], 0, 59) if len(parts) > 1 else 0
        found_seconds = _seconds(parts[2]) if len(parts) > 2 else (0.0, 0)
        if found_hour is None or found_minute is None or found_seconds is None:
            return None
        hour, minute, (seconds, offset) = found_hour, found_minute, found_seconds
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + seconds - offset
