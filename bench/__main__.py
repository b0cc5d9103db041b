"""``python -m bench``: the iamd policy engine benchmark (see bench/README.md)."""

from __future__ import annotations

import argparse
import json
import sys

from .report import render
from .suite import Settings, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a run of about 10 s")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on standard error")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if an iamd target is missed (a W1 disagreement always does)"
    )
    args = parser.parse_args(argv)

    results = run(Settings.quick() if args.quick else Settings(), quiet=args.quiet or args.json)
    print(json.dumps(results, indent=2) if args.json else render(results))
    if results["w1"]["agreement"]["mismatches"] or not results["w2"]["context_path_agrees"]:
        return 1
    if args.strict and not (results["w1"]["target_met"] and results["w2"]["target_met"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
