"""Random version-4 UUID text for request and event ids, without a system call each.

``uuid.uuid4()`` reads 16 bytes from ``os.urandom`` (a ``getrandom`` system call) and
builds a ``UUID`` object: about 4 µs, on every request and every audit event. These ids
identify; they authorize nothing, so the standard library's Mersenne Twister (seeded from
the OS at start and re-seeded after ``fork``) is enough. Secrets use ``secrets``/``os.urandom``.
"""

from __future__ import annotations

import os
import random

__all__ = ["derived_uuid4", "new_uuid4"]

_VARIANT = "89ab"
# A generator of its own: the process's global one may be re-seeded by anyone in the process (a
# test framework does before every example, an application embedding iamd may), and ids drawn
# from a seed twice repeat: audit events with an id already stored are lost. Seeded from the OS,
# and again in a forked child.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_uuid4() -> str:
    """``xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx``, as ``str(uuid.uuid4())`` spells it."""
    n = _ids.getrandbits(128)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[n & 3]}{h[17:20]}-{h[20:]}"


def derived_uuid4(first: str, index: int) -> str:
    """The ``index``-th of a family of ids drawn as one (``first``: a :func:`new_uuid4`, which is
    the family's id 0): ``first`` with ``index`` XORed into its last 48 bits. Each is a
    version-4 UUID's text; the ids of one family differ from each other (``index`` < 2**48), and
    two families' ids meet only if their first ids agree in 74 random bits and differ in the
    rest by the XOR of two indexes: for families of n ids, no likelier than among as many ids
    drawn one by one (about n² pairs at 2**-122 each). What an authorization's checks' trail
    events use: one draw per call instead of one per check (docs/authorization-api.md, "The trail")."""
    if not index:
        return first
    return f"{first[:24]}{int(first[24:], 16) ^ index:012x}"
