"""The troubleshooter's scenario corpus (tests/cases/explain/findings.json) on a real server: each
denial is produced by a real boto3 call, explained by request id and offline from an AWS-shaped
CloudTrail record; a verified fix is applied for real (``iamd explain --apply --yes``) and its
blast radius checked against SimulatePrincipalPolicy before and after, on the sampled set
(docs/troubleshooting.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from click.testing import CliRunner

from iamd.cli import main
from iamd.explain import Explainer, from_event, subjects_for_request_id
from iamd.service.policy_loader import PolicyLoader
from iamd.store import EntityKind, open_store
from tests.api.clock import MovableClock
from tests.api.conftest import NO_RETRY
from tests.api.server import RunningServer
from tests.api.test_explain import explain, next_second
from tests.api.test_organizations import DENY_CREATE_USER, RCP, SCP, _member_admin, client, new_account

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


def _subset(found: Any, want: Any) -> bool:
    """``want`` is ``found`` or, for objects, a part of it (recursively)."""
    if isinstance(want, dict):
        return isinstance(found, dict) and all(k in found and _subset(found[k], v) for k, v in want.items())
    return bool(found == want)


# Findings about time: a case explained right after its call has none unless it changed something on purpose.
TIME_FINDINGS = {"outcome-changed", "replay-differs", "propagation-window", "changed-since", "history-retention"}


def _check_expectations(answer: dict[str, Any], expect: dict[str, Any]) -> None:
    for code in expect["findings"]:
        assert code in _codes(answer), (code, _codes(answer))
    unexpected = (TIME_FINDINGS - set(expect["findings"])) & set(_codes(answer))
    assert not unexpected, (unexpected, answer["findings"])
    for code, evidence in expect.get("evidence", {}).items():
        [found] = [f for f in answer["findings"] if f["code"] == code][:1]
        assert _subset(found["evidence"], evidence), (evidence, found)
    if "levelsWithoutAllow" in expect:
        [narrowed] = [f for f in answer["findings"] if f["code"] == "narrowed-by"][:1]
        assert [lv["levelName"] for lv in narrowed["evidence"]["levelsWithoutAllow"]] == expect["levelsWithoutAllow"]
    if "fix" not in expect:
        return
    want = expect["fix"]
    fix = answer["fix"]
    if want is None:
        assert fix is None, fix
        return
    assert fix["kind"] == want["kind"] and fix["verified"] is want["verified"], fix
    for key in ("level", "levelName", "guardRail"):
        if key in want:
            assert fix[key] == want[key], (key, fix)
    if "changes" in want:
        assert [c["policyType"] for c in fix["changes"]] == want["changes"], fix
    if want.get("scpGuardRail"):
        [change] = [c for c in fix["changes"] if c["policyType"] == "scp"]
        assert change["guardRail"] is True and "SCP level" in change["how"]
        assert "account level" in change["where"]


# The sections of AWS's troubleshooting guides (IAM User Guide, "Troubleshoot IAM", "Troubleshoot access denied
# error messages", "Troubleshoot IAM roles", "Configuring MFA-protected API access") a denial can come from; each has
# a case. Left out: "How do I securely create IAM users?" (advice, no denial) and "Access denied due to a VPC endpoint
# policy" (iamd has no VPC endpoints).
SEED_SECTIONS = {
    "access denied: identity-based policy",
    "access denied: explicit deny",
    "access denied: service control policy",
    "access denied: resource control policy",
    "access denied: permissions boundary",
    "access denied: session policy",
    "I can't assume a role",
    "I can't sign in to my AWS account",
    "I forgot my access keys",
    "Policy variables aren't working",
    "Changes that I make are not always immediately visible",
    "I am not authorized to perform: iam:DeleteVirtualMFADevice",
    "Configuring MFA-protected API access",
}
ORG_SCENARIOS = ("scp-deny-on-ou", "scp-allow-list-on-account", "rcp-deny-assume-role")
SERVER_CASES = [c for c in CASES if c.get("scenario") not in ORG_SCENARIOS]


def test_every_checklist_item_and_seed_section_has_a_case() -> None:
    """The checklist is docs/troubleshooting.md's table; a case's "checklist" codes are among its expected findings."""
    table = (Path(__file__).parent.parent.parent / "docs" / "troubleshooting.md").read_text()
    codes: set[str] = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            codes |= {part.split("`")[1] for part in line.split("|")[1].split(",") if "`" in part}
    assert len(codes) >= 20, codes
    covered = {code for c in CASES for code in c["checklist"]}
    assert codes - covered == set(), f"checklist items without a case: {sorted(codes - covered)}"
    assert {c["seed"] for c in CASES} == SEED_SECTIONS
    for c in CASES:
        assert set(c["checklist"]) <= set(c["expect"]["findings"]), c["name"]


def _step(iam: BaseClient, step: Any, names: dict[str, str]) -> None:
    if step == "delete-caller":  # the caller and what a user must lose first
        user = names["caller"]
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
        for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
            iam.delete_user_policy(UserName=user, PolicyName=name)
        iam.delete_user(UserName=user)
        return
    service, operation = step["call"].split(".")
    assert service == "iam"
    getattr(iam, operation)(**_fill(step["params"], names))


def _session(server: RunningServer, service: str, c: dict[str, str]) -> BaseClient:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", config=NO_RETRY,
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c.get("SessionToken"))  # fmt: skip


def _other_store(server: RunningServer, data_dir: Path, at: datetime) -> Any:
    """A second store on the server's database whose clock says ``at`` (another process's writes)."""
    return open_store(f"sqlite:///{data_dir / 'iamd.db'}", clock=lambda: at)


@dataclass
class _Caller:
    """How the case's call is made, and who made it, as a CloudTrail record names it."""

    call: Callable[[], Any]
    identity: dict[str, Any]
    user_creds: dict[str, str]  # the IAM user's access key


def _caller(
    case: dict[str, Any], names: dict[str, str], server: RunningServer, iam: BaseClient, clock: MovableClock,
    key: dict[str, str],
) -> _Caller:  # fmt: skip
    account, user = names["account"], names["caller"]
    user_arn = f"arn:aws:iam::{account}:user/{user}"
    identity: dict[str, Any] = {"type": "IAMUser", "arn": user_arn, "accountId": account, "userName": user,
                                "accessKeyId": key["AccessKeyId"]}  # fmt: skip
    how = case.get("as", "user")
    creds = user_creds = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    service, operation = case["call"].get("service", "iam"), case["call"]["operation"]
    params = _fill(case["call"]["params"], names)
    if how == "inactive-key":
        iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    elif how == "deleted-key":
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    elif how == "unknown-key":
        creds = {"AccessKeyId": "AKIA" + user.upper().replace("-", "").ljust(16, "0")[:16], "SecretAccessKey": "x" * 40}
    elif how == "token-with-long-term-key":
        creds = {**creds, "SessionToken": "FwoGZXIvYXdzEXAMPLE" + "A" * 40}
    elif how == "wrong-secret":
        creds = {**creds, "SecretAccessKey": "x" * 40}
    elif how == "expired-session":
        issued = _session(server, "sts", creds).get_session_token(DurationSeconds=900)["Credentials"]
        client_ = _session(server, service, issued)

        def later() -> Any:
            with clock.moved(timedelta(hours=1)):
                return getattr(client_, operation)(**params)

        return _Caller(later, identity, creds)
    elif how == "assumed-role":
        assume = _fill(case["assume"], names)
        issued = _session(server, "sts", creds).assume_role(**assume)["Credentials"]
        session = {k: issued[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        role_arn = assume["RoleArn"]
        role_name = role_arn.rsplit("/", 1)[1]
        identity = {
            "type": "AssumedRole", "accountId": account, "accessKeyId": session["AccessKeyId"],
            "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{assume['RoleSessionName']}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "userName": role_name,
                                                 "accountId": account}},
        }  # fmt: skip
        creds = session
    client_ = _session(server, service, creds)
    return _Caller(lambda: getattr(client_, operation)(**params), identity, user_creds)


def _record(error: ClientError, identity: dict[str, Any], when: datetime, params: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record AWS would write for this denial (no iamd extras)."""
    service = "sts" if error.operation_name in ("AssumeRole", "GetCallerIdentity", "GetSessionToken") else "iam"
    return {
        "eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service}.amazonaws.com", "eventName": error.operation_name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7", "userIdentity": identity,
        "errorCode": error.response["Error"]["Code"], "errorMessage": error.response["Error"]["Message"],
        "requestParameters": {k[:1].lower() + k[1:]: v for k, v in params.items()},
        "requestID": "AWS-" + error.response["ResponseMetadata"]["RequestId"],
    }  # fmt: skip


@pytest.mark.parametrize("case", SERVER_CASES, ids=lambda c: c["name"])
def test_corpus_case(
    case: dict[str, Any], api_server: RunningServer, iam: BaseClient, acct: str, data_dir: Path,
    server_clock: MovableClock,
) -> None:  # fmt: skip
    caller = "corpus-" + str(CASES.index(case))
    names = {"account": acct, "caller": caller}
    expect = _fill(case["expect"], names)
    iam.create_user(UserName=caller)
    document = case.get("policy")
    if document is not None:
        text = json.dumps(_fill(document, names))
        ago = case.get("policyWrittenSecondsBefore")
        if ago:  # written long enough before the call not to be a propagation-window change
            other = _other_store(api_server, data_dir, datetime.now(UTC) - timedelta(seconds=ago))
            try:
                with other.transaction() as tx:
                    tx.put_inline_policy(EntityKind.USER, acct, caller, "inline", text)
            finally:
                other.close()
        else:
            iam.put_user_policy(UserName=caller, PolicyName="inline", PolicyDocument=text)
    if case.get("scenario") == "unreadable-policy":  # a row no valid write would make (an older iamd, a restore)
        other = _other_store(api_server, data_dir, datetime.now(UTC))
        try:
            with other.transaction() as tx:
                tx.put_inline_policy(
                    EntityKind.USER, acct, caller, "broken", '{"Version": "2012-10-17", "Statement": 7}'
                )
        finally:
            other.close()
    key = iam.create_access_key(UserName=caller)["AccessKey"]
    for step in case.get("setup", ()):
        _step(iam, step, names)
    made = _caller(case, names, api_server, iam, server_clock, key)
    with pytest.raises(ClientError) as raised:
        made.call()
    error = raised.value
    assert error.response["Error"]["Code"] == expect.get("error", "AccessDenied"), error.response
    rid = error.response["ResponseMetadata"]["RequestId"]
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    with api_server.backend.store.read() as tx:
        [event] = tx.find_audit_events(rid)
        [subject] = subjects_for_request_id(tx, rid)
    assert subject.event_time is not None
    if case.get("scenario") == "grant-within-propagation-window":  # committed elsewhere 1.5 s before the call
        other = _other_store(api_server, data_dir, subject.event_time - timedelta(seconds=1.5))
        try:
            with other.transaction() as tx:
                tx.put_inline_policy(EntityKind.USER, acct, caller, "grant", json.dumps(case["grant"]))
        finally:
            other.close()
    if case.get("scenario") == "prune-history-after-the-call":
        with api_server.backend.store.transaction() as wtx:
            wtx.prune_policy_history(subject.event_time + timedelta(seconds=1))
    if case.get("after"):
        next_second()
        for step in case["after"]:
            _step(iam, step, names)
        api_server.backend.audit.flush()
    # explained by request id, and offline from a CloudTrail record
    by_id = explain(api_server, {"RequestId": rid}).json()
    params = _fill(case["call"]["params"], names)
    if case.get("offline") == "trail":  # iamd's own record: it says why the credential was refused
        record = json.loads(event.record)
    else:
        record = _record(error, made.identity, subject.event_time, params)
    offline = explain(api_server, {"Event": {"Records": [record]}}).json()
    for answer in (by_id, offline):
        _check_expectations(answer, expect)
    if case.get("scenario") == "prune-history-after-the-call":
        assert by_id.get("asItWas") is None
        # The cut is the store's, not this case's: the module's later cases call after it, however fast
        # the machine (an event stamped before the cut is reported as older than the kept history).
        while datetime.now(UTC) <= subject.event_time + timedelta(seconds=1):
            time.sleep(0.05)
    _verify_fix(case, by_id, error, made, names, api_server, iam, data_dir, rid)


def _verify_fix(
    case: dict[str, Any], answer: dict[str, Any], error: ClientError, made: _Caller, names: dict[str, str],
    server: RunningServer, iam: BaseClient, data_dir: Path, rid: str,
) -> None:  # fmt: skip
    """Every fix is checked for real: applied (or its condition met), the call repeated."""
    fix = answer["fix"]
    if fix is None:
        return
    if fix["kind"] == "meet-condition":
        if case.get("meet"):
            for step in case["meet"]:
                _step(iam, step, names)
            made.call()  # the condition met, the same call is allowed
        return
    if not (fix["kind"] == "add-allow" and fix["verified"]):
        return
    assert fix["decisionWithFix"] == "allowed"
    kinds = [c["policyType"] for c in fix["changes"]]
    if kinds == ["session"]:  # a new session with the statement added to its session policy
        assume = _fill(case["assume"], names)
        session_policy = json.loads(assume["Policy"])
        session_policy["Statement"].append(fix["changes"][0]["statement"])
        assume["Policy"] = json.dumps(session_policy)
        issued = _session(server, "sts", made.user_creds).assume_role(**assume)["Credentials"]
        client_ = _session(server, case["call"].get("service", "iam"), issued)
        getattr(client_, case["call"]["operation"])(**_fill(case["call"]["params"], names))
        return
    if not all("apply" in c for c in fix["changes"]):
        return  # an SCP or a resource's own policy: iamd does not write it; the re-evaluation is the check
    radius = fix["blastRadius"]
    user_arn = f"arn:aws:iam::{names['account']}:user/{names['caller']}"
    identity_only = kinds == ["identity"]
    if case["expect"]["fix"].get("radiusEmpty"):
        assert radius["newlyAllowed"] == []
    actions, resources = radius["sampledActions"], radius["sampledResources"]
    before = _allowed(iam, user_arn, actions, resources) if identity_only else set()
    env: dict[str, str | None] = {
        "AWS_ACCESS_KEY_ID": server.root_key, "AWS_SECRET_ACCESS_KEY": server.root_secret,
        "AWS_PROFILE": None, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }  # fmt: skip
    applied = CliRunner().invoke(
        main, ["explain", rid, "--apply", "--yes", "--endpoint-url", server.endpoint, "--data-dir", str(data_dir)],
        env=env,
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    made.call()  # the fix, written through the API, allows the call for real
    if identity_only:
        assert "applied: PutUserPolicy" in applied.output
        assert call_action(error) in {a.lower() for a in actions}
        after = _allowed(iam, user_arn, actions, resources)
        requested = (call_action(error), fix["changes"][0]["statement"]["Resource"])  # exactly the request's
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
    [case] = [c for c in CASES if c.get("scenario") == "scp-deny-on-ou"]
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
    [case] = [c for c in CASES if c.get("scenario") == "scp-allow-list-on-account"]
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


def test_rcp_deny_on_the_member_accounts_roles(member: tuple[Any, str, BaseClient], api_server: RunningServer) -> None:
    [case] = [c for c in CASES if c.get("scenario") == "rcp-deny-assume-role"]
    orgs, account, member_iam = member
    root = orgs.list_roots()["Roots"][0]["Id"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]})  # fmt: skip
    role_arn = member_iam.create_role(RoleName="LockedCorpus", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    key = member_iam.create_access_key(UserName="corpus-admin")["AccessKey"]
    sts = client(api_server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    orgs.enable_policy_type(RootId=root, PolicyType=RCP)
    content = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                          "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/Locked*"}]})  # fmt: skip
    rcp = orgs.create_policy(Content=content, Description="", Name="NoLocked", Type=RCP)["Policy"]["PolicySummary"]
    orgs.attach_policy(PolicyId=rcp["Id"], TargetId=account)
    try:
        error = _denied(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="corpus"))
        answer = _in_process(api_server, error.response["ResponseMetadata"]["RequestId"])
        _check_expectations(answer, case["expect"])
        [deciding] = [f for f in answer["findings"] if f["code"] == "deciding-statement"]
        assert deciding["evidence"]["policyArn"] == rcp["Arn"]
        record = _aws_record(error, f"arn:aws:iam::{account}:user/corpus-admin", account)
        record.update(
            eventSource="sts.amazonaws.com", requestParameters={"roleArn": role_arn, "roleSessionName": "corpus"}
        )
        with api_server.backend.store.read() as tx:
            offline = Explainer(PolicyLoader()).explain(tx, from_event(record), datetime.now(UTC)).to_json()
        _check_expectations(offline, case["expect"])
    finally:
        orgs.detach_policy(PolicyId=rcp["Id"], TargetId=account)
        orgs.disable_policy_type(RootId=root, PolicyType=RCP)
