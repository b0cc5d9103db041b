"""A request's time in UTC to the whole second, once per request.

A call's time (``CallContext.now``) is turned into UTC without its microseconds by each of
the two signature checks of an authorization (``SigV4Verifier.verify``), the call's trail
event and its checks' events (``iamd.core.invoke``, ``iamd.authz.operation``): four
``astimezone(UTC).replace(microsecond=0)`` per call, each about 0.7 µs (``replace`` parses
its keyword arguments). The same object comes in each time, so the last answer is kept by
the object's identity: one conversion per request (bench/README.md, "Session 13"). That one is
made by the positional constructor: ``replace(microsecond=0)`` matches its one keyword against
the nine it takes, 0.85 against 0.35 µs (bench/README.md, "Session 18: the single check's ids,
time and enum members").
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["whole_second_utc"]

# (the moment last asked about, its answer): replaced as one tuple, so another thread reads
# either the old pair or the new one, never a mix. Holding the moment keeps its identity its own.
_last: tuple[datetime, datetime] | None = None


def whole_second_utc(moment: datetime) -> datetime:
    """``moment.astimezone(UTC).replace(microsecond=0)`` (``moment`` aware)."""
    global _last
    last = _last
    if last is not None and last[0] is moment:
        return last[1]
    utc = moment.astimezone(UTC)
    if type(utc) is datetime:  # (a subclass keeps its own type: replace makes one of it)
        value = datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, 0, UTC)
    else:
        value = utc.replace(microsecond=0)
    _last = (moment, value)
    return value
