"""The troubleshooter's scenario corpus (tests/cases/explain/findings.json) on a real server: each
denial is produced by a real boto3 call, explained by request id and offline from an AWS-shaped
CloudTrail record; a verified fix is applied for real (``iamd explain --apply --yes``) and its
blast radius checked against SimulatePrincipalPolicy before and after, on the sampled set
(docs/troubleshooting.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from click.testing import CliRunner

from iamd.cli import main
from iamd.explain import Explainer, from_event, subjects_for_request_id
from iamd.service.policy_loader import PolicyLoader
from tests.api.conftest import UserClient
from tests.api.server import RunningServer
from tests.api.test_explain import explain
from tests.api.test_organizations import DENY_CREATE_USER, SCP, _member_admin, client, new_account

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "cases" / "explain" / "findings.json").read_text()
)["cases"]


def _fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value)
    for k, v in names.items():
        text = text.replace("${" + k + "}", v)
    return json.loads(text)


def _denied(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response
    return e.value


def _codes(answer: dict[str, Any]) -> list[str]:
    return [f["code"] for f in answer["findings"]]


def _aws_record(error: ClientError, user_arn: str, account: str, when: datetime | None = None) -> dict[str, Any]:
    """The CloudTrail record AWS would write for this denial (no iamd extras), at ``when`` (default now)."""
    name = user_arn.rsplit("/", 1)[1]
    return {
        "eventVersion": "1.09", "eventTime": (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com", "eventName": error.operation_name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": user_arn, "accountId": account, "userName": name},
        "errorCode": "AccessDenied", "errorMessage": error.response["Error"]["Message"],
        "requestID": "AWS-" + error.response["ResponseMetadata"]["RequestId"],
    }  # fmt: skip


def _in_process(server: RunningServer, request_id: str) -> dict[str, Any]:
    """The explanation by request id with the server's own store (any account's principal)."""
    assert server.backend.audit is not None
    server.backend.audit.flush()
    with server.backend.store.read() as tx:
        [subject] = subjects_for_request_id(tx, request_id)
        return Explainer(PolicyLoader()).explain(tx, subject, datetime.now(UTC)).to_json()


def _allowed(iam: BaseClient, user_arn: str, actions: list[str], resources: list[str]) -> set[tuple[str, str]]:
    """SimulatePrincipalPolicy's answer for every sampled pair."""
    out: set[tuple[str, str]] = set()
    for resource in resources:
        for i in range(0, len(actions), 50):
            results = iam.simulate_principal_policy(
                PolicySourceArn=user_arn, ActionNames=actions[i : i + 50], ResourceArns=[resource]
            )["EvaluationResults"]
            out |= {(r["EvalActionName"].lower(), resource) for r in results if r["EvalDecision"] == "allowed"}
    return out


def _check_expectations(answer: dict[str, Any], expect: dict[str, Any]) -> None:
    for code in expect["findings"]:
        assert code in _codes(answer), (code, _codes(answer))
    for code, evidence in expect.get("evidence", {}).items():
        [found] = [f for f in answer["findings"] if f["code"] == code][:1]
        assert {k: found["evidence"].get(k) for k in evidence} == evidence, found
    if "levelsWithoutAllow" in expect:
        [narrowed] = [f for f in answer["findings"] if f["code"] == "narrowed-by"][:1]
        assert [lv["levelName"] for lv in narrowed["evidence"]["levelsWithoutAllow"]] == expect["levelsWithoutAllow"]
    want = expect["fix"]
    fix = answer["fix"]
    assert fix["kind"] == want["kind"] and fix["verified"] is want["verified"], fix
    for key in ("level", "levelName", "guardRail"):
        if key in want:
            assert fix[key] == want[key]
    if want.get("scpGuardRail"):
        [change] = [c for c in fix["changes"] if c["policyType"] == "scp"]
        assert change["guardRail"] is True and "SCP level" in change["how"]
        assert "account level" in change["where"]


IAM_CASES = [c for c in CASES if not c.get("setup", "").startswith("scp")]


@pytest.mark.parametrize("case", IAM_CASES, ids=lambda c: c["name"])
def test_iam_user_cases(
    case: dict[str, Any], api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str,
    data_dir: Path,
) -> None:  # fmt: skip
    caller = "corpus-" + str(CASES.index(case))
    names = {"account": acct, "caller": caller}
    document = case.get("policy")
    client_ = user_client(caller, json.dumps(_fill(document, names)) if document is not None else None)
    if case.get("tags"):
        iam.tag_user(UserName=caller, Tags=[{"Key": k, "Value": v} for k, v in case["tags"].items()])
    if case.get("boundary") is not None:
        boundary = json.dumps(_fill(case["boundary"], names))
        bound = iam.create_policy(PolicyName=f"{caller}-boundary", PolicyDocument=boundary)["Policy"]["Arn"]
        iam.put_user_permissions_boundary(UserName=caller, PermissionsBoundary=bound)
    call = case["call"]
    operation = getattr(client_, call["operation"])
    params = _fill(call["params"], names)
    error = _denied(lambda: operation(**params))
    rid = error.response["ResponseMetadata"]["RequestId"]
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    with api_server.backend.store.read() as tx:
        [subject] = subjects_for_request_id(tx, rid)
    assert subject.event_time is not None
    if case.get("setup") == "prune-history-after-the-call":
        with api_server.backend.store.transaction() as wtx:
            wtx.prune_policy_history(subject.event_time + timedelta(seconds=1))
    user_arn = f"arn:aws:iam::{acct}:user/{caller}"
    by_id = explain(api_server, {"RequestId": rid}).json()
    record = _aws_record(error, user_arn, acct, subject.event_time)  # the time the call was made
    offline = explain(api_server, {"Event": {"Records": [record]}}).json()
    for answer in (by_id, offline):
        _check_expectations(answer, _fill(case["expect"], names))
    if case.get("setup") == "prune-history-after-the-call":
        assert "asItWas" not in by_id or by_id["asItWas"] is None
    fix = by_id["fix"]
    if not (fix["kind"] == "add-allow" and fix["verified"]):
        return
    radius = fix["blastRadius"]
    if case["expect"]["fix"].get("radiusEmpty"):
        assert radius["newlyAllowed"] == []
    actions, resources = radius["sampledActions"], radius["sampledResources"]
    assert call_action(error) in {a.lower() for a in actions}
    before = _allowed(iam, user_arn, actions, resources)
    env: dict[str, str | None] = {
        "AWS_ACCESS_KEY_ID": api_server.root_key, "AWS_SECRET_ACCESS_KEY": api_server.root_secret,
        "AWS_PROFILE": None, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }  # fmt: skip
    applied = CliRunner().invoke(
        main, ["explain", rid, "--apply", "--yes", "--endpoint-url", api_server.endpoint, "--data-dir", str(data_dir)],
        env=env,
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    # an identity-side fix is an inline policy of the user; a boundary's, a new default version of the boundary
    verb = {"identity": "PutUserPolicy", "boundary": "CreatePolicyVersion"}[fix["changes"][0]["policyType"]]
    assert f"applied: {verb}" in applied.output, applied.output
    operation(**params)  # the fix, written through the API, allows the call for real
    after = _allowed(iam, user_arn, actions, resources)
    requested = (call_action(error), fix["changes"][0]["statement"]["Resource"])  # exactly the request's resource
    newly = (after - before) - {requested}
    reported = {(p["action"].lower(), p["resource"]) for p in radius["newlyAllowed"]}
    assert newly == reported  # nothing in the radius missed (or invented) on the sampled set


def call_action(error: ClientError) -> str:
    return f"iam:{error.operation_name}".lower()


@pytest.fixture(scope="module")
def member(api_server: RunningServer) -> tuple[Any, str, BaseClient]:
    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    orgs.create_organization(FeatureSet="ALL")
    account = new_account(orgs, "corpus-member")
    key, secret = _member_admin(api_server, account, "corpus-admin")
    return orgs, account, client(api_server, "iam", key, secret)


def test_scp_deny_on_an_ou(member: tuple[Any, str, BaseClient], api_server: RunningServer) -> None:
    [case] = [c for c in CASES if c.get("setup") == "scp-deny-on-ou"]
    orgs, account, member_iam = member
    root = orgs.list_roots()["Roots"][0]["Id"]
    unit = orgs.create_organizational_unit(ParentId=root, Name="CorpusLocked")["OrganizationalUnit"]["Id"]
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
    created = orgs.create_policy(Content=DENY_CREATE_USER, Description="", Name="DenyCreateUser", Type=SCP)
    policy_id = created["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=policy_id, TargetId=unit)
    try:
        error = _denied(lambda: member_iam.create_user(**case["call"]["params"]))
        answer = _in_process(api_server, error.response["ResponseMetadata"]["RequestId"])
        _check_expectations(answer, case["expect"])
        [deciding] = [f for f in answer["findings"] if f["code"] == "deciding-statement"]
        assert deciding["evidence"]["policyArn"].endswith(policy_id)
        assert "organization's ou level" in deciding["detail"] and "SCP level" in answer["fix"]["summary"]
        # offline, from the CloudTrail record AWS would have written
        record = _aws_record(error, f"arn:aws:iam::{account}:user/corpus-admin", account)
        with api_server.backend.store.read() as tx:
            offline = Explainer(PolicyLoader()).explain(tx, from_event(record), datetime.now(UTC)).to_json()
        _check_expectations(offline, case["expect"])
    finally:
        orgs.detach_policy(PolicyId=policy_id, TargetId=unit)
        orgs.move_account(AccountId=account, SourceParentId=unit, DestinationParentId=root)


def test_scp_allow_list_on_the_account(member: tuple[Any, str, BaseClient], api_server: RunningServer) -> None:
    [case] = [c for c in CASES if c.get("setup") == "scp-allow-list-on-account"]
    orgs, account, member_iam = member
    only_get = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:Get*", "sts:*"], "Resource": "*"}]})  # fmt: skip
    policy_id = orgs.create_policy(Content=only_get, Description="", Name="OnlyGet", Type=SCP)["Policy"][
        "PolicySummary"
    ]["Id"]
    orgs.attach_policy(PolicyId=policy_id, TargetId=account)
    orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=account)  # the account level: OnlyGet alone
    try:
        error = _denied(lambda: member_iam.list_users())
        answer = _in_process(api_server, error.response["ResponseMetadata"]["RequestId"])
        _check_expectations(answer, case["expect"])
        [narrowed] = [f for f in answer["findings"] if f["code"] == "narrowed-by"]
        [level] = narrowed["evidence"]["levelsWithoutAllow"]
        assert [p["policyName"] for p in level["policies"]] == ["OnlyGet"]
        assert "The account level (level 1: OnlyGet) allows none of it" in narrowed["detail"]
    finally:
        orgs.attach_policy(PolicyId="p-FullAWSAccess", TargetId=account)
        orgs.detach_policy(PolicyId=policy_id, TargetId=account)
