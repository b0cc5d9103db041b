"""Glob matching against a regex oracle and a dynamic-programming oracle."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from iamd.policy.wildcard import compile_glob, compile_globs

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
