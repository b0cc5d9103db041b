"""Summarise a ``py-spy record --format raw`` profile (collapsed stacks) into hot spots.

Each line of the raw format is ``frame;frame;...;leaf count``, a frame being
``function (file:line)``; lines are folded per function. Reported: where the samples are
(request handling, the audit writer thread, the event loop), the functions under ``--only``
(default: iamd's own code) by the share of samples with them on the stack (inclusive), and
all functions by the share in which they are the leaf (self).
``python -m bench.server.hotspots profile.txt [--top N] [--only iamd/]``.

Without ``--gil``, py-spy drops samples of threads it sees as idle, including a thread that
waits for the GIL; shares are of the samples kept.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["summarise"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*?)(?::\d+)?\)$")
_PLACES = (
    ("request handling (iamd.api.app query_asgi)", "create_app.<locals>.query_asgi (iamd/api/app.py)"),
    ("audit writer thread", "AuditWriter._run (iamd/api/audit_writer.py)"),
)


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3.", "/bench/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3.":
                path = path.split("/", 1)[1] if "/" in path else path
            break
    return f"{m.group('func')} ({path})"


def summarise(text: str, *, top: int = 15, only: str = "iamd/") -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = [_name(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        for n in set(names):
            inclusive[n] += count
        if names:
            leaf[names[-1]] += count
    if not total:
        return "  (no samples)"
    lines = [f"  {total:,} samples: " + ", ".join(f"{label} {inclusive[key] / total:.0%}" for label, key in _PLACES)]
    lines.append(f"  {'inclusive':>9}  function (under {only})")
    entry = ("(iamd/cli/", "(iamd/__main__")  # the server's entry points: on every stack
    picked = [(n, c) for n, c in inclusive.most_common() if f"({only}" in n and not any(e in n for e in entry)][:top]
    lines += [f"  {c / total:>9.1%}  {n}" for n, c in picked]
    lines.append(f"  {'self':>9}  function (any)")
    lines += [f"  {c / total:>9.1%}  {n}" for n, c in leaf.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.hotspots", description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--only", default="iamd/", help="inclusive list: functions whose file starts with this")
    args = parser.parse_args()
    print(summarise(args.profile.read_text(), top=args.top, only=args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
