"""The console's trail table and policy simulator over HTTP (httpx against a real server).

* The trail: an IAM user sees only their own requests (as themselves), filtered by event name
  and failures, each failure linking to its "Why?"; root sees the account's and filters by
  user; echoed values are escaped and a malformed filter is refused with a message.
* The simulator is ``iam:SimulatePrincipalPolicy`` as the page's caller: the decisions are the
  API's (allowed, implicitDeny, and an MFA condition met only with the context key given); a
  caller without the permission gets AWS's denial and its request id.
"""

from __future__ import annotations

import html
import json
import re

from botocore.client import BaseClient

from tests.api.server import RunningServer
from tests.console.conftest import Clients, csrf_of, http_sign_in, make_user

IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def _cells(page: str, table: str) -> list[list[str]]:
    body = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]  # fmt: skip


def test_the_trail_shows_your_own_requests_filtered(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "trail-reader", policies=(IAM_READ,))
    make_user(iam, "trail-other", policies=(IAM_READ,))
    mine = http_sign_in(clients, server, "trail-reader")
    other = http_sign_in(clients, server, "trail-other")
    assert mine.get("/console/users").status_code == 200  # ListUsers: allowed
    assert mine.get("/console/groups").status_code == 200  # ListGroups: allowed
    denied = mine.post("/console/manage/group/create", data={"csrf": csrf_of(mine.get("/console/home").text),
                                                             "name": "not-allowed"})  # fmt: skip
    assert "failed=" in denied.headers["location"]
    assert other.get("/console/roles").status_code == 200  # someone else's request
    server.backend.audit.flush()

    rows = _cells(mine.get("/console/trail").text, "trail")
    callers = {r[1] for r in rows}
    assert callers == {f"arn:aws:iam::{server.account_id}:user/trail-reader"}  # never another user's
    events = [r[2] for r in rows]
    assert {"ListUsers", "ListGroups", "CreateGroup"} <= set(events) and "ListRoles" not in events
    only_list_users = _cells(mine.get("/console/trail?event=ListUsers").text, "trail")
    assert only_list_users and {r[2] for r in only_list_users} == {"ListUsers"}
    failures = mine.get("/console/trail?errors=on").text
    assert {r[2] for r in _cells(failures, "trail")} == {"CreateGroup"}
    assert {r[4] for r in _cells(failures, "trail")} == {"AccessDenied"}
    assert 'href="/console/why?request_id=' in failures  # a failure leads to its "Why?"
    # a malformed filter: refused with a message, the value not echoed raw
    hostile = mine.get("/console/trail", params={"event": '<script>alert("x")</script>'})
    assert hostile.status_code == 200 and "<script>alert" not in hostile.text
    assert "An event name has letters and digits only" in hostile.text


def test_root_sees_the_accounts_trail_and_filters_by_user(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    from iamd.root_password import set_root_password

    make_user(iam, "trail-someone", policies=(IAM_READ,))
    someone = http_sign_in(clients, server, "trail-someone")
    assert someone.get("/console/policies").status_code == 200
    server.backend.audit.flush()
    set_root_password(server.backend.data_dir, "Root-Console-Passw0rd!")
    root = clients()
    form = {"csrf": csrf_of(root.get("/console").text), "kind": "root", "account": server.account_id,
            "password": "Root-Console-Passw0rd!"}  # fmt: skip
    assert root.post("/console/signin", data=form).status_code == 303
    rows = _cells(root.get("/console/trail?user=trail-someone").text, "trail")
    assert rows and {r[1] for r in rows} == {f"arn:aws:iam::{server.account_id}:user/trail-someone"}
    assert "ListPolicies" in {r[2] for r in rows}
    everyone = {r[1] for r in _cells(root.get("/console/trail").text, "trail")}
    assert len(everyone) >= 2  # not only one caller's
    # a page link edited by hand: a message and the newest requests, never a server error
    forged = root.get("/console/trail", params={"marker": "not-a-marker"})
    assert forged.status_code == 200 and "That page link is not valid" in forged.text
    assert _cells(forged.text, "trail")


def test_the_simulator_is_the_apis_simulator_as_you(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "sim-user")
    arn = f"arn:aws:iam::{server.account_id}:user/sim-user"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": arn},
        {"Sid": "ReadUsers", "Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"},
        {"Sid": "KeysWithMfa", "Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
    ]}  # fmt: skip
    iam.put_user_policy(UserName="sim-user", PolicyName="sim", PolicyDocument=json.dumps(policy))
    client = http_sign_in(clients, server, "sim-user")
    form_page = client.get("/console/simulate").text
    assert f'value="{arn}"' in form_page  # yourself, by default
    fields = {"csrf": csrf_of(form_page), "source": arn, "actions": "iam:GetUser\niam:DeleteUser, iam:CreateAccessKey"}
    rows = _cells(client.post("/console/simulate", data=fields).text, "simulation")
    decisions = {r[0]: r[2] for r in rows}
    assert decisions == {"iam:GetUser": "allowed", "iam:DeleteUser": "implicitDeny",
                         "iam:CreateAccessKey": "implicitDeny"}  # fmt: skip
    assert next(r for r in rows if r[0] == "iam:GetUser")[3] == "sim"  # the matched statement's policy
    assert "aws:multifactorauthpresent" in next(r for r in rows if r[0] == "iam:CreateAccessKey")[4].lower()
    with_mfa = client.post("/console/simulate", data={**fields, "actions": "iam:CreateAccessKey",
                                                      "context": "aws:MultiFactorAuthPresent=true"})  # fmt: skip
    assert [r[2] for r in _cells(with_mfa.text, "simulation")] == ["allowed"]
    # another user's policies: the simulation itself is denied, with AWS's message and a request id
    make_user(iam, "sim-target")
    refused = client.post(
        "/console/simulate", data={**fields, "source": f"arn:aws:iam::{server.account_id}:user/sim-target"}
    )
    assert refused.status_code == 403
    assert "is not authorized to perform: iam:SimulatePrincipalPolicy" in html.unescape(refused.text)
    assert "/console/why?request_id=" in refused.text
    # no CSRF token, no simulation
    assert client.post("/console/simulate", data={k: v for k, v in fields.items() if k != "csrf"}).status_code == 403
