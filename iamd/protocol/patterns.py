"""The models' ``pattern`` constraints, which are Java regular expressions, for Python's ``re``.

AWS validates with ``java.util.regex`` and ``Matcher.matches()`` (the whole value must
match). The model patterns use a handful of Java features Python's ``re`` lacks or reads
differently, which :func:`translate` rewrites:

* ``\\p{L}``, ``\\p{Z}``, ``\\p{N}`` (and any other general category such as ``\\p{Lu}``):
  expanded to explicit code-point ranges from :mod:`unicodedata` (one scan of the code
  space, about a quarter of a second, done once per process on first use);
* ``\\w``, ``\\d``, ``\\s`` are ASCII-only in Java, Unicode-aware in Python: spelled out as
  ASCII sets;
* ``\\x{h..h}``: rewritten as ``\\U`` escapes.

Everything else (``\\uXXXX`` escapes, classes, groups, quantifiers, lookahead) means the
same in both. The quirk ``\\u10000-\\u10FFFF`` (read by Java as ``\\u1000``, ``0-\\u10FF``,
``F``, ``F``) is read the same way by Python, so iamd accepts what AWS accepts. A feature
neither covered nor shared raises ``ValueError`` at compile time, never at request time:
the tests compile every pattern of the IAM, STS and Organizations models.

A few model patterns would make Python's backtracking engine quadratic on a hostile value
(docs/security.md, the audit of every other regex). :data:`LINEAR_EQUIVALENTS` maps each
to a pattern that accepts exactly the same strings and that the engine runs in linear
time; :func:`compile_pattern` uses the equivalent, and the tests check both agree.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

__all__ = ["compile_pattern", "translate"]

# Java's \w, \d, \s as code-point ranges (ASCII only, unlike Python's).
_ASCII_SETS = {
    "w": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "d": ((0x30, 0x39),),
    "s": ((0x09, 0x0D), (0x20, 0x20)),
}
_PLAIN_ESCAPES = frozenset("tnrfae0123456789bBAzZ")  # escapes Python reads as Java does
_CATEGORY = re.compile(r"(?:Is)?([A-Z][a-z]?)")

# Model pattern -> a pattern matching exactly the same strings in linear time.
LINEAR_EQUIVALENTS = {
    # Organizations' Email. In ``A+\.A+`` (A = ``[^\s@]``, which contains ``.``) the first
    # repeat may end at any dot of the domain, so a domain of n dots makes the engine try each.
    # The text matches iff some dot has a character of A before and after it; taking the
    # first dot after the domain's first character decides at once: ``A[A-.]*\.A+``.
    r"[^\s@]+@[^\s@]+\.[^\s@]+": r"[^\s@]+@[^\s@][^\s@.]*\.[^\s@]+",
    # Organizations' GenericArn: ``.+:.+`` tries every colon; the first colon after the first
    # character decides, as above.
    r"^arn:aws:organizations::.+:.+": r"^arn:aws:organizations::.[^:\n]*:.+",
}


@functools.cache
def _category_table() -> dict[str, tuple[tuple[int, int], ...]]:
    """Code-point ranges of every two-letter Unicode general category, in order."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    previous, start = "", 0
    for code in range(sys.maxunicode + 2):
        current = category(chr(code)) if code <= sys.maxunicode else ""
        if current != previous:
            if previous:
                ranges.setdefault(previous, []).append((start, code - 1))
            previous, start = current, code
    return {name: tuple(spans) for name, spans in ranges.items()}


def _char(code: int) -> str:
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _render(spans: tuple[tuple[int, int], ...] | list[list[int]]) -> str:
    """Sorted, disjoint code-point ranges as the body of a character class."""
    return "".join(_char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in spans)


def _ascii_set(letter: str) -> str:
    """The class body for Java's ``\\w``-style escape ``letter``; upper case negates."""
    spans = _ASCII_SETS[letter.lower()]
    if letter.islower():
        return _render(spans)
    complement, low = [], 0
    for start, end in spans:
        if start > low:
            complement.append([low, start - 1])
        low = end + 1
    complement.append([low, sys.maxunicode])
    return _render(complement)


@functools.cache
def _category_set(name: str) -> str:
    """The body of a character class matching general category ``name`` (``L`` or ``Lu``)."""
    table = _category_table()
    spans = sorted(span for key, found in table.items() if key.startswith(name) for span in found)
    if not spans:
        raise ValueError(f"unknown Unicode category \\p{{{name}}}")
    merged: list[list[int]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return _render(merged)


def _property(pattern: str, index: int) -> tuple[str, int]:
    """The category named after ``\\p`` at ``index``, and the index after it."""
    if pattern.startswith("{", index):
        end = pattern.find("}", index)
        if end < 0:
            raise ValueError(f"unterminated \\p{{ in {pattern!r}")
        name, index = pattern[index + 1 : end], end + 1
    else:
        name, index = pattern[index : index + 1], index + 1
    match = _CATEGORY.fullmatch(name)
    if match is None:
        raise ValueError(f"unsupported property \\p{{{name}}} in {pattern!r}")
    return _category_set(match.group(1)), index


def translate(pattern: str) -> str:
    """Rewrite Java regex ``pattern`` into an equivalent Python ``re`` pattern."""
    out: list[str] = []
    in_class = False
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == "[":
            if in_class:
                raise ValueError(f"nested character classes are not supported: {pattern!r}")
            in_class = True
            out.append(char)
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            continue
        if char == "]" and in_class:
            in_class = False
        elif char == "&" and in_class and pattern.startswith("&", index):
            raise ValueError(f"class intersection is not supported: {pattern!r}")
        if char != "\\":
            out.append(char)
            continue
        if index >= length:
            raise ValueError(f"trailing backslash in {pattern!r}")
        escape = pattern[index]
        index += 1
        if escape in "pP":
            body, index = _property(pattern, index)
            if in_class and escape == "P":
                raise ValueError(f"\\P inside a class is not supported: {pattern!r}")
            out.append(body if in_class else f"[{'^' if escape == 'P' else ''}{body}]")
        elif escape.lower() in _ASCII_SETS:
            body = _ascii_set(escape)
            out.append(body if in_class else f"[{body}]")
        elif escape == "x" and pattern.startswith("{", index):
            end = pattern.find("}", index)
            if end < 0:
                raise ValueError(f"unterminated \\x{{ in {pattern!r}")
            out.append(_char(int(pattern[index + 1 : end], 16)))
            index = end + 1
        elif escape in "ux" or escape in _PLAIN_ESCAPES or not escape.isalnum():
            out.append("\\" + escape)
        else:
            raise ValueError(f"unsupported escape \\{escape} in {pattern!r}")
    if in_class:
        raise ValueError(f"unterminated character class in {pattern!r}")
    return "".join(out)


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled Python equivalent of Java regex ``pattern`` (use with ``fullmatch``)."""
    return re.compile(translate(LINEAR_EQUIVALENTS.get(pattern, pattern)))
