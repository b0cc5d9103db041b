"""Glob matching as IAM does it: ``*`` is any run of characters, ``?`` exactly one.

Every other character is literal (regex metacharacters and newlines included). No
regular expression is built from a pattern: a glob compiles into its ``*``-separated
segments, and a string matches when the first segment matches at its start, the last at
its end, and the middle ones, in order, each at the leftmost place after the previous one
(greedy leftmost placement is exact for ``*``-globs: any match can be moved to the
leftmost one without losing room for the segments after it). Nothing is ever retried, so
the cost is linear in the length of the string for a given pattern, whatever both
contain (docs/evaluation-semantics.md, "Wildcard matching and its worst case"):

* a segment without ``?`` is found with ``str.startswith``, ``str.endswith`` and
  ``str.find`` (linear in C);
* a segment with ``?`` has a fixed length: a short one with few literal runs is found by
  searching its longest run and checking the others at their fixed offsets; any other by
  a bit-parallel scan (Shift-And: one step per character of the string, each a few
  big-integer operations on as many bits as the segment is long).

Patterns compile once into the cheapest exact matcher: string equality, a set lookup, a
prefix or suffix test, or the segment matcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

__all__ = ["Matcher", "compile_glob", "compile_globs", "compile_parts", "has_wildcard", "star_match"]

Matcher = Callable[[str], object]  # truthy when the string matches

_ONE = ""  # a '?' among a segment's characters (a real character is never empty)
_FEW_RUNS = 3  # a '?' segment with at most this many literal runs ...
_SHORT = 64  # ... and at most this long is searched by its longest run


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _always(_: str) -> bool:
    return True


always = _always  # the matcher of "*": callers may test for it instead of calling it


def _never(_: str) -> bool:
    return False


def _runs_at(runs: tuple[tuple[int, str], ...]) -> Callable[[str, int], bool]:
    """A test of literal runs at fixed offsets from a position, unrolled for up to three."""
    if not runs:
        return lambda s, i: True
    (o1, t1), *rest = runs
    if not rest:
        return lambda s, i: s.startswith(t1, i + o1)
    (o2, t2), *rest = rest
    if not rest:
        return lambda s, i: s.startswith(t1, i + o1) and s.startswith(t2, i + o2)
    (o3, t3), *rest = rest
    if not rest:
        return lambda s, i: s.startswith(t1, i + o1) and s.startswith(t2, i + o2) and s.startswith(t3, i + o3)
    return lambda s, i: all(s.startswith(t, i + o) for o, t in runs)


class _Fixed:
    """A segment with ``?``: a fixed length, literal runs at fixed offsets."""

    __slots__ = ("anchor", "at", "high", "masks", "others", "runs", "scan", "size", "wild")

    def __init__(self, chars: Sequence[str]) -> None:
        self.size = len(chars)
        runs: list[tuple[int, str]] = []
        start = -1
        for i, c in enumerate([*chars, _ONE]):
            if c != _ONE and start < 0:
                start = i
            elif c == _ONE and start >= 0:
                runs.append((start, "".join(chars[start:i])))
                start = -1
        self.runs = tuple(runs)
        self.at = _runs_at(self.runs)  # (s, i): does the segment match s at i (length checked by the caller)
        self.scan = len(runs) > _FEW_RUNS or self.size > _SHORT
        anchor = max(runs, key=lambda r: len(r[1]), default=None)
        self.anchor = anchor
        self.others = tuple(r for r in runs if r is not anchor)
        # Shift-And tables: bit i of masks[c] is set when position i accepts c.
        self.wild = sum(1 << i for i, c in enumerate(chars) if c == _ONE)
        masks: dict[str, int] = {}
        for i, c in enumerate(chars):
            if c != _ONE:
                masks[c] = masks.get(c, self.wild) | (1 << i)
        self.masks = masks
        self.high = 1 << (self.size - 1)

    def find(self, s: str, start: int, end: int) -> int:
        """The leftmost ``i >= start`` where the segment matches within ``s[:end]``, or -1."""
        size = self.size
        if end - start < size:
            return -1
        if self.anchor is None:  # only '?': any place with room
            return start
        if self.scan:
            masks, wild, high = self.masks, self.wild, self.high
            get = masks.get
            state = 0
            j = start
            for c in s[start:end]:
                state = ((state << 1) | 1) & get(c, wild)
                if state & high:
                    return j - size + 1
                j += 1
            return -1
        off, text = self.anchor
        others = self.others
        stop = end - size + off + len(text)
        a = s.find(text, start + off, stop)
        while a >= 0:
            i = a - off
            for o, t in others:
                if not s.startswith(t, i + o):
                    break
            else:
                return i
            a = s.find(text, a + 1, stop)
        return -1


Segment = str | _Fixed


def _size(seg: Segment) -> int:
    return len(seg) if isinstance(seg, str) else seg.size


def _segments(parts: Iterable[tuple[str, bool]]) -> list[Segment]:
    """``*``-separated segments of a glob given as ``(text, is_pattern)`` runs.

    In pattern text ``*`` and ``?`` are wildcards; in other text (a policy variable's
    value, ``${*}``) every character is literal.
    """
    segments: list[list[str]] = [[]]  # pieces: non-empty literal text, or _ONE for a '?'
    for text, is_pattern in parts:
        if not is_pattern:
            if text:
                segments[-1].append(text)
            continue
        for n, chunk in enumerate(text.split("*")):
            if n:
                segments.append([])
            for k, run in enumerate(chunk.split("?")):
                if k:
                    segments[-1].append(_ONE)
                if run:
                    segments[-1].append(run)
    out: list[Segment] = []
    for pieces in segments:
        if _ONE in pieces:
            out.append(_Fixed([c for piece in pieces for c in (piece or [_ONE])]))
        else:
            out.append("".join(pieces))
    return out


def _matcher(segments: list[Segment]) -> Matcher:
    first, last = segments[0], segments[-1]
    if len(segments) == 1:  # no '*': the one segment is the whole string
        if isinstance(first, str):
            return first.__eq__
        size, at = first.size, first.at
        return lambda s: len(s) == size and at(s, 0)
    middle = tuple(m for m in segments[1:-1] if _size(m))
    head, tail = _size(first), _size(last)
    if isinstance(first, str) and isinstance(last, str) and all(isinstance(m, str) for m in middle):
        return _literal_segments(first, [m for m in middle if isinstance(m, str)], last)

    first_at = first.at if isinstance(first, _Fixed) else (lambda s, i: s.startswith(first))
    last_at = last.at if isinstance(last, _Fixed) else (lambda s, i: s.endswith(last))
    searches = tuple(
        (m, None, len(m)) if isinstance(m, str) else ("", m.find, m.size) for m in middle
    )  # (literal, fixed-segment search, size)

    def match(s: str) -> bool:
        end = len(s) - tail
        if end < head or not first_at(s, 0) or not last_at(s, end):
            return False
        pos = head
        for literal, search, size in searches:
            i = s.find(literal, pos, end) if search is None else search(s, pos, end)
            if i < 0:
                return False
            pos = i + size
        return True

    return match


def _literal_segments(first: str, middle: list[str], last: str) -> Matcher:
    """The common case, no '?': ``first*middle…*last`` with string methods only."""
    head, tail = len(first), len(last)
    need = head + tail + sum(map(len, middle))
    # A pattern ending in '*' (most ARNs in policies) needs no endswith and no length test: each str
    # method call costs an argument tuple and its parsing.
    if not middle:
        if not last:
            return lambda s: s.startswith(first)
        return lambda s: len(s) >= need and s.startswith(first) and s.endswith(last)
    if len(middle) == 1:
        mid = middle[0]
        if not last:  # the search from head fails where the string is too short
            return lambda s: s.startswith(first) and s.find(mid, head) >= 0
        return lambda s: (
            len(s) >= need and s.startswith(first) and s.endswith(last) and s.find(mid, head, len(s) - tail) >= 0
        )

    def match(s: str) -> bool:
        end = len(s) - tail
        if end < head or not s.startswith(first) or not s.endswith(last):
            return False
        pos = head
        for seg in middle:
            pos = s.find(seg, pos, end)
            if pos < 0:
                return False
            pos += len(seg)
        return True

    return match


def star_match(pattern: str, s: str) -> bool:
    """Whether ``s`` matches ``pattern``, a glob whose only wildcard is ``*`` (no ``?``), without
    compiling it: the same greedy leftmost placement as :func:`compile_glob`'s matchers, for a
    pattern made per request (a policy variable substituted) and used once."""
    if "*" not in pattern:
        return s == pattern
    segments = pattern.split("*")
    first, last = segments[0], segments[-1]
    head = len(first)
    end = len(s) - len(last)
    if end < head or not s.startswith(first) or not s.endswith(last):
        return False
    pos = head
    for seg in segments[1:-1]:
        if seg:
            pos = s.find(seg, pos, end)
            if pos < 0:
                return False
            pos += len(seg)
    return True


def compile_parts(parts: Iterable[tuple[str, bool]]) -> Matcher:
    """A predicate for a glob given as ``(text, is_pattern)`` runs (see :func:`_segments`)."""
    runs = list(parts)
    if all(is_pattern or not has_wildcard(text) for text, is_pattern in runs):
        return compile_glob("".join(text for text, _ in runs))  # the literal runs need no escaping
    return _matcher(_segments(runs))


def compile_glob(pattern: str) -> Matcher:
    """A predicate telling whether a whole string matches ``pattern`` (case-sensitive)."""
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        return pattern.__eq__
    body = pattern[:-1]
    if pattern.endswith("*") and not has_wildcard(body):
        return lambda s: s.startswith(body)
    body = pattern[1:]
    if pattern.startswith("*") and not has_wildcard(body):
        return lambda s: s.endswith(body)
    return _matcher(_segments([(pattern, True)]))


def compile_globs(patterns: Iterable[str]) -> Matcher:
    """A predicate telling whether a string matches any of ``patterns``."""
    pats = list(dict.fromkeys(patterns))
    if not pats:
        return _never
    if "*" in pats:
        return _always
    if len(pats) == 1:
        return compile_glob(pats[0])
    exact = frozenset(p for p in pats if not has_wildcard(p))
    globs = [p for p in pats if has_wildcard(p)]
    if not globs:
        return exact.__contains__
    prefixes = tuple(p[:-1] for p in globs if p.endswith("*") and not has_wildcard(p[:-1]))
    others = tuple(compile_glob(p) for p in globs if not (p.endswith("*") and not has_wildcard(p[:-1])))

    def match(s: str) -> bool:
        return s in exact or s.startswith(prefixes) or any(m(s) for m in others)

    return match
