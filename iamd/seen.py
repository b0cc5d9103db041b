"""Texts already found well formed, kept so that a request naming one again is checked by one set
lookup instead of a pattern (bench/README.md, "Session 17: the single check's steps").

Only text a caller's pattern accepted goes in, and a set never grows past :data:`SEEN_MAX`: it is
emptied when full. A shortcut, never an answer: a text not in the set is checked in full.
"""

from __future__ import annotations

__all__ = ["SEEN_MAX", "remember"]

SEEN_MAX = 4096


def remember(seen: set[str], text: str) -> None:
    """Keep ``text``, which the caller's check accepted, in ``seen`` (emptied first when full)."""
    if len(seen) >= SEEN_MAX:
        seen.clear()
    seen.add(text)
