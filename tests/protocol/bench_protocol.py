"""Micro-benchmark of the Query protocol hot path (not a test: run it by hand).

    python -m tests.protocol.bench_protocol

Prints the best-of-5 cost per call of parsing and serializing typical requests.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from iamd.errors import NoSuchEntity
from iamd.protocol import Catalog, decode_form, parse_request, serialize_error, serialize_result, warm


def _best(run: Callable[[], object], number: int = 20_000) -> float:
    """Microseconds per call, best of five rounds."""
    return min(timeit.repeat(run, number=number, repeat=5)) / number * 1e6


def main() -> None:
    catalog = Catalog()
    iam = catalog.iam
    warm(iam)
    get_user = {"Action": "GetUser", "Version": "2010-05-08", "UserName": "alice"}
    body = b"Action=GetUser&Version=2010-05-08&UserName=alice"
    operation = iam.operation("GetUser")
    created = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    user = {
        "Path": "/",
        "UserName": "alice",
        "UserId": "AIDACKCEVSQ6C2EXAMPLE",
        "Arn": "arn:aws:iam::123456789012:user/alice",
        "CreateDate": created,
        "Tags": [{"Key": "team", "Value": "red"}],
    }
    create_user = {
        "Action": "CreateUser",
        "Version": "2010-05-08",
        "UserName": "alice",
        "Path": "/eng/",
        "Tags.member.1.Key": "team",
        "Tags.member.1.Value": "red",
        "Tags.member.2.Key": "cost-center",
        "Tags.member.2.Value": "42",
    }
    list_users = iam.operation("ListUsers")
    users = {"Users": [user] * 100, "IsTruncated": False}
    error = NoSuchEntity("The user with name bob cannot be found.")

    def round_trip() -> bytes:
        op, _ = parse_request(iam, decode_form(body=body))
        return serialize_result(iam, op, {"User": user}, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")

    rows = [
        ("decode_form GetUser body", lambda: decode_form(body=body)),
        ("parse_request GetUser", lambda: parse_request(iam, get_user)),
        ("parse_request CreateUser (path + 2 tags)", lambda: parse_request(iam, create_user)),
        ("serialize_result GetUser", lambda: serialize_result(iam, operation, {"User": user}, "rid")),
        ("serialize_error NoSuchEntity", lambda: serialize_error(error, iam.namespace or "", "rid")),
        ("GetUser: decode + parse + serialize", round_trip),
        ("serialize_result ListUsers (100 users)", lambda: serialize_result(iam, list_users, users, "rid")),
    ]
    for label, run in rows:
        number = 500 if "100 users" in label else 20_000
        print(f"{label:45s} {_best(run, number):8.1f} µs")


if __name__ == "__main__":
    main()
