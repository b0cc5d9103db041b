"""A request's time in UTC to the whole second, once per request.

A call's time (``CallContext.now``) is turned into UTC without its microseconds by each of
the two signature checks of an authorization (``SigV4Verifier.verify``), the call's trail
event and its checks' events (``iamd.core.invoke``, ``iamd.authz.operation``): four
``astimezone(UTC).replace(microsecond=0)`` per call, each about 0.7 µs (``replace`` parses
its keyword arguments). The same object comes in each time, so the last answer is kept by
the object's identity: one conversion per request (bench/README.md, "Session 13"). That one
subtracts the microseconds (a positional ``timedelta``): ``replace(microsecond=0)`` matches its
one keyword against the nine it takes, about 0.85 µs, more than the subtraction (bench/README.md,
"Session 18: iamd's CPU per write, the request's small costs").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["whole_second_utc", "whole_seconds_text"]

# (the moment last asked about, its answer): replaced as one tuple, so another thread reads
# either the old pair or the new one, never a mix. Holding the moment keeps its identity its own.
_last: tuple[datetime, datetime] | None = None


def whole_second_utc(moment: datetime) -> datetime:
    """``moment.astimezone(UTC).replace(microsecond=0)`` (``moment`` aware)."""
    global _last
    last = _last
    if last is not None and last[0] is moment:
        return last[1]
    value = moment.astimezone(UTC)
    if value.microsecond:  # (less, not ``replace(microsecond=0)``: its keywords' parse was 8k instructions)
        value -= timedelta(0, 0, value.microsecond)  # (positional: no keyword matched by name)
    _last = (moment, value)
    return value


# (the moment last written as text, its text): CreateUser's CreateDate is written twice, in its
# trail event's responseElements (iamd.audit) and in its answer (iamd.protocol.xml).
_last_text: tuple[datetime, str] | None = None


def whole_seconds_text(moment: datetime) -> str:
    """``moment`` (in UTC, or naive) to the second as IAM and CloudTrail write it,
    ``2012-09-21T23:03:13Z`` (``isoformat``'s text cut: about 7k instructions, so the last answer
    is kept by the object's identity, as :func:`whole_second_utc`'s; bench/README.md, "Session 18:
    iamd's CPU per write, the request's small costs"). A year below 1000: isoformat's, padded."""
    global _last_text
    last = _last_text
    if last is not None and last[0] is moment:
        return last[1]
    text = moment.isoformat()[:19] + "Z"
    _last_text = (moment, text)
    return text
