"""Wildcard matching benchmark: iamd's segment matcher vs the regex it replaced vs fnmatch.

    python -m bench.wildcard            # about 5 minutes (the old regex is given 30 s a case)
    python -m bench.wildcard --quick    # fewer repetitions, shorter timeout for the regex
    python -m bench.wildcard --json

Three matchers of IAM globs (``*`` any run, ``?`` one character, everything else literal):

* **iamd**: ``iamd.policy.wildcard.compile_glob`` (segments, no regex);
* **regex**: the approach iamd used before, ``*`` → ``.*``, ``?`` → ``.``, the rest escaped,
  compiled with ``re.DOTALL`` and ``fullmatch``ed (backtracking);
* **fnmatch**: ``fnmatch.fnmatchcase`` (its own regex translation, which emulates atomic
  groups so that ``*`` does not backtrack; ``[`` means a class there, so only patterns
  without ``[`` are compared).

Ordinary cases (actions, ARNs) are timed in process: the best of R repetitions of a loop
of K matches, per match. Adversarial cases (``*a*a*a*a*b`` against ``a`` x N, ...) are
timed for all three; the regex runs in a child process that is killed after a timeout,
because a regex stuck in C code cannot be interrupted in process: the table then says
``> T s``. The ratios are regex / iamd and fnmatch / iamd (above 1: iamd is faster).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import multiprocessing
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from iamd.policy.wildcard import compile_glob


def regex_glob(pattern: str) -> Callable[[str], object]:
    """The replaced implementation: a backtracking regex per glob."""
    source = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(source, re.DOTALL).fullmatch


def fnmatch_glob(pattern: str) -> Callable[[str], object]:
    return re.compile(fnmatch.translate(pattern)).match  # what fnmatchcase runs, compiled once


ORDINARY: list[tuple[str, str, str]] = [
    ("action prefix", "s3:get*", "s3:getobject"),
    ("action infix", "dynamodb:*item", "dynamodb:batchgetitem"),
    ("action ?", "s3:get?bject", "s3:getobject"),
    ("ARN, miss", "arn:aws:s3:::app-data-*/*", "arn:aws:s3:::logs/2026/12/06/a.gz"),
    ("ARN, two stars", "arn:aws:s3:::bucket/*/reports/*.csv", "arn:aws:s3:::bucket/team/red/reports/q3.csv"),
    ("ARN, account *", "arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/division/alice"),
    ("ARN, ? and *", "arn:aws:ec2:us-east-?:*:instance/i-*", "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"),
]

ADVERSARIAL: list[tuple[str, str, str, list[int]]] = [
    ("*a*a*a*a*b", "*a*a*a*a*b", "a", [50, 100, 200, 300, 2_000, 10_000]),
    ("*a?*a?*a?b", "*a?*a?*a?b", "a", [100, 300, 1_000, 10_000]),
    ("?* x 20, b", "?*" * 20 + "b", "a", [25, 30, 40, 10_000]),
    ("* a? x 40 *", "*" + "a?" * 40 + "b*", "a", [1_000, 10_000]),
]


def _per_call_ns(match: Callable[[str], object], subject: str, repeat: int, budget_s: float) -> float:
    """Best per-call time over ``repeat`` loops sized to take about ``budget_s`` each."""
    t0 = time.perf_counter()
    match(subject)
    once = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, min(100_000, int(budget_s / once)))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            match(subject)
        best = min(best, (time.perf_counter_ns() - t0) / loops)
    return best


def _child(kind: str, pattern: str, subject: str, out: Any) -> None:
    make = regex_glob if kind == "regex" else fnmatch_glob
    match = make(pattern)
    t0 = time.perf_counter_ns()
    match(subject)
    out.put(time.perf_counter_ns() - t0)


def _isolated_ns(kind: str, pattern: str, subject: str, timeout: float) -> float | None:
    """One match in a child process; None if it did not finish within ``timeout``."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, pattern, subject, queue), daemon=True)
    proc.start()
    try:
        return float(queue.get(timeout=timeout + 5))  # + the child's start-up
    except Exception:  # queue.Empty: it did not finish
        return None
    finally:
        proc.kill()
        proc.join()


def run(quick: bool, quiet: bool) -> dict[str, Any]:
    repeat = 3 if quick else 7
    budget = 0.005 if quick else 0.02
    timeout = 5.0 if quick else 30.0
    say: Callable[[str], None] = (lambda _: None) if quiet else (lambda m: print(m, file=sys.stderr))
    ordinary = []
    for name, pattern, subject in ORDINARY:
        say(f"ordinary: {name}")
        row: dict[str, Any] = {"case": name, "pattern": pattern, "subject": subject}
        expected = bool(regex_glob(pattern)(subject))
        for kind, make in (("iamd", compile_glob), ("regex", regex_glob), ("fnmatch", fnmatch_glob)):
            match = make(pattern)
            assert bool(match(subject)) == expected, (kind, pattern, subject)
            row[kind] = _per_call_ns(match, subject, repeat, budget)
        ordinary.append(row)
    adversarial = []
    for name, pattern, unit, sizes in ADVERSARIAL:
        for n in sizes:
            say(f"adversarial: {name}, n={n}")
            subject = unit * n
            row = {"case": name, "pattern": pattern, "n": n}
            row["iamd"] = _per_call_ns(compile_glob(pattern), subject, repeat, budget)
            row["regex"] = _isolated_ns("regex", pattern, subject, timeout)
            row["fnmatch"] = _isolated_ns("fnmatch", pattern, subject, timeout)
            adversarial.append(row)
    return {"ordinary": ordinary, "adversarial": adversarial, "timeout_s": timeout}


def _fmt_ns(ns: float | None, timeout: float) -> str:
    if ns is None:
        return f"> {timeout:g} s"
    if ns < 10_000:
        return f"{ns:,.0f} ns"
    if ns < 10_000_000:
        return f"{ns / 1000:,.1f} µs"
    return f"{ns / 1e9:,.2f} s" if ns >= 1e9 else f"{ns / 1e6:,.1f} ms"


def _ratio(other: float | None, ours: float, timeout: float) -> str:
    if other is None:
        return f"> {timeout * 1e9 / ours:,.0f}x"
    return f"{other / ours:,.1f}x"


def render(results: dict[str, Any]) -> str:
    t = results["timeout_s"]
    lines = ["Ordinary patterns (per match, best of repetitions)", ""]
    lines.append(f"{'case':<18} {'iamd':>9} {'regex':>9} {'fnmatch':>9} {'regex/iamd':>11} {'fnmatch/iamd':>13}")
    for r in results["ordinary"]:
        lines.append(
            f"{r['case']:<18} {_fmt_ns(r['iamd'], t):>9} {_fmt_ns(r['regex'], t):>9} {_fmt_ns(r['fnmatch'], t):>9}"
            f" {_ratio(r['regex'], r['iamd'], t):>11} {_ratio(r['fnmatch'], r['iamd'], t):>13}"
        )
    lines += [
        "",
        f"Adversarial patterns against 'a' x n (regex and fnmatch: one match in a child, killed after {t:g} s)",
        "",
    ]
    lines.append(
        f"{'case':<16} {'n':>7} {'iamd':>10} {'regex':>10} {'fnmatch':>10} {'regex/iamd':>12} {'fnmatch/iamd':>13}"
    )
    for r in results["adversarial"]:
        lines.append(
            f"{r['case']:<16} {r['n']:>7,} {_fmt_ns(r['iamd'], t):>10} {_fmt_ns(r['regex'], t):>10}"
            f" {_fmt_ns(r['fnmatch'], t):>10} {_ratio(r['regex'], r['iamd'], t):>12}"
            f" {_ratio(r['fnmatch'], r['iamd'], t):>13}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wildcard", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, a 5 s timeout for the regex")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    args = parser.parse_args(argv)
    results = run(args.quick, quiet=args.json)
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
