"""Glob matching as IAM does it: ``*`` is any run of characters, ``?`` exactly one.

Every other character is literal (regex metacharacters included). Patterns compile once
into the cheapest matcher that is exact: string equality, a prefix test, or a regex.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["Matcher", "compile_glob", "compile_globs", "glob_to_regex", "has_wildcard"]

Matcher = Callable[[str], object]  # truthy when the string matches


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def glob_to_regex(pattern: str) -> str:
    """The regex source (for ``fullmatch``) equivalent to an IAM glob."""
    out: list[str] = []
    literal: list[str] = []
    for ch in pattern:
        if ch == "*" or ch == "?":
            if literal:
                out.append(re.escape("".join(literal)))
                literal.clear()
            if ch == "*":
                if not out or out[-1] != ".*":  # '**' is the same as '*'
                    out.append(".*")
            else:
                out.append(".")
        else:
            literal.append(ch)
    if literal:
        out.append(re.escape("".join(literal)))
    return "".join(out)


def _always(_: str) -> bool:
    return True


def compile_glob(pattern: str) -> Matcher:
    """A predicate telling whether a whole string matches ``pattern`` (case-sensitive)."""
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        return pattern.__eq__
    if pattern.endswith("*") and not has_wildcard(pattern[:-1]):
        prefix = pattern[:-1]
        return lambda s: s.startswith(prefix)
    return re.compile(glob_to_regex(pattern), re.DOTALL).fullmatch


def compile_globs(patterns: Iterable[str]) -> Matcher:
    """A predicate telling whether a string matches any of ``patterns``."""
    pats = list(dict.fromkeys(patterns))
    if not pats:
        return lambda s: False
    if "*" in pats:
        return _always
    if len(pats) == 1:
        return compile_glob(pats[0])
    if not any(has_wildcard(p) for p in pats):
        exact = frozenset(pats)
        return exact.__contains__
    regex = re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in pats), re.DOTALL)
    return lambda s: regex.fullmatch(s) is not None
