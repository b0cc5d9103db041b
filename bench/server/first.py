"""Cold requests only, for instruction counts: ``python -m bench.server.first N [--callers C]``.

``bench.server.callers``' set-up (C callers, default 200, each with its key and the two shared
managed policies; the audit writer in its child process, as ``iamd serve`` runs it), then the
first N callers' first GetUser (cold: key, user and set not cached) fed through ``iamd serve``'s
HTTP protocol, as the callers benchmark's cold pass. Run it twice under callgrind with two values
of N: the difference of the two totals over the difference of N is the instructions of one
cold request, set-up and start-up cancelled out (bench/README.md, "A first request in one
snapshot")::

    valgrind --tool=callgrind python -m bench.server.first 30
    valgrind --tool=callgrind python -m bench.server.first 130

``--direct``: the N requests go through ``iamd.api.pipeline.handle`` on the main thread, after
ten warm-up requests (the account's first callers compile the shared managed policies), inside
one ``functools.reduce`` call: no hop to a lane's thread, so callgrind's count is the same from
run to run but for the GIL's hand-offs to the audit sender, and one run counts only them
(bench/README.md, "Session 13")::

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \
        python -m bench.server.first 200 --callers 300 --direct

``--preload``: instead, the credential index's bulk load of the ``--callers`` callers' keys (and
the root's), inside one ``functools.reduce`` call likewise: its instructions per credential
against ``--direct``'s per cold request (bench/README.md, "Session 14: the credential index")::

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \
        python -m bench.server.first 0 --callers 300 --preload
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import tempfile
from pathlib import Path

from iamd.api import Backend, create_app
from iamd.api.pipeline import HttpRequest, handle
from iamd.cli.server import tune_runtime

from .callers import prepare, signed
from .cpu import _feed, query_protocol
from .servers import ROOT_KEY, ROOT_SECRET


def _request(raw: bytes) -> HttpRequest:
    """The ``HttpRequest`` of one raw signed request, as the server's protocol makes it."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = tuple((name.strip().lower(), value.strip()) for name, value in (h.split(":", 1) for h in lines[1:]))
    path, _, query = target.partition("?")
    return HttpRequest(method, path, query, headers, body, "127.0.0.1", False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.first", description=__doc__)
    parser.add_argument("requests", type=int, help="cold requests (at most --callers)")
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--direct", action="store_true", help="through pipeline.handle on this thread, in reduce()")
    parser.add_argument("--preload", action="store_true", help="the credential index's bulk load only, in reduce()")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iamd-first-") as tmp:
        url = f"sqlite:///{tmp}/iamd.db"
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(url, Path(tmp) / "data", dev=True, env=env)
        try:
            keys = prepare(backend, args.callers)
            backend.audit_in_process(url)
            tune_runtime()
            if args.preload:
                load = backend.credentials.preload
                raws, ok = [], 0
                print(functools.reduce(lambda n, _: n + load(args.callers + 1), [0], 0), "credentials loaded")
            elif args.direct:
                requests = [_request(raw) for raw in signed(keys, 8000)]
                for request in requests[:10]:  # the account's first callers compile the shared policies
                    handle(backend, request)
                raws = requests[10 : 10 + args.requests]
                ok = functools.reduce(lambda n, r: n + (handle(backend, r).status == 200), raws, 0)
            else:
                loop = asyncio.new_event_loop()
                protocol, transport = query_protocol(create_app(backend), loop)
                raws = signed(keys, 8000)[: args.requests]
                ok = _feed(protocol, transport, raws, loop)
                loop.close()
            assert backend.audit is not None
            backend.audit.flush()
        finally:
            backend.close()
    if ok != len(raws):
        raise SystemExit(f"{len(raws) - ok} of {len(raws)} requests failed")
    print(f"{ok} cold requests answered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
