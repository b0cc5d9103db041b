"""The console's administration and Switch role over HTTP (httpx against a real server): every change is
an API call as the page's caller, every echoed field is escaped, every input is labelled."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from botocore.client import BaseClient

from iamd.console.policy_check import Finding, add_linter
from iamd.console.role_pages import INVALID
from tests.api.clock import StepClock
from tests.api.server import RunningServer
from tests.console.conftest import Clients, csrf_of, http_sign_in, make_user

IAM_FULL = "arn:aws:iam::aws:policy/IAMFullAccess"
XSS = '<script>alert("x")</script>'
XSS_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


def _records(server: RunningServer, name: str) -> list[dict[str, Any]]:
    server.backend.audit.flush()  # reads are recorded by the audit writer
    with server.backend.store.read() as tx:
        page = tx.list_audit_events(server.account_id, event_name=name, max_items=1000)
    return [json.loads(e.record) for e in page.items]


def _role(iam: BaseClient, server: RunningServer, name: str, *policies: str) -> str:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}}]})  # fmt: skip
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    for policy in policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return str(arn)


def _may_assume(iam: BaseClient, user: str, role_arn: str) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }
    iam.put_user_policy(UserName=user, PolicyName="switch", PolicyDocument=json.dumps(doc))


def test_switch_role_acts_as_the_role_until_back(
    server: RunningServer, clients: Clients, iam: BaseClient, clock: StepClock
) -> None:
    role_arn = _role(iam, server, "ops-reader", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    make_user(iam, "switcher")
    _may_assume(iam, "switcher", role_arn)
    client = http_sign_in(clients, server, "switcher")
    assert client.get("/console/users").status_code == 403  # the user alone may not list users
    form = client.get("/console/switchrole?account=" + server.account_id + "&roleName=ops-reader&color=red")
    assert 'value="ops-reader"' in form.text and 'id="sr-color-red" checked' in form.text
    token = csrf_of(form.text)
    wrong = client.post("/console/switchrole", data={"csrf": token, "account": server.account_id,
                                                      "role": "no-such-role", "color": "red"})  # fmt: skip
    assert wrong.status_code == 403 and INVALID in wrong.text
    fields = {"csrf": token, "account": server.account_id, "role": "ops-reader", "display": XSS, "color": "red"}
    switched = client.post("/console/switchrole", data=fields)
    assert switched.status_code == 303 and switched.headers["location"] == "/console/home"
    home = client.get("/console/home").text
    assert f'class="role-banner role-red" id="role-banner">{XSS_ESCAPED}<' in home and "<script>" not in home
    assert f"arn:aws:sts::{server.account_id}:assumed-role/ops-reader/switcher" in home
    assert client.get("/console/users").status_code == 200  # as the role
    (listed,) = [r for r in _records(server, "ListUsers") if "assumed-role/ops-reader/switcher" in
                 r["userIdentity"].get("arn", "")]  # fmt: skip
    identity = listed["userIdentity"]
    assert identity["type"] == "AssumedRole" and identity["sessionCredentialFromConsole"] == "true"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role_arn
    tried = [r for r in _records(server, "AssumeRole") if r["userIdentity"].get("userName") == "switcher"]
    assert sorted(r.get("errorCode", "ok") for r in tried) == ["AccessDenied", "ok"]  # the wrong role, then this
    assert {r["requestParameters"]["roleArn"] for r in tried if "errorCode" not in r} == {role_arn}
    # the history: a cookie, as AWS keeps it, echoed escaped
    history = json.loads(base64.urlsafe_b64decode(client.cookies["iamd-console-roles"] + "=="))
    assert history == [{"account": server.account_id, "role": "ops-reader", "display": XSS, "color": "red"}]
    # denied as the role (read-only): the request id leads to its "Why?", the role session's own request
    denied = client.post("/console/manage/group/create", data={"csrf": token, "name": "as-role"})
    request_id = re.search(r"failed=([0-9a-f-]+)", denied.headers["location"])
    assert request_id is not None
    why = client.get(f"/console/why?request_id={request_id.group(1)}").text
    assert "assumed-role/ops-reader/switcher is not authorized to perform: iam:CreateGroup" in why
    again = client.get("/console/switchrole").text
    assert f">{XSS_ESCAPED}</button>" in again and "<script>" not in again  # one click switches back to it
    assert f'name="display" value="{XSS_ESCAPED}"' in again
    back = client.post("/console/switchrole/back", data={"csrf": csrf_of(again)})
    assert back.status_code == 303
    assert client.get("/console/users").status_code == 403  # the user's own permissions again
    assert "role-banner" not in client.get("/console/home").text


def test_revoke_active_sessions_ends_a_switched_role_session(
    server: RunningServer, clients: Clients, iam: BaseClient, clock: StepClock
) -> None:
    role_arn = _role(iam, server, "revocable", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    make_user(iam, "role-user")
    make_user(iam, "role-admin", policies=(IAM_FULL,))
    _may_assume(iam, "role-user", role_arn)
    user = http_sign_in(clients, server, "role-user")
    token = csrf_of(user.get("/console/switchrole").text)
    user.post("/console/switchrole", data={"csrf": token, "account": server.account_id, "role": "revocable"})
    assert user.get("/console/users").status_code == 200
    clock.advance()  # AWS's policy denies tokens issued before now: let "now" pass the issue time
    admin = http_sign_in(clients, server, "role-admin")
    page = admin.get("/console/roles/revocable").text
    assert 'id="switch-link"' in page
    done = admin.post("/console/manage/role/revoke", data={"csrf": csrf_of(page), "role": "revocable"})
    assert done.status_code == 303 and "failed" not in done.headers["location"]
    document = iam.get_role_policy(RoleName="revocable", PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    assert document["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    denied = user.get("/console/users")
    assert denied.status_code == 403 and "explicit deny" in denied.text


def test_root_cannot_switch_roles(server: RunningServer, clients: Clients) -> None:
    from iamd.root_password import set_root_password

    set_root_password(server.backend.data_dir, "Root-Console-Passw0rd!")
    client = clients()
    form = {"csrf": csrf_of(client.get("/console").text), "kind": "root", "account": server.account_id,
            "password": "Root-Console-Passw0rd!"}  # fmt: skip
    assert client.post("/console/signin", data=form).status_code == 303
    page = client.get("/console/switchrole").text
    answer = client.post("/console/switchrole", data={"csrf": csrf_of(page), "account": server.account_id,
                                                       "role": "ops-reader"})  # fmt: skip
    assert answer.status_code == 403 and "root user cannot switch roles" in answer.text


def test_the_editor_reports_findings_at_their_line_and_column(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "author", policies=(IAM_FULL,))
    client = http_sign_in(clients, server, "author")
    editor = client.get("/console/policy/new").text
    assert 'src="/console/static/editor.js"' in editor and 'data-kind="identity"' in editor
    token = csrf_of(editor)
    broken = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:Get*"}]\n}'
    found = client.post("/console/policy/validate", data={"csrf": token, "kind": "identity", "document": broken})
    assert found.status_code == 200 and found.headers["content-type"] == "application/json"
    (finding,) = found.json()["findings"]
    assert (
        finding["line"] == 3
        and finding["severity"] == "error"
        and finding["message"] == "Policy statement must contain resources."
    )
    syntax = client.post("/console/policy/validate", data={"csrf": token, "kind": "trust", "document": "{\n  ,"})
    assert syntax.json()["findings"][0]["line"] == 2
    assert client.post("/console/policy/validate", data={"kind": "identity", "document": "{}"}).status_code == 403
    # a linter plugged in through the hook: its findings are warnings, shown for valid documents only
    remove = add_linter(
        lambda text, kind: [Finding(1, 1, "warning", "lint: wildcard action")] if "s3:*" in text else []
    )
    try:
        valid = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
        linted = client.post("/console/policy/validate", data={"csrf": token, "document": valid}).json()["findings"]
        assert {"line": 1, "column": 1, "severity": "warning", "message": "lint: wildcard action"} in linted
    finally:
        remove()
    # iamd lint's own findings are there from the start: a misspelled action, at its line and column
    typo = '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}'
    (unknown,) = client.post("/console/policy/validate", data={"csrf": token, "document": typo}).json()["findings"]
    assert unknown["severity"] == "warning" and unknown["line"] == 2 and "s3:GetObject" in unknown["message"]
    # saving an invalid document shows the same findings, and creates nothing
    refused = client.post("/console/policy/new", data={"csrf": token, "name": "broken", "document": broken})
    assert refused.status_code == 400 and "Line 3, column" in refused.text
    assert "broken" not in [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{XSS}"}]})  # fmt: skip
    made = client.post("/console/policy/new", data={"csrf": token, "name": "made-here", "document": document})
    assert made.status_code == 303
    arn = f"arn:aws:iam::{server.account_id}:policy/made-here"
    page = client.get(f"/console/policy?arn={quote(arn)}").text
    assert "<script>" not in page and "&lt;script&gt;" in page
    # a new version, made default; the old one can then be deleted
    v2 = document.replace("s3:GetObject", "s3:PutObject")
    assert client.post("/console/policy/edit", data={"csrf": token, "arn": arn, "document": v2,
                                                     "default": "1"}).status_code == 303  # fmt: skip
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    client.post("/console/policy/delete-version", data={"csrf": token, "arn": arn, "version": "v1"})
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v2"]
    # attach to a user from the policy's page; the attachment is listed there
    client.post("/console/manage/attach", data={"csrf": token, "kind": "user", "name": "author", "arn": arn,
                                                "op": "attach", "back": "policy"})  # fmt: skip
    assert 'href="/console/users/author">user author</a>' in client.get(f"/console/policy?arn={quote(arn)}").text


def test_groups_roles_and_the_account_are_administered_as_the_user(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "group-admin", policies=(IAM_FULL,))
    make_user(iam, "member")
    client = http_sign_in(clients, server, "group-admin")
    token = csrf_of(client.get("/console/groups").text)
    assert client.post("/console/manage/group/create", data={"csrf": token, "name": "builders"}).status_code == 303
    client.post("/console/manage/group/member", data={"csrf": token, "group": "builders", "user": "member"})
    client.post("/console/manage/attach", data={"csrf": token, "kind": "group", "name": "builders",
                                                "arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"})  # fmt: skip
    group = iam.get_group(GroupName="builders")
    assert [u["UserName"] for u in group["Users"]] == ["member"]
    assert iam.list_attached_group_policies(GroupName="builders")["AttachedPolicies"][0]["PolicyName"] == (
        "IAMReadOnlyAccess"
    )
    client.post("/console/manage/group/member", data={"csrf": token, "group": "builders", "user": "member",
                                                      "op": "remove"})  # fmt: skip
    assert iam.get_group(GroupName="builders")["Users"] == []
    # a role's trust policy, edited in the editor (validated as a trust policy)
    _role(iam, server, "edited")
    editor = client.get("/console/trust?role=edited").text
    assert 'data-kind="trust"' in editor and "sts:AssumeRole" in editor
    bad = client.post("/console/trust", data={"csrf": token, "role": "edited", "document": '{"Version": "2012-10-17"}'})
    assert bad.status_code == 400 and "finding" in bad.text
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": "ec2.amazonaws.com"}}]})  # fmt: skip
    assert client.post("/console/trust", data={"csrf": token, "role": "edited", "document": trust}).status_code == 303
    stored = iam.get_role(RoleName="edited")["Role"]["AssumeRolePolicyDocument"]
    assert stored["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    # the account: alias, password policy, credential report
    account = client.get("/console/account").text
    assert "The default password policy applies." in account
    client.post("/console/account/alias", data={"csrf": token, "alias": "console-corp", "op": "create"})
    assert iam.list_account_aliases()["AccountAliases"] == ["console-corp"]
    client.post("/console/account/password-policy", data={"csrf": token, "op": "update",
                "MinimumPasswordLength": "12", "RequireSymbols": "true", "MaxPasswordAge": "90"})  # fmt: skip
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12 and policy["RequireSymbols"] and policy["MaxPasswordAge"] == 90
    assert 'id="pp-RequireSymbols" name="RequireSymbols" value="true" checked' in client.get("/console/account").text
    refused = client.post("/console/account/password-policy", data={"csrf": token, "op": "update",
                                                                    "MinimumPasswordLength": "2"})  # fmt: skip
    assert "failed=" in refused.headers["location"]  # ValidationError: its request id leads to "Why?"
    client.post("/console/account/password-policy", data={"csrf": token, "op": "delete"})
    client.post("/console/account/alias", data={"csrf": token, "op": "delete"})
    assert iam.list_account_aliases()["AccountAliases"] == []
    assert client.post("/console/account/credential-report", data={"csrf": token}).status_code == 303
    report = client.get("/console/account/credential-report.csv")
    assert report.headers["content-disposition"] == 'attachment; filename="credential-report.csv"'
    assert report.text.startswith("user,arn,user_creation_time") and "group-admin" in report.text


def test_a_user_without_permission_sees_the_denial_and_nothing_changes(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "nobody")
    client = http_sign_in(clients, server, "nobody")
    token = csrf_of(client.get("/console/home").text)
    answer = client.post("/console/manage/group/create", data={"csrf": token, "name": "not-made"})
    failed = re.search(r"failed=([0-9a-f-]+)", answer.headers["location"])
    assert failed is not None
    page = client.get(answer.headers["location"]).text
    assert f"/console/why?request_id={failed.group(1)}" in page
    assert "not-made" not in [g["GroupName"] for g in iam.list_groups()["Groups"]]
    assert client.post("/console/account/alias", data={"csrf": "wrong", "alias": "x-corp"}).status_code == 403


def test_every_field_that_echoes_input_is_escaped(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    """User names, tags, policy documents, role names, trail messages: stored with markup, shown as text."""
    make_user(iam, "xss-admin", policies=(IAM_FULL,))
    evil = "evil+=,.@-"  # IAM names and tag values cannot hold markup; their characters are echoed verbatim
    iam.create_user(UserName=evil)
    iam.tag_user(UserName=evil, Tags=[{"Key": "note", "Value": "a=1+2@b:/c"}])
    client = http_sign_in(clients, server, "xss-admin")
    token = csrf_of(client.get("/console/home").text)
    user = client.get(f"/console/users/{quote(evil)}").text
    assert f'id="user-name">{evil}<' in user and "note = a=1+2@b:/c" in user
    # a tag with markup is refused; the error message carries the value, and "Why?" shows it as text
    tagged = client.post("/console/manage/user/tag", data={"csrf": token, "user": evil, "key": "k", "value": XSS})
    request_id = re.search(r"failed=([0-9a-f-]+)", tagged.headers["location"])
    assert request_id is not None
    why = client.get(f"/console/why?request_id={request_id.group(1)}").text
    assert "<script>" not in why and f"Value &#39;{XSS_ESCAPED}&#39; at &#39;tags.1.member.value&#39;" in why
    # a role description and a policy document hold markup: shown as text
    role_arn = _role(iam, server, "role+=,.@-")
    iam.update_role(RoleName="role+=,.@-", Description=XSS)
    iam.put_role_policy(
        RoleName="role+=,.@-",
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{XSS}"}],
            }
        ),
    )
    role = client.get(f"/console/roles/{quote('role+=,.@-')}").text
    assert "<script>" not in role and role_arn in role and f"Description: {XSS_ESCAPED}" in role
    # a name that fails validation is echoed in the trail's message
    failed = client.post("/console/manage/group/create", data={"csrf": token, "name": XSS})
    request_id = re.search(r"failed=([0-9a-f-]+)", failed.headers["location"])
    assert request_id is not None
    why = client.get(f"/console/why?request_id={request_id.group(1)}").text
    assert "<script>" not in why and "ValidationError" in why and XSS_ESCAPED in why
    for path in ("/console/users", f"/console/users/{quote(XSS)}", f"/console/policy?arn={quote(XSS)}",
                 f"/console/switchrole?account={quote(XSS)}&roleName={quote(XSS)}&displayName={quote(XSS)}",
                 f"/console/trust?role={quote(XSS)}", f"/console/account/scp?id={quote(XSS)}"):  # fmt: skip
        assert "<script>alert" not in client.get(path).text, path


class _Inputs(HTMLParser):
    """Every form control of a page, and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self._in_label += 1
            if a.get("for"):
                self.labelled.add(str(a["for"]))
        elif tag in ("input", "textarea", "select") and a.get("type") != "hidden":
            self.controls.append({**a, "wrapped": "1" if self._in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label -= 1


def test_every_input_of_every_page_has_a_label(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "labels", policies=(IAM_FULL,))
    iam.create_group(GroupName="labelled")
    _role(iam, server, "labelled-role")
    arn = iam.create_policy(PolicyName="labelled", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["Arn"]  # fmt: skip
    anonymous = clients()
    pages = {"/console": anonymous.get("/console").text}
    client = http_sign_in(clients, server, "labels")
    for path in ("/console/home", "/console/credentials", "/console/password", "/console/users", "/console/users/new",
                 "/console/users/labels", "/console/groups", "/console/groups/labelled", "/console/roles",
                 "/console/roles/labelled-role", "/console/policies", f"/console/policy?arn={quote(arn)}",
                 "/console/policy/new", f"/console/policy/edit?arn={quote(arn)}", "/console/trust?role=labelled-role",
                 "/console/account", "/console/why", "/console/switchrole", "/console/trail",
                 "/console/simulate"):  # fmt: skip
        pages[path] = client.get(path).text
    checked = 0
    for path, html in pages.items():
        parser = _Inputs()
        parser.feed(html)
        for control in parser.controls:
            checked += 1
            named = control["wrapped"] or (control.get("id") in parser.labelled) or control.get("aria-label")
            assert named, f"{path}: an input without a label: {control}"
    assert checked > 40


def test_the_management_account_sees_its_organization_and_scps(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    import boto3

    make_user(iam, "org-viewer", policies=(IAM_FULL,))
    read_orgs = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["organizations:Describe*", "organizations:List*"], "Resource": "*"}
        ],
    }
    iam.put_user_policy(UserName="org-viewer", PolicyName="orgs", PolicyDocument=json.dumps(read_orgs))
    make_user(iam, "org-blind")
    orgs = boto3.client("organizations", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=server.root_key, aws_secret_access_key=server.root_secret)  # fmt: skip
    assert 'id="h-org"' not in http_sign_in(clients, server, "org-viewer").get("/console/account").text
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    content = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": f"arn:aws:iam::*:user/{XSS}"}]})  # fmt: skip
    scp = orgs.create_policy(Content=content, Description="", Name="NoUsers", Type="SERVICE_CONTROL_POLICY")
    page = http_sign_in(clients, server, "org-viewer").get("/console/account").text
    assert f"Organization {org['Id']}" in page
    policy_id = scp["Policy"]["PolicySummary"]["Id"]
    assert f'href="/console/account/scp?id={policy_id}">NoUsers</a>' in page
    shown = http_sign_in(clients, server, "org-viewer").get(f"/console/account/scp?id={policy_id}").text
    assert "iam:CreateUser" in shown and "<script>" not in shown and "&lt;script&gt;" in shown
    # without Organizations permissions the section is not shown (DescribeOrganization is denied)
    assert 'id="h-org"' not in http_sign_in(clients, server, "org-blind").get("/console/account").text
