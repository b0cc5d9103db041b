"""What SCPs cost: ``python -m bench.server.orgs [--duration S] [--rounds N] [--connections C] [--json]``.

One ``iamd serve --dev`` process; its account becomes the management account of an
organization with a three-level hierarchy (root → OU → OU → OU → the member account), and
every level (the root, each OU, the account) has five SCPs attached: ``FullAWSAccess`` and four
guardrails of the usual shapes (a Region lock with ``NotAction``, a deny of role changes on
``Admin*`` roles, a deny of everything to principals outside the organization on
``aws:PrincipalOrgID`` — which makes the engine build the context, organization keys
included — and a deny on an ``admin/`` path). Two users named ``reader``, one in the member
account and one in the management account (which SCPs never restrict), each with AWS's
``IAMReadOnlyAccess``, call ``GetUser`` (of themselves) over ``C`` keep-alive connections from
another process, in alternating windows of the same run, so that both see the same machine.

Per caller: requests per second, p50/mean/p99 latency, and the server's CPU per request (its
own CPU time over the window: the steadier figure on a shared machine). The target: the member
account's user pays at most 10 % more latency than the management account's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .load import run_python
from .servers import ROOT_KEY, ROOT_SECRET, Server, start_iamd
from .signing import Key, query_body, sign_query

__all__ = ["measure"]

TARGET = 0.10  # at most 10 % extra latency for a member account's user
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SCP = "SERVICE_CONTROL_POLICY"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def _guardrails(org_id: str, level: int) -> list[dict[str, Any]]:
    """Four SCPs of the shapes organizations use, for one level."""
    statements: list[dict[str, Any]] = [
        {"Sid": "RegionLock", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "organizations:*"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
        {"Sid": "ProtectAdmins", "Effect": "Deny", "Action": ["iam:Delete*", "iam:Update*", "iam:Put*",
         "iam:Attach*", "iam:Detach*"], "Resource": "arn:aws:iam::*:role/Admin*"},
        {"Sid": "OrgOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": org_id}}},
        {"Sid": "NoAdminPath", "Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:user/admin/*"},
    ]  # fmt: skip
    return [{"Version": "2012-10-17", "Statement": [dict(s, Sid=f"{s['Sid']}{level}")]} for s in statements]


def _client(server: Server, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=NO_RETRY)  # fmt: skip


def _reader(iam: Any) -> Key:
    iam.create_user(UserName="reader")
    iam.attach_user_policy(UserName="reader", PolicyArn=READ_ONLY)
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    return Key(key["AccessKeyId"], key["SecretAccessKey"])


def prepare(server: Server) -> dict[str, Any]:
    """The organization, its SCPs and the two readers, made through the API; their keys."""
    orgs = _client(server, "organizations", ROOT_KEY, ROOT_SECRET)
    org_id = orgs.create_organization()["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    chain = [root]
    for depth in (1, 2, 3):
        chain.append(orgs.create_organizational_unit(ParentId=chain[-1], Name=f"L{depth}")["OrganizationalUnit"]["Id"])
    status = orgs.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]
    member = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"][
        "AccountId"
    ]
    orgs.move_account(AccountId=member, SourceParentId=root, DestinationParentId=chain[-1])
    attached = 0
    for level, target in enumerate([*chain, member]):
        for i, document in enumerate(_guardrails(org_id, level)):
            policy = orgs.create_policy(Content=json.dumps(document), Description="", Name=f"L{level}-{i}", Type=SCP)
            orgs.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=target)
            attached += 1
    iam = _client(server, "iam", ROOT_KEY, ROOT_SECRET)
    iam.create_user(UserName="boss")
    iam.attach_user_policy(UserName="boss", PolicyArn=ADMIN)
    boss = iam.create_access_key(UserName="boss")["AccessKey"]
    creds = _client(server, "sts", boss["AccessKeyId"], boss["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="bench"
    )["Credentials"]
    member_iam = _client(server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    levels = len(chain) + 1
    return {
        "member": _reader(member_iam),
        "management": _reader(iam),
        "levels": levels,
        "scps_per_level": attached // levels + 1,
    }  # fmt: skip  (+1: FullAWSAccess on every level)


def _window(server: Server, key: Key, connections: int, duration: float) -> dict[str, float]:
    requests = sign_query(server.host, server.port, key, [query_body("GetUser")] * 64)
    cpu = server.cpu_s()
    r = run_python(server.host, server.port, requests, connections=connections, duration=duration)
    cpu = server.cpu_s() - cpu
    if r.bad_status or r.errors:
        raise RuntimeError(f"{r.bad_status} bad responses, {r.errors} errors: {r.statuses}")
    return {"rps": r.rps, "p50_ms": r.p50_ms, "mean_ms": r.mean_ms, "p99_ms": r.p99_ms,
            "server_cpu_us": cpu / r.requests * 1e6 if r.requests else 0.0}  # fmt: skip


def measure(*, duration: float = 10.0, rounds: int = 3, connections: int = 8, quiet: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="iamd-orgs-") as tmp:
        server = start_iamd("iamd-orgs", Path(tmp) / "data")
        try:
            made = prepare(server)
            for who in ("management", "member"):  # warm: keys, users, sets, SCP levels, organization keys
                _window(server, made[who], connections, 2.0)
            windows: dict[str, list[dict[str, float]]] = {"management": [], "member": []}
            for i in range(rounds):
                order = ("management", "member") if i % 2 == 0 else ("member", "management")
                for who in order:
                    windows[who].append(_window(server, made[who], connections, duration))
                    if not quiet:
                        w = windows[who][-1]
                        print(f"round {i + 1}, {who}: {w['rps']:,.0f} req/s, p50 {w['p50_ms']:.2f} ms, "
                              f"{w['server_cpu_us']:.0f} µs CPU/request", file=sys.stderr)  # fmt: skip
        finally:
            server.stop()
    result: dict[str, Any] = {"connections": connections, "duration_s": duration, "rounds": rounds,
                              "levels": made["levels"], "scps_per_level": made["scps_per_level"]}  # fmt: skip
    for who, ws in windows.items():
        result[who] = {k: round(statistics.median(w[k] for w in ws), 3) for k in ws[0]}
    m, g = result["management"], result["member"]
    result["extra"] = {k: round(g[k] / m[k] - 1, 4) if m[k] else 0.0 for k in ("p50_ms", "mean_ms", "server_cpu_us")}
    result["target_met"] = result["extra"]["mean_ms"] <= TARGET
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.orgs", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured window")
    parser.add_argument("--rounds", type=int, default=3, help="windows per caller, alternating (medians reported)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 if the member pays over {TARGET:.0%} more")
    args = parser.parse_args(argv)
    r = measure(duration=args.duration, rounds=args.rounds, connections=args.connections, quiet=args.json)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"GetUser, {r['connections']} connections, {r['rounds']} x {r['duration_s']:g} s windows per caller "
              f"(medians); the member account under {r['levels']} levels of {r['scps_per_level']} SCPs")  # fmt: skip
        for who in ("management", "member"):
            s = r[who]
            print(f"  {who:>10}: {s['rps']:8,.0f} req/s  p50 {s['p50_ms']:6.2f} ms  mean {s['mean_ms']:6.2f} ms  "
                  f"p99 {s['p99_ms']:6.2f} ms  {s['server_cpu_us']:6.0f} µs server CPU/request")  # fmt: skip
        e = r["extra"]
        print(f"  member extra: p50 {e['p50_ms']:+.1%}, mean {e['mean_ms']:+.1%}, server CPU {e['server_cpu_us']:+.1%} "
              f"(target: mean ≤ {TARGET:+.0%}: {'met' if r['target_met'] else 'missed'})")  # fmt: skip
    return 0 if r["target_met"] or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
