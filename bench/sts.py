"""STS benchmark: AssumeRole throughput on one process, and what authenticating a
request signed with session credentials costs over a long-term key.

    python -m bench.sts            # full run
    python -m bench.sts --quick    # fewer iterations
    python -m bench.sts --json     # results as JSON

Everything runs in this one process against a real server core: ``Backend.open`` on a
SQLite database in a temporary directory (migrations, root key, audit writer, caches) and
``iamd.api.pipeline.handle`` — the function the ASGI app calls for every request — with
requests signed beforehand by botocore's own SigV4 signer. No socket: the figures are the
server's cost per request, not a client's.

Measured:

* **AssumeRole**: N distinct pre-signed AssumeRole requests (a user whose identity policy
  allows ``sts:AssumeRole``, a role whose trust policy names the user), handled one after
  another; requests per second and p50/p99 per request. Target: ≥ 1,000/s.
* **Authentication**: the SigV4 verifier with the backend's credential lookup, warm, for
  the same GetCallerIdentity request signed (a) with the user's long-term key and (b) with
  session credentials from AssumeRole; the difference of the medians. Target: ≤ 50 µs more.
  Also the first use of a token in a process (opening it), which the backend then remembers.
* **Database reads**: SQL statements executed on the request thread (counted with a
  SQLAlchemy engine event) while handling M warm session-signed requests end to end
  (GetCallerIdentity, and an IAM GetRole the role's policy allows). Target: 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import event

from bench.server.signing import IAM_VERSION
from iamd.api.backend import Backend
from iamd.api.pipeline import HttpRequest, handle
from iamd.auth import SignedRequest
from iamd.sessions import open_session_token

HOST = "127.0.0.1:4566"
ROLE = "bench-role"
STS_VERSION = "2011-06-15"
TARGET = "bench-target"  # a role GetRole reads: its trust policy names a service (no unique ids to resolve)
USER = "bench-user"


def _signed(creds: Credentials, service: str, params: dict[str, str]) -> HttpRequest:
    version = STS_VERSION if service == "sts" else IAM_VERSION
    body = urlencode({**params, "Version": version}).encode()
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": HOST},
    )
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    headers = tuple((k.lower(), str(v)) for k, v in request.headers.items())
    return HttpRequest("POST", "/", "", headers, body, "127.0.0.1", False)


def _call(backend: Backend, request: HttpRequest) -> bytes:
    response = handle(backend, request)
    if response.status != 200:
        raise RuntimeError(f"benchmark request failed ({response.status}): {response.body[:300]!r}")
    return response.body


def _text(body: bytes, tag: str) -> str:
    start = body.index(f"<{tag}>".encode()) + len(tag) + 2
    return body[start : body.index(f"</{tag}>".encode(), start)].decode()


def _documents(acct: str) -> tuple[str, str]:
    """The caller's identity policy (sts:AssumeRole) and the role's trust policy (the caller)."""
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/{USER}"}, "Action": "sts:AssumeRole"}
        ],
    }
    return json.dumps(allow), json.dumps(trust)


def _setup(backend: Backend, root: Credentials) -> Credentials:
    allow, trust = _documents(backend.account_id)
    service_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    role_policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}
    )
    for params in (
        {"Action": "CreateUser", "UserName": USER},
        {"Action": "PutUserPolicy", "UserName": USER, "PolicyName": "assume", "PolicyDocument": allow},
        {"Action": "CreateRole", "RoleName": ROLE, "AssumeRolePolicyDocument": trust},
        {"Action": "PutRolePolicy", "RoleName": ROLE, "PolicyName": "read", "PolicyDocument": role_policy},
        {"Action": "CreateRole", "RoleName": TARGET, "AssumeRolePolicyDocument": service_trust},
    ):
        _call(backend, _signed(root, "iam", params))
    body = _call(backend, _signed(root, "iam", {"Action": "CreateAccessKey", "UserName": USER}))
    return Credentials(_text(body, "AccessKeyId"), _text(body, "SecretAccessKey"))


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(quick: bool = False) -> dict[str, Any]:
    n_assume = 500 if quick else 3000
    n_verify = 2000 if quick else 20000
    n_reads = 200 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        backend, root_key = Backend.open(f"sqlite:///{data / 'iamd.db'}", data, dev=True, env={})
        try:
            root = Credentials(root_key.access_key_id, root_key.secret_access_key)
            user = _setup(backend, root)
            role_arn = f"arn:aws:iam::{backend.account_id}:role/{ROLE}"

            # AssumeRole throughput: distinct pre-signed requests, handled back to back.
            requests = [
                _signed(user, "sts", {"Action": "AssumeRole", "RoleArn": role_arn, "RoleSessionName": f"s{i}"})
                for i in range(n_assume + 50)
            ]
            for r in requests[:50]:  # warm the caches
                _call(backend, r)
            t0 = time.perf_counter()
            per = []
            last = b""
            for r in requests[50:]:
                t1 = time.perf_counter()
                last = _call(backend, r)
                per.append(time.perf_counter() - t1)
            elapsed = time.perf_counter() - t0
            session = Credentials(
                _text(last, "AccessKeyId"), _text(last, "SecretAccessKey"), _text(last, "SessionToken")
            )

            # Authentication cost: the verifier + lookup, warm, long-term vs session.
            def verifier(request: HttpRequest) -> Callable[[], object]:
                signed = SignedRequest.of(request.method, request.path, request.query, request.headers, request.body)
                now = backend.clock()
                return lambda: backend.verifier.verify(signed, now=now, lookup=backend.lookup, service="sts")

            long_term = verifier(_signed(user, "sts", {"Action": "GetCallerIdentity"}))
            temporary = verifier(_signed(session, "sts", {"Action": "GetCallerIdentity"}))
            for fn in (long_term, temporary):
                _timed(fn, 200)
            lt, st = [], []
            for _ in range(5):  # interleaved rounds: drift in machine load hits both alike
                lt += _timed(long_term, n_verify // 5)
                st += _timed(temporary, n_verify // 5)

            # First use of a token (not yet opened by this process): authenticated decryption,
            # decompression and parsing of the claims, and the session principal.
            token = session.token or ""
            first_use = _timed(lambda: open_session_token(backend.secret_box, session.access_key, token), n_verify // 5)

            # Database reads while serving warm session-signed requests end to end.
            whoami = _signed(session, "sts", {"Action": "GetCallerIdentity"})
            get_role = _signed(session, "iam", {"Action": "GetRole", "RoleName": TARGET})
            for r in (whoami, get_role):
                _call(backend, r)
            statements = 0
            seen: Counter[str] = Counter()

            serving = threading.get_ident()  # the audit writer's own statements run on its thread

            def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
                nonlocal statements
                if threading.get_ident() != serving:
                    return
                statements += 1
                seen[" ".join(statement.split())[:120]] += 1

            engine = backend.store.engine  # type: ignore[attr-defined]
            backend.audit.flush()  # type: ignore[union-attr]  # (its statements run here, before counting)
            event.listen(engine, "before_cursor_execute", count)
            try:
                for _ in range(n_reads):
                    _call(backend, whoami)
                    _call(backend, get_role)
                reads_during = statements
            finally:
                event.remove(engine, "before_cursor_execute", count)
        finally:
            backend.close()
    lt_med, st_med = statistics.median(lt), statistics.median(st)
    return {
        "assume_role": {
            "requests": n_assume,
            "per_second": n_assume / elapsed,
            "p50_ms": _pct(per, 0.5) * 1e3,
            "p99_ms": _pct(per, 0.99) * 1e3,
            "target_per_second": 1000,
        },
        "authentication": {
            "long_term_p50_us": lt_med * 1e6,
            "session_p50_us": st_med * 1e6,
            "extra_us": (st_med - lt_med) * 1e6,
            "token_first_open_p50_us": statistics.median(first_use) * 1e6,
            "target_extra_us": 50,
        },
        "database": {
            "session_requests": 2 * n_reads,
            "sql_statements_while_serving": reads_during,
            "statements": dict(seen.most_common(5)),
        },
        "token_bytes": len(session.token or ""),
    }


def run_socket(seconds: float, connections: tuple[int, ...]) -> dict[str, Any]:
    """AssumeRole over a real loopback socket: ``iamd serve`` and moto_server, same client.

    Each server gets a user allowed ``sts:AssumeRole`` and a role trusting it; 2,000
    distinct AssumeRole requests (one session name each) are signed before timing and
    replayed by the load client (wrk when installed) in a closed loop.
    """
    from bench.server.load import run_load
    from bench.server.servers import ROOT_KEY, ROOT_SECRET, start_iamd, start_moto
    from bench.server.setup import _iam, _moto_auth
    from bench.server.signing import Key, query_body, sign_query
    from bench.server.wrk import available

    client = "wrk" if available() else "python"
    out: dict[str, Any] = {"client": client, "seconds": seconds, "servers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("iamd", "moto"):
            if name == "iamd":
                server = start_iamd("iamd", Path(tmp) / "data")
                iam = _iam(server.endpoint, ROOT_KEY, ROOT_SECRET)
            else:
                server = start_moto("moto", Path(tmp) / "moto.log")
                _moto_auth(server, "inf")
                iam = _iam(server.endpoint, "AKIAIOSFODNN7EXAMPLE", "setup")
            try:
                acct = iam.get_user()["User"]["Arn"].split(":")[4] if name == "iamd" else "123456789012"
                iam.create_user(UserName=USER)
                allow, trust = _documents(acct)
                iam.put_user_policy(UserName=USER, PolicyName="assume", PolicyDocument=allow)
                iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=trust)
                created = iam.create_access_key(UserName=USER)["AccessKey"]
                if name == "moto":
                    _moto_auth(server, "0")  # every later request authenticated
                key = Key(created["AccessKeyId"], created["SecretAccessKey"])
                role_arn = f"arn:aws:iam::{acct}:role/{ROLE}"
                bodies = [
                    query_body("AssumeRole", {"RoleArn": role_arn, "RoleSessionName": f"s{i}"}, version=STS_VERSION)
                    for i in range(2000)
                ]
                requests = sign_query(server.host, server.port, key, bodies, service="sts")
                per_conn = {}
                for n in connections:
                    result = run_load(client, server.host, server.port, requests, connections=n, duration=seconds)
                    if result.bad_status or result.errors:
                        raise RuntimeError(f"{name}: {result.bad_status} bad statuses, {result.errors} errors")
                    per_conn[str(n)] = {"rps": result.rps, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms}
                out["servers"][name] = per_conn
            finally:
                server.stop()
    return out


def render(r: dict[str, Any]) -> str:
    a, v, d = r["assume_role"], r["authentication"], r["database"]

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return "\n".join(
        [
            "iamd STS benchmark (one process, in-process handle(), SQLite)",
            f"  AssumeRole: {a['per_second']:,.0f}/s over {a['requests']:,} requests "
            f"(p50 {a['p50_ms']:.2f} ms, p99 {a['p99_ms']:.2f} ms) — target ≥ 1,000/s: "
            f"{mark(a['per_second'] >= 1000)}",
            f"  SigV4 + credential lookup, warm: long-term key p50 {v['long_term_p50_us']:.1f} µs, "
            f"session credentials p50 {v['session_p50_us']:.1f} µs → +{v['extra_us']:.1f} µs "
            f"— target ≤ +50 µs: {mark(v['extra_us'] <= 50)}; a token's first use adds its opening "
            f"(AES-GCM, zlib, JSON): p50 {v['token_first_open_p50_us']:.1f} µs, once per token per process",
            f"  SQL statements while serving {d['session_requests']:,} warm session-signed requests "
            f"(GetCallerIdentity + GetRole): {d['sql_statements_while_serving']} "
            f"on the request thread — target 0: {mark(d['sql_statements_while_serving'] == 0)} "
            "(the audit writer stores their events on its own thread, in batches)",
            f"  session token: {r['token_bytes']} characters",
            *_render_socket(r.get("socket")),
        ]
    )


def _render_socket(s: dict[str, Any] | None) -> list[str]:
    if not s:
        return []
    lines = [f"AssumeRole over a loopback socket ({s['client']}, {s['seconds']:.0f} s per run, pre-signed requests):"]
    iamd, moto = s["servers"]["iamd"], s["servers"]["moto"]
    for n, row in iamd.items():
        peer = moto[n]
        lines.append(
            f"  {n:>2} conn: iamd serve {row['rps']:,.0f}/s "
            f"(p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms)"
            f" — target ≥ 1,000/s: {'met' if row['rps'] >= 1000 else 'MISSED'}; moto_server {peer['rps']:,.0f}/s"
            f" → iamd/moto {row['rps'] / peer['rps']:.1f}x"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sts", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-socket", action="store_true", help="skip the loopback-socket run against moto_server")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    if not args.no_socket:
        result["socket"] = run_socket(3.0 if args.quick else 10.0, (1, 8))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
