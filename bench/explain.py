"""``python -m bench.explain``: the troubleshooter's two figures (docs/troubleshooting.md).

* **import**: ``iamd import`` of a generated 5,000-principal ``get-account-authorization-details``
  dump (3,500 users, 1,500 roles, 50 groups, 60 customer managed policies; bench/authdetails.py)
  into a fresh SQLite data directory, through the same function the command calls. Target ≤ 60 s.
* **explain**: ``iamd explain <request id>`` for an account with 10,000 users and a year of policy
  history: the account is imported (10,000 users), then a year is written through the store's own
  write methods with a clock that moves a day at a time (each day 40 users get a new inline policy
  version, 10 change groups, the denied user's policies change weekly), then a denial of the user
  is recorded in the audit trail. Timed: the explanation in process (look the request id up,
  evaluate now and as it was, walk the checklist, the fix and its blast radius), and the whole
  command as a new process (``python -m iamd explain <id> --json``, start-up included). Target ≤ 200 ms.

Usage: ``python -m bench.explain [--users N] [--principals N] [--runs N]``. Prints one table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iamd.api.managed_policies import install_managed_policies
from iamd.explain import Explainer, subjects_for_request_id
from iamd.importer import import_authorization_details
from iamd.service.policy_loader import PolicyLoader
from iamd.store import AuditEvent, EntityKind, migrate, open_store

from .authdetails import ACCOUNT, dump


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def bench_import(principals: int, workdir: Path) -> tuple[float, float]:
    users = principals * 7 // 10
    data = dump(users=users, roles=principals - users, groups=50, policies=60)
    url = f"sqlite:///{workdir / 'import.db'}"
    migrate.upgrade(url)
    store = open_store(url)
    try:
        install_managed_policies(store)
        start, cpu = time.perf_counter(), time.process_time()
        import_authorization_details(store, data)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        store.close()


def _denial(store_url: str, user: str, when: datetime) -> str:
    rid = str(uuid.uuid4())
    arn = f"arn:aws:iam::{ACCOUNT}:user/people/{user}"
    message = (
        f"User: {arn} is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::{ACCOUNT}:role/ "
        "because no identity-based policy allows the iam:ListRoles action"
    )
    record = {
        "eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "iam.amazonaws.com",
        "eventName": "ListRoles", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": arn, "accountId": ACCOUNT, "userName": user},
        "errorCode": "AccessDenied", "errorMessage": message, "requestID": rid, "eventID": str(uuid.uuid4()),
        "readOnly": True, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT,
    }  # fmt: skip
    store = open_store(store_url)
    try:
        store.append_audit_event(
            AuditEvent(
                str(uuid.uuid4()),
                ACCOUNT,
                when,
                "ListRoles",
                "iam.amazonaws.com",
                True,
                json.dumps(record),
                user_name=user,
                user_arn=arn,
                error_code="AccessDenied",
                request_id=rid,
            )
        )
    finally:
        store.close()
    return rid


def build_history_account(users: int, data_dir: Path) -> tuple[str, str, int]:
    """The account of the explain figure; returns (database URL, request id, history rows)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'iamd.db'}"
    migrate.upgrade(url)
    start = datetime.now(UTC) - timedelta(days=366)
    clock = _Clock(start)
    store = open_store(url, clock=clock)
    try:
        install_managed_policies(store)
        import_authorization_details(store, dump(users=users, roles=100, groups=50, policies=60))
        doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"%s"}]}'
        for day in range(365):
            clock.now = start + timedelta(days=day + 1)
            with store.transaction() as tx:
                for i in range(40):
                    u = (day * 40 + i) % users
                    tx.put_inline_policy(EntityKind.USER, ACCOUNT, f"user-{u}", "daily", doc % f"arn:aws:s3:::d{day}/*")
                for i in range(10):
                    u = (day * 10 + i) % users
                    tx.add_user_to_group(ACCOUNT, f"group-{(u + day) % 50}", f"user-{u}")
                if day % 7 == 0:
                    tx.put_inline_policy(EntityKind.USER, ACCOUNT, "user-1", f"week-{day}", doc % "arn:aws:s3:::w/*")
        with store.read() as tx:
            rows = len(tx.policy_history("user", tx.get_user(ACCOUNT, "user-1").id, datetime.now(UTC)))
    finally:
        store.close()
    rid = _denial(url, "user-1", datetime.now(UTC) - timedelta(minutes=5))
    return url, rid, rows


def bench_explain(
    url: str, rid: str, data_dir: Path, runs: int
) -> tuple[list[float], list[float], list[float], list[float], dict[str, object]]:
    store = open_store(url)
    in_process: list[float] = []
    in_cpu: list[float] = []
    answer: dict[str, object] = {}
    try:
        for _ in range(runs):
            explainer = Explainer(PolicyLoader())  # a fresh one each time: nothing cached between runs
            start, cpu = time.perf_counter(), time.process_time()
            with store.read() as tx:
                [subject] = subjects_for_request_id(tx, rid)
                explained = explainer.explain(tx, subject, datetime.now(UTC))
            in_process.append(time.perf_counter() - start)
            in_cpu.append(time.process_time() - cpu)
            answer = explained.to_json()
    finally:
        store.close()
    command: list[float] = []
    command_cpu: list[float] = []
    for _ in range(max(3, runs // 4)):
        start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [sys.executable, "-m", "iamd", "explain", rid, "--json", "--data-dir", str(data_dir)],
            capture_output=True, check=False,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        command.append(time.perf_counter() - start)
        command_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert done.returncode == 1, done.stderr
    return in_process, in_cpu, command, command_cpu, answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__)
    parser.add_argument("--principals", type=int, default=5000, help="principals in the imported dump")
    parser.add_argument("--users", type=int, default=10_000, help="users of the explain figure's account")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"import of {args.principals} principals ...", file=sys.stderr)
        imported, imported_cpu = bench_import(args.principals, work)
        print(f"building {args.users} users and a year of history ...", file=sys.stderr)
        url, rid, rows = build_history_account(args.users, work / "data")
        in_process, in_cpu, command, command_cpu, answer = bench_explain(url, rid, work / "data", args.runs)
    median = statistics.median
    print(f"{'figure (wall; CPU)':<62} {'wall':>8} {'CPU':>8} {'target':>8}")
    label = f"import, {args.principals} principals (s)"
    print(f"{label:<62} {imported:>8.1f} {imported_cpu:>8.1f} {'≤ 60':>8}")
    label = f"explain <request id>, in process, median of {len(in_process)} (ms)"
    print(f"{label:<62} {median(in_process) * 1000:>8.0f} {median(in_cpu) * 1000:>8.0f} {'≤ 200':>8}")
    label = "explain <request id>, in process, worst (ms)"
    print(f"{label:<62} {max(in_process) * 1000:>8.0f} {max(in_cpu) * 1000:>8.0f}")
    label = f"iamd explain <request id> --json, new process, median of {len(command)} (ms)"
    print(f"{label:<62} {median(command) * 1000:>8.0f} {median(command_cpu) * 1000:>8.0f}")
    print(f"(account: {args.users} users; the denied user's history: {rows} rows over 365 days; "
          f"asItWas: {answer.get('asItWas') is not None})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
