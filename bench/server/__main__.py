"""``python -m bench.server``: the iamd server benchmark (see bench/README.md).

Starts iamd (``iamd serve --dev``) and moto_server as their own processes on loopback
ports and loads them from another process (wrk when installed) with pre-signed requests.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from .report import render
from .suite import Settings, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter windows, one round: under a minute")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on standard error")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk (if installed) or the built-in Python client")  # fmt: skip
    parser.add_argument("--connections", type=int, nargs="+", metavar="N", help="concurrency levels for GetUser")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL measurements")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="SECONDS",
        help="also record iamd with py-spy for this long under GetUser load and list its hot spots",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases, profile)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if an iamd target is missed")
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings()
    settings = replace(settings, client=args.client, postgres=not args.no_postgres, profile=args.profile,
                       keep=args.keep)  # fmt: skip
    if args.connections:
        settings = replace(settings, levels=tuple(args.connections))
    if settings.target_connections not in settings.levels:
        settings = replace(settings, levels=tuple(sorted({*settings.levels, settings.target_connections})))
    results = run(settings, quiet=args.quiet or args.json)
    print(json.dumps(results, indent=2) if args.json else render(results))
    if args.strict:
        met = (results["get_user"].get("target_met") and results["big"]["target_ratio_met"]
               and results["big"]["target_list_met"])  # fmt: skip
        return 0 if met else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
