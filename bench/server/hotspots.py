"""Summarise a ``py-spy record --format raw`` profile (collapsed stacks) into hot spots.

Each line of the raw format is ``frame;frame;...;leaf count``, a frame being
``function (file:line)``. Reported: the share of samples in which a function is on the stack
(inclusive) and the share in which it is the leaf (self), lines folded per function.
``python -m bench.server.hotspots profile.txt [--top N] [--thread MainThread]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["summarise"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


def summarise(text: str, *, top: int = 25, thread: str | None = None) -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if thread and not any(thread in f for f in frames[:2]):
            continue
        count = int(count_text)
        total += count
        names = [_name(f) for f in frames if not f.startswith(("process ", "thread "))]
        for n in set(names):
            inclusive[n] += count
        if names:
            leaf[names[-1]] += count
    if not total:
        return "  (no samples)"
    lines = [f"  {total:,} samples"]
    lines.append(f"  {'inclusive':>9}  function")
    lines += [f"  {c / total:>9.1%}  {n}" for n, c in inclusive.most_common(top)]
    lines.append(f"  {'self':>9}  function")
    lines += [f"  {c / total:>9.1%}  {n}" for n, c in leaf.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.hotspots", description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--thread", default=None, help="only stacks of threads whose name contains this")
    args = parser.parse_args()
    print(summarise(args.profile.read_text(), top=args.top, thread=args.thread))
    return 0


if __name__ == "__main__":
    sys.exit(main())
