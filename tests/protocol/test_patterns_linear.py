"""Every IAM, STS and Organizations model pattern applied to request parameters cannot backtrack badly.

Python's ``re`` backtracks, so a pattern is only safe if its structure leaves the engine
(almost) no choices. This test parses each translated pattern with ``re``'s own parser
and checks, without timing anything:

* a *forced* repeat of one character class is one whose class shares no character with
  whatever may follow it (the next iteration, the rest of the pattern, the end): greedy
  matching then stops exactly where it must, and giving characters back fails at once;
* at most one unbounded repeat per pattern is not forced, and it is not inside another
  repeat: it can give back at most n characters, once (linear);
* inside an unbounded repeat, a bounded repeat must be forced, alternatives must start
  with different characters, and the body may not match the empty string: so the way
  a string splits into iterations is decided character by character (no exponential
  choice of splits, as ``(?:[!-~]+/)*`` had: ``/`` was both inside and after the repeat).

Character sets are compared on a probe alphabet (Latin-1, a few ranges beyond, and
samples of the classes the models use); docs/security.md lists the patterns and why
each is linear. A new model pattern that fails here must be rewritten or reviewed.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import iamd
from iamd.protocol.patterns import LINEAR_EQUIVALENTS, compile_pattern, translate
from tests.protocol.test_patterns import model_patterns

PROBES = [chr(c) for c in (*range(0x250), 0x2028, 0x3000, 0x4E2D, 0x0416, 0xD7FF, 0xE000, 0xFFFD, 0x10000, 0x10FFFF)]
END = "<end>"
EVERYTHING = frozenset(PROBES)


def _in(items: list[tuple[Any, Any]], ch: str) -> bool:
    code, negate, hit = ord(ch), False, False
    for op, arg in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            hit = hit or code == arg
        elif op is C.RANGE:
            hit = hit or arg[0] <= code <= arg[1]
        elif op is C.CATEGORY:
            hit = hit or bool(re.fullmatch(_CATEGORIES[arg], ch))
        else:
            raise AssertionError(f"unexpected class item {op}")
    return hit != negate


_CATEGORIES = {C.CATEGORY_DIGIT: r"\d", C.CATEGORY_NOT_DIGIT: r"\D", C.CATEGORY_SPACE: r"\s",
               C.CATEGORY_NOT_SPACE: r"\S", C.CATEGORY_WORD: r"\w", C.CATEGORY_NOT_WORD: r"\W"}  # fmt: skip


def _charset(op: Any, arg: Any) -> frozenset[str] | None:
    """The characters one single-character node matches, None if it is not one."""
    if op is C.LITERAL:
        return frozenset({chr(arg)})
    if op is C.NOT_LITERAL:
        return EVERYTHING - {chr(arg)}
    if op is C.ANY:
        return EVERYTHING - {"\n"}
    if op is C.IN:
        return frozenset(ch for ch in PROBES if _in(arg, ch))
    return None


class Audit:
    def __init__(self) -> None:
        self.unforced_unbounded = 0
        self.problems: list[str] = []

    def sequence(self, seq: Any, follow: frozenset[str], depth: int, bounded: bool) -> tuple[frozenset[str], bool]:
        """Check ``seq`` followed by ``follow`` (of bounded width or not).

        Returns its FIRST set (with ``follow`` if ``seq`` may be empty) and whether it may be empty.
        """
        after, nullable = follow, True
        for op, arg in reversed(list(seq)):
            first, empty = self.item(op, arg, after, depth, bounded)
            after = first | after if empty else first
            nullable = nullable and empty
            bounded = bounded and _width(op, arg) < C.MAXREPEAT
        return after, nullable

    def item(self, op: Any, arg: Any, after: frozenset[str], depth: int, bounded: bool) -> tuple[frozenset[str], bool]:
        single = _charset(op, arg)
        if single is not None:
            return single, False
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, body = arg
            unbounded = hi == C.MAXREPEAT
            body_items = list(body)
            chars = _charset(*body_items[0]) if len(body_items) == 1 else None
            if chars is not None:
                if lo != hi and chars & after:  # not forced
                    if unbounded:
                        self.unforced_unbounded += 1
                        if depth:
                            self.problems.append("an unforced unbounded repeat inside a repeat")
                        if not bounded:
                            self.problems.append("an unforced unbounded repeat before an unbounded one")
                    elif depth:
                        self.problems.append("an unforced bounded repeat inside an unbounded repeat")
                return chars, lo == 0
            first, empty = Audit().sequence(body, after, depth, bounded)  # FIRST of the body
            loop = first | after if hi > 1 else after
            inner = depth + (1 if unbounded and hi > 1 else 0)
            first, empty = self.sequence(body, loop, inner, bounded and not unbounded)
            if empty and unbounded:
                self.problems.append("an unbounded repeat of something that may be empty")
            return first, empty or lo == 0
        if op is C.SUBPATTERN:
            return self.sequence(arg[-1], after, depth, bounded)
        if op is C.BRANCH:
            firsts: list[frozenset[str]] = []
            empty_any = False
            for alternative in arg[1]:
                first, empty = self.sequence(alternative, after, depth, bounded)
                firsts.append(first)
                empty_any = empty_any or empty
            if depth:
                for i, a in enumerate(firsts):
                    for b in firsts[i + 1 :]:
                        if a & b:
                            self.problems.append("alternatives inside a repeat that start alike")
            return frozenset().union(*firsts), empty_any
        if op in (C.ASSERT, C.ASSERT_NOT):
            self.sequence(arg[1], frozenset(), depth, True)  # a lookaround ends where its body does
            return frozenset(), True
        if op is C.AT:
            return (frozenset({END}) if arg in (C.AT_END, C.AT_END_STRING) else frozenset()), True
        self.problems.append(f"unsupported construct {op}")
        return EVERYTHING, True


def _width(op: Any, arg: Any) -> int:
    """The most characters one node can match (MAXREPEAT: unbounded)."""
    if _charset(op, arg) is not None:
        return 1
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        _, hi, body = arg
        inner = sum(_width(o, a) for o, a in body)
        return C.MAXREPEAT if hi == C.MAXREPEAT or inner >= C.MAXREPEAT else min(C.MAXREPEAT, hi * inner)
    if op is C.SUBPATTERN:
        return min(C.MAXREPEAT, sum(_width(o, a) for o, a in arg[-1]))
    if op is C.BRANCH:
        return max(min(C.MAXREPEAT, sum(_width(o, a) for o, a in alt)) for alt in arg[1])
    return 0


def audit(pattern: str, *, java: bool = True, flags: int = 0) -> Audit:
    a = Audit()
    a.sequence(P.parse(translate(pattern) if java else pattern, flags), frozenset({END}), 0, True)
    if a.unforced_unbounded > 1:
        a.problems.append(f"{a.unforced_unbounded} unforced unbounded repeats")
    return a


def _served_patterns() -> list[str]:
    return model_patterns(("iam", "sts", "organizations"))


@pytest.mark.parametrize("pattern", _served_patterns())
def test_model_pattern_is_linear(pattern: str) -> None:
    """What is applied: the pattern itself, or its linear equivalent (patterns.LINEAR_EQUIVALENTS)."""
    assert audit(LINEAR_EQUIVALENTS.get(pattern, pattern)).problems == []


def test_the_quadratic_organizations_patterns_are_replaced() -> None:
    for pattern in (r"[^\s@]+@[^\s@]+\.[^\s@]+", r"^arn:aws:organizations::.+:.+"):
        assert pattern in _served_patterns()
        assert audit(pattern).problems != []
        assert compile_pattern(pattern).pattern == translate(LINEAR_EQUIVALENTS[pattern])


_PIECES = st.lists(st.sampled_from(["a", ".", "@", ":", " ", "\n", "é", "arn:aws:organizations::", "x.y"]), max_size=8)


@given(_PIECES)
def test_linear_equivalents_accept_exactly_what_the_model_patterns_accept(pieces: list[str]) -> None:
    text = "".join(pieces)
    for pattern, linear in LINEAR_EQUIVALENTS.items():
        original = re.compile(translate(pattern)).fullmatch(text) is not None
        assert (re.compile(translate(linear)).fullmatch(text) is not None) is original, (pattern, text)


@pytest.mark.parametrize("pattern", sorted(LINEAR_EQUIVALENTS))
def test_a_hostile_value_is_answered_at_once(pattern: str) -> None:
    """20,000 dots or colons: the original would try each split (about 10^8 steps)."""
    hostile = "a@" + "a." * 20_000 + " " if "@" in pattern else "arn:aws:organizations::" + "a:" * 20_000 + "\n"
    assert compile_pattern(pattern).fullmatch(hostile) is None


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?:[\x21-\x7e]+/)*[a-z]{1,64}",  # AssumeRole's role ARN before the fix: exponential
        r"(a|aa)*c",
        r"(a*)*b",
        r"[^\s@]+@[^\s@]+\.[^\s@]+",  # Organizations' Email: quadratic
        r"^arn:aws:organizations::.+:.+",  # Organizations' GenericArn: quadratic
        r"(?:a{1,3})*b",
    ],
)
def test_the_audit_catches_backtracking_shapes(pattern: str) -> None:
    assert audit(pattern).problems != []


def test_the_audit_accepts_delimited_repeats() -> None:
    for pattern in (r"((/[A-Za-z0-9\.,\+@=_-]+)*)/", r"[a-z]+( [a-z]+)*", r"(?:[\x21-\x7e]+/)?[a-z]{1,64}"):
        assert audit(pattern).problems == [], pattern


# iamd's own regexes that the audit's rules flag, with why each is linear anyway.
REVIEWED = {
    # Only applied to values of at most 64 characters (the length is checked first).
    "iamd.protocol.scalars._FLOAT",
    # The '.*' gives characters back up to a '/', then '[^/]+' stops at the next '/':
    # each segment of the path is read once more, at most.
    "iamd.store.base._POLICY_ARN",
}


def _own_regexes() -> dict[str, re.Pattern[Any]]:
    found: dict[str, re.Pattern[Any]] = {}
    for info in pkgutil.walk_packages(iamd.__path__, "iamd."):
        if info.name.endswith("__main__") or ".migrations" in info.name:
            continue  # the command line and alembic's environment run when imported
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{info.name}.{name}"] = value
    return found


OWN = _own_regexes()


@pytest.mark.parametrize("name", sorted(OWN))
def test_iamd_regex_is_linear(name: str) -> None:
    regex = OWN[name]
    source = regex.pattern.decode("latin-1") if isinstance(regex.pattern, bytes) else regex.pattern
    flags = regex.flags & (re.VERBOSE | re.IGNORECASE | re.DOTALL | re.MULTILINE)
    problems = audit(source, java=False, flags=flags).problems
    assert (problems != []) is (name in REVIEWED), problems
