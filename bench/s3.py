"""The S3 example service under load: authenticated 1 KiB GetObjects (docs/s3.md).

    python -m bench.s3 [--duration S] [--connections N] [--json]

Three servers, each its own process, each driven by the same closed-loop load generator
(``bench.server.load``: wrk when installed, else the project's Python client, in a separate
process) with SigV4-signed ``GET /bench/object-1k`` requests:

* **authorized**: ``iamd serve --s3 PORT``: every request goes through iamd's authorization
  middleware to the core of the same process (signature verification, the caller's
  policies, the bucket policy, an audit event per check);
* **off**: the same service (``iamd.s3.S3App`` on the same store code and uvicorn) with the
  middleware replaced by one that hands every request a fixed answer: the cost of S3 alone;
* **moto**: moto's S3 in server mode (``moto.server``, needs ``moto[server]``: Flask), when
  importable; skipped otherwise.

Target: authorized within 2x of off (throughput at the same concurrency).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BUCKET, KEY = "bench", "object-1k"
PAYLOAD = os.urandom(1024)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(argv: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})})  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
                break
            except urllib.error.HTTPError as answered:
                answered.close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def put_object(port: int) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                      config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=PAYLOAD)
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == PAYLOAD


def signed_gets(port: int, count: int) -> list[bytes]:
    """``count`` raw GetObject requests, each signed as botocore signs them (payload hash of b"")."""
    signer = S3SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "s3", "us-east-1")
    authority = f"127.0.0.1:{port}"
    out = []
    for _ in range(count):
        request = AWSRequest(method="GET", url=f"http://{authority}/{BUCKET}/{KEY}",
                             headers={"User-Agent": "iamd-bench-s3"})  # fmt: skip
        signer.add_auth(request)
        lines = [f"GET /{BUCKET}/{KEY} HTTP/1.1", f"Host: {authority}"]
        lines += [f"{n}: {v}" for n, v in request.headers.items() if n.lower() != "host"]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return out


def serve_off(port: int, data_dir: str) -> None:
    """The service with authorization switched off: a fixed answer for every request (bench only)."""
    import uvicorn

    from iamd.authz.client import Answer, Result
    from iamd.s3 import S3App, Store

    app = S3App(Store(Path(data_dir)))
    answer = Answer("BENCH", {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:root"},
                    [Result("s3:*", "*", "Allow", "", {})])  # fmt: skip

    async def off(scope: Any, receive: Any, send: Any) -> None:
        scope["iamd.answer"] = answer
        await app(scope, receive, send)

    uvicorn.run(off, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def measure(name: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    from bench.server.load import run_load
    from bench.server.wrk import available

    client = "wrk" if available() else "python"
    put_object(port)
    requests = signed_gets(port, 200)
    result = run_load(client, "127.0.0.1", port, requests, connections=args.connections, duration=args.duration)
    row = {"server": name, **result.to_json()}
    if not args.json:
        print(f"  {name:<11} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
              f"bad {result.bad_status} errors {result.errors}  ({client})", file=sys.stderr)  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-off", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_off:
        serve_off(int(args.serve_off[0]), args.serve_off[1])
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="iamd-bench-s3-") as tmp:
        base = Path(tmp)
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        iam_port, s3_port = free_port(), free_port()
        serve = [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(iam_port), "--s3", str(s3_port),
                 "--data-dir", str(base / "iamd")]  # fmt: skip
        with process(serve, s3_port, base / "authorized.log", env):
            rows.append(measure("authorized", s3_port, args))
        off_port = free_port()
        with process([sys.executable, "-m", "bench.s3", "--serve-off", str(off_port), str(base / "off")], off_port,
                     base / "off.log"):  # fmt: skip
            rows.append(measure("off", off_port, args))
        try:
            import moto.server  # noqa: F401

            moto_port = free_port()
            with process([sys.executable, "-m", "moto.server", "-p", str(moto_port)], moto_port, base / "moto.log"):
                rows.append(measure("moto", moto_port, args))
        except ImportError:
            if not args.json:
                print("  moto        skipped: moto's server mode needs Flask (pip install 'moto[server]')",
                      file=sys.stderr)  # fmt: skip
    by_name = {r["server"]: r for r in rows}
    ratio = by_name["off"]["rps"] / by_name["authorized"]["rps"] if by_name["authorized"]["rps"] else float("inf")
    summary = {"rows": rows, "off_over_authorized": round(ratio, 2), "target": 2.0, "met": ratio <= 2.0}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"authorization costs {ratio:.2f}x the throughput of the service alone (target: within 2x): "
              f"{'met' if ratio <= 2.0 else 'missed'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
