"""The glob matcher's cost is linear in the string, whatever the pattern: counted, not timed.

The subject is a ``str`` subclass that counts what the matcher does with it: every method
call is a step, and every character a call hands to C (a search, a prefix test) or to a
Python loop (a slice the matcher iterates over) is charged. A backtracking matcher would
show work growing with a power of the length; these tests assert that quadrupling the
string at most quadruples the work (plus a constant), with no clock involved.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any, SupportsIndex

import pytest

from iamd.policy.variables import parse_template
from iamd.policy.wildcard import compile_glob, compile_globs


class Counted(str):
    """A string that counts the matcher's work on it."""

    work: int

    def _charge(self, amount: int) -> None:
        self.work = getattr(self, "work", 0) + 1 + amount

    def find(self, sub: str, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        found = str.find(self, sub, start, end)
        lo = 0 if start is None else int(start)
        hi = str.__len__(self) if end is None else int(end)
        self._charge((found + len(sub) if found >= 0 else hi) - lo + len(sub))
        return found

    def startswith(self, prefix: str | tuple[str, ...], *args: Any) -> bool:
        self._charge(len(prefix) if isinstance(prefix, str) else sum(map(len, prefix)))
        return str.startswith(self, prefix, *args)

    def endswith(self, suffix: str | tuple[str, ...], *args: Any) -> bool:
        self._charge(len(suffix) if isinstance(suffix, str) else sum(map(len, suffix)))
        return str.endswith(self, suffix, *args)

    def __len__(self) -> int:
        self._charge(0)
        return str.__len__(self)

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        out = str.__getitem__(self, key)
        self._charge(len(out))
        return out


def work(pattern: str | list[str], subject: str) -> tuple[bool, int]:
    matcher = compile_globs(pattern) if isinstance(pattern, list) else compile_glob(pattern)
    s = Counted(subject)
    result = bool(matcher(s))
    return result, getattr(s, "work", 0)


# pattern, the unit repeated to make the string, and what ends the string: with "b" the
# last segment matches and the middle ones must be searched through the whole string.
ADVERSARIAL: dict[str, tuple[str | list[str], str, str]] = {
    "stars": ("*a*a*a*a*b", "a", ""),
    "stars, searched": ("*a*a*a*a*c*b", "a", "b"),
    "stars and ones": ("*a?*a?*a?b", "a", ""),
    "stars and ones, searched": ("*a?*a?*c?*b", "a", "b"),
    "ones and stars": ("?*" * 60 + "c*b", "a", "b"),
    "many segments": ("*" + "a*" * 500 + "c*b", "a", "b"),
    "long ? segment (bit-parallel)": ("*" + "a?" * 40 + "c*b", "a", "b"),
    "short ? segment (anchored)": ("*a?a?c*b", "a", "b"),
    "all ? segment": ("*" + "?" * 70 + "c*b", "a", "b"),
    "long literal segment": ("*" + "a" * 300 + "c*b", "a", "b"),
    "periodic": ("*ab?ab?ab?ab?abc*", "ab", ""),
    "first and last with ?": ("a?a*a?a*a?c*a?b", "a", "b"),
    "resource": ("arn:aws:s3:::*a*a*a*a*c*b", "a", "b"),
    "list of patterns": (["*a*a*c*b", "*a?a?c*b", "x*", "*a*?*c*b"], "a", "b"),
}


@pytest.mark.parametrize("case", ADVERSARIAL, ids=list(ADVERSARIAL))
def test_work_grows_linearly_with_the_string(case: str) -> None:
    pattern, unit, end = ADVERSARIAL[case]
    assert work(pattern, unit * 8)[1] > 0  # the matcher reads the string through str's methods, nothing else
    prefix = "arn:aws:s3:::" if case == "resource" else ""
    small, large = (prefix + unit * (n // len(unit)) + end for n in (2_500, 10_000))
    matched_small, work_small = work(pattern, small)
    matched_large, work_large = work(pattern, large)
    assert not matched_small and not matched_large
    # x4 the string: at most x4 the work, plus the pattern's own size as a constant.
    budget = 4 * work_small + 256 + 16 * len("".join(pattern))
    assert work_large <= budget, (work_small, work_large)
    # and absolutely: a few passes over the string per pattern, never n x pattern length.
    patterns = len(pattern) if isinstance(pattern, list) else 1
    assert work_large <= patterns * 8 * len(large) + 64 * len("".join(pattern))


def test_matches_found_are_linear_too() -> None:
    # The same adversarial shapes, made to match at the very end.
    for pattern in ("*a*a*a*a*b", "*a?*a?*a?b", "*" + "a?" * 40 + "b", "?*" * 60 + "b"):
        assert work(pattern, "a" * 8)[1] > 0
        _, w1 = work(pattern, "a" * 2_500 + "b")
        matched, w4 = work(pattern, "a" * 10_000 + "b")
        assert matched
        assert w4 <= 4 * w1 + 256 + 16 * len(pattern)


def test_ten_thousand_characters_through_the_engine_simply_complete() -> None:
    """Cases a backtracking regex needs hours for; run apart so the old code fails, not hangs."""
    script = textwrap.dedent(
        """
        import json
        from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, Principal, Request
        from iamd.policy import build_context, evaluate, parse_policy
        from iamd.policy.variables import parse_template
        from iamd.policy.wildcard import compile_glob

        a = "a" * 10_000
        doc = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*a*a*a*a*b", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*a*a*a*a*b"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::${aws:username}*a?*a?*a?b"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
             "Condition": {"StringLike": {"s3:prefix": "*a*a*a*a*b"}}},
            {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*",
             "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*a*a*a*a*b"}}},
        ]}), DocumentKind.IDENTITY)
        policies = PolicySet.of(identity=[Policy("p", PolicyType.IDENTITY, doc)])
        alice = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
        ctx = build_context(alice, [("s3:prefix", a), ("aws:SourceArn", "arn:aws:s3:::" + a)])
        out = [bool(compile_glob("*a*a*a*a*b")(a)), bool(compile_glob("*a?*a?*a?b")(a))]
        out.append(len(parse_template("${" * 300_000, True).parts))  # quadratic under a regex scan
        for action, resource in (("s3:" + a, "*"), ("s3:GetObject", "arn:aws:s3:::" + a),
                                 ("s3:PutObject", "arn:aws:s3:::alice" + a), ("s3:ListBucket", "*"),
                                 ("s3:DeleteObject", "*")):
            out.append(evaluate(Request(alice, action, resource, ctx), policies).verdict.value)
        print(json.dumps(out))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, False, 1] + ["implicitDeny"] * 5


@pytest.mark.parametrize("text", ["${" * 5_000, "${a" + " " * 10_000 + "b, 'x}", "${a}" * 2_500, "}${x" * 3_000])
def test_policy_variables_are_parsed_in_linear_work(text: str) -> None:
    # '${' with no '}' after it was quadratic under the old regex scan, and so was a
    # variable body of spaces under the old default-value regex.
    small = Counted(text[: len(text) // 4])
    large = Counted(text)
    parse_template(small, True)
    parse_template(large, True)
    work_small, work_large = getattr(small, "work", 0), getattr(large, "work", 0)
    assert work_small > 0
    assert work_large <= 4 * work_small + 256
