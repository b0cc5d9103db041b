"""Random version-4 UUID text for request and event ids, without a system call each.

``uuid.uuid4()`` reads 16 bytes from ``os.urandom`` (a ``getrandom`` system call) and
builds a ``UUID`` object: about 4 µs, on every request and every audit event. These ids
identify; they authorize nothing, so the standard library's Mersenne Twister (seeded from
the OS at start and re-seeded after ``fork``) is enough. Secrets use ``secrets``/``os.urandom``.
"""

from __future__ import annotations

import os
import random

__all__ = ["new_uuid4"]

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
