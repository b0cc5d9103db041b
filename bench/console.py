"""``python -m bench.console``: how long the console's pages take with many users.

A real iamd server on a loopback port (SQLite in a temporary directory) with ``--users``
users (10,000 by default, written straight to the store), one of them signed in with
IAMFullAccess; each page is fetched ``--rounds`` times over HTTP and the median and 90th
percentile printed, in milliseconds, client-side (the request over loopback included).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import boto3
import httpx

from tests.api.server import running_server

PASSWORD = "Bench-Passw0rd!"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, running_server(Path(data)) as server:
        with server.backend.store.transaction() as tx:
            for i in range(args.users):
                tx.create_user(server.account_id, f"user-{i:05d}")
            trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'  # noqa: E501
            for i in range(args.users // 10):  # a tenth as many groups and roles, each group with 100 members
                tx.create_group(server.account_id, f"group-{i:04d}")
                tx.create_role(server.account_id, f"role-{i:04d}", assume_role_policy=trust)
            for i in range(100):
                tx.add_user_to_group(server.account_id, "group-0000", f"user-{i:05d}")
        server.backend.changed()
        iam = boto3.client(
            "iam", endpoint_url=server.endpoint, aws_access_key_id=server.root_key,
            aws_secret_access_key=server.root_secret, region_name="us-east-1",
        )  # fmt: skip
        iam.create_login_profile(UserName="user-00000", Password=PASSWORD)
        iam.attach_user_policy(UserName="user-00000", PolicyArn="arn:aws:iam::aws:policy/IAMFullAccess")
        with httpx.Client(base_url=server.endpoint) as browser:
            token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/console").text)
            assert token is not None
            form = {"csrf": token.group(1), "account": server.account_id, "username": "user-00000",
                    "password": PASSWORD}  # fmt: skip
            assert browser.post("/console/signin", data=form).status_code == 303
            marker = re.search(r'marker=([^"]+)" id="next-page"', browser.get("/console/users").text)
            pages = [
                "/console/home",
                "/console/credentials",
                "/console/users",
                f"/console/users/user-{args.users // 2:05d}",
                "/console/groups",
                "/console/groups/group-0000",
                "/console/roles",
                "/console/roles/role-0000",
                "/console/policies",
                "/console/policies?scope=AWS",
                "/console/policy?arn=arn:aws:iam::aws:policy/IAMFullAccess",
                "/console/account",
                "/console/switchrole",
            ]
            if marker:
                pages.append(f"/console/users?marker={marker.group(1)}")
            print(f"{args.users} users, {args.rounds} requests a page: median / p90 (ms)")
            for path in pages:
                times = []
                for _ in range(args.rounds):
                    started = time.perf_counter()
                    answer = browser.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, (path, answer.status_code)
                times.sort()
                p90 = times[int(len(times) * 0.9) - 1]
                print(f"  {path[:48]:48s} {statistics.median(times):7.1f} {p90:7.1f}")


if __name__ == "__main__":
    main()
