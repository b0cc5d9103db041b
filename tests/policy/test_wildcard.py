"""Glob matching against a regex oracle and a dynamic-programming oracle."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from iamd.policy.conditions import Condition
from iamd.policy.model import ConditionEntry
from iamd.policy.operators import parse_operator
from iamd.policy.request import Context
from iamd.policy.source import Position
from iamd.policy.wildcard import _ONE, _Fixed, compile_glob, compile_globs, compile_parts, star_match

ALPHABET = "ab:/*?.+()[]\\$^|{}\n"
patterns = st.text(alphabet=ALPHABET, max_size=12)
subjects = st.text(alphabet="ab:/.+()[]\\$^|{}*?\n", max_size=14)


def regex_oracle(pattern: str, subject: str) -> bool:
    """IAM glob semantics, translated one character at a time."""
    source = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(source, subject, re.DOTALL) is not None


def dp_oracle(pattern: str, subject: str) -> bool:
    """The textbook wildcard-matching table, with no regex at all."""
    n, m = len(pattern), len(subject)
    table = [[False] * (m + 1) for _ in range(n + 1)]
    table[0][0] = True
    for i in range(1, n + 1):
        table[i][0] = table[i - 1][0] and pattern[i - 1] == "*"
        for j in range(1, m + 1):
            p = pattern[i - 1]
            if p == "*":
                table[i][j] = table[i - 1][j] or table[i][j - 1]
            else:
                table[i][j] = table[i - 1][j - 1] and (p == "?" or p == subject[j - 1])
    return table[n][m]


@given(patterns, subjects)
def test_glob_matches_the_regex_oracle(pattern: str, subject: str) -> None:
    expected = regex_oracle(pattern, subject)
    assert expected == dp_oracle(pattern, subject)
    assert bool(compile_glob(pattern)(subject)) == expected


@given(st.lists(patterns, max_size=4), subjects)
def test_glob_lists_match_any(pats: list[str], subject: str) -> None:
    assert bool(compile_globs(pats)(subject)) == any(regex_oracle(p, subject) for p in pats)


@given(subjects)
def test_subjects_match_themselves_with_wildcards_as_literals(subject: str) -> None:
    # A subject with no wildcard characters matches itself exactly.
    plain = subject.replace("*", "").replace("?", "")
    assert compile_glob(plain)(plain)


def test_examples_from_the_guide() -> None:
    assert compile_glob("arn:aws:s3:::bucket/*/test/*")("arn:aws:s3:::bucket/1/2/test/3/x")
    assert compile_glob("arn:aws:iam::*:user/*")("arn:aws:iam::111122223333:user/a/b")
    assert not compile_glob("arn:aws:iam::111122223333:user/bob")("arn:aws:iam::111122223333:user/Bob")
    assert compile_glob("iam:*accesskey*")("iam:createaccesskey")
    assert not compile_glob("s3:get?bject")("s3:getobjectx")
    assert not compile_glob("a.c")("abc")  # '.' is literal


# -- the segment matcher against the regex semantics it replaced ---------------------------

WIDE = "ab?*.\n"  # few letters, so long patterns still match often


def old_regex(runs: list[tuple[str, bool]]) -> str:
    """The replaced implementation's regex: pattern text translated, other text escaped."""
    out = []
    for text, is_pattern in runs:
        for c in text:
            if is_pattern and c == "*":
                out.append(".*")
            elif is_pattern and c == "?":
                out.append(".")
            else:
                out.append(re.escape(c))
    return "".join(out)


@settings(max_examples=400)
@given(st.text(alphabet=WIDE, max_size=90), st.text(alphabet="ab.\n?*", max_size=60))
def test_long_patterns_agree_with_the_regex(pattern: str, subject: str) -> None:
    # Long '?' segments (the bit-parallel scan) and many literal runs.
    expected = re.fullmatch(old_regex([(pattern, True)]), subject, re.DOTALL) is not None
    assert bool(compile_glob(pattern)(subject)) == expected


@given(st.lists(st.tuples(st.text(alphabet=ALPHABET, max_size=5), st.booleans()), max_size=4), subjects)
def test_literal_runs_are_literal(runs: list[tuple[str, bool]], subject: str) -> None:
    expected = re.fullmatch(old_regex(runs), subject, re.DOTALL) is not None
    assert bool(compile_parts(runs)(subject)) == expected


@given(st.text(alphabet="ab?", min_size=1, max_size=20), st.text(alphabet="ab", max_size=40), st.data())
def test_both_fixed_segment_searches_find_the_leftmost(segment: str, subject: str, data: st.DataObject) -> None:
    fixed = _Fixed([_ONE if c == "?" else c for c in segment])
    start = data.draw(st.integers(0, len(subject)))
    end = data.draw(st.integers(start, len(subject)))
    size = len(segment)
    expected = next(
        (
            i
            for i in range(start, end - size + 1)
            if all(p == "?" or p == subject[i + k] for k, p in enumerate(segment))
        ),
        -1,
    )
    for scan in (False, True):
        fixed.scan = scan
        assert fixed.find(subject, start, end) == expected


def old_arn_like(pattern: str, value: str) -> bool:
    segments: list[list[str]] = [[]]
    for i, piece in enumerate(pattern.split(":")):
        if i:
            if len(segments) < 6:
                segments.append([])
            else:
                segments[-1].append(":")
        segments[-1].append(old_regex([(piece, True)]))
    parts = value.split(":", 5)
    if len(segments) != 6 or len(parts) != 6:
        return False
    return all(re.fullmatch("".join(s), p, re.DOTALL) is not None for s, p in zip(segments, parts, strict=True))


@given(st.text(alphabet="a:*?", max_size=16), st.text(alphabet="a:.", max_size=16))
def test_arn_like_agrees_with_the_regex(pattern: str, value: str) -> None:
    op = parse_operator("ArnLike")
    assert op is not None
    entry = ConditionEntry(op, "aws:SourceArn", (pattern,), Position(1, 1))
    condition = Condition(entry, True)
    context = Context({"aws:sourcearn": (value,)})
    expected = pattern == "*" or old_arn_like(pattern, value)
    assert condition.evaluate(context) is expected


def test_fast_paths_and_lists() -> None:
    assert compile_glob("*.json")("a/b.json") and not compile_glob("*.json")("a/bxjson")
    assert compile_glob("a*b*c")("abc") and not compile_glob("a*b*c")("ac")
    assert not compile_glob("ab*ba")("aba")  # first and last may not overlap
    assert compile_glob("a?*?a")("abba") and not compile_glob("a?*?a")("aba")
    globs = compile_globs(["s3:get*", "s3:putobject", "*acl", "s3:?ist*"])
    assert all(globs(a) for a in ("s3:getobject", "s3:putobject", "s3:putobjectacl", "s3:listbucket"))
    assert not globs("s3:deleteobject")
    assert not compile_globs([])("x")


@settings(max_examples=500)
@given(st.text("ab*", max_size=10), st.text("ab", max_size=12))
def test_star_match_is_compile_glob_without_compiling(pattern: str, s: str) -> None:
    # star_match serves globs made per request (a policy variable substituted): no '?' in them
    assert star_match(pattern, s) == bool(compile_glob(pattern)(s))


_AB = st.text(alphabet="ab", max_size=4)


@settings(max_examples=1000)
@given(_AB, st.lists(_AB, max_size=2), _AB, st.text(alphabet="ab", max_size=12))
def test_literal_segment_shapes_agree_with_the_oracle(first: str, middle: list[str], last: str, subject: str) -> None:
    # compile_glob's matchers for first*middle*last without '?', among them the shapes ending in '*'
    # (no endswith, no length test): a short alphabet makes matches and near-misses common
    pattern = "*".join([first, *middle, last])
    assert bool(compile_glob(pattern)(subject)) == dp_oracle(pattern, subject)
