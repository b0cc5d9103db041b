"""Version-4 UUID text for request and event ids, without a system call each, in time order.

``uuid.uuid4()`` reads 16 bytes from ``os.urandom`` (a ``getrandom`` system call) and
builds a ``UUID`` object: about 4 µs, on every request and every audit event. These ids
identify; they authorize nothing, so the standard library's Mersenne Twister (seeded from
the OS at start and re-seeded after ``fork``) is enough. Secrets use ``secrets``/``os.urandom``.

The first 48 bits are the milliseconds since the epoch, the rest random (72 bits, with the
version and variant of a version-4 UUID): what the text looks like is unchanged, but the ids
of one moment are near each other. The trail's index by request id (docs/audit.md, "Indexes")
then takes each new id beside the last ones instead of at a random place among millions: with
random ids, every event of a batch dirtied a page of its own, which the commit wrote to the
write-ahead log (on SQLite about 12 µs of the audit writer's CPU per event with a million
events stored; bench/README.md, "Session 13").
"""

from __future__ import annotations

import os
import random
import time

__all__ = ["derived_uuid4", "new_uuid4"]

_VARIANT = "89ab"
# A generator of its own: the process's global one may be re-seeded by anyone in the process (a
# test framework does before every example, an application embedding iamd may), and ids drawn
# from a seed twice repeat: audit events with an id already stored are lost. Seeded from the OS,
# and again in a forked child.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
_draw = _ids.getrandbits  # bound once (re-seeding in a child changes the generator's state, not the generator)


def new_uuid4() -> str:
    """``xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx``, as ``str(uuid.uuid4())`` spells it: the first
    twelve digits the time in milliseconds (the ids of later moments sort after), the others random."""
    n = _draw(80)
    ms = time.time_ns() // 1_000_000
    known = _prefix
    if known[0] != ms:
        known = _prefix_of(ms)
    # Its first digit gives way to the version, its fifth to the variant. ``to_bytes().hex()``,
    # not ``f"{n:020x}"``: an int's format with a spec is about 1.5k instructions, its bytes' hex
    # a fifth of that; three formats per id were 1% of a write's CPU (bench/README.md, "Session
    # 18: iamd's CPU per write, the request's small costs").
    h = n.to_bytes(10, "big").hex()
    return f"{known[1]}4{h[1:4]}-{_VARIANT[n & 3]}{h[5:8]}-{h[8:]}"


# The text of the last millisecond's first twelve digits (``xxxxxxxx-xxxx-``), by the millisecond:
# a server draws a few ids per request, many per millisecond, and the time's text is half the
# cost of one. One tuple, read and replaced whole (no lock: a thread that reads an older one
# sees its millisecond differ and makes its own).
_prefix: tuple[int, str] = (-1, "")


def _prefix_of(ms: int) -> tuple[int, str]:
    global _prefix
    t = ms & 0xFFFF_FFFF_FFFF
    _prefix = known = (ms, "%08x-%04x-" % (t >> 16, t & 0xFFFF))  # noqa: UP031 (by %, as new_uuid4's draw)
    return known


def derived_uuid4(first: str, index: int) -> str:
    """The ``index``-th of a family of ids drawn as one (``first``: a :func:`new_uuid4`, which is
    the family's id 0): ``first`` with ``index`` XORed into its last 48 bits. Each is a
    version-4 UUID's text; the ids of one family differ from each other (``index`` < 2**48), and
    two families' ids meet only if their first ids were drawn in the same millisecond, agree in
    the 24 random bits before the last 48 and differ in those by the XOR of two indexes: for
    families of n ids, no likelier than among as many ids drawn one by one in that millisecond
    (about n² pairs at 2**-72 each). What an authorization's checks' trail
    events use: one draw per call instead of one per check (docs/authorization-api.md, "The trail")."""
    if not index:
        return first
    return f"{first[:24]}{int(first[24:], 16) ^ index:012x}"
