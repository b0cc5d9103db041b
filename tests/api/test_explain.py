"""The troubleshooter on real denials: a real server, a real boto3 call that is denied, then
``POST /iamd/explain`` by request id and by the message boto3 showed (docs/troubleshooting.md).

One test per checklist finding; each names the finding it proves and checks its evidence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from iamd.store import EntityKind, open_store
from tests.api.clock import MovableClock
from tests.api.conftest import NO_RETRY, UserClient, allow, client_for, policy
from tests.api.server import RunningServer
from tests.api.test_sts_assume_role import make_role, trust


def next_second() -> None:
    """Wait until the wall clock's second has changed: what follows is stamped after the
    second of every request made so far (trail times are whole seconds)."""
    start = int(time.time())
    while int(time.time()) <= start:
        time.sleep(0.05)


def explain(
    server: RunningServer, body: dict[str, Any], key: str | None = None, secret: str | None = None
) -> httpx.Response:
    """``POST /iamd/explain`` signed with botocore's SigV4 signer (root's key by default)."""
    request = AWSRequest(
        method="POST", url=server.endpoint + "/iamd/explain", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    SigV4Auth(Credentials(key or server.root_key, secret or server.root_secret), "iam", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return httpx.post(prepared.url, headers=dict(prepared.headers), content=prepared.body)


def denied(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


def both(server: RunningServer, error: ClientError) -> tuple[dict[str, Any], dict[str, Any]]:
    """The explanation by request id and by the pasted message; both must answer 200."""
    assert server.backend.audit is not None
    server.backend.audit.flush()
    rid = error.response["ResponseMetadata"]["RequestId"]
    by_id = explain(server, {"RequestId": rid})
    by_message = explain(server, {"Message": error.response["Error"]["Message"]})
    assert by_id.status_code == 200, by_id.text
    assert by_message.status_code == 200, by_message.text
    return by_id.json(), by_message.json()


def findings(answer: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in answer["findings"] if f["code"] == code]


def one(answer: dict[str, Any], code: str) -> dict[str, Any]:
    found = findings(answer, code)
    assert found, f"no {code} finding in {[f['code'] for f in answer['findings']]}"
    return found[0]


# -- which policy type blocked; the fix, checked ------------------------------------------------
def test_no_allow_names_the_identity_policy_and_a_verified_least_privilege_fix(
    api_server: RunningServer, user_client: UserClient, acct: str
) -> None:
    client = user_client("ex-none")
    by_id, by_message = both(api_server, denied(client.list_roles))
    for answer in (by_id, by_message):
        blocked = one(answer, "blocked-by")["evidence"]
        assert (blocked["policyType"], blocked["explicit"]) == ("identity", False)
        fix = answer["fix"]
        assert fix["kind"] == "add-allow" and fix["verified"] is True and fix["decisionWithFix"] == "allowed"
        [change] = fix["changes"]
        assert change["statement"] == {
            "Sid": "IamdExplainFix", "Effect": "Allow", "Action": "iam:ListRoles",
            "Resource": f"arn:aws:iam::{acct}:role/",
        }  # fmt: skip
        assert "put-user-policy --user-name ex-none" in change["how"]
    assert by_id["recorded"]["decision"] == "implicitDeny" and by_id["differsNow"] is False
    assert by_id["subject"]["source"] == "request-id" and by_message["subject"]["source"] == "message"


def test_the_deciding_deny_statement_with_its_sid_and_position(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient
) -> None:
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [
            allow("iam:*"),
            {"Sid": "KeepRoles", "Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
        ]}, indent=2,
    )  # fmt: skip
    client = user_client("ex-deny", document)
    iam.create_role(RoleName="ex-kept", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{api_server.account_id}:root"))
    for answer in both(api_server, denied(lambda: client.delete_role(RoleName="ex-kept"))):
        statement = one(answer, "deciding-statement")["evidence"]
        assert (statement["policyName"], statement["sid"], statement["statementIndex"]) == ("inline", "KeepRoles", 1)
        assert (statement["line"], statement["column"]) == (9, 5)  # where the statement starts in the stored text
        assert answer["fix"]["kind"] == "explicit-deny" and answer["fix"]["statements"][0]["sid"] == "KeepRoles"
        assert "explicit Deny in an identity-based policy" in answer["verdict"]


# -- conditions ---------------------------------------------------------------------------------
def test_a_failed_condition_with_the_values_compared(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient
) -> None:
    client = user_client(
        "ex-cond", policy(allow("iam:ListGroups", "*", **{"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    )
    iam.tag_user(UserName="ex-cond", Tags=[{"Key": "team", "Value": "red"}])
    for answer in both(api_server, denied(client.list_groups)):
        condition = one(answer, "condition-failed")["evidence"]["condition"]
        assert condition["key"] == "aws:PrincipalTag/team" and condition["operator"] == "StringEquals"
        assert (condition["requestValues"], condition["policyValues"], condition["result"]) == (
            ["red"],
            ["blue"],
            False,
        )
        assert answer["fix"]["kind"] == "meet-condition"  # never an unconditional Allow around the condition


def test_a_missing_context_key(api_server: RunningServer, user_client: UserClient) -> None:
    client = user_client(
        "ex-nokey", policy(allow("iam:ListPolicies", "*", **{"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    )
    for answer in both(api_server, denied(client.list_policies)):
        missing = one(answer, "missing-context-key")
        assert missing["evidence"]["key"] == "aws:PrincipalTag/team"
        assert missing["evidence"]["statements"][0]["policyName"] == "inline"


def test_values_that_differ_only_by_case(api_server: RunningServer, iam: BaseClient, user_client: UserClient) -> None:
    client = user_client(
        "ex-case", policy(allow("iam:ListInstanceProfiles", "*", **{"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    )
    iam.tag_user(UserName="ex-case", Tags=[{"Key": "team", "Value": "Blue"}])
    for answer in both(api_server, denied(client.list_instance_profiles)):
        found = one(answer, "value-case")
        assert "StringEqualsIgnoreCase" in found["detail"]
        assert found["evidence"]["condition"]["requestValues"] == ["Blue"]


def test_context_keys_that_differ_only_by_case(api_server: RunningServer, acct: str, user_client: UserClient) -> None:
    user_client("ex-keycase", policy(allow("s3:GetObject", "*", **{"StringEquals": {"aws:RequestTag/team": "blue"}})))
    answer = explain(api_server, {
        "Principal": f"arn:aws:iam::{acct}:user/ex-keycase", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::bucket/key", "Context": {"aws:RequestTag/team": "blue", "aws:RequestTag/Team": "red"},
    }).json()  # fmt: skip
    assert one(answer, "key-case")["evidence"]["key"] == "aws:requesttag/team"
    assert answer["now"]["decision"] == "implicitDeny"


def test_mfa_absent_where_a_condition_wants_it(api_server: RunningServer, user_client: UserClient) -> None:
    client = user_client(
        "ex-mfa", policy(allow("iam:ListVirtualMFADevices", "*", **{"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    )
    for answer in both(api_server, denied(client.list_virtual_mfa_devices)):
        found = one(answer, "mfa-absent")
        assert found["evidence"]["condition"]["key"] == "aws:MultiFactorAuthPresent"
        assert "GetSessionToken" in found["detail"]
        assert "MFA" in answer["verdict"]


# -- versions, spelling, ARNs ---------------------------------------------------------------------
def test_policy_variables_without_version_are_compared_literally(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    """A 2008-10-17 trust policy: ${aws:username} is text, not the caller's name."""
    user_client("ex-var", policy(allow("sts:AssumeRole")))
    key = iam.create_access_key(UserName="ex-var")["AccessKey"]
    document = json.dumps({"Version": "2008-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}},
    }]})  # fmt: skip
    role = make_role(iam, "ex-var-role", document)
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                       config=NO_RETRY)  # fmt: skip
    error = denied(lambda: sts.assume_role(RoleArn=role, RoleSessionName="ex-var"))
    by_id, by_message = both(api_server, error)
    found = one(by_id, "variables-without-version")
    assert found["evidence"]["version"] == "2008-10-17" and found["evidence"]["literal"] == ["${aws:username}"]
    assert one(by_id, "trust-policy")["evidence"]["role"] == role
    assert one(by_message, "variables-without-version")


def test_a_misspelled_action_names_the_nearest_known_one(api_server: RunningServer, user_client: UserClient) -> None:
    client = user_client("ex-typo", policy(allow("iam:ListUser")))
    for answer in both(api_server, denied(client.list_users)):
        found = one(answer, "unknown-action")
        assert (found["evidence"]["action"], found["evidence"]["nearest"]) == ("iam:ListUser", "iam:ListUsers")
        assert found["evidence"]["matchesRequest"] is True
        assert "Misspelled action iam:ListUser" in answer["verdict"]


def test_a_misspelled_condition_key_names_the_nearest_known_one(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient
) -> None:
    client = user_client(
        "ex-keytypo",
        policy(allow("iam:ListAccountAliases", "*", **{"StringEquals": {"aws:PrincipleTag/team": "blue"}})),
    )
    iam.tag_user(UserName="ex-keytypo", Tags=[{"Key": "team", "Value": "blue"}])
    for answer in both(api_server, denied(client.list_account_aliases)):
        found = one(answer, "unknown-condition-key")
        assert (found["evidence"]["key"], found["evidence"]["nearest"]) == (
            "aws:PrincipleTag/team",
            "aws:PrincipalTag/team",
        )


@pytest.mark.parametrize(
    ("segment", "pattern"),
    [("account", "arn:aws:iam::999999999999:role/*"), ("partition", "arn:aws-cn:iam::{acct}:role/*")],
)
def test_the_wrong_account_or_partition_in_a_resource_arn(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str, segment: str, pattern: str
) -> None:
    name = f"ex-arn-{segment}"
    client = user_client(name, policy(allow("iam:GetRole", pattern.format(acct=acct))))
    iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{acct}:root"))
    for answer in both(api_server, denied(lambda: client.get_role(RoleName=f"{name}-role"))):
        found = one(answer, f"wrong-{segment}")
        expected = acct if segment == "account" else "aws"
        assert found["evidence"]["expected"] == expected and found["evidence"]["pattern"] == pattern.format(acct=acct)


# -- credentials ----------------------------------------------------------------------------------
def _refused(server: RunningServer, error: ClientError) -> dict[str, Any]:
    rid = error.response["ResponseMetadata"]["RequestId"]
    response = explain(server, {"RequestId": rid})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["now"] is None  # refused before any policy was evaluated
    return answer


def test_an_inactive_a_deleted_and_an_unknown_access_key(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="ex-keys")
    inactive = iam.create_access_key(UserName="ex-keys")["AccessKey"]
    iam.update_access_key(UserName="ex-keys", AccessKeyId=inactive["AccessKeyId"], Status="Inactive")
    answer = _refused(
        api_server, denied(client_for(api_server, inactive["AccessKeyId"], inactive["SecretAccessKey"]).get_user)
    )
    found = one(answer, "credential-inactive")
    assert found["evidence"]["accessKeyId"] == inactive["AccessKeyId"] and found["evidence"]["statusNow"] == "Inactive"
    assert inactive["SecretAccessKey"] not in json.dumps(answer)

    deleted = iam.create_access_key(UserName="ex-keys")["AccessKey"]
    iam.delete_access_key(UserName="ex-keys", AccessKeyId=deleted["AccessKeyId"])
    answer = _refused(
        api_server, denied(client_for(api_server, deleted["AccessKeyId"], deleted["SecretAccessKey"]).get_user)
    )
    found = one(answer, "credential-deleted")
    assert found["evidence"]["deletedBy"]["by"] == f"arn:aws:iam::{api_server.account_id}:root"

    answer = _refused(api_server, denied(client_for(api_server, "AKIAEXPLAINUNKNOWN00", "x" * 40).get_user))
    assert one(answer, "credential-unknown")["evidence"]["accessKeyId"] == "AKIAEXPLAINUNKNOWN00"


def test_an_expired_session(api_server: RunningServer, server_clock: MovableClock, iam: BaseClient) -> None:
    iam.create_user(UserName="ex-expired")
    key = iam.create_access_key(UserName="ex-expired")["AccessKey"]
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                       config=NO_RETRY)  # fmt: skip
    c = sts.get_session_token(DurationSeconds=900)["Credentials"]
    with server_clock.moved(timedelta(hours=1)):
        session = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                               aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                               aws_session_token=c["SessionToken"], config=NO_RETRY)  # fmt: skip
        answer = _refused(api_server, denied(session.get_caller_identity))
    assert one(answer, "credential-expired")["evidence"]["accessKeyId"] == c["AccessKeyId"]
    assert c["SessionToken"] not in json.dumps(answer)


# -- boundaries, session policies, trust ------------------------------------------------------------
def test_a_permissions_boundary_narrowing_an_allow(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient
) -> None:
    boundary = iam.create_policy(PolicyName="ex-boundary", PolicyDocument=policy(allow("iam:GetUser")))["Policy"]["Arn"]
    client = user_client("ex-bounded", policy(allow("iam:ListUsers")))
    iam.put_user_permissions_boundary(UserName="ex-bounded", PermissionsBoundary=boundary)
    for answer in both(api_server, denied(client.list_users)):
        assert one(answer, "narrowed-by")["evidence"]["policyType"] == "boundary"
        fix = answer["fix"]
        assert fix["verified"] is True and [c["policyType"] for c in fix["changes"]] == ["boundary"]
        assert boundary in fix["changes"][0]["where"]


def test_a_session_policy_narrowing_a_role_read_back_from_the_trail(
    api_server: RunningServer, iam: BaseClient, acct: str
) -> None:
    role = make_role(iam, "ex-session-role", trust(f"arn:aws:iam::{acct}:root"), policy(allow("iam:*")))
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                       aws_access_key_id=api_server.root_key, aws_secret_access_key=api_server.root_secret,
                       config=NO_RETRY)  # fmt: skip
    iam.create_user(UserName="ex-session-user")
    iam.put_user_policy(UserName="ex-session-user", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole")))
    key = iam.create_access_key(UserName="ex-session-user")["AccessKey"]
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                       config=NO_RETRY)  # fmt: skip
    c = sts.assume_role(RoleArn=role, RoleSessionName="narrow", Policy=policy(allow("iam:GetRole")))["Credentials"]
    session = boto3.client("iam", endpoint_url=api_server.endpoint, region_name="us-east-1",
                           aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                           aws_session_token=c["SessionToken"], config=NO_RETRY)  # fmt: skip
    by_id, by_message = both(api_server, denied(session.list_users))
    assert one(by_id, "narrowed-by")["evidence"]["policyType"] == "session"
    assert by_id["differsNow"] is False and any("session policies" in n for n in by_id["notes"])
    assert by_id["fix"]["verified"] is True and by_id["fix"]["changes"][0]["policyType"] == "session"
    # The pasted message has no key id: the session's policies cannot be found; the message still says who blocked.
    assert by_message["recorded"]["blockingPolicyType"] == "session"


def test_a_trust_policy_refusing_assume_role_and_the_trust_statement_to_add(
    api_server: RunningServer, iam: BaseClient, acct: str
) -> None:
    role = make_role(
        iam,
        "ex-untrusting",
        policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
    )
    iam.create_user(UserName="ex-truster")
    iam.put_user_policy(UserName="ex-truster", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole")))
    key = iam.create_access_key(UserName="ex-truster")["AccessKey"]
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                       config=NO_RETRY)  # fmt: skip
    for answer in both(api_server, denied(lambda: sts.assume_role(RoleArn=role, RoleSessionName="ss"))):
        found = one(answer, "trust-policy")
        assert found["evidence"]["role"] == role
        fix = answer["fix"]
        assert fix["verified"] is True
        assert fix["changes"][0]["statement"]["Principal"] == {"AWS": f"arn:aws:iam::{acct}:user/ex-truster"}


# -- then and now -------------------------------------------------------------------------------------
def test_an_outcome_that_differs_now_and_the_change_since(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient
) -> None:
    client = user_client("ex-later")
    error = denied(client.list_open_id_connect_providers)
    next_second()
    iam.put_user_policy(
        UserName="ex-later", PolicyName="later", PolicyDocument=policy(allow("iam:ListOpenIDConnectProviders"))
    )
    by_id, _ = both(api_server, error)
    assert by_id["recorded"]["decision"] == "implicitDeny" and by_id["now"]["decision"] == "allowed"
    assert by_id["asItWas"]["decision"] == "implicitDeny"  # replayed from the policy history
    assert by_id["differsNow"] is True
    assert one(by_id, "outcome-changed")["evidence"] == {
        "recorded": "implicitDeny", "now": "allowed", "recordedBlocking": "identity", "nowBlocking": None,
        "asItWas": "implicitDeny",
    }  # fmt: skip
    assert [c["eventName"] for c in one(by_id, "changed-since")["evidence"]["changes"]] == ["PutUserPolicy"]
    assert by_id["fix"] is None and "allowed now" in by_id["verdict"]
    assert not findings(by_id, "propagation-window") and not findings(by_id, "replay-differs")


def test_reads_after_the_event_do_not_crowd_a_later_change_out(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trail is scanned for later writes only (the store filters): more reads since the event
    than the scan reads must not hide the write that changed the outcome."""
    monkeypatch.setattr("iamd.explain.service._HISTORY_SCAN", 5)
    client = user_client("ex-crowded")
    error = denied(client.list_open_id_connect_providers)
    next_second()
    iam.put_user_policy(
        UserName="ex-crowded", PolicyName="later", PolicyDocument=policy(allow("iam:ListOpenIDConnectProviders"))
    )
    for _ in range(8):  # successful reads stored after the change, more than the scan's 5
        iam.get_user(UserName="ex-crowded")
    by_id, _ = both(api_server, error)
    assert [c["eventName"] for c in one(by_id, "changed-since")["evidence"]["changes"]] == ["PutUserPolicy"]


def test_as_it_was_through_a_group_and_an_older_default_version(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    """Allowed then through a group's managed policy; since, the user left the group and the
    policy has a new default version: the history replays the allow, today's policies deny."""
    arn = iam.create_policy(PolicyName="ex-readers", PolicyDocument=policy(allow("iam:ListSAMLProviders")))["Policy"][
        "Arn"
    ]
    iam.create_group(GroupName="ex-readers")
    iam.attach_group_policy(GroupName="ex-readers", PolicyArn=arn)
    client = user_client("ex-member")
    iam.add_user_to_group(GroupName="ex-readers", UserName="ex-member")
    rid = client.list_saml_providers()["ResponseMetadata"]["RequestId"]
    next_second()
    iam.remove_user_from_group(GroupName="ex-readers", UserName="ex-member")
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("iam:GetUser")), SetAsDefault=True)
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    answer = explain(api_server, {"RequestId": rid}).json()
    assert (answer["recorded"]["decision"], answer["asItWas"]["decision"], answer["now"]["decision"]) == (
        "allowed", "allowed", "implicitDeny",
    )  # fmt: skip
    assert one(answer, "outcome-changed")["evidence"]["asItWas"] == "allowed"
    [matched] = answer["asItWas"]["matchedStatements"]
    assert matched["policyId"] == "ex-readers"


def test_a_change_within_the_propagation_window(
    api_server: RunningServer, data_dir: Path, iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    """A grant another process committed a moment before the request, not yet seen where the
    request was served: written through a second store on the same database whose clock
    stamps it 1.5 s before the denied request."""
    client = user_client("ex-racing")
    error = denied(client.list_virtual_mfa_devices)
    with api_server.backend.store.read() as reader:
        [event] = reader.find_audit_events(error.response["ResponseMetadata"]["RequestId"])
    record = json.loads(event.record)
    when = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    other = open_store(f"sqlite:///{data_dir / 'iamd.db'}", clock=lambda: when - timedelta(seconds=1.5))
    try:
        with other.transaction() as tx:
            tx.put_inline_policy(
                EntityKind.USER, acct, "ex-racing", "grant", policy(allow("iam:ListVirtualMFADevices"))
            )
    finally:
        other.close()
    by_id, _ = both(api_server, error)
    found = one(by_id, "propagation-window")
    assert (found["evidence"]["replayed"], found["evidence"]["recorded"]) == ("allowed", "implicitDeny")
    assert [(c["event"], c["subject"]) for c in found["evidence"]["changes"]] == [("inline", "grant")]


def test_a_deleted_principal(api_server: RunningServer, iam: BaseClient, user_client: UserClient) -> None:
    client = user_client("ex-gone")
    error = denied(client.list_roles)
    for k in iam.list_access_keys(UserName="ex-gone")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="ex-gone", AccessKeyId=k["AccessKeyId"])
    iam.delete_user(UserName="ex-gone")
    by_id, _ = both(api_server, error)
    assert one(by_id, "principal-missing")["evidence"]["arn"].endswith(":user/ex-gone")


# -- the API itself -------------------------------------------------------------------------------------
def test_the_api_needs_iamd_explain_on_the_explained_principal(
    api_server: RunningServer, iam: BaseClient, acct: str
) -> None:
    iam.create_user(UserName="ex-self")
    iam.put_user_policy(
        UserName="ex-self",
        PolicyName="self",
        PolicyDocument=policy(allow("iamd:Explain", f"arn:aws:iam::{acct}:user/${{aws:username}}")),
    )
    key = iam.create_access_key(UserName="ex-self")["AccessKey"]
    me = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    error = denied(me.list_roles)
    rid = error.response["ResponseMetadata"]["RequestId"]
    mine = explain(api_server, {"RequestId": rid}, key["AccessKeyId"], key["SecretAccessKey"])
    assert mine.status_code == 200 and mine.json()["RequestId"] != rid
    other = explain(api_server, {"Principal": f"arn:aws:iam::{acct}:user/ex-none", "Action": "iam:ListRoles"},
                    key["AccessKeyId"], key["SecretAccessKey"])  # fmt: skip
    assert other.status_code == 403 and other.json()["__type"] == "AccessDenied"
    assert "iamd:Explain" in other.json()["message"]
    foreign = explain(api_server, {"Principal": "arn:aws:iam::999999999999:user/x", "Action": "iam:ListRoles"})
    assert foreign.status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "ValidationError"),
        ({"RequestId": "x", "Message": "y"}, 400, "ValidationError"),
        ({"Message": "Access Denied"}, 400, "ValidationError"),
        ({"Message": "User: " * 5000}, 400, "ValidationError"),
        ({"Principal": "arn:aws:iam::123456789012:user/a", "Action": "noservice"}, 400, "ValidationError"),
        ({"RequestId": "00000000-0000-0000-0000-000000000000"}, 404, "NoSuchEntity"),
        ({"Event": {"Records": []}}, 400, "ValidationError"),
        ({"Surprise": 1}, 400, "ValidationError"),
    ],
)
def test_bad_input_is_an_aws_shaped_4xx(
    api_server: RunningServer, body: dict[str, Any], status: int, code: str
) -> None:
    response = explain(api_server, body)
    assert (response.status_code, response.json()["__type"]) == (status, code)


def test_unsigned_and_wrongly_signed_requests_are_refused(api_server: RunningServer) -> None:
    assert httpx.post(api_server.endpoint + "/iamd/explain", json={"Message": "x"}).status_code == 403
    response = explain(api_server, {"Message": "x"}, api_server.root_key, "not-the-secret")
    assert (response.status_code, response.json()["__type"]) == (403, "SignatureDoesNotMatch")
    response = httpx.post(api_server.endpoint + "/iamd/explain", content=b"not json")
    assert response.status_code == 403  # authentication comes first


def test_an_aws_cloudtrail_event_is_explained_offline(
    api_server: RunningServer, user_client: UserClient, acct: str
) -> None:
    """A CloudTrail record as AWS writes it (no iamdDecision): the message and userIdentity suffice."""
    user_client("ex-aws", policy(allow("s3:GetObject", "arn:aws:s3:::reports/*")))
    message = (
        f"User: arn:aws:iam::{acct}:user/ex-aws is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::reports/q3.csv because no identity-based policy allows the s3:PutObject action"
    )
    record = {
        "eventVersion": "1.09", "eventTime": "2026-01-02T03:04:05Z", "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{acct}:user/ex-aws", "accountId": acct,
                         "userName": "ex-aws"},
        "errorCode": "AccessDenied", "errorMessage": message, "requestID": "AWSREQUEST1",
    }  # fmt: skip
    answer = explain(api_server, {"Event": {"Records": [record]}}).json()
    assert answer["subject"]["action"] == "s3:PutObject" and answer["now"]["decision"] == "implicitDeny"
    assert answer["fix"]["changes"][0]["statement"]["Resource"] == "arn:aws:s3:::reports/q3.csv"
    assert answer["fix"]["verified"] is True


def test_a_hypothetical_requests_context_replaces_what_iamd_derives(
    api_server: RunningServer, acct: str, user_client: UserClient
) -> None:
    """A key the caller gives (in any case) replaces iamd's own: no ambiguity with it."""
    user_client("ex-when", policy(allow("s3:GetObject", "*", DateLessThan={"aws:CurrentTime": "2000-01-01T00:00:00Z"})))
    body = {"Principal": f"arn:aws:iam::{acct}:user/ex-when", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"}
    then = explain(api_server, {**body, "Context": {"aws:currenttime": "1999-06-01T00:00:00Z"}}).json()
    assert then["now"]["decision"] == "allowed" and not findings(then, "key-case")
    today = explain(api_server, body).json()
    condition = one(today, "condition-failed")["evidence"]["condition"]
    assert condition["operator"] == "DateLessThan" and condition["policyValues"] == ["2000-01-01T00:00:00Z"]


def test_a_replay_that_differs_from_the_record(
    api_server: RunningServer, data_dir: Path, iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    """Allowed through a principal tag that was removed since: tags have no history, so the
    replay (today's tags) differs from the record, and the answer says why it may."""
    client = user_client("ex-tagged")
    iam.tag_user(UserName="ex-tagged", Tags=[{"Key": "team", "Value": "blue"}])
    document = policy(allow("iam:ListRoles", "*", StringEquals={"aws:PrincipalTag/team": "blue"}))
    long_ago = datetime.now(UTC) - timedelta(seconds=30)  # not within the propagation window of the request
    other = open_store(f"sqlite:///{data_dir / 'iamd.db'}", clock=lambda: long_ago)
    try:
        with other.transaction() as tx:
            tx.put_inline_policy(EntityKind.USER, acct, "ex-tagged", "tagged", document)
    finally:
        other.close()
    rid = client.list_roles()["ResponseMetadata"]["RequestId"]
    iam.untag_user(UserName="ex-tagged", TagKeys=["team"])
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    answer = explain(api_server, {"RequestId": rid}).json()
    assert (answer["recorded"]["decision"], answer["asItWas"]["decision"], answer["now"]["decision"]) == (
        "allowed", "implicitDeny", "implicitDeny",
    )  # fmt: skip
    assert one(answer, "replay-differs")["evidence"] == {"replayed": "implicitDeny", "recorded": "allowed"}
    assert one(answer, "missing-context-key")["evidence"]["key"] == "aws:PrincipalTag/team"


def test_a_wrong_secret(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="ex-signer")
    key = iam.create_access_key(UserName="ex-signer")["AccessKey"]
    answer = _refused(api_server, denied(client_for(api_server, key["AccessKeyId"], "x" * 40).get_user))
    found = one(answer, "credential-signature")
    assert found["evidence"]["accessKeyId"] == key["AccessKeyId"] and found["evidence"]["statusNow"] == "Active"
    assert key["SecretAccessKey"] not in json.dumps(answer)
